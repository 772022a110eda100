//! mprocs, the peer for watching noisy processes, on the same flood in the
//! same terminal size. mprocs runs the command itself on a pseudo-terminal
//! (no server); only the mprocs process's own CPU is counted, not that of
//! the command it runs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::proc_stat;
use crate::tmux::Tmux;
use crate::tui::{HEIGHT, WIDTH};

/// Names the mprocs binary to compare with; else `mprocs` on PATH.
pub const MPROCS_ENV: &str = "SANDSCOPE_BENCH_MPROCS";
/// mprocs has settled when its CPU time stays put this long after the
/// command ended (no output left to read).
const SETTLE: Duration = Duration::from_millis(500);

pub struct MprocsRun {
    pub bytes: u64,
    pub wall_secs: f64,
    pub cpu_secs: f64,
    pub peak_rss_kib: u64,
}

/// The mprocs binary, if one is installed.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(MPROCS_ENV) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("mprocs"))
        .find(|p| p.is_file())
}

/// Direct children of `pid`, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = s.rsplit_once(')')?.1.to_string();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// `yes LINE | head -c bytes` in mprocs, until the command has ended and
/// mprocs has read everything.
pub fn flood(
    mprocs: &Path,
    bytes: u64,
    line: &str,
    timeout: Duration,
) -> Result<MprocsRun, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let cmd = format!("yes '{}' | head -c {bytes}", line.trim_end());
    let argv = vec![mprocs.display().to_string(), cmd];
    let tmux = Tmux::start(&argv, WIDTH, HEIGHT, dir.path(), &[])?;
    let started = Instant::now();
    let pid = tmux.program_pid("mprocs", Duration::from_secs(30))?;
    let want = &line[..line.len().min(20)];
    tmux.wait_for("the flood on mprocs' screen", timeout, |s| s.contains(want))?;
    let deadline = started + timeout;
    while !children(pid).is_empty() {
        if Instant::now() > deadline {
            return Err(format!(
                "mprocs: the command still runs after {timeout:?}; the screen:\n{}",
                tmux.screen()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let ended = started.elapsed().as_secs_f64();
    let mut cpu = proc_stat::cpu_secs(pid).ok_or("mprocs exited")?;
    loop {
        std::thread::sleep(SETTLE);
        let now = proc_stat::cpu_secs(pid).ok_or("mprocs exited")?;
        if now - cpu < 0.01 || Instant::now() > deadline {
            cpu = now;
            break;
        }
        cpu = now;
    }
    let peak_rss_kib = proc_stat::peak_rss_kib(pid).unwrap_or(0);
    Ok(MprocsRun {
        bytes,
        wall_secs: ended,
        cpu_secs: cpu,
        peak_rss_kib,
    })
}
