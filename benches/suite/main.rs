//! `cargo bench`: the full benchmark suite against the embedded server run
//! as its own process (release build, bubblewrap runtime). Prints a table
//! and writes `target/bench/summary.json` and `target/bench/scale.svg`/`.png`.

mod measure;
mod python;
mod report;
mod scale;
mod server_proc;
mod stats;
mod suite;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp, so this follows CARGO_TARGET_DIR.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

fn main() -> ExitCode {
    // `cargo bench -- NAME` filters are meaningless here; `--smoke` runs the
    // tiny sizes (the same ones the test suite uses).
    let sizes = if std::env::args().any(|a| a == "--smoke") {
        suite::Sizes::smoke()
    } else {
        suite::Sizes::full()
    };
    let bin = Path::new(env!("CARGO_BIN_EXE_sandscope"));
    let out_dir = target_dir().join("bench");
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = std::time::Instant::now();
    let outcome = match rt.block_on(suite::run_all(bin, &target_dir(), &out_dir, &sizes)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "\nsandscope benchmark ({} sizes, {:.0} s)\n",
        sizes.mode,
        started.elapsed().as_secs_f64()
    );
    println!("{}", outcome.summary.table());
    let (targets, missed) = report::targets_table(&outcome.summary);
    println!("targets:\n{targets}");
    println!("wrote {}", out_dir.join("summary.json").display());
    println!("wrote {}", out_dir.join("scale.svg").display());
    if missed > 0 {
        println!("{missed} target(s) missed (see BENCHMARKS.md for the measured causes)");
    }
    ExitCode::SUCCESS
}
