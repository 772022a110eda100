//! `sandscope port-forward`: a local port relayed to a port inside a
//! sandbox, until Ctrl-C. Each connection gets its own exec in the sandbox
//! (see `client::Forwarder`).
use super::connect::{connect, explain};
use super::GlobalArgs;
use crate::client::{ForwardEvent, Forwarder};
use anyhow::Context;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, clap::Args)]
pub struct ForwardArgs {
    /// Sandbox id.
    pub id: String,
    /// `REMOTE` listens on the same port here; `LOCAL:REMOTE` on LOCAL;
    /// `0:REMOTE` or `:REMOTE` on a free port the system picks.
    #[arg(value_name = "[LOCAL:]REMOTE", value_parser = parse_ports)]
    pub ports: Ports,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// 0: any free port.
    pub local: u16,
    pub remote: u16,
}

fn port(s: &str, what: &str, zero_ok: bool) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(0) if !zero_ok => Err(format!("the {what} port cannot be 0")),
        Ok(p) => Ok(p),
        Err(_) => Err(format!("{s:?} is not a {what} port (1-65535)")),
    }
}

pub fn parse_ports(s: &str) -> Result<Ports, String> {
    match s.split_once(':') {
        None => {
            let p = port(s, "remote", false)?;
            Ok(Ports {
                local: p,
                remote: p,
            })
        }
        Some((l, r)) => Ok(Ports {
            local: if l.is_empty() {
                0
            } else {
                port(l, "local", true)?
            },
            remote: port(r, "remote", false)?,
        }),
    }
}

pub async fn run(global: &GlobalArgs, args: ForwardArgs) -> anyhow::Result<ExitCode> {
    let mut int = signal(SignalKind::interrupt()).context("cannot watch for signals")?;
    let mut term = signal(SignalKind::terminate()).context("cannot watch for signals")?;
    let client = connect(global).await?;
    let url = client.endpoint().url.clone();
    // Loopback only: a forward must not open the sandbox to the network.
    let local = SocketAddr::from((Ipv4Addr::LOCALHOST, args.ports.local));
    let mut fwd = Forwarder::start(client, &args.id, local, args.ports.remote)
        .await
        .map_err(|e| explain(&url, e))
        .with_context(|| {
            format!(
                "cannot forward to port {} of sandbox {}",
                args.ports.remote, args.id
            )
        })?;
    println!(
        "Forwarding from {} -> {} (relay: {})",
        fwd.local_addr(),
        args.ports.remote,
        fwd.tool().as_str()
    );
    let Some(mut events) = fwd.take_events() else {
        anyhow::bail!("the forward's events were already taken");
    };
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(ForwardEvent::Opened { peer, .. }) => {
                    eprintln!("Handling connection from {peer}");
                }
                Some(ForwardEvent::Failed { id, error }) => {
                    eprintln!("sandscope: connection {id} failed: {error}");
                }
                Some(ForwardEvent::Closed { .. }) => {}
                None => break,
            },
            _ = int.recv() => break,
            _ = term.recv() => break,
        }
    }
    fwd.stop();
    let s = fwd.stats();
    if s.events_dropped > 0 {
        eprintln!(
            "sandscope: {} connection reports were dropped while output was slow",
            s.events_dropped
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs() {
        assert_eq!(
            parse_ports("8080"),
            Ok(Ports {
                local: 8080,
                remote: 8080
            })
        );
        assert_eq!(
            parse_ports("0:80"),
            Ok(Ports {
                local: 0,
                remote: 80
            })
        );
        assert_eq!(
            parse_ports(":80"),
            Ok(Ports {
                local: 0,
                remote: 80
            })
        );
        assert_eq!(
            parse_ports("9000:80"),
            Ok(Ports {
                local: 9000,
                remote: 80
            })
        );
        for bad in ["", "0", "80:0", "x:80", "70000", "1:2:3"] {
            assert!(parse_ports(bad).is_err(), "{bad:?}");
        }
    }
}
