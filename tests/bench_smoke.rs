//! The benchmark suite at tiny sizes (debug build, seconds): the same
//! measurement code as `cargo bench`, checked for correctness (every byte
//! verified, counts right, the summary well-formed), never for speed.

#[path = "../benches/suite/cli.rs"]
mod cli;
#[path = "../benches/suite/measure.rs"]
mod measure;
#[path = "../benches/suite/mprocs.rs"]
mod mprocs;
#[path = "../benches/suite/parts.rs"]
mod parts;
#[path = "../benches/suite/proc_stat.rs"]
mod proc_stat;
#[path = "../benches/suite/python.rs"]
mod python;
#[path = "../benches/suite/report.rs"]
mod report;
#[path = "../benches/suite/scale.rs"]
mod scale;
#[path = "../benches/suite/server_proc.rs"]
mod server_proc;
#[path = "../benches/suite/stats.rs"]
mod stats;
#[path = "../benches/suite/suite.rs"]
mod suite;
#[path = "../benches/suite/tmux.rs"]
mod tmux;
#[path = "../benches/suite/tui.rs"]
mod tui;
#[path = "../benches/suite/tui_headless.rs"]
mod tui_headless;
#[path = "../benches/suite/tui_log.rs"]
mod tui_log;
#[path = "../benches/suite/tui_tmux.rs"]
mod tui_tmux;

use std::path::Path;

#[test]
fn percentiles_use_nearest_rank() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(stats::percentile(&v, 50.0), 50.0);
    assert_eq!(stats::percentile(&v, 99.0), 99.0);
    assert_eq!(stats::percentile(&v, 100.0), 100.0);
    assert_eq!(stats::percentile(&[7.0], 99.0), 7.0);
    assert_eq!(stats::percentile(&[], 50.0), 0.0);
}

#[test]
fn summary_json_is_one_flat_escaped_object() {
    let mut s = report::Summary::default();
    s.num("a_ms", 1.5);
    s.num("b_count", 3.0);
    s.text("c", "x\"y");
    assert_eq!(
        s.to_json(),
        "{\n  \"a_ms\": 1.5,\n  \"b_count\": 3,\n  \"c\": \"x\\\"y\"\n}\n"
    );
}

#[test]
fn only_selects_parts_in_suite_order() {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let p = parts::Parts::from_args(&args(&["--only", "stdin,stdout", "--bench"])).unwrap();
    assert_eq!(p.names(), "stdout,stdin");
    assert!(p.has(parts::Part::Stdin) && !p.has(parts::Part::Exec));
    let p = parts::Parts::from_args(&args(&["--smoke", "--only=tui"])).unwrap();
    assert_eq!(p.names(), "tui");
    assert_eq!(
        parts::Parts::from_args(&args(&["--bench"])).unwrap(),
        parts::Parts::all()
    );
    assert!(parts::Parts::from_args(&args(&["--only", "stdot"])).is_err());
    assert!(parts::Parts::from_args(&args(&["--only"])).is_err());
    assert!(parts::Parts::from_args(&args(&["--only", ","])).is_err());
}

#[test]
fn absent_targets_are_not_measured_and_not_missed() {
    let mut s = report::Summary::default();
    s.num("stdin_mb_per_s", 1.0);
    let (table, missed) = report::targets_table(&s);
    assert_eq!(missed, 1, "only the stdin target is judged:\n{table}");
    assert_eq!(
        table.matches("not measured").count(),
        report::TARGETS.len() - 1
    );
}

#[test]
fn tui_log_lines_are_read() {
    let mut ev = tui_log::Events::default();
    tui_log::parse_line(
        "2026-01-01T00:00:00.1Z  INFO sandscope::tui::update::net: process started key=3",
        &mut ev,
    );
    tui_log::parse_line(
        "2026-01-01T00:00:01.1Z  INFO sandscope::tui::update::net: process finished \
         key=3 bytes_out=1024 status=exit 0",
        &mut ev,
    );
    tui_log::parse_line("unrelated line key=9", &mut ev);
    assert_eq!(ev.started, vec![3]);
    assert_eq!(
        ev.finished,
        vec![tui_log::Finished {
            key: 3,
            bytes_out: 1024,
            status: "exit 0".into()
        }]
    );
}

fn is_snake_case(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !k.starts_with('_')
        && !k.ends_with('_')
}

#[test]
fn tiny_suite_verifies_every_byte() {
    let bin = Path::new(env!("CARGO_BIN_EXE_sandscope"));
    let out_dir = tempfile::tempdir().expect("temp dir");
    let sizes = suite::Sizes::smoke();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let outcome = match rt.block_on(suite::run_all(
        bin,
        target,
        out_dir.path(),
        &sizes,
        &parts::Parts::all(),
    )) {
        Ok(o) => o,
        Err(e) => panic!("suite failed: {e}"),
    };
    let s = &outcome.summary;
    // Shown with --nocapture; the figures are not judged here.
    println!("{}", s.table());
    let num = |k: &str| {
        s.get(k)
            .unwrap_or_else(|| panic!("{k} missing from the summary"))
    };

    assert_eq!(num("exec_iterations"), sizes.exec_iters as f64);
    assert!(num("exec_p50_ms") > 0.0 && num("exec_p99_ms") >= num("exec_p50_ms"));
    assert!(num("bare_spawn_p50_ms") > 0.0);
    assert_eq!(num("stdout_bytes"), sizes.stdout_bytes as f64);
    assert_eq!(num("stdin_bytes"), sizes.stdin_bytes as f64);
    assert!(num("stdout_mb_per_s") > 0.0 && num("local_pipe_mb_per_s") > 0.0);
    assert!(num("stdout_relay_floor_mb_per_s") > 0.0 && num("cli_relay_floor_mb_per_s") > 0.0);

    // The CLI as scripts run it: every exec exited 0 and every byte of its
    // stdout came through the pipe as zeros (checked as it was read).
    assert_eq!(num("cli_exec_iterations"), sizes.cli_exec_iters as f64);
    assert!(num("cli_exec_p50_ms") > 0.0 && num("cli_version_p50_ms") > 0.0);
    assert!(num("fresh_connection_exec_p50_ms") > 0.0);
    assert_eq!(num("cli_stdout_bytes"), sizes.cli_stdout_bytes as f64);
    assert!(num("cli_stdout_mb_per_s") > 0.0);
    // Two lines written to `cat` come back as two items, every time.
    assert_eq!(num("seed_lines_runs"), sizes.line_runs as f64);
    assert_eq!(num("seed_lines_ok"), sizes.line_runs as f64);

    let flood = outcome.flood.as_ref().expect("the flood part ran");
    assert_eq!(flood.errors, 0, "flood error: {:?}", flood.first_error);
    assert_eq!(flood.processes, sizes.flood_sandboxes * sizes.flood_procs);
    assert_eq!(flood.bytes_verified, flood.bytes_expected);
    // Every process's start time came back from the server.
    assert_eq!(flood.exec_started_by_server.n, flood.processes);
    assert_eq!(num("flood_bytes_unverified"), 0.0);
    assert!(num("flood_server_peak_rss_mb") > 0.0, "server RSS not read");

    assert_eq!(outcome.tiers.len(), sizes.tiers.len());
    for t in &outcome.tiers {
        assert_eq!(t.errors, 0, "scale error: {:?}", t.first_error);
        assert_eq!(t.idle_processes, t.sandboxes * sizes.tier_procs);
        assert_eq!(t.idle_exec_start.n, t.idle_processes);
        assert_eq!(t.loaded_exec.n, sizes.tier_exec_iters);
        assert!(t.server_rss_idle_kib > 0 && t.server_peak_rss_kib >= t.server_rss_idle_kib);
    }

    // The TUI parts fail the run themselves when a pane misses a byte, a
    // process exits non-zero or the screen does not show the result.
    let tui = outcome.tui.as_ref().expect("the tui part ran");
    let ts = &sizes.tui;
    let h = &tui.headless;
    assert_eq!(
        h.bytes,
        ts.headless_panes as u64 * ts.headless_bytes_per_pane
    );
    assert!(h.frames.n > 0 && h.tiles > 0 && h.lines_kept > 0);
    assert_eq!(tui.single.bytes, ts.single_bytes);
    assert_eq!(tui.multi.panes, ts.multi_panes);
    assert_eq!(
        tui.multi.bytes,
        ts.multi_panes as u64 * ts.multi_bytes_per_pane
    );
    assert!(
        tui.single.peak_rss_kib > 0 && tui.multi.peak_rss_kib > 0,
        "TUI RSS not read"
    );
    assert!(tui.idle.secs >= ts.idle.as_secs_f64() && tui.idle.rss_kib > 0);
    assert!(s.get("tui_idle_cpu_percent").is_some());
    match mprocs::find() {
        Some(_) => {
            assert!(tui.mprocs.is_some() && s.get("mprocs_vs_tui_cpu_per_gb_ratio").is_some())
        }
        None => assert!(tui.mprocs.is_none() && s.has("mprocs_1_pane")),
    }

    let json = std::fs::read_to_string(out_dir.path().join("summary.json")).expect("summary.json");
    assert!(json.starts_with("{\n") && json.ends_with("}\n"));
    for (k, _) in &s.entries {
        assert!(is_snake_case(k), "key {k:?} is not snake_case");
        assert!(
            json.contains(&format!("\"{k}\": ")),
            "{k} not in summary.json"
        );
    }
    assert_eq!(json.matches('{').count(), 1, "summary.json is not flat");
    let svg = std::fs::read_to_string(out_dir.path().join("scale.svg")).expect("scale.svg");
    assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
}

#[test]
fn a_missed_target_names_the_floor_measured_beside_it() {
    let mut s = report::Summary::default();
    s.num("flood_exec_start_p99_vs_local_ratio", 1.69);
    s.num("flood_exec_started_by_server_p99_ms", 1941.0);
    s.num("local_flood_start_p99_ms", 1758.0);
    s.num("bare_spawn_p50_ms", 0.66);
    s.num("exec_p50_vs_bare_spawn_ratio", 1.9);
    s.num("cli_local_pipe_mb_per_s", 1602.4);
    s.num("cli_stdout_vs_local_pipe_ratio", 0.7);
    s.num("local_pipe_mb_per_s", 2050.0);
    s.num("stdout_relay_floor_mb_per_s", 1301.0);
    s.num("stdout_vs_local_pipe_ratio", 0.42);
    let (table, missed) = report::targets_table(&s);
    assert_eq!(missed, 3, "{table}");
    assert!(
        table.contains(
            "floor: a local pipe does 2050 MB/s in this run; the same bytes relayed over \
             loopback TCP with no protocol and no sandbox do 1301 MB/s (0.6346 of the pipe)"
        ),
        "{table}"
    );
    assert!(
        table.contains("floor: the same processes started locally, no server: p99 1758 ms"),
        "{table}"
    );
    assert!(
        table.contains("floor: a bare local spawn of `true` takes 0.66 ms"),
        "{table}"
    );
    assert!(
        !table.contains("into another pipe"),
        "the CLI ratio is met: {table}"
    );
}
