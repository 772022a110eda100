//! Every example of the command-execution guide, run through the Rust client
//! against a real server, asserting what the guide says it prints.
mod common;

use common::{args, ok, TestServer};
use sandscope::client::{self, Error, ExecOptions, ProcessStatus, StreamKind};
use std::time::Duration;

fn stdin_opts() -> ExecOptions {
    ExecOptions {
        stdin: true,
        ..Default::default()
    }
}

/// Starts `argv` with its stdin open and takes the writer.
async fn with_stdin(
    t: &TestServer,
    sb: &str,
    argv: &[&str],
) -> (client::Process, client::StdinWriter) {
    let mut p = ok(t.client.exec(sb, &args(argv), stdin_opts()).await, "exec");
    let w = p.take_stdin().unwrap_or_else(|| panic!("stdin"));
    (p, w)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_commands_and_results() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;

    let r = t.exec(&sb, &["echo", "Hello, World!"]).await;
    assert_eq!(r.stdout, b"Hello, World!\n");
    assert_eq!(r.returncode, 0);

    let r = t.exec(&sb, &["python", "-c", "print('hello')"]).await;
    assert_eq!(r.stdout, b"hello\n");
    assert_eq!(r.stderr, b"");
    assert_eq!(r.returncode, 0);

    let r = t.exec(&sb, &["ls", "-la"]).await;
    assert_eq!(r.returncode, 0);
    assert!(r.stdout_text().starts_with("total "), "{}", r.stdout_text());

    // Python code: a one-liner and an inline script.
    let r = t
        .exec(&sb, &["python", "-c", "import sys; print(sys.version)"])
        .await;
    assert_eq!(r.returncode, 0);
    assert!(r.stdout_text().starts_with("3."), "{}", r.stdout_text());
    let code = "\nimport json\ndata = {\"result\": 42}\nprint(json.dumps(data))\n";
    let r = t.exec(&sb, &["python", "-c", code]).await;
    assert_eq!(r.stdout_text(), "{\"result\": 42}\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_stdout_line_by_line() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let script = "import time\nfor i in range(5):\n    print(f'line {i}', flush=True)\n    time.sleep(0.05)\n";
    let mut p = ok(
        t.client
            .exec(
                &sb,
                &args(&["python", "-c", script]),
                ExecOptions::default(),
            )
            .await,
        "exec",
    );
    let mut out = p
        .take_output()
        .unwrap_or_else(|| panic!("output taken once"));
    let mut text = Vec::new();
    while let Some(chunk) = out.next().await {
        assert_eq!(chunk.stream, StreamKind::Stdout);
        text.extend_from_slice(&chunk.data);
    }
    let lines: Vec<&str> = std::str::from_utf8(&text).unwrap_or("").lines().collect();
    assert_eq!(lines, ["line 0", "line 1", "line 2", "line 3", "line 4"]);
    let r = ok(p.result().await, "result");
    assert_eq!(r.returncode, 0);
}

/// stdout and stderr come out in the order the process wrote them, not
/// grouped by stream. Each burst writes one line to each stream, microseconds
/// apart, so both pipes often hold a line by the time the server looks: it
/// must still hand them on in the order they arrived. (It starts with a pause
/// so the first lines are not written before the server watches the pipes.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_and_stderr_keep_their_order() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let script = "sleep 0.05; for i in 1 2 3 4 5 6; do \
        echo a$i >&2; echo b$i; sleep 0.02; echo c$i; echo d$i >&2; sleep 0.02; done";
    for _ in 0..5 {
        let mut p = ok(
            t.client
                .exec(&sb, &args(&["sh", "-c", script]), ExecOptions::default())
                .await,
            "exec",
        );
        let mut out = p.take_output().unwrap_or_else(|| panic!("output"));
        let mut seen = Vec::new();
        while let Some(chunk) = out.next().await {
            let text = String::from_utf8_lossy(&chunk.data).into_owned();
            for line in text.lines() {
                seen.push((chunk.stream, line.to_string()));
            }
        }
        let want: Vec<(StreamKind, String)> = (1..=6)
            .flat_map(|i| {
                [
                    (StreamKind::Stderr, format!("a{i}")),
                    (StreamKind::Stdout, format!("b{i}")),
                    (StreamKind::Stdout, format!("c{i}")),
                    (StreamKind::Stderr, format!("d{i}")),
                ]
            })
            .collect();
        assert_eq!(seen, want);
        assert_eq!(ok(p.wait().await, "wait"), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_live_not_collected_at_exit() {
    // The command prints, then blocks on stdin: the first line must arrive
    // while it is still running.
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let (mut p, stdin) = with_stdin(
        &t,
        &sb,
        &["sh", "-c", "echo first; read x; echo \"got $x\""],
    )
    .await;
    let mut out = p.take_output().unwrap_or_else(|| panic!("output"));
    let first = out.next().await.unwrap_or_else(|| panic!("a first chunk"));
    assert_eq!(&first.data[..], b"first\n");
    assert_eq!(p.poll(), None);
    ok(stdin.write_line("more").await, "write");
    ok(stdin.close().await, "close");
    let mut rest = Vec::new();
    while let Some(c) = out.next().await {
        rest.extend_from_slice(&c.data);
    }
    assert_eq!(rest, b"got more\n");
    assert_eq!(ok(p.wait().await, "wait"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_examples() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;

    // cat with one write and close.
    let (p, w) = with_stdin(&t, &sb, &["cat"]).await;
    ok(w.write(&b"hello world\n"[..]).await, "write");
    ok(w.close().await, "close");
    assert_eq!(ok(p.result().await, "result").stdout, b"hello world\n");

    // Several writelines.
    let (p, w) = with_stdin(&t, &sb, &["cat"]).await;
    for l in ["line 1", "line 2", "line 3"] {
        ok(w.write_line(l).await, "writeline");
    }
    ok(w.close().await, "close");
    assert_eq!(
        ok(p.result().await, "result").stdout,
        b"line 1\nline 2\nline 3\n"
    );

    // Interactive Python through stdin.
    let (p, w) = with_stdin(&t, &sb, &["python3"]).await;
    ok(w.write_line("x = 40 + 2").await, "writeline");
    ok(w.write_line("print(f'answer: {x}')").await, "writeline");
    ok(w.close().await, "close");
    assert_eq!(ok(p.result().await, "result").stdout, b"answer: 42\n");

    // EOF-dependent sort.
    let (p, w) = with_stdin(&t, &sb, &["sort"]).await;
    for l in ["banana", "apple", "cherry"] {
        ok(w.write_line(l).await, "writeline");
    }
    ok(w.close().await, "close");
    assert_eq!(
        ok(p.result().await, "result").stdout,
        b"apple\nbanana\ncherry\n"
    );

    // The async variant: raw bytes, then awaiting the process.
    let (p, w) = with_stdin(&t, &sb, &["cat"]).await;
    ok(w.write(b"async hello\n".to_vec()).await, "write");
    ok(w.close().await, "close");
    assert_eq!(ok(p.result().await, "result").stdout, b"async hello\n");

    // Without stdin=True there is no writer.
    let mut p = ok(
        t.client
            .exec(&sb, &args(&["true"]), ExecOptions::default())
            .await,
        "exec",
    );
    assert!(p.take_stdin().is_none());
    // The server's ready frame says when the command started.
    let started = p.started_at().expect("the server reports the start time");
    let age = std::time::SystemTime::now()
        .duration_since(started)
        .unwrap_or_default();
    assert!(age < std::time::Duration::from_secs(60), "{started:?}");
    assert_eq!(ok(p.wait().await, "wait"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn combined_stdin_and_stdout_streaming() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let (mut p, w) = with_stdin(&t, &sb, &["cat"]).await;
    let mut out = p.take_output().unwrap_or_else(|| panic!("output"));
    ok(w.write_line("hello").await, "writeline");
    ok(w.write_line("world").await, "writeline");
    ok(w.close().await, "close");
    let mut seen = Vec::new();
    while let Some(c) = out.next().await {
        seen.extend_from_slice(&c.data);
    }
    assert_eq!(seen, b"hello\nworld\n");
    assert_eq!(ok(p.result().await, "result").returncode, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn working_directory() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let opts = |cwd: &str| ExecOptions {
        cwd: Some(cwd.to_string()),
        ..Default::default()
    };
    let r = t.exec_with(&sb, &["pwd"], opts("/tmp")).await;
    assert_eq!(r.stdout, b"/tmp\n");
    let r = t.exec_with(&sb, &["ls", "-la"], opts("/tmp")).await;
    assert_eq!(r.returncode, 0);
    // Arguments survive the shell rewrite unchanged.
    let r = t
        .exec_with(&sb, &["printf", "%s|", "a b", "it's", "$HOME"], opts("/"))
        .await;
    assert_eq!(r.stdout, b"a b|it's|$HOME|");

    let e = t.client.exec(&sb, &args(&["pwd"]), opts("tmp")).await;
    assert!(matches!(e, Err(Error::InvalidArgument(_))), "{e:?}");
}

/// Host processes whose command line contains `marker`. The test runs on the
/// same machine as the server, so it sees sandboxed processes too.
fn host_processes_with(marker: &str) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains(marker))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_command() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let marker = "60.4242";
    let opts = ExecOptions {
        timeout: Some(Duration::from_millis(1500)),
        ..Default::default()
    };
    let mut p = ok(
        t.client.exec(&sb, &args(&["sleep", marker]), opts).await,
        "exec",
    );
    // It must be seen running first, or "gone" below would prove nothing.
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while host_processes_with(marker) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(seen.is_ok(), "the sleep never showed up in /proc");
    let e = p.wait().await;
    assert!(
        matches!(e, Err(Error::Timeout(d)) if d == Duration::from_millis(1500)),
        "{e:?}"
    );
    assert_eq!(p.poll(), Some(ProcessStatus::TimedOut));
    // The server kills it once the stream is cancelled; wait for that.
    let gone = tokio::time::timeout(Duration::from_secs(10), async {
        while host_processes_with(marker) > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the timed-out sleep is still running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_flag() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let r = t.exec(&sb, &["false"]).await;
    assert_eq!(r.returncode, 1);

    let opts = ExecOptions {
        check: true,
        ..Default::default()
    };
    let p = ok(
        t.client
            .exec(
                &sb,
                &args(&["python", "-c", "raise ValueError('oops')"]),
                opts,
            )
            .await,
        "exec",
    );
    match p.result().await {
        Err(Error::Execution { result }) => {
            assert_eq!(result.returncode, 1);
            assert!(
                result.stderr_text().contains("ValueError: oops"),
                "{}",
                result.stderr_text()
            );
        }
        other => panic!("expected an execution error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_commands_see_each_other() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let file = format!("/tmp/seq-{sb}.txt");
    let r = t
        .exec(&sb, &["sh", "-c", &format!("echo data > {file}")])
        .await;
    assert_eq!(r.returncode, 0);
    let r = t.exec(&sb, &["cat", &file]).await;
    assert_eq!(r.stdout, b"data\n");
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_across_three_sandboxes() {
    let t = TestServer::start().await;
    let (a, b, c) = tokio::join!(t.sandbox(), t.sandbox(), t.sandbox());
    let ids = [a, b, c];
    let mut processes = Vec::new();
    for (i, sb) in ids.iter().enumerate() {
        let code = format!("print({i})");
        let argv = args(&["python", "-c", &code]);
        let p = t.client.exec(sb, &argv, ExecOptions::default()).await;
        processes.push(ok(p, "exec"));
    }
    let mut outputs = Vec::new();
    for p in processes {
        outputs.push(ok(p.result().await, "result").stdout_text());
    }
    assert_eq!(outputs, ["0\n", "1\n", "2\n"]);
}

/// Three processes in three sandboxes, each blocked until its stdin closes,
/// so the test decides the finishing order without sleeping.
async fn gated(t: &TestServer) -> (Vec<client::Process>, Vec<client::StdinWriter>, Vec<String>) {
    let (a, b, c) = tokio::join!(t.sandbox(), t.sandbox(), t.sandbox());
    let ids = vec![a, b, c];
    let mut ps = Vec::new();
    let mut gates = Vec::new();
    for (i, sb) in ids.iter().enumerate() {
        let cmd = format!("cat >/dev/null; echo task {i}");
        let mut p = ok(
            t.client
                .exec(sb, &args(&["sh", "-c", &cmd]), stdin_opts())
                .await,
            "exec",
        );
        gates.push(p.take_stdin().unwrap_or_else(|| panic!("stdin")));
        ps.push(p);
    }
    (ps, gates, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_first_n_of_m() {
    let t = TestServer::start().await;

    // Already finished, in the order 2 then 0: both done, in that order.
    let (ps, gates, ids) = gated(&t).await;
    let watches: Vec<_> = ps.iter().map(|p| p.status()).collect();
    for i in [2, 0] {
        ok(gates[i].close().await, "close");
        let mut w = watches[i].clone();
        while w.current().is_none() {
            w.changed().await;
        }
    }
    let (done, pending) = client::wait(ps, 2).await;
    let done_ids: Vec<&str> = done.iter().map(|p| p.sandbox_id()).collect();
    assert_eq!(done_ids, [ids[2].as_str(), ids[0].as_str()]);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].sandbox_id(), ids[1]);
    assert_eq!(pending[0].poll(), None);
    for p in done {
        let r = ok(p.result().await, "result");
        assert!(r.stdout_text().starts_with("task "));
    }
    ok(gates[1].close().await, "close");
    for p in pending {
        assert_eq!(ok(p.result().await, "result").stdout, b"task 1\n");
    }

    // Still running when waiting starts: the one released first comes back.
    let (ps, gates, ids) = gated(&t).await;
    let waiter = tokio::spawn(client::wait(ps, 1));
    ok(gates[1].close().await, "close");
    let (done, pending) = ok(waiter.await, "join");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].sandbox_id(), ids[1]);
    assert_eq!(pending.len(), 2);
    for g in [&gates[0], &gates[2]] {
        ok(g.close().await, "close");
    }
    for p in pending {
        assert_eq!(ok(p.result().await, "result").returncode, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_then_wait() {
    let t = TestServer::start().await;
    let sb = t.sandbox().await;
    let (mut p, w) = with_stdin(&t, &sb, &["sh", "-c", "cat >/dev/null; exit 7"]).await;
    assert_eq!(p.poll(), None);
    let mut watch = p.status();
    assert_eq!(watch.current(), None);
    ok(w.close().await, "close");
    assert_eq!(ok(p.wait().await, "wait"), 7);
    assert_eq!(p.poll(), Some(ProcessStatus::Exited(7)));
    assert_eq!(watch.changed().await, Some(ProcessStatus::Exited(7)));
    assert_eq!(watch.changed().await, None);
    // A watcher made after the end still hears about it once.
    let mut late = p.status();
    assert_eq!(late.changed().await, Some(ProcessStatus::Exited(7)));
    assert_eq!(late.changed().await, None);
}
