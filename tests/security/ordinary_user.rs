//! A server run by an ordinary user: its sandboxes run as that user, in
//! bubblewrap's own user namespace, and are confined the same way (no
//! nested user namespace, the system-call filter, no capabilities). Execs
//! work too, though such a server may not enter a pid namespace directly.
use super::*;
use std::os::unix::process::CommandExt;

/// The unprivileged user the server runs as.
const USER: u32 = 65534;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordinary_users_server_runs_execs_in_confined_sandboxes() {
    require_root();
    // The binary and data directory where that user can reach them.
    let dir = tempfile::Builder::new()
        .prefix("sandscope-user-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let bin = dir.path().join("sandscope");
    std::fs::copy(env!("CARGO_BIN_EXE_sandscope"), &bin).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&data, Some(USER), Some(USER)).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let mut cmd = std::process::Command::new(&bin);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--runtime",
        "bubblewrap",
    ])
    .env_clear()
    .env("PATH", "/usr/local/bin:/usr/bin:/bin")
    .env("HOME", &data)
    .env("SANDSCOPE_DATA_DIR", &data)
    .env("SANDSCOPE_TOKEN", TOKEN)
    .env("SANDSCOPE_LOG_DIR", data.join("logs"))
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    // SAFETY: setgroups/setresgid/setresuid only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(USER, USER, USER) != 0
                || libc::setresuid(USER, USER, USER) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let server = serve::Serve::spawn(cmd);
    let client = connect(&server.url, Some(TOKEN)).await;
    let id = run_spec(&client, keep_alive()).await.sandbox_id;
    let script = "id -u; grep -E '^(Seccomp|CapEff|NoNewPrivs):' /proc/self/status; \
                  unshare -U true 2>/dev/null && echo NESTED; echo x > /workspace/f && cat /workspace/f";
    let r = exec_on(&client, &id, &["sh", "-c", script], None)
        .await
        .expect("exec");
    assert_eq!(
        r.out(),
        format!("{USER}\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nx\n"),
        "{}",
        r.err()
    );
    let pids = host_pids(&id);
    assert!(
        pids.is_empty() || pids.iter().all(|p| host_ids(*p).0 == USER),
        "a sandbox process is not the server's user"
    );
    drop(server);
}
