//! Port forwarding into a sandbox, like `kubectl port-forward`: a local
//! listener whose every connection is relayed through its own exec. The
//! command inside connects to `127.0.0.1:PORT` in the sandbox's network and
//! copies bytes between the socket and its stdin/stdout. It needs nothing
//! but StreamExec, so it works against the hosted API too, provided the
//! image has a relay tool: `python3`, else `bash` (`/dev/tcp`), else `nc`
//! or `busybox nc`.
use super::error::{Error, Result};
use super::types::{ExecOptions, StreamKind};
use super::Client;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// Events buffered for a reader that is behind; past that they are
/// counted in `ForwardStats::events_dropped`, never queued without bound.
const EVENT_QUEUE: usize = 256;
/// Bytes per stdin frame towards the relay.
const CHUNK: usize = 64 * 1024;
/// The tail of a relay's stderr kept to explain its failure.
const STDERR_KEEP: usize = 4096;

/// The tool that relays inside the sandbox, the first the image has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayTool {
    Python3,
    Bash,
    Nc,
    BusyboxNc,
}

impl RelayTool {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Python3 => "python3",
            Self::Bash => "bash",
            Self::Nc => "nc",
            Self::BusyboxNc => "busybox nc",
        }
    }

    fn mode(self) -> &'static str {
        match self {
            Self::Python3 => "python3",
            Self::Bash => "bash",
            Self::Nc => "nc",
            Self::BusyboxNc => "busybox",
        }
    }
}

/// What happened to a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardEvent {
    Opened {
        id: u64,
        peer: SocketAddr,
    },
    /// The relay ended; bytes from the local client and back to it.
    Closed {
        id: u64,
        sent: u64,
        received: u64,
    },
    /// The relay could not connect or broke; the text says why.
    Failed {
        id: u64,
        error: String,
    },
}

/// Counts over the forwarder's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwardStats {
    pub active: usize,
    pub total: u64,
    pub failed: u64,
    pub events_dropped: u64,
}

/// A running forward. Dropping it stops accepting and ends every relay,
/// as `stop` does.
pub struct Forwarder {
    local: SocketAddr,
    tool: RelayTool,
    stop: watch::Sender<bool>,
    stats: Arc<Mutex<ForwardStats>>,
    events: Option<mpsc::Receiver<ForwardEvent>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("local", &self.local)
            .field("tool", &self.tool)
            .finish_non_exhaustive()
    }
}

/// Finds the relay tool (`probe`), or runs it (`python3`, ...) with the
/// port. Everything goes through `sh`, the one thing assumed of an image.
const RELAY_SCRIPT: &str = r#"
mode=$1 port=$2
case $mode in
probe)
  for t in python3 bash nc; do
    if command -v "$t" >/dev/null 2>&1; then echo "$t"; exit 0; fi
  done
  if command -v busybox >/dev/null 2>&1 && busybox nc --help >/dev/null 2>&1; then echo busybox; exit 0; fi
  echo "the sandbox has none of python3, bash, nc or busybox nc to relay a connection" >&2
  exit 127 ;;
python3) exec python3 -c "$3" "$port" ;;
bash) exec bash -c "$3" sandscope-relay "$port" ;;
nc) exec nc 127.0.0.1 "$port" ;;
busybox) exec busybox nc 127.0.0.1 "$port" ;;
esac
echo "unknown relay mode $mode" >&2
exit 2
"#;

/// stdin to the socket with a half-close at EOF; the socket to stdout
/// until the peer closes. Exit 1 with a message when it cannot connect.
const PYTHON_RELAY: &str = r#"
import os, socket, sys, threading
port = int(sys.argv[1])
try:
    s = socket.create_connection(("127.0.0.1", port))
except OSError as e:
    sys.stderr.write("cannot connect to 127.0.0.1:%d in the sandbox: %s\n" % (port, e))
    sys.exit(1)
def up():
    try:
        while True:
            b = os.read(0, 65536)
            if not b:
                break
            s.sendall(b)
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
threading.Thread(target=up, daemon=True).start()
while True:
    b = s.recv(65536)
    if not b:
        break
    while b:
        b = b[os.write(1, b):]
"#;

/// bash cannot half-close a `/dev/tcp` socket: after our EOF the socket
/// stays open for writing until the peer closes it. The copy towards the
/// socket runs in the background (on a saved stdin: bash gives background
/// jobs /dev/null), the copy back in the foreground, and when the peer
/// closes, the relay ends.
const BASH_RELAY: &str = r#"
exec 3<>"/dev/tcp/127.0.0.1/$1" || { echo "cannot connect to 127.0.0.1:$1 in the sandbox" >&2; exit 1; }
exec 4<&0
cat <&4 >&3 &
up=$!
cat <&3
kill "$up" 2>/dev/null
exit 0
"#;

impl Forwarder {
    /// Finds a relay tool in the sandbox, binds `local` and starts
    /// accepting. `FailedPrecondition` when the image has no relay tool,
    /// `InvalidArgument` for port 0, `Unavailable` when `local` cannot be
    /// bound.
    pub async fn start(
        client: Client,
        sandbox_id: &str,
        local: SocketAddr,
        remote_port: u16,
    ) -> Result<Forwarder> {
        if remote_port == 0 {
            return Err(Error::InvalidArgument("the remote port is 0".into()));
        }
        let tool = probe(&client, sandbox_id).await?;
        let listener = TcpListener::bind(local)
            .await
            .map_err(|e| Error::Unavailable {
                endpoint: local.to_string(),
                message: format!("cannot listen: {e}"),
            })?;
        let local = listener.local_addr().map_err(|e| Error::Unavailable {
            endpoint: local.to_string(),
            message: e.to_string(),
        })?;
        let (stop, stop_rx) = watch::channel(false);
        let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
        let stats = Arc::new(Mutex::new(ForwardStats::default()));
        let shared = Shared {
            client,
            sandbox_id: sandbox_id.to_string(),
            argv: relay_argv(tool, remote_port),
            stats: stats.clone(),
            events: ev_tx,
        };
        tokio::spawn(accept_loop(listener, Arc::new(shared), stop_rx));
        tracing::info!(%local, remote_port, tool = tool.as_str(), "forwarding");
        Ok(Forwarder {
            local,
            tool,
            stop,
            stats,
            events: Some(ev_rx),
        })
    }

    /// The address it listens on (with the port the system chose for 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The tool relaying inside the sandbox.
    pub fn tool(&self) -> RelayTool {
        self.tool
    }

    pub fn stats(&self) -> ForwardStats {
        match self.stats.lock() {
            Ok(s) => *s,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// The connection events; `Some` once.
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<ForwardEvent>> {
        self.events.take()
    }

    /// Stops accepting and ends every relay (their execs are killed).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Shared {
    client: Client,
    sandbox_id: String,
    argv: Vec<String>,
    stats: Arc<Mutex<ForwardStats>>,
    events: mpsc::Sender<ForwardEvent>,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut ForwardStats)) {
        match self.stats.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    fn report(&self, ev: ForwardEvent) {
        if self.events.try_send(ev).is_err() {
            self.update(|s| s.events_dropped += 1);
        }
    }
}

async fn probe(client: &Client, sandbox_id: &str) -> Result<RelayTool> {
    let argv = vec![
        "/bin/sh".into(),
        "-c".into(),
        RELAY_SCRIPT.into(),
        "sandscope-relay".into(),
        "probe".into(),
    ];
    let r = client
        .exec(sandbox_id, &argv, ExecOptions::default())
        .await?
        .result()
        .await?;
    let found = match r.stdout_text().trim() {
        "python3" => Some(RelayTool::Python3),
        "bash" => Some(RelayTool::Bash),
        "nc" => Some(RelayTool::Nc),
        "busybox" => Some(RelayTool::BusyboxNc),
        _ => None,
    };
    match found {
        Some(t) if r.returncode == 0 => Ok(t),
        _ => {
            let why = r.stderr_text();
            let why = why.trim();
            Err(Error::FailedPrecondition(if why.is_empty() {
                format!(
                    "cannot forward: the relay probe failed (exit code {}; does the sandbox have /bin/sh?)",
                    r.returncode
                )
            } else {
                format!("cannot forward: {why}")
            }))
        }
    }
}

fn relay_argv(tool: RelayTool, port: u16) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "/bin/sh".into(),
        "-c".into(),
        RELAY_SCRIPT.into(),
        "sandscope-relay".into(),
        tool.mode().into(),
        port.to_string(),
    ];
    match tool {
        RelayTool::Python3 => v.push(PYTHON_RELAY.into()),
        RelayTool::Bash => v.push(BASH_RELAY.into()),
        RelayTool::Nc | RelayTool::BusyboxNc => {}
    }
    v
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => return,
        };
        let (sock, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors and the like: the next accept may work.
                tracing::warn!(error = %e, "accepting a forwarded connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        shared.update(|s| {
            s.active += 1;
            s.total += 1;
        });
        shared.report(ForwardEvent::Opened { id, peer });
        let shared = shared.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let ev = match relay(&shared, sock, stop).await {
                Ok((sent, received)) => ForwardEvent::Closed { id, sent, received },
                Err(error) => {
                    shared.update(|s| s.failed += 1);
                    ForwardEvent::Failed { id, error }
                }
            };
            tracing::debug!(?ev, "forwarded connection ended");
            shared.update(|s| s.active = s.active.saturating_sub(1));
            shared.report(ev);
        });
    }
}

/// One connection: local bytes to the exec's stdin (EOF closes it), its
/// stdout back; when the exec ends the local socket is closed.
async fn relay(
    shared: &Shared,
    sock: TcpStream,
    mut stop: watch::Receiver<bool>,
) -> std::result::Result<(u64, u64), String> {
    let opts = ExecOptions {
        stdin: true,
        ..Default::default()
    };
    let mut process = tokio::select! {
        p = shared.client.exec(&shared.sandbox_id, &shared.argv, opts) => p.map_err(|e| e.to_string())?,
        _ = stop.wait_for(|s| *s) => return Err("the forward was stopped".into()),
    };
    let (Some(stdin), Some(mut output)) = (process.take_stdin(), process.take_output()) else {
        process.kill();
        return Err("the relay's streams were not available".into());
    };
    let (mut rd, mut wr) = sock.into_split();

    let up = async {
        let mut sent = 0u64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if stdin
                        .write(bytes::Bytes::copy_from_slice(&buf[..n]))
                        .await
                        .is_err()
                    {
                        return sent;
                    }
                    sent += n as u64;
                }
            }
        }
        let _ = stdin.close().await;
        sent
    };
    let down = async {
        let mut received = 0u64;
        let mut stderr = Vec::new();
        while let Some(chunk) = output.next().await {
            match chunk.stream {
                StreamKind::Stdout => {
                    if wr.write_all(&chunk.data).await.is_err() {
                        return Err((received, stderr));
                    }
                    received += chunk.data.len() as u64;
                }
                StreamKind::Stderr => {
                    stderr.extend_from_slice(&chunk.data);
                    let extra = stderr.len().saturating_sub(STDERR_KEEP);
                    stderr.drain(..extra);
                }
            }
        }
        let _ = wr.shutdown().await;
        Ok((received, stderr))
    };
    tokio::pin!(up, down);
    let mut sent = None;
    let finished = loop {
        tokio::select! {
            s = &mut up, if sent.is_none() => sent = Some(s),
            d = &mut down => break d,
            _ = stop.wait_for(|s| *s) => {
                process.kill();
                return Err("the forward was stopped".into());
            }
        }
    };
    let (received, stderr) = match finished {
        Ok(v) => v,
        Err((received, _)) => {
            // The local client went away: end the relay too.
            process.kill();
            return Ok((sent.unwrap_or(0), received));
        }
    };
    let stderr = String::from_utf8_lossy(&stderr).trim().to_string();
    if !stderr.is_empty() {
        tracing::info!(relay_stderr = %stderr.escape_debug(), "the relay wrote to stderr");
    }
    match process.wait().await {
        Ok(0) => Ok((sent.unwrap_or(0), received)),
        Ok(code) if stderr.is_empty() => Err(format!("the relay exited with code {code}")),
        Ok(_) => Err(stderr),
        Err(e) => Err(e.to_string()),
    }
}
