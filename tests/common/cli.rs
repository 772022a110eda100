//! The real `sandscope` binary with a private home: no user config, its own
//! data and log directories, nothing inherited but `PATH`.
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_sandscope");

/// `sandscope` with `home` as its home and `home/data` as its data dir.
pub fn sandscope(home: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("SANDSCOPE_DATA_DIR", home.join("data"))
        .env("SANDSCOPE_LOG_DIR", home.join("logs"))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    c
}

/// `sandscope` pointed at the server at `url` with the test token.
pub fn against(url: &str, home: &Path, argv: &[&str]) -> Command {
    let mut c = sandscope(home);
    c.env("CWSANDBOX_API_KEY", super::TOKEN)
        .arg("--endpoint")
        .arg(url)
        .args(argv);
    c
}

/// Runs to completion (bounded), failing the test with `what` on error.
pub async fn run(mut c: Command, what: &str) -> Output {
    let out = tokio::time::timeout(Duration::from_secs(60), c.output()).await;
    super::ok(super::ok(out, &format!("{what}: timed out")), what)
}

/// What a command that had to succeed printed; fails the test with
/// `what` and its stderr otherwise.
pub fn stdout_of(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", text(&out.stderr));
    text(&out.stdout)
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
