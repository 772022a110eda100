//! Single-sandbox measurements: exec round trip, stdout and stdin streaming,
//! and the local floors they are compared with.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sandscope::client::{Client, ExecOptions, StreamKind};

use crate::stats::Throughput;

/// Size of one stdin write and of one local pipe read.
const BLOCK: usize = 64 << 10;

fn argv(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `n` runs of `run(i)`, one after the other, each timed from its start
/// to its end.
pub async fn time_each<F, Fut>(n: usize, mut run: F) -> Result<Vec<Duration>, String>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        run(i).await?;
        out.push(started.elapsed());
    }
    Ok(out)
}

/// `n` sequential runs of `true` in the sandbox, each from the exec call
/// until its result (exit code) is in hand.
pub async fn exec_round_trips(
    client: &Client,
    id: &str,
    n: usize,
) -> Result<Vec<Duration>, String> {
    time_each(n, |i| exec_true(client, id, i)).await
}

/// Exec #`i` of `true` in the sandbox, until its exit code is in hand.
pub async fn exec_true(client: &Client, id: &str, i: usize) -> Result<(), String> {
    let p = client
        .exec(id, &argv(&["true"]), ExecOptions::default())
        .await
        .map_err(|e| format!("exec #{i}: {e}"))?;
    let r = p.result().await.map_err(|e| format!("result #{i}: {e}"))?;
    if r.returncode != 0 {
        return Err(format!(
            "exec #{i}: `true` exited {}: {}",
            r.returncode,
            r.stderr_text().trim()
        ));
    }
    Ok(())
}

/// The floor: `n` sequential spawns of `true` by this process, no server.
pub fn bare_spawns(n: usize) -> Result<Vec<Duration>, String> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        let status = Command::new("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("spawn true #{i}: {e}"))?;
        out.push(started.elapsed());
        if !status.success() {
            return Err(format!("local `true` #{i}: {status}"));
        }
    }
    Ok(out)
}

/// OR of every byte: zero exactly when the block is all zeros. Written as a
/// fold so it vectorises and does not cap the rates being measured.
fn or_all(data: &[u8]) -> u8 {
    data.iter().fold(0u8, |acc, b| acc | b)
}

/// `head -c bytes /dev/zero` in the sandbox, read through the output stream;
/// checks the count, that every byte is zero and that stderr stayed empty.
pub async fn stdout_stream(client: &Client, id: &str, bytes: u64) -> Result<Throughput, String> {
    let cmd = argv(&["head", "-c", &bytes.to_string(), "/dev/zero"]);
    let started = Instant::now();
    let mut p = client
        .exec(id, &cmd, ExecOptions::default())
        .await
        .map_err(|e| format!("exec head: {e}"))?;
    let mut output = p.take_output().ok_or("no output stream")?;
    let (mut seen, mut ors) = (0u64, 0u8);
    while let Some(chunk) = output.next().await {
        match chunk.stream {
            StreamKind::Stdout => {
                seen += chunk.data.len() as u64;
                ors |= or_all(&chunk.data);
            }
            StreamKind::Stderr => {
                return Err(format!(
                    "stderr from head: {}",
                    String::from_utf8_lossy(&chunk.data)
                ))
            }
        }
    }
    let code = p.wait().await.map_err(|e| format!("wait head: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    if code != 0 || seen != bytes || ors != 0 {
        return Err(format!(
            "stdout stream: exit {code}, {seen} of {bytes} bytes, non-zero bytes: {}",
            ors != 0
        ));
    }
    Ok(Throughput { bytes, secs })
}

/// What a pipe carried: how many bytes, and the OR of them all.
pub struct Drained {
    pub seen: u64,
    pub ors: u8,
}

/// Reads a pipe to its end in [`BLOCK`]s, checking as it goes.
pub fn drain_zeros(pipe: &mut impl Read) -> Result<Drained, String> {
    let mut buf = vec![0u8; BLOCK];
    let (mut seen, mut ors) = (0u64, 0u8);
    loop {
        let n = pipe.read(&mut buf).map_err(|e| format!("read pipe: {e}"))?;
        if n == 0 {
            break;
        }
        seen += n as u64;
        ors |= or_all(&buf[..n]);
    }
    Ok(Drained { seen, ors })
}

/// `head -c bytes /dev/zero` on the host, its stdout a pipe to this process.
fn local_head(bytes: u64) -> Result<(std::process::Child, std::process::ChildStdout), String> {
    let mut child = Command::new("head")
        .args(["-c", &bytes.to_string(), "/dev/zero"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn head: {e}"))?;
    let pipe = child.stdout.take().ok_or("no pipe")?;
    Ok((child, pipe))
}

/// The peer for stdout: the same `head` writing into a local pipe read by
/// this process, same block checks.
pub fn local_pipe(bytes: u64) -> Result<Throughput, String> {
    let started = Instant::now();
    let (mut child, mut pipe) = local_head(bytes)?;
    let Drained { seen, ors } = drain_zeros(&mut pipe)?;
    let status = child.wait().map_err(|e| format!("wait head: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    if !status.success() || seen != bytes || ors != 0 {
        return Err(format!("local pipe: {status}, {seen} of {bytes} bytes"));
    }
    Ok(Throughput { bytes, secs })
}

/// The transport's floor: the same `head` into a local pipe, relayed by a
/// thread of this process over a loopback TCP connection (64 KiB reads,
/// whole writes), and, with `then_pipe`, by one more thread from the socket
/// into another pipe, before it is read and checked. No protocol, no
/// sandbox: only the copies any server that forwards output over a socket
/// pays (and, with `then_pipe`, any client process that writes it on).
pub fn relay_floor(bytes: u64, then_pipe: bool) -> Result<Throughput, String> {
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("addr: {e}"))?;
    let started = Instant::now();
    let (mut child, mut pipe) = local_head(bytes)?;
    let sender = std::thread::spawn(move || -> Result<(), String> {
        let mut sock = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        let _ = sock.set_nodelay(true);
        copy_blocks(&mut pipe, &mut sock)
    });
    let (mut sock, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    let Drained { seen, ors } = if then_pipe {
        let (r, w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
        let (mut r, mut w) = (std::fs::File::from(r), std::fs::File::from(w));
        let writer = std::thread::spawn(move || copy_blocks(&mut sock, &mut w));
        let drained = drain_zeros(&mut r)?;
        writer.join().map_err(|_| "relay thread panicked")??;
        drained
    } else {
        drain_zeros(&mut sock)?
    };
    sender.join().map_err(|_| "relay thread panicked")??;
    let status = child.wait().map_err(|e| format!("wait head: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    if !status.success() || seen != bytes || ors != 0 {
        return Err(format!("relay: {status}, {seen} of {bytes} bytes"));
    }
    Ok(Throughput { bytes, secs })
}

/// Copies `from` to `to` in [`BLOCK`]s until the end.
fn copy_blocks(from: &mut impl Read, to: &mut impl Write) -> Result<(), String> {
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = from
            .read(&mut buf)
            .map_err(|e| format!("relay read: {e}"))?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])
            .map_err(|e| format!("relay write: {e}"))?;
    }
}

/// `bytes` written into `wc -c` through the exec's stdin; the count it
/// prints must match.
pub async fn stdin_stream(client: &Client, id: &str, bytes: u64) -> Result<Throughput, String> {
    let block = Bytes::from(vec![b'x'; BLOCK]);
    let started = Instant::now();
    let opts = ExecOptions {
        stdin: true,
        ..ExecOptions::default()
    };
    let mut p = client
        .exec(id, &argv(&["wc", "-c"]), opts)
        .await
        .map_err(|e| format!("exec wc: {e}"))?;
    let stdin = p.take_stdin().ok_or("no stdin writer")?;
    let mut output = p.take_output().ok_or("no output stream")?;
    // Read the (tiny) output while writing, as an interactive caller would.
    let reader = tokio::spawn(async move {
        let mut text = Vec::new();
        while let Some(chunk) = output.next().await {
            text.extend_from_slice(&chunk.data);
        }
        text
    });
    let writer = tokio::spawn(async move {
        let mut left = bytes;
        while left > 0 {
            let n = left.min(BLOCK as u64) as usize;
            stdin
                .write(block.slice(..n))
                .await
                .map_err(|e| format!("write stdin: {e}"))?;
            left -= n as u64;
        }
        stdin.close().await.map_err(|e| format!("close stdin: {e}"))
    });
    writer.await.map_err(|e| format!("stdin writer: {e}"))??;
    let code = p.wait().await.map_err(|e| format!("wc: {e}"))?;
    let text = reader.await.map_err(|e| format!("wc output: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&text);
    let counted: Option<u64> = text.trim().parse().ok();
    if code != 0 || counted != Some(bytes) {
        return Err(format!(
            "stdin: wc exited {code} and printed {:?}, expected {bytes}",
            text.trim()
        ));
    }
    Ok(Throughput { bytes, secs })
}

/// The peer for stdin: the same bytes into a local `wc -c`.
pub fn local_stdin_pipe(bytes: u64) -> Result<Throughput, String> {
    let block = vec![b'x'; BLOCK];
    let started = Instant::now();
    let mut child = Command::new("wc")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn wc: {e}"))?;
    {
        let mut pipe = child.stdin.take().ok_or("no pipe")?;
        let mut left = bytes;
        while left > 0 {
            let n = left.min(BLOCK as u64) as usize;
            pipe.write_all(&block[..n])
                .map_err(|e| format!("write pipe: {e}"))?;
            left -= n as u64;
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("wait wc: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    let counted: Option<u64> = String::from_utf8_lossy(&out.stdout).trim().parse().ok();
    if !out.status.success() || counted != Some(bytes) {
        return Err(format!("local wc counted {counted:?}, expected {bytes}"));
    }
    Ok(Throughput { bytes, secs })
}
