//! The benchmark suite at tiny sizes (debug build, seconds): the same
//! measurement code as `cargo bench`, checked for correctness (every byte
//! verified, counts right, the summary well-formed), never for speed.

#[path = "../benches/suite/measure.rs"]
mod measure;
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
    let outcome = match rt.block_on(suite::run_all(bin, target, out_dir.path(), &sizes)) {
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

    let flood = &outcome.flood;
    assert_eq!(flood.errors, 0, "flood error: {:?}", flood.first_error);
    assert_eq!(flood.processes, sizes.flood_sandboxes * sizes.flood_procs);
    assert_eq!(flood.bytes_verified, flood.bytes_expected);
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
