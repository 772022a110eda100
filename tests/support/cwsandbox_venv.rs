//! The published `cwsandbox` Python client, pinned, in a virtual environment
//! under the target directory: made once, then reused by the conformance
//! tests and the benchmarks alike (a file lock covers concurrent builders).
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::fcntl::{Flock, FlockArg};

/// The client version sandscope is held to.
pub const CLIENT_VERSION: &str = "1.22.0";

/// The venv's python with the pinned client, created under `target` when
/// missing or stale.
pub fn prepare(target: &Path) -> Result<PathBuf, String> {
    fs::create_dir_all(target).map_err(|e| format!("create {}: {e}", target.display()))?;
    let venv = target.join("cwsandbox-venv");
    let lock_path = target.join("cwsandbox-venv.lock");
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
    run_setup(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "python3 -m venv (install python3 and python3-venv)",
    )?;
    run_setup(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            &format!("cwsandbox=={CLIENT_VERSION}"),
        ]),
        "pip install cwsandbox (needs network access to PyPI)",
    )?;
    match installed_version(&python) {
        Some(v) if v == CLIENT_VERSION => Ok(python),
        other => Err(format!(
            "after installing, `import cwsandbox` reports version {other:?}, expected {CLIENT_VERSION}"
        )),
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

fn run_setup(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}
