//! The paths scripts take: the `sandscope` binary as a whole process, and
//! output streamed a line per item. Each figure is measured beside its
//! floor in the same run.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sandscope::client::{Client, ExecOptions};

use crate::measure::{drain_zeros, Drained};
use crate::server_proc::ServerProc;
use crate::stats::Throughput;

/// The items the seed's "Combine stdin and stdout streaming" example must
/// yield: `cat` is sent two lines, and each comes back as its own item.
pub const SEED_LINES: [&str; 2] = ["hello\n", "world\n"];

/// The binary pointed at `server`, with a private home so that no user
/// config, log directory or token of this machine takes part.
fn cli(bin: &Path, server: &ServerProc, home: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("SANDSCOPE_DATA_DIR", home.join("data"))
        .env("SANDSCOPE_LOG_DIR", home.join("logs"))
        .env("CWSANDBOX_API_KEY", &server.token)
        .arg("--endpoint")
        .arg(&server.url)
        .stdin(Stdio::null());
    c
}

/// Wall time of one whole process, started to reaped.
fn timed(mut c: Command, what: &str) -> Result<Duration, String> {
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    let started = Instant::now();
    let out = c.output().map_err(|e| format!("start {what}: {e}"))?;
    let took = started.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{what}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(took)
}

/// `sandscope exec -s ID -- true` and `sandscope --version`, each run as a
/// whole process `n` times, in alternating blocks.
pub fn whole_process_execs(
    bin: &Path,
    server: &ServerProc,
    id: &str,
    n: usize,
    blocks: usize,
) -> Result<(Vec<Duration>, Vec<Duration>), String> {
    let home = tempfile::tempdir().map_err(|e| format!("temp home: {e}"))?;
    let exec = || {
        let mut c = cli(bin, server, home.path());
        c.args(["exec", "-s", id, "--", "true"]);
        c
    };
    let version = || {
        let mut c = cli(bin, server, home.path());
        c.arg("--version");
        c
    };
    // Warm the page cache and the log directory.
    timed(exec(), "sandscope exec")?;
    timed(version(), "sandscope --version")?;
    let (mut execs, mut versions) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let per_block = n.div_ceil(blocks.max(1));
    while execs.len() < n {
        let k = per_block.min(n - execs.len());
        for _ in 0..k {
            execs.push(timed(exec(), "sandscope exec -- true")?);
        }
        for _ in 0..k {
            versions.push(timed(version(), "sandscope --version")?);
        }
    }
    Ok((execs, versions))
}

/// The floor of a whole-process exec, less the start of the binary: a new
/// connection (TCP and HTTP/2 set-up, as the CLI makes) and one exec of
/// `true` through the library, `n` times, each on a connection of its own.
pub async fn fresh_connection_execs(
    server: &ServerProc,
    id: &str,
    n: usize,
) -> Result<Vec<Duration>, String> {
    crate::measure::time_each(n, |i| async move {
        let client = Client::connect(sandscope::client::Endpoint::new(
            server.url.clone(),
            Some(server.token.clone()),
        ))
        .await
        .map_err(|e| format!("connect #{i}: {e}"))?;
        crate::measure::exec_true(&client, id, i).await
    })
    .await
}

/// `sandscope exec -s ID -- head -c BYTES /dev/zero` with its stdout a pipe
/// read by this process, exactly as `measure::local_pipe` reads `head`'s.
pub fn stdout_pipe(
    bin: &Path,
    server: &ServerProc,
    id: &str,
    bytes: u64,
) -> Result<Throughput, String> {
    let home = tempfile::tempdir().map_err(|e| format!("temp home: {e}"))?;
    let mut c = cli(bin, server, home.path());
    c.args(["exec", "-s", id, "--", "head", "-c", &bytes.to_string()])
        .arg("/dev/zero")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = c
        .spawn()
        .map_err(|e| format!("start sandscope exec: {e}"))?;
    let mut pipe = child.stdout.take().ok_or("no pipe")?;
    let Drained { seen, ors } = drain_zeros(&mut pipe)?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("wait sandscope exec: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() || seen != bytes || ors != 0 || !out.stderr.is_empty() {
        return Err(format!(
            "sandscope exec | reader: {}, {seen} of {bytes} bytes, non-zero bytes: {}, stderr {:?}",
            out.status,
            ors != 0,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(Throughput { bytes, secs })
}

/// The seed example through the Rust client, `runs` times: how many runs
/// gave exactly [`SEED_LINES`] as the output stream's items.
pub async fn seed_lines(client: &Client, id: &str, runs: usize) -> Result<usize, String> {
    let mut good = 0;
    for i in 0..runs {
        let opts = ExecOptions {
            stdin: true,
            ..ExecOptions::default()
        };
        let mut p = client
            .exec(id, &["cat".to_string()], opts)
            .await
            .map_err(|e| format!("exec cat #{i}: {e}"))?;
        let stdin = p.take_stdin().ok_or("no stdin writer")?;
        let mut output = p.take_output().ok_or("no output stream")?;
        for line in SEED_LINES {
            stdin
                .write(Bytes::from_static(line.as_bytes()))
                .await
                .map_err(|e| format!("write #{i}: {e}"))?;
        }
        stdin
            .close()
            .await
            .map_err(|e| format!("close #{i}: {e}"))?;
        let mut items = Vec::new();
        while let Some(chunk) = output.next().await {
            items.push(String::from_utf8_lossy(&chunk.data).into_owned());
        }
        let code = p.wait().await.map_err(|e| format!("cat #{i}: {e}"))?;
        // Every run must carry the bytes; only how they are cut may differ.
        if code != 0 || items.concat() != SEED_LINES.concat() {
            return Err(format!("cat #{i}: exit {code}, items {items:?}"));
        }
        if items == SEED_LINES {
            good += 1;
        }
    }
    Ok(good)
}
