//! The TUI's network side against a real embedded server: effects in,
//! messages out, output through the pane inbox. No terminal involved.
use std::time::Duration;

use sandscope::client::{
    Client, Endpoint, ExecOptions, ProcessStatus, SandboxRequest, SandboxState,
};
use sandscope::server::{RuntimeChoice, Server, ServerConfig};
use sandscope::tui::msg::{Effect, Msg, NetEvent};
use sandscope::tui::net::Net;
use sandscope::tui::state::pane::{Pane, INBOX_LIMIT};
use tokio::sync::mpsc;

/// Generous: the test waits for events, never for a fixed time.
const DEADLINE: Duration = Duration::from_secs(60);

struct Fixture {
    server: Option<Server>,
    client: Client,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().to_path_buf(),
        "tui-net-test-token".into(),
        RuntimeChoice::Auto,
    );
    let server = Server::start(cfg).await.unwrap();
    let ep = Endpoint::new(server.url(), Some(server.token().to_string()));
    let client = Client::connect(ep).await.unwrap();
    Fixture {
        server: Some(server),
        client,
        _dir: dir,
    }
}

impl Fixture {
    async fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            // Best effort from a sync drop: the server stops its sandboxes.
            let handle = tokio::runtime::Handle::current();
            handle.spawn(s.shutdown());
        }
    }
}

/// Next network event matching `pred`, skipping list refreshes and the like.
async fn next<T>(rx: &mut mpsc::Receiver<Msg>, mut pred: impl FnMut(NetEvent) -> Option<T>) -> T {
    tokio::time::timeout(DEADLINE, async {
        loop {
            match rx.recv().await {
                Some(Msg::Net(ev)) => {
                    if let Some(t) = pred(ev) {
                        return t;
                    }
                }
                Some(_) => {}
                None => panic!("channel closed"),
            }
        }
    })
    .await
    .expect("event within the deadline")
}

fn texts(p: &Pane) -> Vec<String> {
    p.lines().iter().map(|l| l.text.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_stdin_eof_kill_and_backpressure() {
    let f = fixture().await;
    let sb = f.client.run(SandboxRequest::default()).await.unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let mut net = Net::new(
        f.client.clone(),
        tx,
        Duration::from_secs(30),
        Duration::from_secs(1),
        false,
    );

    // The refresh loop lists the new sandbox.
    let listed = next(&mut rx, |ev| match ev {
        NetEvent::SandboxList(Ok(l)) => Some(l),
        _ => None,
    })
    .await;
    assert!(listed.iter().any(|s| s.id == sb.id));

    // cat: a line in, EOF, the line out, exit 0.
    let mut pane = Pane::new(100, false);
    let opts = ExecOptions {
        stdin: true,
        ..Default::default()
    };
    net.apply(Effect::Exec {
        key: 1,
        sandbox_id: sb.id.clone(),
        argv: vec!["cat".into()],
        opts,
        inbox: pane.inbox.clone(),
    });
    let stdin = next(&mut rx, |ev| match ev {
        NetEvent::ExecStarted { key: 1, stdin } => Some(stdin),
        _ => None,
    })
    .await;
    assert!(stdin);
    net.apply(Effect::StdinWrite {
        key: 1,
        data: "hello pane\n".into(),
    });
    net.apply(Effect::StdinEof { key: 1 });
    let status = next(&mut rx, |ev| match ev {
        NetEvent::ProcessEnded { key: 1, status } => Some(status),
        _ => None,
    })
    .await;
    assert_eq!(status, ProcessStatus::Exited(0));
    pane.drain_inbox();
    assert_eq!(texts(&pane), vec!["hello pane"]);

    // A failing command reports its code; stderr is kept apart.
    let mut pane = Pane::new(100, false);
    let argv = vec![
        "sh".into(),
        "-c".into(),
        "echo out; echo err >&2; exit 3".into(),
    ];
    net.apply(Effect::Exec {
        key: 2,
        sandbox_id: sb.id.clone(),
        argv,
        opts: ExecOptions::default(),
        inbox: pane.inbox.clone(),
    });
    let status = next(&mut rx, |ev| match ev {
        NetEvent::ProcessEnded { key: 2, status } => Some(status),
        _ => None,
    })
    .await;
    assert_eq!(status, ProcessStatus::Exited(3));
    pane.drain_inbox();
    let mut lines: Vec<_> = pane
        .lines()
        .iter()
        .map(|l| (l.stream, l.text.clone()))
        .collect();
    lines.sort_by_key(|(_, t)| t.clone());
    assert_eq!(
        lines,
        vec![
            (sandscope::client::StreamKind::Stderr, "err".to_string()),
            (sandscope::client::StreamKind::Stdout, "out".to_string())
        ]
    );

    // A process that floods output while nobody drains the pane: the inbox
    // stops near its limit (the process is held back), then kill works.
    let pane = Pane::new(100, false);
    let argv = vec!["sh".into(), "-c".into(), "yes flood".into()];
    net.apply(Effect::Exec {
        key: 3,
        sandbox_id: sb.id.clone(),
        argv,
        opts: ExecOptions::default(),
        inbox: pane.inbox.clone(),
    });
    next(&mut rx, |ev| {
        matches!(ev, NetEvent::PaneChanged(3)).then_some(())
    })
    .await;
    tokio::time::timeout(DEADLINE, async {
        while !pane.inbox.is_full() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the inbox fills up");
    let held = pane.inbox.inner.lock().unwrap().bytes;
    // At most one chunk beyond the limit: the pump waits before pushing more.
    assert!(
        held < INBOX_LIMIT + 1024 * 1024,
        "inbox grew to {held} bytes"
    );
    net.apply(Effect::Kill(3));
    let status = next(&mut rx, |ev| match ev {
        NetEvent::ProcessEnded { key: 3, status } => Some(status),
        _ => None,
    })
    .await;
    assert_eq!(status, ProcessStatus::Killed);

    // Writing after the process has gone is reported, not fatal.
    net.apply(Effect::StdinWrite {
        key: 1,
        data: "late\n".into(),
    });
    let err = next(&mut rx, |ev| match ev {
        NetEvent::StdinFailed { key: 1, error } => Some(error),
        _ => None,
    })
    .await;
    assert!(!err.is_empty());

    // Stop through the effect: the server accepts it and the sandbox is on
    // its way out (or already gone).
    net.apply(Effect::StopSandbox(sb.id.clone()));
    let stopped = next(&mut rx, |ev| match ev {
        NetEvent::SandboxUpdated(s) if s.id == sb.id => Some(s),
        _ => None,
    })
    .await;
    assert!(
        stopped.state == SandboxState::Terminating || stopped.state.is_terminal(),
        "{:?}",
        stopped.state
    );
    drop(net);
    f.shutdown().await;
}

/// A process stopped with SIGSTOP (state T), run as the TUI runs it (stdin
/// open), is really gone after a kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_a_stopped_process() {
    let f = fixture().await;
    let sb = f.client.run(SandboxRequest::default()).await.unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let mut net = Net::new(
        f.client.clone(),
        tx,
        Duration::from_secs(30),
        Duration::from_secs(1),
        false,
    );
    let marker = format!("stopped-{}", std::process::id());
    let pane = Pane::new(100, false);
    let argv = vec![
        "sh".into(),
        "-c".into(),
        format!("echo ready; kill -STOP $$; sleep 1000 # {marker}"),
    ];
    let opts = ExecOptions {
        stdin: true,
        ..Default::default()
    };
    net.apply(Effect::Exec {
        key: 1,
        sandbox_id: sb.id.clone(),
        argv,
        opts,
        inbox: pane.inbox.clone(),
    });
    next(&mut rx, |ev| {
        matches!(ev, NetEvent::PaneChanged(1)).then_some(())
    })
    .await;
    let pids = || crate::server_support::pids_containing(&marker);
    crate::server_support::wait_until("the shell to stop", || {
        pids()
            .iter()
            .any(|p| proc_state(*p).as_deref() == Some("T"))
    })
    .await;
    net.apply(Effect::Kill(1));
    let status = next(&mut rx, |ev| match ev {
        NetEvent::ProcessEnded { key: 1, status } => Some(status),
        _ => None,
    })
    .await;
    assert_eq!(status, ProcessStatus::Killed);
    // The kill reaches the server, which ends the stopped process for good
    // (SIGKILL works on stopped processes): nothing of it is left, not even
    // a zombie.
    crate::server_support::wait_until("the stopped process to be gone", || pids().is_empty()).await;
    drop(net);
    f.shutdown().await;
}

/// The state letter of a host process (`R`, `S`, `T`, `Z`, ...).
fn proc_state(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(") ")?.1;
    after.split_whitespace().next().map(str::to_string)
}
