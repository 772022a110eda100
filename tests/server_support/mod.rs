//! Test harness for the server tests: the embedded server `common` starts,
//! reached through the generated gRPC client carrying the token.
#![allow(dead_code)]
pub use sandscope::proto::v1 as pb;
use sandscope::proto::v1::discovery_service_client::DiscoveryServiceClient;
use sandscope::proto::v1::sandbox_service_client::SandboxServiceClient;
use sandscope::server::{RuntimeChoice, Server};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};

pub mod serve;

pub use crate::common::TOKEN;

#[derive(Clone)]
pub struct Bearer(pub Option<String>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(t) = &self.0 {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        Ok(req)
    }
}

pub type Client = SandboxServiceClient<InterceptedService<Channel, Bearer>>;

pub struct Harness {
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
    pub client: Client,
}

impl Harness {
    /// The runtime `common::test_runtime` picks.
    pub async fn start() -> Harness {
        Self::start_with(crate::common::test_runtime()).await
    }

    pub async fn start_with(runtime: RuntimeChoice) -> Harness {
        let (server, dir) = crate::common::start_server(runtime).await;
        let client = connect(&server.url(), Some(TOKEN)).await;
        Harness {
            server: Some(server),
            dir,
            client,
        }
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    pub fn isolated(&self) -> bool {
        self.server().isolation() == "bubblewrap"
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    pub async fn create(&self, spec: pb::SandboxSpec) -> pb::Sandbox {
        self.try_create(spec).await.expect("create")
    }

    /// CreateSandbox, with the server's answer as it is (for refusals).
    pub async fn try_create(&self, spec: pb::SandboxSpec) -> Result<pb::Sandbox, Status> {
        let req = pb::CreateSandboxRequest {
            sandbox: Some(pb::Sandbox {
                spec: Some(spec),
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
        };
        let sb = self.client.clone().create_sandbox(req).await?;
        Ok(sb.into_inner())
    }

    /// Create and wait for RUNNING.
    pub async fn running(&self, spec: pb::SandboxSpec) -> String {
        let sb = self.create(spec).await;
        let got = self
            .wait_for(&sb.sandbox_id, |s| s != pb::State::Creating)
            .await;
        assert_eq!(state(&got), pb::State::Running, "{got:?}");
        sb.sandbox_id
    }

    pub async fn get(&self, id: &str) -> pb::Sandbox {
        self.client
            .clone()
            .get_sandbox(pb::GetSandboxRequest {
                sandbox_id: id.into(),
            })
            .await
            .expect("get")
            .into_inner()
    }

    /// Poll GetSandbox until `pred` holds (a readiness wait, bounded).
    pub async fn wait_for(&self, id: &str, pred: impl Fn(pb::State) -> bool) -> pb::Sandbox {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let sb = self.get(id).await;
            if pred(state(&sb)) {
                return sb;
            }
            assert!(Instant::now() < until, "timed out waiting; last {sb:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn delete(&self, id: &str, grace: i32) -> pb::DeleteSandboxResponse {
        self.client
            .clone()
            .delete_sandbox(pb::DeleteSandboxRequest {
                sandbox_id: id.into(),
                grace_period_seconds: grace,
                ..Default::default()
            })
            .await
            .expect("delete")
            .into_inner()
    }

    /// Every entry StreamLogs sends for `req`, until it ends.
    pub async fn logs(&self, req: pb::StreamLogsRequest) -> Vec<pb::LogEntry> {
        let mut s = self
            .client
            .clone()
            .stream_logs(req)
            .await
            .expect("stream logs")
            .into_inner();
        let mut out = Vec::new();
        while let Some(e) = s.message().await.expect("log entry") {
            out.push(e);
        }
        out
    }

    pub async fn exec(&self, id: &str, argv: &[&str]) -> ExecOut {
        self.exec_with(id, argv, None).await.expect("exec")
    }

    pub async fn exec_with(
        &self,
        id: &str,
        argv: &[&str],
        stdin: Option<Vec<u8>>,
    ) -> Result<ExecOut, Status> {
        exec_on(&self.client, id, argv, stdin).await
    }

    /// Opens StreamExec with `init` as the first frame and waits for the
    /// server's ready frame; the sender feeds further frames.
    pub async fn open_exec(&self, init: pb::ExecStreamRequest) -> (ExecTx, ExecRx) {
        self.try_open_exec(init).await.expect("stream exec")
    }

    pub async fn try_open_exec(
        &self,
        init: pb::ExecStreamRequest,
    ) -> Result<(ExecTx, ExecRx), Status> {
        open_exec_on(&self.client, init).await
    }
}

/// Runs `argv` to its end in sandbox `id`, feeding `stdin` (then EOF) if
/// given, and collects what it printed.
pub async fn exec_on(
    client: &Client,
    id: &str,
    argv: &[&str],
    stdin: Option<Vec<u8>>,
) -> Result<ExecOut, Status> {
    let (tx, mut out) = open_exec_on(client, init(id, argv)).await?;
    let feeder = tokio::spawn(async move {
        if let Some(data) = stdin {
            for chunk in data.chunks(64 << 10) {
                let f = pb::ExecStreamRequest {
                    message: Some(In::Stdin(bytes::Bytes::copy_from_slice(chunk))),
                };
                if tx.send(f).await.is_err() {
                    return;
                }
            }
            let _ = tx
                .send(pb::ExecStreamRequest {
                    message: Some(In::Close(pb::ExecStreamClose {})),
                })
                .await;
        }
        // Dropping tx half-closes the request stream.
    });
    let mut res = ExecOut::default();
    while let Some(f) = out.message().await? {
        match f.message {
            Some(Out::Output(o)) if o.stream == 2 => res.stderr.extend_from_slice(&o.data),
            Some(Out::Output(o)) => res.stdout.extend_from_slice(&o.data),
            Some(Out::Exit(e)) => {
                res.code = Some(e.exit_code);
                break;
            }
            Some(Out::Error(e)) => panic!("in-band error {e:?}"),
            Some(Out::Ready(_)) | None => panic!("unexpected frame"),
        }
    }
    feeder.abort();
    Ok(res)
}

/// Opens StreamExec with `init` as the first frame and waits for the
/// server's ready frame; the sender feeds further frames.
pub async fn open_exec_on(
    client: &Client,
    init: pb::ExecStreamRequest,
) -> Result<(ExecTx, ExecRx), Status> {
    let (tx, rx) = mpsc::channel(8);
    tx.send(init).await.unwrap();
    let mut out = client
        .clone()
        .stream_exec(ReceiverStream::new(rx))
        .await?
        .into_inner();
    let first = out.message().await?.expect("a first frame");
    assert!(
        matches!(first.message, Some(Out::Ready(_))),
        "first frame must be ready: {first:?}"
    );
    Ok((tx, out))
}

/// Create a sandbox from `spec` and wait (bounded) until it runs.
pub async fn run_spec(client: &Client, spec: pb::SandboxSpec) -> pb::Sandbox {
    let sb = client
        .clone()
        .create_sandbox(pb::CreateSandboxRequest {
            sandbox: Some(pb::Sandbox {
                spec: Some(spec),
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("create")
        .into_inner();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let got = client
            .clone()
            .get_sandbox(pb::GetSandboxRequest {
                sandbox_id: sb.sandbox_id.clone(),
            })
            .await
            .expect("get")
            .into_inner();
        if state(&got) != pb::State::Creating {
            assert_eq!(state(&got), pb::State::Running, "{got:?}");
            return got;
        }
        assert!(Instant::now() < until, "never ran: {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub type ExecTx = mpsc::Sender<pb::ExecStreamRequest>;
pub type ExecRx = tonic::Streaming<pb::ExecStreamResponse>;

pub use pb::exec_stream_request::Message as In;
pub use pb::exec_stream_response::Message as Out;

#[derive(Default, Debug)]
pub struct ExecOut {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub code: Option<i32>,
}

impl ExecOut {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// The data of log entries, as text.
pub fn joined(entries: &[pb::LogEntry]) -> String {
    entries
        .iter()
        .map(|e| String::from_utf8_lossy(&e.data).into_owned())
        .collect()
}

pub fn init(id: &str, argv: &[&str]) -> pb::ExecStreamRequest {
    pb::ExecStreamRequest {
        message: Some(In::Init(pb::ExecStreamInit {
            sandbox_id: id.into(),
            command: argv.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })),
    }
}

pub async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .expect("connect")
}

pub async fn connect(url: &str, token: Option<&str>) -> Client {
    SandboxServiceClient::with_interceptor(channel(url).await, Bearer(token.map(String::from)))
        .max_decoding_message_size(100 << 20)
        .max_encoding_message_size(100 << 20)
}

pub type Discovery = DiscoveryServiceClient<InterceptedService<Channel, Bearer>>;

pub async fn connect_discovery(url: &str, token: Option<&str>) -> Discovery {
    DiscoveryServiceClient::with_interceptor(channel(url).await, Bearer(token.map(String::from)))
}

pub fn state(sb: &pb::Sandbox) -> pb::State {
    pb::State::try_from(sb.status.as_ref().unwrap().state).unwrap()
}

pub fn spec_with(command: &[&str]) -> pb::SandboxSpec {
    let mut c = pb::Container {
        name: "main".into(),
        image: "python:3.11".into(),
        ..Default::default()
    };
    if let Some((cmd, args)) = command.split_first() {
        c.command = cmd.to_string();
        c.args = args.iter().map(|s| s.to_string()).collect();
    }
    pb::SandboxSpec {
        containers: vec![c],
        ..Default::default()
    }
}

pub fn keep_alive() -> pb::SandboxSpec {
    spec_with(&[])
}

pub fn error_reason(s: &Status) -> String {
    use tonic_types::StatusExt;
    s.get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

pub fn error_meta(s: &Status, key: &str) -> Option<String> {
    use tonic_types::StatusExt;
    s.get_details_error_info()
        .and_then(|i| i.metadata.get(key).cloned())
}

/// Whether bubblewrap can run here; the server must then use it.
pub fn bwrap_here() -> bool {
    std::process::Command::new("bwrap")
        .args([
            "--unshare-pid",
            "--unshare-net",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "true",
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Host pids whose command line starts with `prefix`.
pub fn pids_with(prefix: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == std::process::id() as i32 {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.starts_with(prefix) {
            out.push(pid);
        }
    }
    out
}

pub async fn wait_until(what: &str, f: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Host pids whose command line contains `needle` anywhere.
pub fn pids_containing(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmd).contains(needle) {
            out.push(pid);
        }
    }
    out
}
