//! `cargo bench`: the full benchmark suite against the embedded server run
//! as its own process (release build, bubblewrap runtime). Prints a table
//! and writes `target/bench/summary.json` and `target/bench/scale.svg`/`.png`.

mod cli;
mod measure;
mod mprocs;
mod parts;
mod proc_stat;
mod python;
mod report;
mod scale;
mod server_proc;
mod stats;
mod suite;
mod tmux;
mod tui;
mod tui_headless;
mod tui_log;
mod tui_tmux;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp, so this follows CARGO_TARGET_DIR.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

fn main() -> ExitCode {
    // `cargo bench -- NAME` filters are meaningless here; `--smoke` runs the
    // tiny sizes (the same ones the test suite uses), `--only a,b` some of
    // the parts.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes = if args.iter().any(|a| a == "--smoke") {
        suite::Sizes::smoke()
    } else {
        suite::Sizes::full()
    };
    let parts = match parts::Parts::from_args(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
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
    let outcome = match rt.block_on(suite::run_all(bin, &target_dir(), &out_dir, &sizes, &parts)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "\nsandscope benchmark ({} sizes, parts {}, {:.0} s)\n",
        sizes.mode,
        parts.names(),
        started.elapsed().as_secs_f64()
    );
    println!("{}", outcome.summary.table());
    let (targets, missed) = report::targets_table(&outcome.summary);
    println!("targets:\n{targets}");
    println!("wrote {}", out_dir.join("summary.json").display());
    if let Some(plot) = &outcome.plot {
        println!("wrote {}", out_dir.join("scale.svg").display());
        if plot.extension().is_some_and(|e| e == "png") {
            println!("wrote {}", plot.display());
        }
    }
    if missed > 0 {
        println!("{missed} target(s) missed (see BENCHMARKS.md for the measured causes)");
    }
    ExitCode::SUCCESS
}
