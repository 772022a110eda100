//! Requests a client should never send, answered with the right status:
//! huge ids and paths are cut in what the error repeats, and strings that
//! are not UTF-8 are INVALID_ARGUMENT.
mod common;
mod server_support;
use server_support::*;
use tonic::Code;

/// What a client must be able to receive as error metadata (gRPC's usual
/// limit is 8 KiB for all of it).
const MAX_ERROR_BYTES: usize = 4 << 10;

fn error_size(s: &tonic::Status) -> usize {
    s.message().len() + s.details().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_ids_and_paths_are_cut_in_errors() {
    let h = Harness::start().await;
    let huge = "i".repeat(20_000);
    let c = || h.client.clone();

    let get = c()
        .get_sandbox(pb::GetSandboxRequest {
            sandbox_id: huge.clone(),
        })
        .await
        .unwrap_err();
    let delete = c()
        .delete_sandbox(pb::DeleteSandboxRequest {
            sandbox_id: huge.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let logs = c()
        .stream_logs(pb::StreamLogsRequest {
            sandbox_id: huge.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let exec = h.try_open_exec(init(&huge, &["true"])).await.unwrap_err();
    for (what, e) in [
        ("get", get),
        ("delete", delete),
        ("logs", logs),
        ("exec", exec),
    ] {
        assert_eq!(e.code(), Code::NotFound, "{what}: {}", e.message());
        assert_eq!(error_reason(&e), "CWSANDBOX_SANDBOX_NOT_FOUND", "{what}");
        assert!(
            error_size(&e) < MAX_ERROR_BYTES,
            "{what}: {}",
            error_size(&e)
        );
        assert!(
            e.message().starts_with("sandbox \"iiii"),
            "{what}: {}",
            e.message()
        );
        assert!(
            e.message().contains("20000 bytes"),
            "{what}: {}",
            e.message()
        );
    }

    // Text echoed from other fields is cut as well.
    let id = h.running(keep_alive()).await;
    let read = c()
        .read_file(pb::ReadFileRequest {
            sandbox_id: id.clone(),
            path: format!("/tmp/{huge}"),
            container: String::new(),
        })
        .await
        .unwrap_err();
    assert!(
        error_reason(&read).starts_with("CWSANDBOX_FILE_"),
        "{read:?}"
    );
    let container = h
        .try_open_exec(pb::ExecStreamRequest {
            message: Some(In::Init(pb::ExecStreamInit {
                sandbox_id: id.clone(),
                command: vec!["true".into()],
                container: huge.clone(),
                ..Default::default()
            })),
        })
        .await
        .unwrap_err();
    assert_eq!(container.code(), Code::InvalidArgument);
    for e in [read, container] {
        assert!(error_size(&e) < MAX_ERROR_BYTES, "{}", error_size(&e));
    }
    h.stop().await;
}

/// Messages with the field numbers of the real ones, but `bytes` where
/// those have `string`: they can carry what UTF-8 forbids.
mod raw {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GetSandboxRequest {
        #[prost(bytes = "vec", tag = "1")]
        pub sandbox_id: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Container {
        #[prost(bytes = "vec", tag = "1")]
        pub name: Vec<u8>,
        #[prost(bytes = "vec", tag = "3")]
        pub command: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SandboxSpec {
        #[prost(message, repeated, tag = "1")]
        pub containers: Vec<Container>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sandbox {
        #[prost(message, optional, tag = "2")]
        pub spec: Option<SandboxSpec>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CreateSandboxRequest {
        #[prost(message, optional, tag = "1")]
        pub sandbox: Option<Sandbox>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExecStreamInit {
        #[prost(bytes = "vec", tag = "1")]
        pub sandbox_id: Vec<u8>,
        #[prost(bytes = "vec", repeated, tag = "2")]
        pub command: Vec<Vec<u8>>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExecStreamRequest {
        #[prost(message, optional, tag = "1")]
        pub init: Option<ExecStreamInit>,
    }
}

const NOT_UTF8: &[u8] = b"caf\xe9 \xff\xfe";

fn raw_client(h: &Harness) -> tonic::client::Grpc<tonic::transport::Channel> {
    let url = h.server().url();
    let channel = tonic::transport::Channel::from_shared(url)
        .unwrap()
        .connect_lazy();
    tonic::client::Grpc::new(channel)
}

fn authorized<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    req
}

fn path(method: &str) -> http::uri::PathAndQuery {
    format!("/coreweave.sandbox.v1.SandboxService/{method}")
        .parse()
        .unwrap()
}

fn assert_invalid_field(e: &tonic::Status, field: &str) {
    use tonic_types::StatusExt;
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(error_reason(e), "CWSANDBOX_INVALID_REQUEST", "{e:?}");
    assert!(e.message().contains("UTF-8"), "{}", e.message());
    let violations = e
        .get_details_bad_request()
        .expect("a BadRequest")
        .field_violations;
    assert_eq!(violations[0].field, field, "{violations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_that_are_not_utf8_are_invalid_arguments() {
    use tonic_prost::ProstCodec;
    let h = Harness::start().await;
    let id = h.running(keep_alive()).await;
    let mut grpc = raw_client(&h);

    grpc.ready().await.unwrap();
    let get = raw::GetSandboxRequest {
        sandbox_id: NOT_UTF8.to_vec(),
    };
    let e = grpc
        .unary(
            authorized(get),
            path("GetSandbox"),
            ProstCodec::<raw::GetSandboxRequest, pb::Sandbox>::default(),
        )
        .await
        .unwrap_err();
    assert_invalid_field(&e, "sandbox_id");

    grpc.ready().await.unwrap();
    let create = raw::CreateSandboxRequest {
        sandbox: Some(raw::Sandbox {
            spec: Some(raw::SandboxSpec {
                containers: vec![raw::Container {
                    name: b"main".to_vec(),
                    command: NOT_UTF8.to_vec(),
                }],
            }),
        }),
    };
    let e = grpc
        .unary(
            authorized(create),
            path("CreateSandbox"),
            ProstCodec::<raw::CreateSandboxRequest, pb::Sandbox>::default(),
        )
        .await
        .unwrap_err();
    assert_invalid_field(&e, "sandbox.spec.containers.command");

    grpc.ready().await.unwrap();
    let init = raw::ExecStreamRequest {
        init: Some(raw::ExecStreamInit {
            sandbox_id: id.clone().into_bytes(),
            command: vec![b"echo".to_vec(), NOT_UTF8.to_vec()],
        }),
    };
    let frames = tokio_stream::iter([init]);
    let e = match grpc
        .streaming(
            authorized(frames),
            path("StreamExec"),
            ProstCodec::<raw::ExecStreamRequest, pb::ExecStreamResponse>::default(),
        )
        .await
    {
        Err(e) => e,
        Ok(resp) => match resp.into_inner().message().await {
            Err(e) => e,
            Ok(Some(frame)) => panic!("the exec started: {frame:?}"),
            Ok(None) => panic!("the exec stream ended without an error"),
        },
    };
    // prost names a oneof (here `message`, holding `init`) by its own name.
    assert_invalid_field(&e, "message.command");

    // The sandbox is unharmed.
    assert_eq!(h.exec(&id, &["echo", "ok"]).await.out(), "ok\n");
    h.stop().await;
}
