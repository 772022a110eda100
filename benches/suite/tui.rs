//! Part `tui`: the terminal UI under output floods. Headless (the real
//! state, update and render code on a TestBackend), the real binary in
//! tmux with one and with 16 noisy processes, mprocs on the same
//! single-pane flood, and the idle UI.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use crate::mprocs::{self, MprocsRun};
use crate::report::Summary;
use crate::stats::ratio;
use crate::tui_headless::{self, HeadlessReport};
use crate::tui_tmux::{self, FloodRun, IdleRun};

const MIB: u64 = 1 << 20;
/// Decimal gigabyte: the per-GB figures divide by 10^9 bytes.
const GB: f64 = 1e9;
/// The flooding processes print this line (60 bytes with the newline).
pub const LINE: &str = "sandscope flood: 0123456789 abcdefghijklmnopqrstuvwxyz ABCD\n";
/// Screen size for every run, headless and in tmux.
pub const WIDTH: u16 = 160;
pub const HEIGHT: u16 = 48;

#[derive(Debug, Clone)]
pub struct TuiSizes {
    pub headless_panes: usize,
    pub headless_bytes_per_pane: u64,
    /// The single-pane flood, for the TUI and for mprocs alike.
    pub single_bytes: u64,
    pub multi_panes: usize,
    pub multi_bytes_per_pane: u64,
    pub idle: Duration,
    /// How long one flood may take before the run fails.
    pub timeout: Duration,
}

impl TuiSizes {
    pub fn full() -> TuiSizes {
        TuiSizes {
            headless_panes: 16,
            // Enough for a few seconds of frames at the frame cap.
            headless_bytes_per_pane: 256 * MIB,
            // mprocs reads this at a few MB/s, so it sets the part's length.
            single_bytes: 256 * MIB,
            multi_panes: 16,
            multi_bytes_per_pane: 128 * MIB,
            idle: Duration::from_secs(30),
            timeout: Duration::from_secs(600),
        }
    }

    pub fn smoke() -> TuiSizes {
        TuiSizes {
            headless_panes: 16,
            headless_bytes_per_pane: 256 << 10,
            single_bytes: 4 * MIB,
            multi_panes: 16,
            multi_bytes_per_pane: 256 << 10,
            idle: Duration::from_secs(2),
            timeout: Duration::from_secs(120),
        }
    }
}

pub struct TuiReport {
    pub headless: HeadlessReport,
    pub single: FloodRun,
    /// None when no mprocs binary was found.
    pub mprocs: Option<MprocsRun>,
    pub multi: FloodRun,
    pub idle: IdleRun,
}

fn progress(msg: &str) {
    eprintln!("[bench] {msg}");
}

fn per_gb(secs: f64, bytes: u64) -> f64 {
    ratio(secs * GB, bytes as f64)
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub async fn run(s: &mut Summary, bin: &Path, sizes: &TuiSizes) -> Result<TuiReport, String> {
    let (panes, per_pane) = (sizes.headless_panes, sizes.headless_bytes_per_pane);
    progress(&format!(
        "tui headless: {panes} panes x {} KiB through update and render ({WIDTH}x{HEIGHT})",
        per_pane >> 10
    ));
    let headless = tokio::task::spawn_blocking(move || {
        tui_headless::run(panes, per_pane, LINE, WIDTH, HEIGHT)
    })
    .await
    .map_err(|e| format!("headless: {e}"))??;
    record_headless(s, &headless);

    let (bin, sizes) = (bin.to_path_buf(), sizes.clone());
    let (single, mprocs, multi, idle) = tokio::task::spawn_blocking(move || in_tmux(&bin, &sizes))
        .await
        .map_err(|e| format!("tui in tmux: {e}"))??;
    s.text(
        "tui_tmux_measured",
        "the TUI process alone, connected to a separate `sandscope serve`",
    );
    record_flood(s, "tui_tmux_1_pane", &single);
    match &mprocs {
        Some(m) => {
            s.num("mprocs_1_pane_bytes", m.bytes as f64);
            s.num("mprocs_1_pane_cpu_s_per_gb", per_gb(m.cpu_secs, m.bytes));
            s.num(
                "mprocs_1_pane_mb_per_s",
                ratio(m.bytes as f64 / 1e6, m.wall_secs),
            );
            s.num("mprocs_1_pane_peak_rss_mb", mb(m.peak_rss_kib));
            s.num(
                "mprocs_vs_tui_cpu_per_gb_ratio",
                ratio(
                    per_gb(m.cpu_secs, m.bytes),
                    per_gb(single.cpu_secs, single.bytes),
                ),
            );
        }
        None => s.text(
            "mprocs_1_pane",
            format!("skipped: no mprocs (set {} or PATH)", mprocs::MPROCS_ENV),
        ),
    }
    record_flood(s, &format!("tui_tmux_{}_panes", multi.panes), &multi);
    s.num("tui_idle_s", idle.secs);
    s.num(
        "tui_idle_cpu_percent",
        ratio(idle.cpu_secs * 100.0, idle.secs),
    );
    s.num("tui_idle_rss_mb", mb(idle.rss_kib));
    Ok(TuiReport {
        headless,
        single,
        mprocs,
        multi,
        idle,
    })
}

type InTmux = (FloodRun, Option<MprocsRun>, FloodRun, IdleRun);

/// The real binaries, one after the other; mprocs right after the TUI on
/// the same single-pane flood.
fn in_tmux(bin: &Path, sizes: &TuiSizes) -> Result<InTmux, String> {
    progress(&format!(
        "tui in tmux: 1 process x {} MiB",
        sizes.single_bytes / MIB
    ));
    let single = tui_tmux::flood(bin, 1, sizes.single_bytes, LINE, sizes.timeout)?;
    let mprocs = match mprocs::find() {
        Some(path) => {
            progress(&format!(
                "mprocs in tmux: the same flood ({})",
                path.display()
            ));
            Some(mprocs::flood(
                &path,
                sizes.single_bytes,
                LINE,
                sizes.timeout,
            )?)
        }
        None => {
            progress(&format!(
                "mprocs: skipped, not found (set {} or put mprocs on PATH)",
                mprocs::MPROCS_ENV
            ));
            None
        }
    };
    progress(&format!(
        "tui in tmux: {} processes x {} KiB",
        sizes.multi_panes,
        sizes.multi_bytes_per_pane >> 10
    ));
    let multi = tui_tmux::flood(
        bin,
        sizes.multi_panes,
        sizes.multi_bytes_per_pane,
        LINE,
        sizes.timeout,
    )?;
    progress(&format!(
        "tui in tmux: idle for {} s",
        sizes.idle.as_secs_f64()
    ));
    let idle = tui_tmux::idle(bin, sizes.idle)?;
    Ok((single, mprocs, multi, idle))
}

fn record_headless(s: &mut Summary, h: &HeadlessReport) {
    let k = format!("tui_headless_{}_panes", h.panes);
    s.num(format!("{k}_bytes"), h.bytes as f64);
    s.num(format!("{k}_cpu_s_per_gb"), per_gb(h.cpu_secs, h.bytes));
    s.num(
        format!("{k}_mb_per_s"),
        ratio(h.bytes as f64 / 1e6, h.wall_secs),
    );
    s.num(format!("{k}_lines_kept"), h.lines_kept as f64);
    s.num("tui_headless_tiles_shown", h.tiles as f64);
    s.num("tui_headless_frames", h.frames.n as f64);
    s.num("tui_headless_frame_p50_ms", h.frames.p50_ms);
    s.num("tui_headless_frame_p99_ms", h.frames.p99_ms);
    s.num("tui_headless_frame_max_ms", h.frames.max_ms);
    s.num("tui_headless_frame_cpu_max_ms", h.frame_cpu_max_ms);
    if let Some(kib) = h.rss_growth_kib {
        s.num("tui_headless_rss_growth_mb", mb(kib));
    }
}

fn record_flood(s: &mut Summary, k: &str, f: &FloodRun) {
    s.num(format!("{k}_bytes"), f.bytes as f64);
    s.num(format!("{k}_cpu_s_per_gb"), per_gb(f.cpu_secs, f.bytes));
    s.num(format!("{k}_cpu_cores"), ratio(f.cpu_secs, f.wall_secs));
    s.num(
        format!("{k}_mb_per_s"),
        ratio(f.bytes as f64 / 1e6, f.wall_secs),
    );
    s.num(format!("{k}_peak_rss_mb"), mb(f.peak_rss_kib));
    s.num(
        format!("{k}_server_cpu_s_per_gb"),
        per_gb(f.server_cpu_secs, f.bytes),
    );
}
