//! The full-screen terminal UI. It sits on `crate::client` only; with no
//! endpoint it starts the server in-process on loopback and connects to it
//! like to any remote one.
//!
//! Shape: terminal input, timers and network events arrive as one `Msg` on
//! one channel (`msg`); `update` turns them into state changes and
//! `Effect`s; `net` carries the effects out with the client; `ui` draws the
//! state. `app` is only the loop that ties these together.
mod app;
pub mod cast;
mod embedded;
pub mod keymap;
pub mod msg;
pub mod net;
pub mod script;
pub mod settings;
pub mod state;
pub mod term;
pub mod theme;
pub mod ui;
pub mod update;

pub use embedded::EmbeddedServer;

use std::path::PathBuf;

use anyhow::Context;
use tokio::sync::mpsc;

use crate::client::{Buffering, Client};
use settings::Settings;
use state::{State, View};

/// The server the UI works with.
pub enum Target {
    /// A server somewhere else; quitting leaves its sandboxes alone.
    Remote(crate::client::Endpoint),
    /// A server this process started; quitting stops it.
    Embedded(Box<dyn EmbeddedServer>),
}

/// How `sandscope` (without a subcommand) was started.
pub struct TuiOptions {
    pub target: Target,
    /// A `--script` file whose sandboxes and commands start right away.
    pub script: Option<PathBuf>,
    /// `--config PATH`, else the default config location.
    pub config_path: Option<PathBuf>,
    /// `--record FILE.cast`: the screen is recorded from the start.
    pub record: Option<PathBuf>,
}

/// Capacity of the one message channel. Producers wait when it is full,
/// which is what keeps a flood of output from outrunning the screen.
const CHANNEL: usize = 1024;

/// Runs the TUI until the user quits.
pub async fn run(opts: TuiOptions) -> anyhow::Result<()> {
    let (server, endpoint, kind) = match opts.target {
        Target::Remote(ep) => (None, ep, "remote".to_string()),
        Target::Embedded(server) => {
            let ep = server.endpoint();
            let kind = format!("embedded, {}", server.isolation());
            (Some(server), ep, kind)
        }
    };
    // A broken config or script is reported before the screen switches over.
    let loaded = (|| {
        let config = crate::config::Config::load(opts.config_path.as_deref())?;
        let settings = Settings::from_table(&config.raw, settings::no_color_from_env())
            .context("invalid [ui], [keys] or [colors] in the config file")?;
        let script = opts
            .script
            .as_deref()
            .map(script::Script::load)
            .transpose()?;
        Ok::<_, anyhow::Error>((settings, script))
    })();
    let (settings, script) = match loaded {
        Ok(l) => l,
        Err(e) => {
            if let Some(s) = server {
                s.shutdown().await;
            }
            return Err(e);
        }
    };
    let url = endpoint.url.clone();
    let result = async {
        // Output is shown to a person: little of it in flight, and a flood
        // slows the command rather than filling this process's memory.
        let client = Client::connect(endpoint.with_buffering(Buffering::Interactive))
            .await
            .with_context(|| format!("cannot connect to {url}"))?;
        Ok::<_, anyhow::Error>(client)
    }
    .await;
    let client = match result {
        Ok(c) => c,
        Err(e) => {
            if let Some(s) = server {
                s.shutdown().await;
            }
            return Err(e);
        }
    };
    tracing::info!(endpoint = %url, %kind, "terminal UI starting");

    let (tx, rx) = mpsc::channel(CHANNEL);
    let net = net::Net::new(
        client.clone(),
        tx.clone(),
        settings.refresh_interval,
        settings.stop_grace,
        settings.show_terminated,
    );
    let demo = script.map(|script| {
        let script = std::sync::Arc::new(script);
        tokio::spawn(script::run(client, tx.clone(), script.clone(), 1));
        state::demo::Demo::new(script)
    });
    drop(tx);
    let view = View {
        scrollback_lines: settings.scrollback_lines,
        max_tiles: settings.max_tiles,
        wrap: settings.wrap,
        echo_stdin: settings.echo_stdin,
        shell: settings.shell.clone(),
        downloads: settings.download_dir(),
        save_dir: settings.save_dir.clone(),
    };
    let mut state = State::new(url, kind, view, settings.show_terminated);
    state.demo = demo;
    state.presenter = settings.presenter || state.demo.as_ref().is_some_and(|d| d.script.presenter);
    let (result, server) = app::run(app::Parts {
        state,
        settings,
        net,
        rx,
        server,
        record: opts.record,
    })
    .await;
    if let Some(server) = server {
        let active = server.active().await;
        if active > 0 {
            eprintln!("sandscope: stopping {active} sandbox(es)…");
        }
        server.shutdown().await;
    }
    result
}
