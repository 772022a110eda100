//! `sandscope sh`: an interactive shell in a sandbox on a remote
//! pseudo-terminal. Our terminal goes raw and bytes pass through untouched
//! both ways (the remote pty does the line editing, echo and Ctrl-C); our
//! window size follows to the remote one; the remote exit code becomes
//! ours.
use super::connect::{connect, explain};
use super::exec::{
    copy_stdin, exit_code, EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_HANGUP, EXIT_INTERRUPTED,
    EXIT_TERMINATED,
};
use super::rawterm::{self, RawGuard};
use super::sink::copy_output;
use super::GlobalArgs;
use crate::client::{ExecOptions, OutputStream, Process, StdinWriter};
use anyhow::Context;
use std::io::IsTerminal;
use std::process::ExitCode;
use tokio::signal::unix::{signal, Signal, SignalKind};

#[derive(Debug, clap::Args)]
pub struct ShArgs {
    /// Sandbox id.
    pub id: String,
    /// The command to run instead of the default shell, split like a shell
    /// would (`--cmd "python3 -q"`).
    #[arg(long, value_name = "CMD")]
    pub cmd: Option<String>,
}

/// bash where the image has it, else sh. Decided inside the sandbox by the
/// wrapper in the same exec (no probe round trip); `exec` hands the pty
/// and the pid over to the chosen shell, so it is the session leader.
fn default_shell() -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        "if [ -x /bin/bash ]; then exec /bin/bash; fi; exec /bin/sh".into(),
    ]
}

pub async fn run(global: &GlobalArgs, args: ShArgs) -> anyhow::Result<ExitCode> {
    let argv = match &args.cmd {
        None => default_shell(),
        Some(c) => match shlex::split(c) {
            Some(v) if !v.is_empty() => v,
            _ => anyhow::bail!("--cmd {c:?} is not a command line"),
        },
    };
    // In raw mode Ctrl-C is a byte for the remote side; these signals come
    // from elsewhere and end the session (with the terminal restored).
    let on = |kind| signal(kind).context("cannot watch for signals");
    let mut stops = [
        (on(SignalKind::interrupt())?, EXIT_INTERRUPTED),
        (on(SignalKind::terminate())?, EXIT_TERMINATED),
        (on(SignalKind::hangup())?, EXIT_HANGUP),
    ];
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let client = connect(global).await?;
    let url = client.endpoint().url.clone();
    let size = if tty { rawterm::size() } else { None };
    let mut env = std::collections::BTreeMap::new();
    if tty {
        // The remote programs draw for our terminal, so they need its type.
        let t = std::env::var("TERM").ok().filter(|t| !t.is_empty());
        env.insert(
            "TERM".to_string(),
            t.unwrap_or_else(|| "xterm-256color".into()),
        );
    } else {
        eprintln!(
            "sandscope: stdin is not a terminal; running without one (no prompt, no line editing)"
        );
    }
    let opts = ExecOptions {
        stdin: true,
        tty: tty.then(|| size.unwrap_or((80, 24))),
        env,
        ..Default::default()
    };
    let mut process = client
        .exec(&args.id, &argv, opts)
        .await
        .map_err(|e| explain(&url, e))
        .with_context(|| format!("cannot start a shell in sandbox {}", args.id))?;
    let (Some(stdin), Some(output)) = (process.take_stdin(), process.take_output()) else {
        anyhow::bail!("the shell's streams were already taken");
    };

    let stopped = {
        // Raw only once the shell runs, so errors above print normally.
        let _raw = if tty { Some(RawGuard::enter()?) } else { None };
        session(&mut process, stdin, output, tty, &mut stops).await
    };
    if let Some(code) = stopped {
        process.kill();
        let why = if code == EXIT_BROKEN_PIPE {
            "our output was closed"
        } else {
            "stopped by a signal"
        };
        eprintln!("sandscope: {why}; the shell was killed");
        return Ok(ExitCode::from(code));
    }
    match process.wait().await {
        Ok(code) => Ok(exit_code(code)),
        Err(e) => {
            eprintln!(
                "sandscope: the shell's connection ended: {:#}",
                explain(&url, e)
            );
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}

/// Copies until the remote side ends (`None`), or a signal or a closed
/// output stops us (the exit code it stands for). The terminal is raw for exactly this long.
async fn session(
    process: &mut Process,
    stdin: StdinWriter,
    output: OutputStream,
    tty: bool,
    stops: &mut [(Signal, u8); 3],
) -> Option<u8> {
    let mut winch = if tty {
        signal(SignalKind::window_change()).ok()
    } else {
        None
    };
    // A read returns whatever is there, so each key goes out at once.
    let input = tokio::spawn(copy_stdin(stdin));
    let copy = copy_output(output);
    tokio::pin!(copy);
    let code = loop {
        tokio::select! {
            // Output ends when the shell's stream does; failing to write it
            // means our terminal or pipe is gone, so nobody is watching.
            copied = &mut copy => break copied.err().map(|_| EXIT_BROKEN_PIPE),
            Some(()) = async { match winch.as_mut() { Some(w) => w.recv().await, None => None } } => {
                if let Some((cols, rows)) = rawterm::size() {
                    process.resize(cols, rows);
                }
            }
            code = first_signal(stops) => break Some(code),
        }
    };
    // The stdin copy may sit in a blocking read of our terminal; it must
    // not outlive the session.
    input.abort();
    code
}

/// Waits for any of the signals and returns the exit code it stands for.
async fn first_signal(stops: &mut [(Signal, u8); 3]) -> u8 {
    let [(a, ca), (b, cb), (c, cc)] = stops;
    tokio::select! {
        _ = a.recv() => *ca,
        _ = b.recv() => *cb,
        _ = c.recv() => *cc,
    }
}
