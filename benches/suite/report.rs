//! The figures of one run: a flat summary (printed as a table and written as
//! JSON), the targets they are judged against, and the scale plot.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Num(f64),
    Text(String),
}

/// Figures in the order they were measured; keys are snake_case and name
/// their unit (`_ms`, `_mb_per_s`, `_ratio`, ...).
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub entries: Vec<(String, Val)>,
}

impl Summary {
    pub fn num(&mut self, key: impl Into<String>, v: f64) {
        self.entries.push((key.into(), Val::Num(v)));
    }

    pub fn text(&mut self, key: impl Into<String>, v: impl Into<String>) {
        self.entries.push((key.into(), Val::Text(v.into())));
    }

    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    pub fn get(&self, key: &str) -> Option<f64> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| match v {
                Val::Num(n) => Some(*n),
                Val::Text(_) => None,
            })
    }

    /// One flat JSON object; numbers rounded to 4 decimals for readability.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\n");
        for (i, (k, v)) in self.entries.iter().enumerate() {
            let value = match v {
                Val::Num(n) if n.is_finite() => format_num(*n),
                Val::Num(_) => "null".to_string(),
                Val::Text(t) => json_string(t),
            };
            let comma = if i + 1 < self.entries.len() { "," } else { "" };
            let _ = writeln!(out, "  {}: {value}{comma}", json_string(k));
        }
        out.push('}');
        out.push('\n');
        out
    }

    pub fn write_json(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        }
        std::fs::write(path, self.to_json()).map_err(|e| format!("write {}: {e}", path.display()))
    }

    /// Every figure, one per line, `key  value`.
    pub fn table(&self) -> String {
        let width = self.entries.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (k, v) in &self.entries {
            let value = match v {
                Val::Num(n) => format_num(*n),
                Val::Text(t) => t.clone(),
            };
            let _ = writeln!(out, "  {k:<width$}  {value:>14}");
        }
        out
    }
}

fn format_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        let s = format!("{n:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A figure and the bound it must meet.
pub struct Target {
    pub key: &'static str,
    pub at_most: bool,
    pub bound: f64,
    pub what: &'static str,
}

pub const TARGETS: &[Target] = &[
    Target {
        key: "exec_p50_ms",
        at_most: true,
        bound: 2.0,
        what: "exec round trip p50",
    },
    Target {
        key: "exec_p99_ms",
        at_most: true,
        bound: 5.0,
        what: "exec round trip p99",
    },
    Target {
        key: "exec_p50_vs_bare_spawn_ratio",
        at_most: true,
        bound: 1.5,
        what: "exec p50 / bare spawn p50",
    },
    Target {
        key: "cli_exec_vs_version_p50_ratio",
        at_most: true,
        bound: 2.0,
        what: "CLI exec / CLI --version, whole process p50",
    },
    Target {
        key: "cli_exec_vs_python_exec_p50_ratio",
        at_most: true,
        bound: 1.0,
        what: "CLI whole-process exec / Python exec p50",
    },
    Target {
        key: "stdout_vs_local_pipe_ratio",
        at_most: false,
        bound: 0.6,
        what: "stdout rate / local pipe rate",
    },
    Target {
        key: "cli_stdout_vs_local_pipe_ratio",
        at_most: false,
        bound: 0.6,
        what: "CLI stdout into a pipe / local pipe rate",
    },
    Target {
        key: "stdin_mb_per_s",
        at_most: false,
        bound: 1000.0,
        what: "stdin rate (MB/s)",
    },
    Target {
        key: "seed_lines_ok_ratio",
        at_most: false,
        bound: 1.0,
        what: "seed line example, lines as items (Rust)",
    },
    Target {
        key: "python_seed_lines_ok_ratio",
        at_most: false,
        bound: 1.0,
        what: "seed line example, lines as items (Python)",
    },
    Target {
        key: "flood_errors",
        at_most: true,
        bound: 0.0,
        what: "flood errors",
    },
    Target {
        key: "flood_bytes_unverified",
        at_most: true,
        bound: 0.0,
        what: "flood bytes not verified",
    },
    Target {
        key: "flood_server_peak_rss_mb",
        at_most: true,
        bound: 200.0,
        what: "flood server peak RSS (MB)",
    },
    Target {
        key: "flood_exec_start_p99_vs_local_ratio",
        at_most: true,
        bound: 1.2,
        what: "flood exec-start p99 / local start p99",
    },
    Target {
        key: "scale_errors",
        at_most: true,
        bound: 0.0,
        what: "scale: errors at every tier",
    },
    Target {
        key: "scale_kib_per_idle_process_growth_ratio",
        at_most: true,
        bound: 1.5,
        what: "KiB per idle process, largest / smallest tier",
    },
    Target {
        key: "tui_tmux_16_panes_cpu_cores",
        at_most: true,
        bound: 1.0,
        what: "TUI, 16 flooding panes: CPU (cores)",
    },
    Target {
        key: "tui_tmux_16_panes_peak_rss_mb",
        at_most: true,
        bound: 150.0,
        what: "TUI, 16 flooding panes: peak RSS (MB)",
    },
    Target {
        key: "mprocs_vs_tui_cpu_per_gb_ratio",
        at_most: false,
        bound: 3.0,
        what: "mprocs / TUI CPU per GB, one flooding pane",
    },
    Target {
        key: "tui_idle_cpu_percent",
        at_most: true,
        bound: 0.5,
        what: "idle TUI CPU (% of a core)",
    },
    Target {
        key: "tui_headless_frame_max_ms",
        at_most: true,
        bound: 16.0,
        what: "TUI frame render time, max (ms)",
    },
];

/// The targets table; figures absent from this run (e.g. Python skipped)
/// are listed as not measured.
pub fn targets_table(s: &Summary) -> (String, usize) {
    let mut out = String::new();
    let mut missed = 0;
    let _ = writeln!(
        out,
        "  {:<46} {:>12} {:>10}  result",
        "target", "measured", "bound"
    );
    for t in TARGETS {
        let bound = format!(
            "{} {}",
            if t.at_most { "<=" } else { ">=" },
            format_num(t.bound)
        );
        let (value, verdict) = match s.get(t.key) {
            Some(v) => {
                let met = if t.at_most {
                    v <= t.bound
                } else {
                    v >= t.bound
                };
                if !met {
                    missed += 1;
                }
                (format_num(v), if met { "met" } else { "MISSED" })
            }
            None => ("-".to_string(), "not measured"),
        };
        let _ = writeln!(out, "  {:<46} {value:>12} {bound:>10}  {verdict}", t.what);
        if verdict == "MISSED" {
            if let Some(why) = floor_note(t, s) {
                let _ = writeln!(out, "      floor: {why}");
            }
        }
    }
    (out, missed)
}

/// For a target bounded by what the machine itself does, the floor measured
/// in the same run that puts it out of reach (None when the run lacks it).
fn floor_note(t: &Target, s: &Summary) -> Option<String> {
    match t.key {
        "stdout_vs_local_pipe_ratio" | "cli_stdout_vs_local_pipe_ratio" => {
            let (pipe, relay, via) = match t.key {
                "cli_stdout_vs_local_pipe_ratio" => (
                    s.get("cli_local_pipe_mb_per_s")?,
                    s.get("cli_relay_floor_mb_per_s")?,
                    "over loopback TCP and then into another pipe",
                ),
                _ => (
                    s.get("local_pipe_mb_per_s")?,
                    s.get("stdout_relay_floor_mb_per_s")?,
                    "over loopback TCP",
                ),
            };
            Some(format!(
                "a local pipe does {} MB/s in this run; the same bytes relayed {via} with no \
                 protocol and no sandbox do {} MB/s ({} of the pipe)",
                format_num(pipe.round()),
                format_num(relay.round()),
                format_num(relay / pipe)
            ))
        }
        "cli_exec_vs_version_p50_ratio" | "cli_exec_vs_python_exec_p50_ratio" => {
            let version = s.get("cli_version_p50_ms")?;
            let exec = s.get("fresh_connection_exec_p50_ms")?;
            Some(format!(
                "starting the binary at all (`--version`) takes {} ms, and a new connection \
                 and one exec through the library {} ms: together {} ms",
                format_num(version),
                format_num(exec),
                format_num(version + exec)
            ))
        }
        "stdin_mb_per_s" => {
            let local = s.get("local_stdin_pipe_mb_per_s")?;
            Some(format!(
                "the same bytes written into a local `wc -c` through a pipe go at {} MB/s in \
                 this run",
                format_num(local.round())
            ))
        }
        "exec_p50_vs_bare_spawn_ratio" => {
            let bare = s.get("bare_spawn_p50_ms")?;
            Some(format!(
                "a bare local spawn of `true` takes {} ms",
                format_num(bare)
            ))
        }
        "flood_exec_start_p99_vs_local_ratio" => {
            let local = s.get("local_flood_start_p99_ms")?;
            let server = s.get("flood_exec_started_by_server_p99_ms")?;
            Some(format!(
                "the same processes started locally, no server: p99 {} ms (by the server's clock: {} ms)",
                format_num(local.round()),
                format_num(server.round())
            ))
        }
        _ => None,
    }
}

/// One line on a plot panel.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    /// Drawn dashed, so a line that lies on another one stays visible.
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

/// Two panels side by side (x on a log scale), written as SVG.
pub fn plot_svg(title: &str, left: (&str, &[Series]), right: (&str, &[Series])) -> String {
    let (w, h) = (960.0, 440.0);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        w / 2.0,
        xml(title)
    );
    panel(&mut svg, 60.0, left.0, left.1);
    panel(&mut svg, 540.0, right.0, right.1);
    svg.push_str("</svg>\n");
    svg
}

fn panel(svg: &mut String, x0: f64, ylabel: &str, series: &[Series]) {
    let (pw, ph, top) = (380.0, 260.0, 50.0);
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .collect();
    let xmin = xs.iter().copied().fold(f64::INFINITY, f64::min).max(1.0);
    let xmax = xs.iter().copied().fold(0.0, f64::max).max(xmin * 2.0);
    let ymax = nice_ceiling(ys.iter().copied().fold(0.0, f64::max));
    let (lx0, lx1) = (xmin.ln(), xmax.ln());
    let px = |x: f64| x0 + (x.max(xmin).ln() - lx0) / (lx1 - lx0) * pw;
    let py = |y: f64| top + ph - y / ymax * ph;
    let _ = writeln!(
        svg,
        r##"<rect x="{x0}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    );
    for i in 0..=4 {
        let y = ymax * f64::from(i) / 4.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" x2="{}" y1="{py}" y2="{py}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            x0 + pw,
            x0 - 6.0,
            py(y) + 4.0,
            format_num((y * 100.0).round() / 100.0),
            py = py(y)
        );
    }
    let mut ticks: Vec<f64> = xs.clone();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    for x in ticks {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            top + ph + 18.0,
            format_num(x)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">sandboxes (log scale)</text>"#,
        x0 + pw / 2.0,
        top + ph + 38.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        x0 + pw / 2.0,
        top - 10.0,
        xml(ylabel)
    );
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
            pts.join(" "),
            s.color
        );
        for &(x, y) in &s.points {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"/>"#,
                px(x),
                py(y),
                s.color
            );
        }
        let ly = top + ph + 58.0 + 16.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{x0}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
            x0 + 24.0,
            ly - 4.0,
            ly - 4.0,
            s.color,
            x0 + 30.0,
            ly,
            xml(&s.name)
        );
    }
}

/// 1, 2 or 5 times a power of ten, at least `v` (and above zero).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
