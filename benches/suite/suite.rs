//! The whole run, shared by `cargo bench` (full sizes) and the smoke test
//! (tiny sizes): every comparison is measured in the same run, side by side.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use sandscope::client::{Client, Endpoint, SandboxRequest};

use crate::parts::{Part, Parts};
use crate::report::{plot_svg, Series, Summary};
use crate::scale::{FloodReport, TierReport};
use crate::server_proc::ServerProc;
use crate::stats::{dist, own_cpu_secs, ratio, Dist, Throughput};
use crate::tui::{TuiReport, TuiSizes};
use crate::{cli, measure, python, scale, tui};

pub const TOKEN: &str = "bench-token-0123456789";
const MIB: u64 = 1 << 20;
const GIB: f64 = (1u64 << 30) as f64;
/// Exec and bare-spawn samples are taken in alternating blocks so that a
/// noisy neighbour hits both sides alike.
const BLOCKS: usize = 10;

#[derive(Debug, Clone)]
pub struct Sizes {
    pub mode: &'static str,
    pub exec_iters: usize,
    /// Whole `sandscope exec -- true` processes (and as many `--version`s).
    pub cli_exec_iters: usize,
    pub cli_stdout_bytes: u64,
    /// Runs of the seed's line-streaming example.
    pub line_runs: usize,
    /// None: the Python client is not run.
    pub python: Option<PythonSizes>,
    pub stdout_bytes: u64,
    pub stdin_bytes: u64,
    pub flood_sandboxes: usize,
    pub flood_procs: usize,
    pub flood_bytes: u64,
    pub tiers: Vec<usize>,
    pub tier_procs: usize,
    pub tier_exec_iters: usize,
    pub tui: TuiSizes,
}

#[derive(Debug, Clone)]
pub struct PythonSizes {
    pub exec_iters: usize,
    pub stdout_bytes: u64,
    pub line_runs: usize,
}

impl Sizes {
    pub fn full() -> Sizes {
        Sizes {
            mode: "full",
            exec_iters: 2000,
            cli_exec_iters: 200,
            cli_stdout_bytes: 1024 * MIB,
            line_runs: 100,
            python: Some(PythonSizes {
                exec_iters: 200,
                stdout_bytes: 64 * MIB,
                line_runs: 100,
            }),
            stdout_bytes: 1024 * MIB,
            stdin_bytes: 1024 * MIB,
            flood_sandboxes: 100,
            flood_procs: 10,
            flood_bytes: MIB,
            tiers: vec![10, 100, 500],
            // The server holds 5 descriptors per idle exec and 6 per
            // sandbox: 500 x 8 would need 23,000, above a common
            // RLIMIT_NOFILE hard limit of 20,000.
            tier_procs: 6,
            tier_exec_iters: 200,
            tui: TuiSizes::full(),
        }
    }

    pub fn smoke() -> Sizes {
        Sizes {
            mode: "smoke",
            exec_iters: 20,
            cli_exec_iters: 4,
            cli_stdout_bytes: 8 * MIB,
            line_runs: 10,
            python: None,
            stdout_bytes: 8 * MIB,
            stdin_bytes: 8 * MIB,
            flood_sandboxes: 3,
            flood_procs: 4,
            flood_bytes: 256 << 10,
            tiers: vec![1, 3],
            tier_procs: 3,
            tier_exec_iters: 10,
            tui: TuiSizes::smoke(),
        }
    }
}

pub struct Outcome {
    pub summary: Summary,
    /// None when the flood part was not run.
    pub flood: Option<FloodReport>,
    /// Empty when the scale part was not run.
    pub tiers: Vec<TierReport>,
    /// None when the tui part was not run.
    pub tui: Option<TuiReport>,
    /// The scale plot, when the scale part ran.
    pub plot: Option<PathBuf>,
}

fn progress(msg: &str) {
    eprintln!("[bench] {msg}");
}

/// CPU seconds spent by the server and by this process during one transfer.
struct Cpu {
    server_s: f64,
    client_s: f64,
}

/// The figures of one streamed transfer (`stdout` or `stdin`) beside the
/// local pipe measured in the same run.
fn record_transfer(
    s: &mut Summary,
    name: &str,
    t: &Throughput,
    local_name: &str,
    local: &Throughput,
    cpu: Cpu,
) {
    let per_gib = |secs: f64| secs * GIB / t.bytes as f64;
    s.num(format!("{name}_bytes"), t.bytes as f64);
    s.num(format!("{name}_mb_per_s"), t.mb_per_s());
    s.num(format!("{local_name}_mb_per_s"), local.mb_per_s());
    s.num(
        format!("{name}_vs_local_pipe_ratio"),
        ratio(t.mb_per_s(), local.mb_per_s()),
    );
    s.num(
        format!("{name}_server_cpu_s_per_gib"),
        per_gib(cpu.server_s),
    );
    s.num(
        format!("{name}_client_cpu_s_per_gib"),
        per_gib(cpu.client_s),
    );
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Runs the measurements of `parts` against `bin serve` and writes
/// `out_dir/summary.json` (and the scale plot when scale ran).
pub async fn run_all(
    bin: &Path,
    target_dir: &Path,
    out_dir: &Path,
    sizes: &Sizes,
    parts: &Parts,
) -> Result<Outcome, String> {
    let mut s = Summary::default();
    s.text("bench_mode", sizes.mode);
    s.text("bench_parts", parts.names());
    s.text(
        "server_measured",
        "child process `sandscope serve --runtime bubblewrap`",
    );
    s.num(
        "cpu_cores",
        std::thread::available_parallelism().map_or(0, |n| n.get()) as f64,
    );
    s.num(
        "unix_time_s",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()) as f64,
    );

    let single = [
        Part::Exec,
        Part::Cli,
        Part::Python,
        Part::Stdout,
        Part::Stdin,
    ];
    if single.iter().any(|p| parts.has(*p)) {
        single_sandbox(&mut s, bin, target_dir, sizes, parts).await?;
    }
    let flood = match parts.has(Part::Flood) {
        true => Some(flood_part(&mut s, bin, sizes).await?),
        false => None,
    };
    let tiers = match parts.has(Part::Scale) {
        true => scale_part(&mut s, bin, sizes).await?,
        false => Vec::new(),
    };
    let tui = match parts.has(Part::Tui) {
        true => Some(tui::run(&mut s, bin, &sizes.tui).await?),
        false => None,
    };

    std::fs::create_dir_all(out_dir).map_err(|e| format!("create {}: {e}", out_dir.display()))?;
    let plot = match tiers.is_empty() {
        true => None,
        false => Some(write_plot(out_dir, &tiers)?),
    };
    s.write_json(&out_dir.join("summary.json"))?;
    Ok(Outcome {
        summary: s,
        flood,
        tiers,
        tui,
        plot,
    })
}

/// The isolation of the first server started in this run.
fn note_isolation(s: &mut Summary, server: &ServerProc) {
    if !s.has("server_isolation") {
        s.text("server_isolation", server.isolation.clone());
    }
}

/// Exec round trips, the Python client, stdout and stdin: one server, one
/// sandbox, whichever of these parts were asked for.
async fn single_sandbox(
    s: &mut Summary,
    bin: &Path,
    target_dir: &Path,
    sizes: &Sizes,
    parts: &Parts,
) -> Result<(), String> {
    let mut server = ServerProc::start(bin, TOKEN)?;
    note_isolation(s, &server);
    let client = Client::connect(Endpoint::new(server.url.clone(), Some(TOKEN.to_string())))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let id = client
        .run(SandboxRequest::default())
        .await
        .map_err(|e| format!("create sandbox: {e}"))?
        .id;

    let exec = match parts.has(Part::Exec) {
        true => Some(exec_part(s, &server, &client, &id, sizes).await?),
        false => None,
    };
    if parts.has(Part::Cli) {
        cli_part(s, bin, &server, &client, &id, sizes).await?;
    }
    let py = match (&sizes.python, parts.has(Part::Python)) {
        (Some(p), true) => Some((python::venv_python(target_dir)?, p)),
        _ => None,
    };
    if let Some((python_bin, p)) = &py {
        progress(&format!("Python client: {} x `true`", p.exec_iters));
        let t = dist(&python::exec_round_trips(
            python_bin,
            &server,
            p.exec_iters,
        )?);
        s.num("python_exec_iterations", t.n as f64);
        s.num("python_exec_p50_ms", t.p50_ms);
        s.num("python_exec_p99_ms", t.p99_ms);
        if let Some(exec) = &exec {
            s.num(
                "python_vs_rust_exec_p50_ratio",
                ratio(t.p50_ms, exec.p50_ms),
            );
            s.num(
                "python_vs_rust_exec_p99_ratio",
                ratio(t.p99_ms, exec.p99_ms),
            );
        }
    }

    if let Some((python_bin, p)) = &py {
        progress(&format!(
            "Python client: the seed's line-streaming example x {}",
            p.line_runs
        ));
        let good = python::seed_lines(python_bin, &server, p.line_runs)?;
        s.num("python_seed_lines_runs", p.line_runs as f64);
        s.num("python_seed_lines_ok", good as f64);
        s.num(
            "python_seed_lines_ok_ratio",
            ratio(good as f64, p.line_runs as f64),
        );
        if let (Some(cli), Some(py)) = (s.get("cli_exec_p50_ms"), s.get("python_exec_p50_ms")) {
            s.num("cli_exec_vs_python_exec_p50_ratio", ratio(cli, py));
        }
    }

    let mut out = None;
    if parts.has(Part::Stdout) {
        progress(&format!(
            "stdout: {} MiB through StreamExec, beside a local pipe",
            sizes.stdout_bytes / MIB
        ));
        let local = measure::local_pipe(sizes.stdout_bytes)?;
        let cpu_before = server.cpu_secs().unwrap_or(0.0);
        let own_before = own_cpu_secs();
        let t = measure::stdout_stream(&client, &id, sizes.stdout_bytes).await?;
        let cpu = Cpu {
            server_s: server.cpu_secs().unwrap_or(0.0) - cpu_before,
            client_s: own_cpu_secs() - own_before,
        };
        record_transfer(s, "stdout", &t, "local_pipe", &local, cpu);
        let relay = measure::relay_floor(sizes.stdout_bytes, false)?;
        s.num("stdout_relay_floor_mb_per_s", relay.mb_per_s());
        s.num(
            "stdout_vs_relay_floor_ratio",
            ratio(t.mb_per_s(), relay.mb_per_s()),
        );
        out = Some(t);
    }
    if let Some((python_bin, p)) = &py {
        progress(&format!(
            "Python client: {} MiB stdout",
            p.stdout_bytes / MIB
        ));
        let t = python::stdout_stream(python_bin, &server, p.stdout_bytes)?;
        s.num("python_stdout_bytes", t.bytes as f64);
        s.num("python_stdout_mb_per_s", t.mb_per_s());
        if let Some(out) = &out {
            s.num(
                "rust_vs_python_stdout_ratio",
                ratio(out.mb_per_s(), t.mb_per_s()),
            );
        }
    }

    if parts.has(Part::Stdin) {
        progress(&format!(
            "stdin: {} MiB into `wc -c`, beside a local pipe",
            sizes.stdin_bytes / MIB
        ));
        let local_in = measure::local_stdin_pipe(sizes.stdin_bytes)?;
        let cpu_before = server.cpu_secs().unwrap_or(0.0);
        let own_before = own_cpu_secs();
        let input = measure::stdin_stream(&client, &id, sizes.stdin_bytes).await?;
        let cpu = Cpu {
            server_s: server.cpu_secs().unwrap_or(0.0) - cpu_before,
            client_s: own_cpu_secs() - own_before,
        };
        record_transfer(s, "stdin", &input, "local_stdin_pipe", &local_in, cpu);
    }
    s.num(
        "single_sandbox_server_peak_rss_mb",
        mb(server.peak_rss_kib().unwrap_or(0)),
    );
    let _ = client.stop(&id, Duration::ZERO).await;
    drop(client);
    server.stop()
}

/// The binary as scripts run it: whole-process execs beside `--version`,
/// stdout into a pipe beside a local pipe, and the seed's line-streaming
/// example through the Rust client.
async fn cli_part(
    s: &mut Summary,
    bin: &Path,
    server: &ServerProc,
    client: &Client,
    id: &str,
    sizes: &Sizes,
) -> Result<(), String> {
    progress(&format!(
        "CLI: {} x `sandscope exec -- true`, beside `sandscope --version`",
        sizes.cli_exec_iters
    ));
    let (execs, versions) =
        cli::whole_process_execs(bin, server, id, sizes.cli_exec_iters, BLOCKS)?;
    let (exec, version) = (dist(&execs), dist(&versions));
    s.num("cli_exec_iterations", exec.n as f64);
    s.num("cli_exec_p50_ms", exec.p50_ms);
    s.num("cli_exec_p99_ms", exec.p99_ms);
    s.num("cli_version_p50_ms", version.p50_ms);
    s.num("cli_version_p99_ms", version.p99_ms);
    let fresh = dist(&cli::fresh_connection_execs(server, id, sizes.cli_exec_iters).await?);
    s.num("fresh_connection_exec_p50_ms", fresh.p50_ms);
    s.num(
        "cli_exec_vs_version_p50_ratio",
        ratio(exec.p50_ms, version.p50_ms),
    );

    progress(&format!(
        "CLI: {} MiB of `sandscope exec -- head` into a pipe, beside a local pipe",
        sizes.cli_stdout_bytes / MIB
    ));
    let local = measure::local_pipe(sizes.cli_stdout_bytes)?;
    let cpu_before = server.cpu_secs().unwrap_or(0.0);
    let t = cli::stdout_pipe(bin, server, id, sizes.cli_stdout_bytes)?;
    let server_cpu = server.cpu_secs().unwrap_or(0.0) - cpu_before;
    s.num("cli_stdout_bytes", t.bytes as f64);
    s.num("cli_stdout_mb_per_s", t.mb_per_s());
    s.num("cli_local_pipe_mb_per_s", local.mb_per_s());
    s.num(
        "cli_stdout_vs_local_pipe_ratio",
        ratio(t.mb_per_s(), local.mb_per_s()),
    );
    let relay = measure::relay_floor(sizes.cli_stdout_bytes, true)?;
    s.num("cli_relay_floor_mb_per_s", relay.mb_per_s());
    s.num(
        "cli_stdout_vs_relay_floor_ratio",
        ratio(t.mb_per_s(), relay.mb_per_s()),
    );
    s.num(
        "cli_stdout_server_cpu_s_per_gib",
        server_cpu * GIB / t.bytes as f64,
    );

    progress(&format!(
        "the seed's line-streaming example x {} (Rust client)",
        sizes.line_runs
    ));
    let good = cli::seed_lines(client, id, sizes.line_runs).await?;
    s.num("seed_lines_runs", sizes.line_runs as f64);
    s.num("seed_lines_ok", good as f64);
    s.num(
        "seed_lines_ok_ratio",
        ratio(good as f64, sizes.line_runs as f64),
    );
    Ok(())
}

/// `true` round trips beside bare spawns, in alternating blocks.
async fn exec_part(
    s: &mut Summary,
    server: &ServerProc,
    client: &Client,
    id: &str,
    sizes: &Sizes,
) -> Result<Dist, String> {
    progress(&format!(
        "exec round trip: {} x `true`, beside bare spawns",
        sizes.exec_iters
    ));
    measure::exec_round_trips(client, id, 20).await?;
    measure::bare_spawns(20)?;
    let (mut execs, mut spawns) = (Vec::new(), Vec::new());
    let cpu_before = server.cpu_secs().unwrap_or(0.0);
    let per_block = sizes.exec_iters.div_ceil(BLOCKS);
    while execs.len() < sizes.exec_iters {
        let n = per_block.min(sizes.exec_iters - execs.len());
        execs.extend(measure::exec_round_trips(client, id, n).await?);
        spawns.extend(measure::bare_spawns(n)?);
    }
    let exec_cpu = server.cpu_secs().unwrap_or(0.0) - cpu_before;
    let (exec, bare) = (dist(&execs), dist(&spawns));
    s.num("exec_iterations", exec.n as f64);
    s.num("exec_p50_ms", exec.p50_ms);
    s.num("exec_p99_ms", exec.p99_ms);
    s.num("exec_max_ms", exec.max_ms);
    s.num("bare_spawn_p50_ms", bare.p50_ms);
    s.num("bare_spawn_p99_ms", bare.p99_ms);
    s.num(
        "exec_p50_vs_bare_spawn_ratio",
        ratio(exec.p50_ms, bare.p50_ms),
    );
    s.num(
        "exec_p99_vs_bare_spawn_ratio",
        ratio(exec.p99_ms, bare.p99_ms),
    );
    s.num(
        "exec_server_cpu_ms_per_exec",
        exec_cpu * 1e3 / exec.n.max(1) as f64,
    );
    Ok(exec)
}

async fn flood_part(s: &mut Summary, bin: &Path, sizes: &Sizes) -> Result<FloodReport, String> {
    progress(&format!(
        "flood: {} sandboxes x {} processes x {} KiB, every byte checked",
        sizes.flood_sandboxes,
        sizes.flood_procs,
        sizes.flood_bytes >> 10
    ));
    let local =
        scale::local_flood(sizes.flood_sandboxes * sizes.flood_procs, sizes.flood_bytes).await?;
    let mut server = ServerProc::start(bin, TOKEN)?;
    note_isolation(s, &server);
    let flood = scale::flood(
        &server,
        sizes.flood_sandboxes,
        sizes.flood_procs,
        sizes.flood_bytes,
    )
    .await?;
    server.stop()?;
    if let Some(e) = &flood.first_error {
        progress(&format!("flood: first error: {e}"));
    }
    s.num("flood_sandboxes", flood.sandboxes as f64);
    s.num("flood_processes", flood.processes as f64);
    s.num("flood_bytes_per_process", sizes.flood_bytes as f64);
    s.num("flood_bytes_verified", flood.bytes_verified as f64);
    s.num(
        "flood_bytes_unverified",
        flood.bytes_expected.saturating_sub(flood.bytes_verified) as f64,
    );
    s.num("flood_errors", flood.errors as f64);
    s.num("flood_sandbox_create_p50_ms", flood.create.p50_ms);
    s.num("flood_exec_start_p50_ms", flood.exec_start.p50_ms);
    s.num("flood_exec_start_p99_ms", flood.exec_start.p99_ms);
    s.num(
        "flood_exec_started_by_server_p50_ms",
        flood.exec_started_by_server.p50_ms,
    );
    s.num(
        "flood_exec_started_by_server_p99_ms",
        flood.exec_started_by_server.p99_ms,
    );
    s.num("local_flood_start_p50_ms", local.p50_ms);
    s.num("local_flood_start_p99_ms", local.p99_ms);
    s.num(
        "flood_exec_start_p99_vs_local_ratio",
        ratio(flood.exec_start.p99_ms, local.p99_ms),
    );
    s.num(
        "flood_exec_started_by_server_p99_vs_local_ratio",
        ratio(flood.exec_started_by_server.p99_ms, local.p99_ms),
    );
    s.num("flood_wall_s", flood.wall_secs);
    s.num(
        "flood_mb_per_s",
        flood.bytes_verified as f64 / flood.wall_secs.max(1e-9) / 1e6,
    );
    s.num(
        "flood_server_rss_sandboxes_mb",
        mb(flood.server_rss_idle_kib),
    );
    s.num("flood_server_peak_rss_mb", mb(flood.server_peak_rss_kib));
    Ok(flood)
}

/// Each tier on a fresh server, so its memory figures are its own.
async fn scale_part(s: &mut Summary, bin: &Path, sizes: &Sizes) -> Result<Vec<TierReport>, String> {
    let mut tiers = Vec::new();
    for &n in &sizes.tiers {
        progress(&format!(
            "scale: {n} sandboxes x {} idle processes",
            sizes.tier_procs
        ));
        let mut server = ServerProc::start(bin, TOKEN)?;
        note_isolation(s, &server);
        let t = match scale::tier(&server, n, sizes.tier_procs, sizes.tier_exec_iters).await {
            Ok(t) => t,
            Err(e) => return Err(format!("scale {n}: {e} ({})", server.post_mortem())),
        };
        server.stop()?;
        if let Some(e) = &t.first_error {
            progress(&format!("scale {n}: first error: {e}"));
        }
        let k = format!("scale_{n}");
        s.num(format!("{k}_idle_processes"), t.idle_processes as f64);
        s.num(format!("{k}_errors"), t.errors as f64);
        s.num(format!("{k}_sandbox_create_p50_ms"), t.create.p50_ms);
        s.num(format!("{k}_sandbox_create_p99_ms"), t.create.p99_ms);
        s.num(
            format!("{k}_idle_exec_start_p99_ms"),
            t.idle_exec_start.p99_ms,
        );
        s.num(format!("{k}_exec_p50_ms"), t.loaded_exec.p50_ms);
        s.num(format!("{k}_exec_p99_ms"), t.loaded_exec.p99_ms);
        s.num(
            format!("{k}_server_rss_empty_mb"),
            mb(t.server_rss_empty_kib),
        );
        s.num(
            format!("{k}_server_rss_sandboxes_mb"),
            mb(t.server_rss_sandboxes_kib),
        );
        s.num(
            format!("{k}_server_rss_idle_processes_mb"),
            mb(t.server_rss_idle_kib),
        );
        s.num(format!("{k}_server_peak_rss_mb"), mb(t.server_peak_rss_kib));
        s.num(
            format!("{k}_server_open_fds_sandboxes"),
            t.server_fds_sandboxes as f64,
        );
        s.num(
            format!("{k}_server_open_fds_idle_processes"),
            t.server_fds_idle as f64,
        );
        s.num(format!("{k}_kib_per_sandbox"), t.kib_per_sandbox());
        s.num(
            format!("{k}_kib_per_idle_process"),
            t.kib_per_idle_process(),
        );
        tiers.push(t);
    }
    s.num(
        "scale_errors",
        tiers.iter().map(|t| t.errors).sum::<usize>() as f64,
    );
    if let (Some(first), Some(last)) = (tiers.first(), tiers.last()) {
        s.num(
            "scale_kib_per_idle_process_growth_ratio",
            ratio(last.kib_per_idle_process(), first.kib_per_idle_process()),
        );
    }
    Ok(tiers)
}

/// `scale.svg`, and `scale.png` when ImageMagick's `convert` is installed.
fn write_plot(out_dir: &Path, tiers: &[TierReport]) -> Result<PathBuf, String> {
    let pts = |f: &dyn Fn(&TierReport) -> f64| -> Vec<(f64, f64)> {
        tiers.iter().map(|t| (t.sandboxes as f64, f(t))).collect()
    };
    let latency = [
        Series {
            name: "exec round trip p50 (all idle processes alive)".into(),
            color: "#1f77b4",
            dashed: false,
            points: pts(&|t| t.loaded_exec.p50_ms),
        },
        Series {
            name: "exec round trip p99".into(),
            color: "#ff7f0e",
            dashed: false,
            points: pts(&|t| t.loaded_exec.p99_ms),
        },
        Series {
            name: "exec-start p99 while starting the idle processes".into(),
            color: "#2ca02c",
            dashed: false,
            points: pts(&|t| t.idle_exec_start.p99_ms),
        },
    ];
    let memory = [
        Series {
            name: "server RSS, sandboxes only".into(),
            color: "#1f77b4",
            dashed: false,
            points: pts(&|t| mb(t.server_rss_sandboxes_kib)),
        },
        Series {
            name: "server RSS, with the idle processes".into(),
            color: "#ff7f0e",
            dashed: false,
            points: pts(&|t| mb(t.server_rss_idle_kib)),
        },
        Series {
            name: "server peak RSS".into(),
            color: "#d62728",
            dashed: true,
            points: pts(&|t| mb(t.server_peak_rss_kib)),
        },
    ];
    let svg = plot_svg(
        "sandscope server: latency and memory as sandboxes grow",
        ("latency (ms)", &latency),
        ("server memory (MB)", &memory),
    );
    let svg_path = out_dir.join("scale.svg");
    std::fs::write(&svg_path, svg).map_err(|e| format!("write {}: {e}", svg_path.display()))?;
    let png_path = out_dir.join("scale.png");
    let converted = std::process::Command::new("convert")
        .arg(&svg_path)
        .arg(&png_path)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    Ok(if converted { png_path } else { svg_path })
}
