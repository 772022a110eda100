//! Published Python packages, pinned, each in a virtual environment of its
//! own under the target directory: made once, then reused (a file lock
//! covers concurrent builders). The `cwsandbox` client serves the
//! conformance tests and the benchmarks; `asciinema` checks that recordings
//! play in the reference player.
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::fcntl::{Flock, FlockArg};

/// The client version sandscope is held to.
pub const CLIENT_VERSION: &str = "1.22.0";

/// The asciinema player recordings are checked with (its last Python
/// release, installable from PyPI like the client).
#[allow(dead_code)]
pub const ASCIINEMA_VERSION: &str = "2.4.0";

/// The target directory of this build, where the venvs live.
#[allow(dead_code)]
pub fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp, so this follows CARGO_TARGET_DIR too.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// The venv's python with the pinned client, created under `target` when
/// missing or stale.
#[allow(dead_code)]
pub fn cwsandbox(target: &Path) -> Result<PathBuf, String> {
    pinned(target, "cwsandbox", CLIENT_VERSION)
}

/// The venv's python with the pinned asciinema (`python -m asciinema`).
#[allow(dead_code)]
pub fn asciinema(target: &Path) -> Result<PathBuf, String> {
    pinned(target, "asciinema", ASCIINEMA_VERSION)
}

/// The python of `<target>/<package>-venv`, holding `package==version`
/// (whose module has the package's name and a `__version__`).
fn pinned(target: &Path, package: &str, version: &str) -> Result<PathBuf, String> {
    fs::create_dir_all(target).map_err(|e| format!("create {}: {e}", target.display()))?;
    let venv = target.join(format!("{package}-venv"));
    let lock_path = target.join(format!("{package}-venv.lock"));
    let lock_file =
        File::create(&lock_path).map_err(|e| format!("create {}: {e}", lock_path.display()))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("lock {}: {e}", lock_path.display()))?;

    let python = venv.join("bin").join("python");
    if installed_version(&python, package).as_deref() == Some(version) {
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
            &format!("{package}=={version}"),
        ]),
        &format!("pip install {package} (needs network access to PyPI)"),
    )?;
    match installed_version(&python, package) {
        Some(v) if v == version => Ok(python),
        other => Err(format!(
            "after installing, `import {package}` reports version {other:?}, expected {version}"
        )),
    }
}

fn installed_version(python: &Path, module: &str) -> Option<String> {
    let out = Command::new(python)
        .args([
            "-c",
            &format!("import sys, {module}; sys.stdout.write({module}.__version__)"),
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
