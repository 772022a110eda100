//! `sh`: a real terminal driven through tmux, and the piped fallback.
use super::cli;
use crate::common::cli::{text, BIN};
use crate::common::tmux::Tmux;
use crate::common::{ok, TestServer, TOKEN};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `stty size` typed into the remote shell until it prints `want`.
fn wait_size(t: &Tmux, want: &str) {
    let start = Instant::now();
    loop {
        t.type_text("stty size");
        t.keys(&["Enter"]);
        let seen = Instant::now();
        while seen.elapsed() < Duration::from_secs(3) {
            if t.screen().lines().any(|l| l.trim() == want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            start.elapsed() < crate::common::tmux::DEADLINE,
            "stty size never said {want}:\n{}",
            t.screen()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sh_is_a_real_terminal_and_restores_ours() {
    let t = TestServer::start().await;
    let id = t.sandbox().await;
    let url = t.url.clone();
    tokio::task::spawn_blocking(move || {
        let tm = Tmux::start(100, 30);
        tm.wait_text("e2e$");
        tm.type_text(&format!("CWSANDBOX_API_KEY={TOKEN} {BIN} --endpoint {url} sh {id}"));
        tm.keys(&["Enter"]);
        tm.type_text("echo remote-$((6*7))");
        tm.keys(&["Enter"]);
        tm.wait_text("remote-42");

        // The remote terminal has our size, and follows when it changes.
        wait_size(&tm, "30 100");
        tm.type_text("clear");
        tm.keys(&["Enter"]);
        assert!(tm.tmux(&["resize-window", "-t", "main", "-x", "120", "-y", "40"]).status.success());
        wait_size(&tm, "40 120");

        // Ctrl-C reaches the remote foreground job, not us.
        tm.type_text("sleep 100");
        tm.keys(&["Enter"]);
        std::thread::sleep(Duration::from_millis(300));
        tm.keys(&["C-c"]);
        tm.type_text("echo back-$((2+3))");
        tm.keys(&["Enter"]);
        tm.wait_text("back-5");

        tm.type_text("exit 7");
        tm.keys(&["Enter"]);
        // The local prompt, alone on its line, is back.
        tm.wait_for("the local prompt", |s| s.lines().any(|l| l.trim_end() == "e2e$"));
        tm.type_text("echo rc=$?");
        tm.keys(&["Enter"]);
        tm.wait_text("rc=7");
        tm.type_text(
            "printf 'modes=%s\\n' \"$(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ,)\"",
        );
        tm.keys(&["Enter"]);
        let s = tm.wait_for("the modes", |s| s.lines().any(|l| l.starts_with("modes=")));
        assert!(s.contains("modes=icanon,echo,"), "the terminal was not restored:\n{s}");
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sh_without_a_terminal_runs_the_piped_script() {
    let t = TestServer::start().await;
    let id = t.sandbox().await;
    let home = ok(tempfile::tempdir(), "home");
    let mut c = cli(&t, home.path(), &["sh", &id]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ok(c.spawn(), "spawn sh");
    if let Some(mut stdin) = child.stdin.take() {
        use tokio::io::AsyncWriteExt;
        ok(
            stdin.write_all(b"echo piped-$((3*3))\nexit 5\n").await,
            "write script",
        );
    }
    let out = ok(
        ok(
            tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await,
            "sh ends",
        ),
        "sh output",
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "piped-9\n");
    assert!(
        text(&out.stderr).contains("not a terminal"),
        "{}",
        text(&out.stderr)
    );

    // --cmd runs its own command line, split like a shell would.
    let home2 = ok(tempfile::tempdir(), "home");
    let c = cli(
        &t,
        home2.path(),
        &[
            "sh",
            &id,
            "--cmd",
            "sh -c 'printf %s-%s \"$0\" b; exit 4' 'a a'",
        ],
    );
    let out = crate::common::cli::run(c, "sh --cmd").await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "a a-b");
}
