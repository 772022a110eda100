//! The boundary between local clients and the server: nobody else on this
//! machine can pose as the local server to the CLI, the token file is only
//! trusted when nobody else could have read or planted it, and a server can
//! be shared over TLS.
mod common;
mod server_support;

use common::cli::{run, sandscope, text};
use common::{ok, TOKEN};
use sandscope::client::{Client, Endpoint, Error, ExecOptions, ListQuery, SandboxRequest};
use server_support::serve::Serve;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The port a CLI of old connected to when no endpoint was configured.
const OLD_DEFAULT: &str = "127.0.0.1:7391";

fn private_dir(path: &Path) {
    ok(std::fs::create_dir_all(path), "create dir");
    ok(
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)),
        "chmod 700",
    );
}

fn write_mode(path: &Path, content: &str, mode: u32) {
    ok(std::fs::write(path, content), "write");
    ok(
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)),
        "chmod",
    );
}

/// A listener that records whatever connects to it.
struct Trap {
    listener: std::net::TcpListener,
}

impl Trap {
    fn bind(addr: &str) -> Trap {
        let listener = std::net::TcpListener::bind(addr).unwrap_or_else(|e| {
            panic!("the test needs {addr} free to pose as a fake server there: {e}")
        });
        ok(listener.set_nonblocking(true), "nonblocking");
        Trap { listener }
    }

    /// What every connection so far sent, if anything connected at all.
    fn caught(&self) -> Option<String> {
        let mut got = None::<String>;
        while let Ok((mut s, peer)) = self.listener.accept() {
            let _ = s.set_nonblocking(false);
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let line = format!("{peer} sent {:?}", String::from_utf8_lossy(&buf[..n]));
            got = Some(got.map_or(line.clone(), |g| format!("{g}\n{line}")));
        }
        got
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_never_hands_the_local_token_to_a_tcp_port() {
    let home = ok(tempfile::tempdir(), "home");
    let data = home.path().join("data");
    private_dir(&data);
    let secret = "local-token-that-must-not-leak-0123456789";
    write_mode(&data.join("token"), secret, 0o600);
    let trap = Trap::bind(OLD_DEFAULT);

    // No server runs: the CLI says so and how to start one.
    let out = run(
        {
            let mut c = sandscope(home.path());
            c.arg("ls");
            c
        },
        "ls with no server",
    )
    .await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no local sandscope server") && err.contains("sandscope serve"),
        "{err}"
    );

    // A socket left by a server that died: refused, the same advice.
    drop(ok(
        std::os::unix::net::UnixListener::bind(data.join("server.sock")),
        "stale socket",
    ));
    let mut c = sandscope(home.path());
    c.arg("ls");
    let out = run(c, "ls with a stale socket").await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no sandscope server is answering") && err.contains("sandscope serve"),
        "{err}"
    );
    assert_eq!(trap.caught(), None, "the CLI connected to {OLD_DEFAULT}");

    // A real server (its TCP port elsewhere, the trap still on the old
    // default): the CLI reaches it through the socket, with the token file.
    let mut cmd = Serve::command(&data, &["--runtime", "host"]);
    cmd.env_remove("SANDSCOPE_TOKEN");
    let serve = Serve::spawn(cmd);
    assert!(data.join("server.sock").exists());
    let mut c = sandscope(home.path());
    c.arg("create").arg("--tag").arg("via-socket");
    let out = run(c, "create through the socket").await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut c = sandscope(home.path());
    c.args(["ls", "--tag", "via-socket"]);
    let out = run(c, "ls through the socket").await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().count(),
        2,
        "{}",
        text(&out.stdout)
    );
    assert_eq!(trap.caught(), None, "the CLI connected to {OLD_DEFAULT}");
    // Over TCP the token file's token is the one the server wants.
    let client = ok(
        Client::connect(Endpoint::new(serve.url.clone(), Some(secret.into()))).await,
        "connect over TCP",
    );
    ok(client.list(&ListQuery::default()).await, "list over TCP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_files_others_could_read_or_plant_are_refused() {
    let home = ok(tempfile::tempdir(), "home");
    let data = home.path().join("data");
    private_dir(&data);
    let token = data.join("token");
    // Something listens on the socket, so the CLI goes as far as the token.
    let _listening = ok(
        std::os::unix::net::UnixListener::bind(data.join("server.sock")),
        "socket",
    );

    let serve_fails = |why: &'static str| {
        let home = home.path().to_path_buf();
        async move {
            let mut c = sandscope(&home);
            c.args(["serve", "--listen", "127.0.0.1:0"]);
            let out = run(c, why).await;
            assert!(!out.status.success(), "{why}: serve started");
            text(&out.stderr)
        }
    };
    let ls_fails = |why: &'static str| {
        let home = home.path().to_path_buf();
        async move {
            let mut c = sandscope(&home);
            c.arg("ls");
            let out = run(c, why).await;
            assert_eq!(out.status.code(), Some(1), "{why}");
            text(&out.stderr)
        }
    };

    write_mode(&token, "readable-by-all", 0o644);
    for err in [
        serve_fails("serve, 0644 token").await,
        ls_fails("ls, 0644 token").await,
    ] {
        assert!(
            err.contains(&token.display().to_string())
                && err.contains("mode 0644")
                && err.contains("remove it"),
            "{err}"
        );
    }
    assert_eq!(
        std::fs::metadata(&token)
            .map(|m| m.permissions().mode() & 0o777)
            .ok(),
        Some(0o644),
        "the refused file is left as it was"
    );

    ok(std::fs::remove_file(&token), "rm token");
    let target = home.path().join("planted");
    write_mode(&target, "planted-token", 0o600);
    ok(std::os::unix::fs::symlink(&target, &token), "symlink");
    for err in [
        serve_fails("serve, symlinked token").await,
        ls_fails("ls, symlinked token").await,
    ] {
        assert!(err.contains("symbolic link"), "{err}");
    }

    // A data directory others can write to is refused as well.
    ok(std::fs::remove_file(&token), "rm link");
    ok(
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)),
        "chmod 777",
    );
    let err = serve_fails("serve, shared data dir").await;
    assert!(err.contains("mode 0777"), "{err}");
    let err = ls_fails("ls, shared data dir").await;
    assert!(
        err.contains("mode 0777") && err.contains("chmod 700"),
        "{err}"
    );
    assert!(!token.exists(), "no token was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_given_an_endpoint_creates_nothing() {
    let home = ok(tempfile::tempdir(), "home");
    let data = home.path().join("data");
    for endpoint in [
        "http://127.0.0.1:1".to_string(),
        format!("unix:{}", data.join("server.sock").display()),
    ] {
        let mut c = sandscope(home.path());
        c.args(["--endpoint", &endpoint, "ls"]);
        let out = run(c, "ls against nothing").await;
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("cannot reach"),
            "{}",
            text(&out.stderr)
        );
        assert!(
            !data.exists(),
            "--endpoint {endpoint} created the data directory"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_cannot_reach_the_socket() {
    assert!(
        server_support::bwrap_here(),
        "this test needs bubblewrap (bwrap) working on this machine"
    );
    let (_dir, data) = server_support::serve::serve_data_dir();
    let serve = Serve::start(Path::new(&data), &["--runtime", "bubblewrap"]);
    let socket = Path::new(&data).join("server.sock");
    assert!(socket.exists());
    let client = ok(
        Client::connect(Endpoint::new(serve.url.clone(), Some(TOKEN.into()))).await,
        "connect",
    );
    let sb = ok(client.run(SandboxRequest::default()).await, "sandbox");
    let probe = format!(
        "import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect({:?})\n    print('CONNECTED')\nexcept OSError as e:\n    print('refused', e)\n",
        socket.display().to_string()
    );
    let argv = vec!["python3".to_string(), "-c".to_string(), probe];
    let p = ok(
        client.exec(&sb.id, &argv, ExecOptions::default()).await,
        "exec",
    );
    let r = ok(p.result().await, "result");
    let out = String::from_utf8_lossy(&r.stdout).into_owned();
    assert!(
        out.starts_with("refused"),
        "{out}{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

/// A CA, a server certificate it signed for 127.0.0.1 and localhost, and
/// a second CA that signed nothing, as PEM files in `dir`.
struct Pki {
    ca: PathBuf,
    other_ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn pki(dir: &Path) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = ok(KeyPair::generate(), "ca key");
    let mut ca_params = ok(CertificateParams::new(Vec::<String>::new()), "ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ok(ca_params.self_signed(&ca_key), "ca cert");
    let other_key = ok(KeyPair::generate(), "other key");
    let mut other_params = ok(CertificateParams::new(Vec::<String>::new()), "other params");
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other = ok(other_params.self_signed(&other_key), "other cert");
    let key = ok(KeyPair::generate(), "server key");
    let mut params = ok(
        CertificateParams::new(vec!["localhost".to_string()]),
        "params",
    );
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    let cert = ok(params.signed_by(&key, &ca, &ca_key), "server cert");
    let pki = Pki {
        ca: dir.join("ca.pem"),
        other_ca: dir.join("other-ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    ok(std::fs::write(&pki.ca, ca.pem()), "write ca");
    ok(std::fs::write(&pki.other_ca, other.pem()), "write other ca");
    ok(std::fs::write(&pki.cert, cert.pem()), "write cert");
    write_mode(&pki.key, &key.serialize_pem(), 0o600);
    pki
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serve_with_a_private_ca() {
    let (_dir, data) = server_support::serve::serve_data_dir();
    let certs = ok(tempfile::tempdir(), "certs");
    let pki = pki(certs.path());
    let serve = Serve::start(
        Path::new(&data),
        &[
            "--runtime",
            "host",
            "--tls-cert",
            &pki.cert.display().to_string(),
            "--tls-key",
            &pki.key.display().to_string(),
        ],
    );
    let url = serve.url.clone();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    // The client module, as the TUI uses it: exec over TLS.
    let client = ok(
        Client::connect(
            Endpoint::new(url.clone(), Some(TOKEN.into())).with_ca_file(Some(pki.ca.clone())),
        )
        .await,
        "connect with the CA",
    );
    let sb = ok(
        client.run(SandboxRequest::default()).await,
        "sandbox over TLS",
    );
    let argv = vec!["echo".to_string(), "over tls".to_string()];
    let p = ok(
        client.exec(&sb.id, &argv, ExecOptions::default()).await,
        "exec",
    );
    assert_eq!(ok(p.result().await, "result").stdout, b"over tls\n");

    let e = Client::connect(
        Endpoint::new(url.clone(), Some(TOKEN.into())).with_ca_file(Some(pki.other_ca.clone())),
    )
    .await
    .err();
    match &e {
        Some(Error::Tls { message, .. }) => assert!(
            message.contains("certificate")
                && message.contains(&format!(
                    "not signed by a CA in the CA file {}",
                    pki.other_ca.display()
                )),
            "{message}"
        ),
        other => panic!("a wrong CA must fail the TLS handshake, got {other:?}"),
    }

    // The CLI, with ca_file in a profile (relative to the config file).
    let home = ok(tempfile::tempdir(), "home");
    let cfg_path = certs.path().join("config.toml");
    ok(
        std::fs::write(
            &cfg_path,
            format!("[profiles.tls]\nendpoint = \"{url}\"\napi_key_env = \"MY_KEY\"\nca_file = \"ca.pem\"\n"),
        ),
        "write config",
    );
    let cfg = cfg_path.display().to_string();
    let mut c = sandscope(home.path());
    c.env("MY_KEY", TOKEN)
        .args(["--config", &cfg, "--profile", "tls", "ls"]);
    let out = run(c, "ls over TLS").await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&sb.id), "{}", text(&out.stdout));

    // A wrong CA from the flag beats the profile's, and is refused.
    let other = pki.other_ca.display().to_string();
    let mut c = sandscope(home.path());
    c.env("MY_KEY", TOKEN).args([
        "--config",
        &cfg,
        "--profile",
        "tls",
        "--ca-file",
        &other,
        "ls",
    ]);
    let out = run(c, "ls with the wrong CA").await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("TLS with")
            && err.contains("certificate is not signed by a CA in the CA file"),
        "{err}"
    );
    // No CA given: the system's roots do not know the test CA.
    let mut c = sandscope(home.path());
    c.env("CWSANDBOX_API_KEY", TOKEN)
        .args(["--endpoint", &url, "ls"]);
    let out = run(c, "ls with the system's roots").await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("system's trusted certificates"), "{err}");

    // The local socket stays cleartext, and local clients still use it.
    let mut c = sandscope(home.path());
    c.env("SANDSCOPE_DATA_DIR", &data)
        .env("SANDSCOPE_TOKEN", TOKEN)
        .arg("ls");
    let out = run(c, "ls through the socket of a TLS server").await;
    assert!(out.status.success(), "{}", text(&out.stderr));
}
