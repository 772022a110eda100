//! Who a sandbox's processes are, and what of the kernel they can touch.
use super::*;
use std::os::unix::fs::MetadataExt;
use tonic::Code;

/// Sandbox processes are not host root: each sandbox has a host uid of
/// its own, root only inside its user namespace, owning its workspace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_are_never_host_root_and_each_has_its_own_uid() {
    let h = isolated_harness().await;
    let a = h.running(keep_alive()).await;
    let b = h.running(keep_alive()).await;

    let r = h.exec(&a, &["cat", "/proc/self/uid_map"]).await;
    let out = r.out();
    let map: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(map.len(), 3, "{}", r.out());
    assert_eq!(map[0], "0", "the sandbox is root to itself");
    assert_ne!(
        map[1],
        "0",
        "the sandbox's root is the host's root: {}",
        r.out()
    );
    assert_eq!(map[2], "1", "exactly one id is mapped: {}", r.out());
    let r = h.exec(&a, &["id", "-u"]).await;
    assert_eq!(r.out(), "0\n");

    let uid_of = |id: &str| {
        let pids = host_pids(id);
        assert!(!pids.is_empty(), "no host process in sandbox {id}'s cgroup");
        let ids: Vec<(u32, u32)> = pids.iter().map(|p| host_ids(*p)).collect();
        // bwrap's own pid 1 stays the host's root, moved into the
        // namespace without any capability; every other process is the
        // sandbox's uid.
        let users: Vec<(u32, u32)> = ids.iter().copied().filter(|i| i.0 != 0).collect();
        assert!(!users.is_empty(), "{ids:?}");
        assert!(users.iter().all(|i| *i == users[0]), "{ids:?}");
        users[0]
    };
    let (ua, ga) = uid_of(&a);
    let (ub, _) = uid_of(&b);
    assert_eq!(ua.to_string(), map[1], "the mapped id is the host uid");
    assert!(
        ua >= 1_000_000,
        "sandbox uid {ua} is in the accounts' range"
    );
    assert_ne!(ua, ub, "two sandboxes share a host uid");

    // What the sandbox writes in its workspace belongs to its uid.
    let r = h.exec(&a, &["sh", "-c", "echo x > /workspace/mine"]).await;
    assert_eq!(r.code, Some(0), "{}", r.err());
    let md = std::fs::metadata(sandbox_dir(&h, &a).join("workspace/mine")).unwrap();
    assert_eq!((md.uid(), md.gid()), (ua, ga));
    h.stop().await;
}

/// /proc/sys and other kernel knobs are read-only; writing back the value
/// already there fails, so nothing on the host changes either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_settings_cannot_be_written() {
    let h = isolated_harness().await;
    let id = h.running(keep_alive()).await;
    for knob in [
        "/proc/sys/kernel/printk_ratelimit_burst",
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/vm/overcommit_memory",
    ] {
        let script = format!("v=$(cat {knob}) && printf '%s\\n' \"$v\" > {knob}");
        let r = h.exec(&id, &["sh", "-c", &script]).await;
        assert_ne!(r.code, Some(0), "{knob} was written: {}", r.out());
        assert!(
            r.err().contains("Read-only file system") || r.err().contains("Permission denied"),
            "{knob}: {}",
            r.err()
        );
    }
    // Any write to sysrq-trigger acts, so only ask whether it could be.
    let r = h
        .exec(
            &id,
            &["sh", "-c", "test -w /proc/sysrq-trigger && echo writable"],
        )
        .await;
    assert_eq!(r.out(), "", "sysrq-trigger is writable");

    // A spec file can no longer be aimed at /proc through the workspace.
    let current = std::fs::read("/proc/sys/kernel/printk_ratelimit_burst").unwrap();
    let mut spec = keep_alive();
    spec.containers[0].files.push(pb::FileMount {
        path: "/workspace/../proc/sys/kernel/printk_ratelimit_burst".into(),
        content: current,
    });
    let req = pb::CreateSandboxRequest {
        sandbox: Some(pb::Sandbox {
            spec: Some(spec),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let err = h.client.clone().create_sandbox(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("files[0].path"), "{}", err.message());
    h.stop().await;
}

/// Files only root may read on the host stay unreadable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_only_host_files_are_unreadable() {
    let h = isolated_harness().await;
    let id = h.running(keep_alive()).await;
    // A root-only file of the test's own, in a host directory the sandbox
    // sees (read-only), so the check never depends on what the host has.
    let dir = tempfile::Builder::new()
        .prefix("sandscope-secret-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "host secret\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut paths = vec![secret.to_string_lossy().into_owned()];
    for p in [
        "/etc/shadow-",
        "/etc/gshadow-",
        "/etc/shadow",
        "/etc/gshadow",
    ] {
        if std::path::Path::new(p).exists() {
            paths.push(p.to_string());
        }
    }
    for p in &paths {
        let r = h.exec(&id, &["cat", p]).await;
        assert!(
            r.stdout.is_empty(),
            "{p} was readable in the sandbox: {}",
            r.out()
        );
    }
    if std::path::Path::new("/etc/ssl/private").is_dir() {
        let r = h
            .exec(
                &id,
                &[
                    "sh",
                    "-c",
                    "ls -A /etc/ssl/private; cat /etc/ssl/private/* 2>&1",
                ],
            )
            .await;
        assert!(!r.out().contains("PRIVATE KEY"), "{}", r.out());
    }
    h.stop().await;
}

/// No further user namespace, and the kernel's most exploited interfaces
/// fail with EPERM (the program probing them is not killed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_namespaces_and_risky_system_calls_are_refused() {
    let h = isolated_harness().await;
    let id = h.running(keep_alive()).await;
    let r = h.exec(&id, &["unshare", "-U", "true"]).await;
    assert_ne!(r.code, Some(0), "a user namespace was created: {}", r.err());
    let r = h.exec(&id, &["unshare", "-U", "-r", "id"]).await;
    assert_ne!(r.code, Some(0), "a user namespace was created: {}", r.out());

    let r = h
        .exec(&id, &["grep", "^Seccomp:", "/proc/self/status"])
        .await;
    assert_eq!(r.out(), "Seccomp:\t2\n", "no system-call filter");
    let script = r#"
import ctypes, platform
libc = ctypes.CDLL(None, use_errno=True)
def err(nr, *args):
    r = libc.syscall(nr, *args)
    return "ok" if r >= 0 else str(ctypes.get_errno())
nrs = {"x86_64": {"keyctl": 250, "add_key": 248, "request_key": 249, "io_uring_setup": 425,
                  "bpf": 321, "userfaultfd": 323, "perf_event_open": 298, "open_by_handle_at": 304},
       "aarch64": {"keyctl": 219, "add_key": 217, "request_key": 218, "io_uring_setup": 425,
                   "bpf": 280, "userfaultfd": 282, "perf_event_open": 241, "open_by_handle_at": 265}}
table = nrs[platform.machine()]
print(" ".join(f"{name}={err(nr, 0, 0, 0, 0, 0)}" for name, nr in sorted(table.items())))
print("alive")
"#;
    let r = python(&h, &id, script).await;
    assert_eq!(r.code, Some(0), "{}", r.err());
    let eperm = libc::EPERM.to_string();
    for word in r.out().lines().next().unwrap_or("").split_whitespace() {
        let (name, got) = word.split_once('=').unwrap();
        assert_eq!(got, eperm, "{name} was not refused with EPERM: {}", r.out());
    }
    assert!(r.out().ends_with("alive\n"), "{}", r.out());
    h.stop().await;
}

/// A request's environment never reaches what runs with the server's uid
/// (bubblewrap, the wrapper before it becomes the sandbox's user): an
/// LD_PRELOAD library there would run as host root. Nor can a request put
/// its own files where those programs load from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cannot_steer_what_runs_as_the_server() {
    let h = isolated_harness().await;
    // A library that, loaded anywhere with the host's rights, leaves a mark
    // in a host directory sandboxes only see read-only.
    let dir = tempfile::Builder::new()
        .prefix("sandscope-preload-")
        .tempdir_in("/var/tmp")
        .unwrap();
    let marker = dir.path().join("ran-as-host");
    let src = dir.path().join("mark.c");
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void mark(void) {{\n\
             FILE *f = fopen(\"{}\", \"a\"); if (f) {{ fputs(\"loaded\\n\", f); fclose(f); }} }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let lib = dir.path().join("mark.so");
    let cc = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
        .expect("a C compiler (cc) builds the test library");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    // The library works: loaded by a host process, it leaves the mark.
    let probe = std::process::Command::new("true")
        .env("LD_PRELOAD", &lib)
        .status()
        .unwrap();
    assert!(
        probe.success() && marker.exists(),
        "the test library does not load"
    );
    std::fs::remove_file(&marker).unwrap();

    let mut spec = keep_alive();
    spec.containers[0]
        .environment_variables
        .insert("LD_PRELOAD".into(), lib.to_string_lossy().into_owned());
    let id = h.running(spec).await;
    let r = h.exec(&id, &["sh", "-c", "echo $LD_PRELOAD"]).await;
    assert_eq!(
        r.out().trim(),
        lib.to_string_lossy(),
        "the variable reaches the sandbox"
    );
    assert!(
        !marker.exists(),
        "a request's LD_PRELOAD ran with the host's rights"
    );

    // Nothing of a request's may be mounted where the loader reads.
    for path in [
        "/etc/ld.so.preload",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
        "/bin/sh",
    ] {
        let mut spec = keep_alive();
        spec.containers[0].files.push(pb::FileMount {
            path: path.into(),
            content: lib.to_string_lossy().as_bytes().to_vec(),
        });
        let err = h.try_create(spec).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{path}: {err:?}");
    }
    let mut spec = keep_alive();
    spec.volumes.push(pb::SandboxVolume {
        name: "libs".into(),
        source: Some(pb::sandbox_volume::Source::Scratch(Default::default())),
    });
    spec.containers[0].volume_mounts.push(pb::VolumeMount {
        volume: "libs".into(),
        mount_path: "/usr/lib/x86_64-linux-gnu".into(),
        ..Default::default()
    });
    let err = h.try_create(spec).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    h.stop().await;
}
