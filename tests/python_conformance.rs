//! Conformance with the real `cwsandbox` Python client.
//!
//! Each test starts the server on a loopback port and runs one script from
//! `tests/python/` against it with the published client (pinned version,
//! installed once into a virtual environment under the target directory).
//! The scripts print one PASS/FAIL line per check; a test fails when its
//! script fails, and shows the script's whole output.

#[path = "support/pinned_venv.rs"]
mod pinned_venv;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use sandscope::server::{RuntimeChoice, Server, ServerConfig};
const TOKEN: &str = "conformance-test-token";
/// Upper bound for one script; a hung server or client fails the test instead of hanging CI.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("python")
}

/// The venv's python with the pinned client, created once per machine (the
/// file lock also covers other test processes building the same venv).
fn venv_python() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PYTHON.get_or_init(prepare_venv) {
        Ok(path) => path,
        Err(msg) => panic!("cannot prepare the Python client environment:\n{msg}"),
    }
}

fn prepare_venv() -> Result<PathBuf, String> {
    pinned_venv::cwsandbox(&pinned_venv::target_dir())
}

/// Runs `tests/python/<script>` against a fresh server and fails the test
/// unless every check in it passed.
fn conformance(script: &str) {
    run_script(script, false);
}

/// Like [`conformance`], for scripts that check the sandbox isolation itself.
fn conformance_isolated(script: &str) {
    run_script(script, true);
}

/// The discard port of this machine's loopback.
const NO_RESOLVER: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9);

fn run_script(script: &str, needs_isolation: bool) {
    let python = venv_python();
    let script_path = scripts_dir().join(script);
    let expected_checks = fs::read_to_string(&script_path)
        .unwrap_or_else(|e| panic!("read {}: {e}", script_path.display()))
        .matches("@case(")
        .count();
    assert!(expected_checks > 0, "{script} declares no checks");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let data_dir = tempfile::tempdir().expect("temp data dir");
    let server = rt
        .block_on(Server::start(ServerConfig {
            // Granted host names are looked up on this machine, where
            // nothing answers: the scripts never resolve one, and a
            // mistake would not send a query beyond it.
            dns_upstream: Some(NO_RESOLVER),
            ..ServerConfig::new(
                "127.0.0.1:0".parse().expect("loopback address"),
                data_dir.path().to_path_buf(),
                TOKEN.to_string(),
                RuntimeChoice::Auto,
            )
        }))
        .unwrap_or_else(|e| panic!("server failed to start: {e}"));
    let isolation = server.isolation();
    if needs_isolation && isolation != "bubblewrap" {
        rt.block_on(server.shutdown());
        panic!(
            "{script} checks sandbox isolation, but the server runs sandboxes as {isolation}: \
             install bubblewrap (`bwrap` must be on PATH and able to create namespaces)"
        );
    }

    let outcome = rt.block_on(run_python(python, &script_path, &server.url()));
    let leftover = rt.block_on(server.active_sandboxes());
    rt.block_on(server.shutdown());

    let output = match outcome {
        Ok(out) => out,
        Err(e) => panic!("{script}: {e}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let status = match output.status {
        Some(status) => status.to_string(),
        None => format!("killed after {SCRIPT_TIMEOUT:?}"),
    };
    let report = format!(
        "{script} (server isolation: {isolation}), {status}\n--- stdout\n{stdout}--- stderr\n{stderr}"
    );
    let passed = stdout.lines().filter(|l| l.starts_with("PASS ")).count();
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert!(failed.is_empty(), "failed checks: {failed:#?}\n{report}");
    assert!(
        output.status.is_some_and(|s| s.success()),
        "script failed\n{report}"
    );
    assert_eq!(
        passed, expected_checks,
        "not every check ran and passed\n{report}"
    );
    assert_eq!(
        leftover, 0,
        "sandboxes still active after the script\n{report}"
    );
    println!("{report}");
}

struct ScriptOutput {
    /// None when the script was killed for running too long.
    status: Option<std::process::ExitStatus>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs one script with the client pointed at `url`. Output is collected as
/// it comes, so a script killed for hanging still shows how far it got.
async fn run_python(python: &Path, script: &Path, url: &str) -> Result<ScriptOutput, String> {
    use tokio::io::AsyncReadExt;

    let mut child = tokio::process::Command::new(python)
        .arg("-u")
        .arg(script)
        .current_dir(scripts_dir())
        .env("CWSANDBOX_BASE_URL", url)
        .env("CWSANDBOX_API_KEY", TOKEN)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start {}: {e}", python.display()))?;
    let mut out = child.stdout.take().ok_or("no stdout pipe")?;
    let mut err = child.stderr.take().ok_or("no stderr pipe")?;
    let out_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf).await;
        buf
    });
    let err_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf).await;
        buf
    });
    let status = match tokio::time::timeout(SCRIPT_TIMEOUT, child.wait()).await {
        Ok(waited) => Some(waited.map_err(|e| format!("waiting for python: {e}"))?),
        Err(_) => {
            let _ = child.kill().await;
            None
        }
    };
    Ok(ScriptOutput {
        status,
        stdout: out_task.await.unwrap_or_default(),
        stderr: err_task.await.unwrap_or_default(),
    })
}

#[test]
fn exec_basics() {
    conformance("exec_basics.py");
}

#[test]
fn exec_stdin() {
    conformance("exec_stdin.py");
}

#[test]
fn exec_parallel() {
    conformance("exec_parallel.py");
}

#[test]
fn lifecycle_files_logs_auth() {
    conformance("lifecycle.py");
}

#[test]
fn sandbox_options_large_files_sessions() {
    conformance("features.py");
}

#[test]
fn isolation() {
    conformance_isolated("isolation.py");
}

#[test]
fn protocol_edges() {
    conformance("protocol_edges.py");
}

#[test]
fn snapshots() {
    conformance_isolated("snapshots.py");
}

#[test]
fn security() {
    conformance_isolated("security.py");
}

#[test]
fn services_and_tls_passthrough() {
    conformance_isolated("services.py");
}
