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
