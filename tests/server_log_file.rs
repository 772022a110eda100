//! The server's own log file: text from requests cannot forge lines or
//! carry terminal escapes into it.
mod common;
mod server_support;
use server_support::serve::{serve_data_dir, Serve};
use server_support::*;
use std::time::{Duration, Instant};

const FORGED: &str = "2099-01-01T00:00:00.000000Z  INFO sandscope: forged line";

/// Everything in the log directory so far.
fn log_text(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        out.extend(std::fs::read(e.path()).unwrap_or_default());
    }
    out
}

fn assert_clean(what: &str, text: &[u8]) {
    let shown = String::from_utf8_lossy(text);
    assert!(
        !text
            .iter()
            .any(|b| b.is_ascii_control() && *b != b'\n' || *b == 0x7f),
        "{what} holds a raw control character: {shown}"
    );
    assert!(
        !shown.contains("\u{9b}") && !shown.contains("\u{85}"),
        "{what} holds a raw C1 control: {shown}"
    );
    assert!(
        !shown.lines().any(|l| l.starts_with("2099-")),
        "{what} holds a forged line: {shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_text_is_escaped_in_the_server_log() {
    let (_dir, data) = serve_data_dir();
    let data = std::path::Path::new(&data);
    let serve = Serve::start(data, &[]);
    let client = connect(&serve.url, Some(TOKEN)).await;
    // A main command that does not exist is quoted in the start error the
    // server logs.
    let command = format!("no-such-program\n{FORGED}\x1b[2J\r\t\u{9b}31m\u{85}end");
    let req = pb::CreateSandboxRequest {
        sandbox: Some(pb::Sandbox {
            spec: Some(spec_with(&[&command])),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let id = client
        .clone()
        .create_sandbox(req)
        .await
        .expect("create")
        .into_inner()
        .sandbox_id;

    let logs = data.join("logs");
    let until = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = log_text(&logs);
        if String::from_utf8_lossy(&text).contains("sandbox failed to start") {
            break text;
        }
        assert!(
            Instant::now() < until,
            "the start failure was never logged: {}",
            String::from_utf8_lossy(&text)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let shown = String::from_utf8_lossy(&text);
    assert!(shown.contains(&id), "{shown}");
    assert!(
        shown.contains(&format!(
            "no-such-program\\n{FORGED}\\u{{1b}}[2J\\r\\t\\u{{9b}}31m\\u{{85}}end"
        )),
        "the command is in the log, escaped: {shown}"
    );
    assert_clean("the log file", &text);
    assert_clean("the server's stderr", serve.stderr().as_bytes());
}
