//! Many sandboxes at once: a verified output flood, and idle processes at
//! growing sandbox counts.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use sandscope::client::{
    Client, Endpoint, ExecOptions, ListQuery, Process, SandboxRequest, StreamKind,
};

use crate::server_proc::ServerProc;
use crate::stats::{dist, Dist};

/// Sandbox creations and idle-process starts in flight at once.
const IN_FLIGHT: usize = 16;
/// Lets the server's allocator settle before its memory is read.
const SETTLE: Duration = Duration::from_millis(500);

/// One client (one HTTP/2 connection) per sandbox, like separate users.
async fn connect_clients(server: &ServerProc, n: usize) -> Result<Vec<Client>, String> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let ep = Endpoint::new(server.url.clone(), Some(server.token.clone()));
        let client = Client::connect(ep)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        // A first request now: the server closes a connection that has sent
        // none within its handshake timeout (10 s), and the last of 500
        // creates, a few at a time, come later than that.
        client
            .list(&ListQuery::default())
            .await
            .map_err(|e| format!("first request: {e}"))?;
        out.push(client);
    }
    Ok(out)
}

/// Creates one running sandbox per client; returns ids and creation times.
async fn create_sandboxes(clients: &[Client]) -> Result<(Vec<String>, Vec<Duration>), String> {
    let results: Vec<Result<(String, Duration), String>> = stream::iter(clients.iter())
        .map(|c| async move {
            let started = Instant::now();
            let sb = c
                .run(SandboxRequest::default())
                .await
                .map_err(|e| format!("create sandbox: {e}"))?;
            Ok((sb.id, started.elapsed()))
        })
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let mut ids = Vec::with_capacity(results.len());
    let mut times = Vec::with_capacity(results.len());
    for r in results {
        let (id, t) = r?;
        ids.push(id);
        times.push(t);
    }
    Ok((ids, times))
}

async fn stop_sandboxes(clients: &[Client], ids: &[String]) {
    stream::iter(clients.iter().zip(ids))
        .for_each_concurrent(IN_FLIGHT, |(c, id)| async move {
            let _ = c.stop(id, Duration::ZERO).await;
        })
        .await;
}

/// What process `tag` must print: `tag\n` repeated, cut at `len` bytes.
struct Pattern {
    tag: String,
    line: Vec<u8>,
    pos: usize,
    seen: u64,
    good: bool,
}

impl Pattern {
    fn new(tag: &str) -> Pattern {
        let mut line = tag.as_bytes().to_vec();
        line.push(b'\n');
        Pattern {
            tag: tag.to_string(),
            line,
            pos: 0,
            seen: 0,
            good: true,
        }
    }

    /// Checks that `data` continues the pattern exactly, and counts it.
    fn feed(&mut self, data: &[u8]) {
        for &b in data {
            self.good &= b == self.line[self.pos];
            self.pos += 1;
            if self.pos == self.line.len() {
                self.pos = 0;
            }
        }
        self.seen += data.len() as u64;
    }

    /// The bytes verified, if the process ended well (`ended`, described
    /// by `exit`) and exactly `bytes` of the right content arrived.
    fn verdict(
        &self,
        ended: bool,
        exit: impl std::fmt::Display,
        bytes: u64,
    ) -> Result<u64, String> {
        if ended && self.good && self.seen == bytes {
            return Ok(self.seen);
        }
        Err(format!(
            "{}: {exit}, {} of {bytes} bytes, content {}",
            self.tag,
            self.seen,
            if self.good { "right" } else { "WRONG" }
        ))
    }
}

#[derive(Debug, Clone, Default)]
pub struct FloodReport {
    pub sandboxes: usize,
    pub processes: usize,
    pub bytes_expected: u64,
    pub bytes_verified: u64,
    pub errors: usize,
    pub first_error: Option<String>,
    pub create: Dist,
    pub exec_start: Dist,
    /// From the exec call to the start time in the server's ready frame
    /// (same machine, same clock): when the process really started, apart
    /// from how long this client then took to read the frame.
    pub exec_started_by_server: Dist,
    pub wall_secs: f64,
    pub server_rss_idle_kib: u64,
    pub server_peak_rss_kib: u64,
}

/// Runs one output process, checking every byte; returns (exec-start time,
/// start time by the server's clock, verified bytes) or what went wrong.
async fn flood_one(
    client: Client,
    id: String,
    tag: String,
    bytes: u64,
) -> Result<(Duration, Option<Duration>, u64), String> {
    let argv = vec![
        "sh".to_string(),
        "-c".to_string(),
        "yes \"$0\" | head -c \"$1\"".to_string(),
        tag.clone(),
        bytes.to_string(),
    ];
    let started = Instant::now();
    let called_at = std::time::SystemTime::now();
    let mut p = client
        .exec(&id, &argv, ExecOptions::default())
        .await
        .map_err(|e| format!("{tag}: exec: {e}"))?;
    let exec_start = started.elapsed();
    let by_server = p
        .started_at()
        .map(|t| t.duration_since(called_at).unwrap_or_default());
    let mut out = p.take_output().ok_or_else(|| format!("{tag}: no output"))?;
    let mut pattern = Pattern::new(&tag);
    while let Some(chunk) = out.next().await {
        if chunk.stream == StreamKind::Stderr {
            return Err(format!(
                "{tag}: stderr: {}",
                String::from_utf8_lossy(&chunk.data)
            ));
        }
        pattern.feed(&chunk.data);
    }
    let code = p.wait().await.map_err(|e| format!("{tag}: wait: {e}"))?;
    let seen = pattern.verdict(code == 0, format_args!("exit {code}"), bytes)?;
    Ok((exec_start, by_server, seen))
}

/// `sandboxes` × `procs` processes started at once, each printing `bytes`
/// of its own pattern, every byte checked on arrival.
pub async fn flood(
    server: &ServerProc,
    sandboxes: usize,
    procs: usize,
    bytes: u64,
) -> Result<FloodReport, String> {
    let clients = connect_clients(server, sandboxes).await?;
    let (ids, create_times) = create_sandboxes(&clients).await?;
    tokio::time::sleep(SETTLE).await;
    let rss_idle = server.rss_kib().unwrap_or(0);

    let started = Instant::now();
    let mut tasks = Vec::with_capacity(sandboxes * procs);
    for (s, (c, id)) in clients.iter().zip(&ids).enumerate() {
        for p in 0..procs {
            let tag = format!("sandbox{s}-process{p}");
            tasks.push(tokio::spawn(flood_one(c.clone(), id.clone(), tag, bytes)));
        }
    }
    let mut report = FloodReport {
        sandboxes,
        processes: sandboxes * procs,
        bytes_expected: (sandboxes * procs) as u64 * bytes,
        create: dist(&create_times),
        server_rss_idle_kib: rss_idle,
        ..FloodReport::default()
    };
    let mut starts = Vec::with_capacity(tasks.len());
    let mut server_starts = Vec::with_capacity(tasks.len());
    for t in tasks {
        let outcome = t
            .await
            .map_err(|e| format!("flood task: {e}"))
            .and_then(|r| r);
        match outcome {
            Ok((start, by_server, seen)) => {
                starts.push(start);
                server_starts.extend(by_server);
                report.bytes_verified += seen;
            }
            Err(e) => {
                report.errors += 1;
                report.first_error.get_or_insert(e);
            }
        }
    }
    report.wall_secs = started.elapsed().as_secs_f64();
    report.exec_start = dist(&starts);
    report.exec_started_by_server = dist(&server_starts);
    report.server_peak_rss_kib = server.peak_rss_kib().unwrap_or(0);
    stop_sandboxes(&clients, &ids).await;
    Ok(report)
}

#[derive(Debug, Clone, Default)]
pub struct TierReport {
    pub sandboxes: usize,
    pub idle_processes: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub create: Dist,
    pub idle_exec_start: Dist,
    /// `true` round trips while all the idle processes are alive.
    pub loaded_exec: Dist,
    pub server_rss_empty_kib: u64,
    pub server_rss_sandboxes_kib: u64,
    pub server_rss_idle_kib: u64,
    pub server_peak_rss_kib: u64,
    pub server_fds_sandboxes: u64,
    pub server_fds_idle: u64,
}

impl TierReport {
    /// Server memory each idle process adds, KiB.
    pub fn kib_per_idle_process(&self) -> f64 {
        let added = self
            .server_rss_idle_kib
            .saturating_sub(self.server_rss_sandboxes_kib);
        added as f64 / self.idle_processes.max(1) as f64
    }

    /// Server memory each idle sandbox adds, KiB.
    pub fn kib_per_sandbox(&self) -> f64 {
        let added = self
            .server_rss_sandboxes_kib
            .saturating_sub(self.server_rss_empty_kib);
        added as f64 / self.sandboxes.max(1) as f64
    }
}

/// `sandboxes` sandboxes with `procs` idle processes each (`cat` waiting on
/// an open stdin); memory at each step, then `rt_iters` round trips of
/// `true` under that load. Every idle process must then exit 0 on EOF.
pub async fn tier(
    server: &ServerProc,
    sandboxes: usize,
    procs: usize,
    rt_iters: usize,
) -> Result<TierReport, String> {
    let mut report = TierReport {
        sandboxes,
        idle_processes: sandboxes * procs,
        ..TierReport::default()
    };
    let clients = connect_clients(server, sandboxes).await?;
    tokio::time::sleep(SETTLE).await;
    report.server_rss_empty_kib = server.rss_kib().unwrap_or(0);
    let (ids, create_times) = create_sandboxes(&clients).await?;
    report.create = dist(&create_times);
    tokio::time::sleep(SETTLE).await;
    report.server_rss_sandboxes_kib = server.rss_kib().unwrap_or(0);
    report.server_fds_sandboxes = server.open_fds().unwrap_or(0);

    let jobs: Vec<(Client, String)> = clients
        .iter()
        .zip(&ids)
        .flat_map(|(c, id)| std::iter::repeat_n((c.clone(), id.clone()), procs))
        .collect();
    let started: Vec<Result<(Process, Duration), String>> = stream::iter(jobs)
        .map(|(c, id)| async move {
            let t = Instant::now();
            let opts = ExecOptions {
                stdin: true,
                ..ExecOptions::default()
            };
            let p = c
                .exec(&id, &["cat".to_string()], opts)
                .await
                .map_err(|e| format!("exec cat: {e}"))?;
            Ok((p, t.elapsed()))
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut idle = Vec::with_capacity(started.len());
    let mut start_times = Vec::with_capacity(started.len());
    for r in started {
        match r {
            Ok((p, t)) => {
                idle.push(p);
                start_times.push(t);
            }
            Err(e) => {
                report.errors += 1;
                report.first_error.get_or_insert(e);
            }
        }
    }
    report.idle_exec_start = dist(&start_times);
    tokio::time::sleep(SETTLE).await;
    report.server_rss_idle_kib = server.rss_kib().unwrap_or(0);
    report.server_fds_idle = server.open_fds().unwrap_or(0);

    let (Some(client), Some(id)) = (clients.first(), ids.first()) else {
        return Err("no sandbox".to_string());
    };
    match crate::measure::exec_round_trips(client, id, rt_iters).await {
        Ok(rt) => report.loaded_exec = dist(&rt),
        Err(e) => {
            report.errors += 1;
            report
                .first_error
                .get_or_insert(format!("exec under load: {e}"));
        }
    }

    let finished: Vec<Result<(), String>> = stream::iter(idle)
        .map(|mut p| async move {
            let stdin = p.take_stdin().ok_or("no stdin")?;
            stdin
                .close()
                .await
                .map_err(|e| format!("close cat stdin: {e}"))?;
            let r = p.result().await.map_err(|e| format!("cat result: {e}"))?;
            if r.returncode != 0 || !r.stdout.is_empty() {
                return Err(format!(
                    "idle cat: exit {}, {} bytes out",
                    r.returncode,
                    r.stdout.len()
                ));
            }
            Ok(())
        })
        .buffer_unordered(IN_FLIGHT * 4)
        .collect()
        .await;
    for r in finished {
        if let Err(e) = r {
            report.errors += 1;
            report.first_error.get_or_insert(e);
        }
    }
    report.server_peak_rss_kib = server.peak_rss_kib().unwrap_or(0);
    stop_sandboxes(&clients, &ids).await;
    Ok(report)
}

/// The floor for the flood's start times: the same pipelines started all
/// at once by this process on the host (no server, no sandbox, no RPC),
/// each output read to the end and checked. Returns when each process
/// existed, counted from the moment all were asked for.
pub async fn local_flood(procs: usize, bytes: u64) -> Result<Dist, String> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..procs)
        .map(|i| tokio::spawn(local_flood_one(format!("local-process{i}"), bytes, started)))
        .collect();
    let mut starts = Vec::with_capacity(procs);
    for t in tasks {
        starts.push(t.await.map_err(|e| format!("local flood task: {e}"))??);
    }
    Ok(dist(&starts))
}

async fn local_flood_one(tag: String, bytes: u64, t0: Instant) -> Result<Duration, String> {
    use tokio::io::AsyncReadExt;
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", "yes \"$0\" | head -c \"$1\""])
        .arg(&tag)
        .arg(bytes.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{tag}: spawn: {e}"))?;
    let start = t0.elapsed();
    let mut out = child
        .stdout
        .take()
        .ok_or_else(|| format!("{tag}: no stdout"))?;
    let mut pattern = Pattern::new(&tag);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = out
            .read(&mut buf)
            .await
            .map_err(|e| format!("{tag}: read: {e}"))?;
        if n == 0 {
            break;
        }
        pattern.feed(&buf[..n]);
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("{tag}: wait: {e}"))?;
    pattern.verdict(status.success(), status, bytes)?;
    Ok(start)
}
