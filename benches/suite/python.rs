//! The published Python client (`cwsandbox`) against the same server, for
//! the per-operation and per-byte ratios.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::server_proc::ServerProc;
use crate::stats::Throughput;

#[path = "../../tests/support/pinned_venv.rs"]
mod pinned_venv;

/// The venv with the pinned client, shared with the conformance tests
/// (same place, same lock), created when missing.
pub fn venv_python(target_dir: &Path) -> Result<PathBuf, String> {
    pinned_venv::cwsandbox(target_dir)
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

/// The seed's "Combine stdin and stdout streaming" example `runs` times:
/// how many gave exactly its two lines as two items.
pub fn seed_lines(python: &Path, server: &ServerProc, runs: usize) -> Result<usize, String> {
    let line = run(python, server, "lines", runs as u64)?;
    line.strip_prefix("lines_ok ")
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("unexpected python output: {line}"))
}
