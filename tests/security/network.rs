//! Egress reaches the outside world but never the host's loopback, and
//! nothing a sandbox listens on shows up on the host. Hermetic: the test
//! makes two network namespaces of its own, "host" (where `sandscope serve`
//! runs, with a loopback service of its own) and "outside" (a server
//! reachable through a veth pair), and no traffic leaves them.
use super::*;
use std::process::{Child, Command, Stdio};

const HOST_ADDR: &str = "10.213.7.1";
const OUTSIDE_ADDR: &str = "10.213.7.2";

/// A network namespace kept alive by a process of its own.
pub(super) struct Netns(Child);

impl Netns {
    pub(super) fn new() -> Netns {
        let child = Command::new("unshare")
            .args(["--net", "--", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare --net");
        let ns = Netns(child);
        let path = ns.path();
        poll_until(&path, || {
            std::fs::read_link(&path).ok() != std::fs::read_link("/proc/self/ns/net").ok()
        });
        ns
    }

    pub(super) fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.0.id())
    }

    /// Run `sh -c script` inside; it must succeed.
    pub(super) fn sh(&self, script: &str) {
        let out = Command::new("nsenter")
            .args([&format!("--net={}", self.path()), "sh", "-c", script])
            .output()
            .expect("nsenter");
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Start `python3 -c script` inside, in the background.
    pub(super) fn python(&self, script: &str) -> Killed {
        Killed(
            Command::new("nsenter")
                .args([&format!("--net={}", self.path()), "python3", "-c", script])
                .stdin(Stdio::null())
                .spawn()
                .expect("nsenter python3"),
        )
    }
}

impl Netns {
    /// Two namespaces joined by a veth pair, each end (name, address/24)
    /// up, with their loopbacks.
    pub(super) fn linked(host_end: (&str, &str), outside_end: (&str, &str)) -> (Netns, Netns) {
        let host = Netns::new();
        let outside = Netns::new();
        // The veth ends are made straight in the two namespaces.
        let out = Command::new("ip")
            .args(["link", "add", host_end.0, "netns", &host.0.id().to_string()])
            .args(["type", "veth", "peer", "name", outside_end.0, "netns"])
            .arg(outside.0.id().to_string())
            .output()
            .expect("ip link add");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (ns, (dev, addr)) in [(&host, host_end), (&outside, outside_end)] {
            ns.sh(&format!(
                "ip link set lo up && ip addr add {addr}/24 dev {dev} && ip link set {dev} up"
            ));
        }
        (host, outside)
    }

    /// Wait until something in this namespace accepts on addr:port.
    pub(super) fn wait_for_port(&self, addr: &str, port: u16) {
        self.sh(&format!(
            "python3 -c \"import socket,time\nfor _ in range(200):\n  try:\n    \
             socket.create_connection(('{addr}',{port}),1).close(); break\n  \
             except OSError: time.sleep(0.05)\""
        ));
    }

    /// Run `test` on a thread that entered this namespace, so that the
    /// server and the clients it starts live there (a child process
    /// inherits its namespace).
    pub(super) fn run(&self, test: impl std::future::Future<Output = ()> + Send + 'static) {
        let ns = std::fs::File::open(self.path()).expect("netns");
        let outcome = std::thread::spawn(move || {
            use std::os::fd::AsFd;
            nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("enter the namespace");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(test)
        })
        .join();
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) fn poll_until(what: &str, ready: impl Fn() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ready() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A TCP server that answers every connection with `reply`.
pub(super) fn answering(addr: &str, port: u16, reply: &str) -> String {
    format!(
        "import socket\n\
         s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('{addr}', {port})); s.listen(16)\n\
         while True:\n\
         \x20   c, _ = s.accept(); c.sendall(b'{reply}'); c.close()\n"
    )
}

/// Python for the sandbox: connect to each (host, port), print the reply or why not.
const PROBE: &str = "\
import socket, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(':', 1)
    try:
        c = socket.create_connection((host, int(port)), timeout=5)
        print(target, c.recv(100).decode() or 'connected')
    except OSError as e:
        print(target, 'failed', type(e).__name__)
";

pub(super) fn line_for<'a>(out: &'a str, target: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(target))
        .unwrap_or_else(|| panic!("no result for {target}: {out}"))
}

#[test]
fn egress_reaches_the_outside_but_not_the_hosts_loopback() {
    require_root();
    assert!(
        Command::new("ip")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success()),
        "the network tests need ip (iproute2)"
    );
    let (host, outside) = Netns::linked(("sbveth0", HOST_ADDR), ("sbveth1", OUTSIDE_ADDR));
    let _outside_server = outside.python(&answering(OUTSIDE_ADDR, 8080, "outside-ok"));
    // A service on the host's loopback, on the port a local server uses.
    let _loopback_service = host.python(&answering("127.0.0.1", 7391, "host-loopback"));
    host.wait_for_port("127.0.0.1", 7391);
    host.wait_for_port(OUTSIDE_ADDR, 8080);

    host.run(in_host_namespace());
}

async fn in_host_namespace() {
    let (dir, _) = serve::serve_data_dir();
    let server = serve::Serve::start(dir.path(), &["--runtime", "bubblewrap"]);
    let client = connect(&server.url, Some(TOKEN)).await;
    let mut egress = keep_alive();
    egress.network = Some(pb::NetworkOptions {
        deny_egress: Some(false),
        ..Default::default()
    });
    let open = run_spec(&client, egress).await.sandbox_id;
    let closed = run_spec(&client, keep_alive()).await.sandbox_id;
    let exec = |id: String, argv: Vec<String>| {
        let client = client.clone();
        async move {
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let r = exec_on(&client, &id, &argv, None).await.expect("exec");
            format!("{}{}", r.out(), r.err())
        }
    };

    let outside = format!("{OUTSIDE_ADDR}:8080");
    let targets = [
        outside.clone(),
        "127.0.0.1:7391".to_string(),
        "10.0.2.2:7391".to_string(),
        format!("{HOST_ADDR}:7391"),
    ];
    let mut argv = vec!["python3".to_string(), "-c".into(), PROBE.into()];
    argv.extend(targets.iter().cloned());
    let r = exec(open.clone(), argv).await;
    assert!(line_for(&r, &outside).ends_with("outside-ok"), "{r}");
    for t in &targets[1..] {
        let l = line_for(&r, t);
        assert!(
            l.contains("failed") && !l.contains("host-loopback"),
            "egress reached the host's loopback through {t}: {r}"
        );
    }
    let argv = vec!["python3".into(), "-c".into(), PROBE.into(), outside.clone()];
    let r = exec(closed, argv).await;
    assert!(
        line_for(&r, &outside).contains("failed"),
        "no egress asked: {r}"
    );

    // What an egress sandbox listens on stays inside it.
    let listen = "import socket, time\n\
                  s = socket.socket(); s.bind(('127.0.0.1', 7392)); s.listen()\n\
                  print('listening', flush=True); time.sleep(30)";
    let (_tx, mut rx) = open_exec_on(&client, init(&open, &["python3", "-c", listen]))
        .await
        .expect("exec");
    let first = rx.message().await.expect("output").expect("a frame");
    assert!(
        matches!(&first.message, Some(Out::Output(o)) if o.data.starts_with(b"listening")),
        "{first:?}"
    );
    let reached = std::net::TcpStream::connect(("127.0.0.1", 7392)).is_ok();
    assert!(!reached, "a sandbox's listener appeared on the host");
    drop(server);
    drop(dir);
}
