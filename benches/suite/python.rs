//! The published Python client (`cwsandbox`) against the same server, for
//! the per-operation and per-byte ratios.
#![allow(dead_code)]

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use crate::server_proc::ServerProc;
use crate::stats::Throughput;

const CLIENT_VERSION: &str = "1.22.0";

/// The venv with the pinned client, shared with the conformance tests
/// (same place, same lock), created when missing.
pub fn venv_python(target_dir: &Path) -> Result<PathBuf, String> {
    fs::create_dir_all(target_dir).map_err(|e| format!("create {}: {e}", target_dir.display()))?;
    let venv = target_dir.join("cwsandbox-venv");
    let lock_path = target_dir.join("cwsandbox-venv.lock");
    let lock_file =
        File::create(&lock_path).map_err(|e| format!("create {}: {e}", lock_path.display()))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("lock {}: {e}", lock_path.display()))?;
    let python = venv.join("bin").join("python");
    if installed_version(&python).as_deref() == Some(CLIENT_VERSION) {
        return Ok(python);
    }
    if venv.exists() {
        fs::remove_dir_all(&venv).map_err(|e| format!("remove stale {}: {e}", venv.display()))?;
    }
    setup(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "python3 -m venv",
    )?;
    let spec = format!("cwsandbox=={CLIENT_VERSION}");
    setup(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            &spec,
        ]),
        "pip install cwsandbox",
    )?;
    match installed_version(&python) {
        Some(v) if v == CLIENT_VERSION => Ok(python),
        other => Err(format!("cwsandbox reports version {other:?} after install")),
    }
}

fn installed_version(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, cwsandbox; sys.stdout.write(cwsandbox.__version__)",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn setup(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches")
        .join("python")
        .join("client_bench.py")
}

/// Runs the bench script in `mode` with `arg`; returns its last stdout line.
fn run(python: &Path, server: &ServerProc, mode: &str, arg: u64) -> Result<String, String> {
    let out = Command::new(python)
        .arg(script())
        .args([mode, &arg.to_string()])
        .env("CWSANDBOX_BASE_URL", &server.url)
        .env("CWSANDBOX_API_KEY", &server.token)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("start python: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "python {mode}: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    stdout
        .lines()
        .last()
        .map(str::to_string)
        .ok_or_else(|| format!("python {mode}: no output"))
}

/// `n` sequential `exec(["true"]).result()` round trips, as the script timed them.
pub fn exec_round_trips(
    python: &Path,
    server: &ServerProc,
    n: usize,
) -> Result<Vec<Duration>, String> {
    let line = run(python, server, "exec", n as u64)?;
    let times: Vec<Duration> = line
        .strip_prefix("exec_seconds ")
        .ok_or_else(|| format!("unexpected python output: {line}"))?
        .split_whitespace()
        .map(|s| s.parse::<f64>().map(Duration::from_secs_f64))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("python timings: {e}"))?;
    if times.len() != n {
        return Err(format!(
            "python reported {} timings, expected {n}",
            times.len()
        ));
    }
    Ok(times)
}

/// `head -c bytes /dev/zero` collected by `result()`; the script checks the bytes.
pub fn stdout_stream(python: &Path, server: &ServerProc, bytes: u64) -> Result<Throughput, String> {
    let line = run(python, server, "stdout", bytes)?;
    let secs: f64 = line
        .strip_prefix("stdout_seconds ")
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("unexpected python output: {line}"))?;
    Ok(Throughput { bytes, secs })
}
