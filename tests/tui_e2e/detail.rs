//! The sandbox detail screen through the real binary: the main process's
//! log, followed as it prints, searched, with timestamps.
use super::{common, launch, launch_line, new_sandbox, quit_confirmed, server_support};

#[test]
fn the_log_of_a_sandbox_follows_its_main_process() {
    let t = launch("");
    new_sandbox(
        &t,
        Some("sh -c 'echo first-line; sleep 1; for i in 1 2 3; do echo later-$i; sleep 0.2; done; sleep 600'"),
    );
    t.type_text("l");
    t.wait_text("following · last 200 lines");
    t.wait_text("first-line");
    // Following: lines printed after the view opened arrive too.
    t.wait_text("later-3");

    // Search, counted.
    t.type_text("/");
    t.type_text("later");
    t.keys(&["Enter"]);
    t.wait_text("/later 3/3");
    t.type_text("N");
    t.wait_text("/later 2/3");

    // Timestamps: the log is read again, every line stamped.
    t.type_text("t");
    let s = t.wait_for("stamped lines", |s| {
        s.lines()
            .any(|l| l.contains("Z first-line") && l.contains("┃20"))
    });
    assert!(s.contains("timestamps"), "{s}");

    // Esc goes back to the lists.
    t.keys(&["Escape"]);
    t.wait_for("the lists again", |s| {
        s.contains("Sandboxes (") && !s.contains("last 200 lines")
    });
    quit_confirmed(&t, 1);
}

/// A free TCP port on this machine's loopback, for the sandbox's server
/// (its own network namespace has the same numbers free).
fn some_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(8765)
}

#[test]
fn files_processes_and_ports_from_the_detail_screen() {
    let t = launch("");
    let port = some_port();
    let server = format!("python3 -m http.server {port} --bind 127.0.0.1 --directory /workspace");
    new_sandbox(&t, Some(&server));

    // Processes: the sandbox's own main process is listed.
    t.type_text("d");
    t.wait_text(" Info ");
    t.wait_text("http.server");
    t.keys(&["Tab", "Tab"]);
    t.wait_for("the process table", |s| {
        s.contains("PID") && s.lines().any(|l| l.contains("python3 -m http.server"))
    });

    // Files: upload a binary file, see it listed, download it back.
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let src = t.home().join("blob.bin");
    std::fs::write(&src, &blob).expect("write the file to upload");
    t.keys(&["Tab"]);
    t.wait_text("/workspace · 0 entries");
    t.type_text("U");
    t.wait_text("Upload into /workspace");
    t.type_text(&src.display().to_string());
    t.keys(&["Enter"]);
    t.wait_text("/workspace · 1 entries");
    t.wait_text("blob.bin");
    t.type_text("D");
    let s = t.wait_text("downloaded /workspace/blob.bin");
    let got = std::fs::read(t.home().join("Downloads").join("blob.bin"))
        .unwrap_or_else(|e| panic!("the download is there ({e}):\n{s}"));
    assert!(got == blob, "the download is byte-exact");
    // Opening a binary file says so.
    t.keys(&["Enter"]);
    t.wait_text("Not text: the first bytes in hex");
    t.keys(&["Escape"]);

    // Ports: forward the sandbox's web server and fetch a page through it.
    t.keys(&["Tab"]);
    t.type_text("a");
    t.wait_text("Forward a port");
    t.type_text(&port.to_string());
    t.keys(&["Enter"]);
    let s = t.wait_text("listening (relay:");
    let url = s
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the forward's URL")
        .to_string();
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let page = common::http::exchange(addr, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n");
    assert!(page.starts_with("HTTP/1.0 200"), "{page}");
    assert!(
        page.contains("blob.bin"),
        "the sandbox's directory listing: {page}"
    );
    t.wait_text("1 total");
    t.type_text("k");
    t.wait_text("No ports forwarded");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "a closed forward no longer listens"
    );
    t.keys(&["Escape"]);
    quit_confirmed(&t, 1);
}

#[test]
fn egress_grants_typed_in_the_create_dialog_show_in_the_info_tab() {
    let t = launch("");
    t.type_text("n");
    t.wait_text("New sandbox");
    // image, name, command, tags, env, max lifetime, then egress.
    t.keys(&["Down", "Down", "Down", "Down", "Down", "Down"]);
    t.type_text("10.213.9.0/24");
    t.keys(&["Enter"]);
    t.wait_for("a running sandbox", |s| {
        s.contains(" running ") && !s.contains("New sandbox")
    });
    t.type_text("d");
    t.wait_text(" Info ");
    let s = t.wait_text("10.213.9.0/24");
    assert!(
        s.lines()
            .any(|l| l.contains("egress") && l.contains("10.213.9.0/24")),
        "{s}"
    );
    t.keys(&["Escape"]);
    t.wait_text("Sandboxes (");
    quit_confirmed(&t, 1);
}

/// Waits for the Info tab's line `service` (e.g. `web port 8080 public`)
/// and its URL, then fetches `/` through that URL (the sandbox's server
/// may still be starting).
fn the_page_answers_through_the_url_shown(t: &common::tmux::Tmux, service: &str) {
    let s = t.wait_text(&format!("{service} http://127.0.0.1:"));
    let url = s
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the service's URL")
        .to_string();
    let addr = url.trim_start_matches("http://").to_string();
    let page = (0..100)
        .find_map(|_| {
            let page = common::http::try_exchange(&addr, b"GET / HTTP/1.0\r\n\r\n")
                .ok()
                .filter(|p| !p.is_empty());
            if page.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            page
        })
        .unwrap_or_default();
    assert!(page.starts_with("HTTP/1.0 200"), "through {url}: {page:?}");
}

#[test]
fn a_service_typed_in_the_create_dialog_answers_through_its_url() {
    let t = launch("");
    let port = some_port();
    t.type_text("n");
    t.wait_text("New sandbox");
    // image, name, then the main command.
    t.keys(&["Down", "Down"]);
    t.type_text(&format!("python3 -m http.server {port} --bind 127.0.0.1"));
    // tags, env, max lifetime, egress, then services.
    t.keys(&["Down", "Down", "Down", "Down", "Down"]);
    t.type_text(&format!("{port}:web"));
    t.keys(&["Enter"]);
    t.wait_for("a running sandbox", |s| {
        s.contains(" running ") && !s.contains("New sandbox")
    });
    t.type_text("d");
    the_page_answers_through_the_url_shown(&t, &format!("web port {port} public"));
    t.keys(&["Escape"]);
    t.wait_text("Sandboxes (");
    quit_confirmed(&t, 1);
}

#[test]
fn a_service_typed_wrong_is_refused_in_the_dialog() {
    let t = launch("");
    t.type_text("n");
    t.wait_text("New sandbox");
    // image, name, command, tags, env, max lifetime, egress, then services.
    t.keys(&["Down", "Down", "Down", "Down", "Down", "Down", "Down"]);
    t.type_text("8080:web:udp");
    t.keys(&["Enter"]);
    // The dialog stays open, with what is wrong, and nothing was created.
    let s = t.wait_text("unknown service kind");
    assert!(s.contains("New sandbox"), "{s}");
    t.keys(&["Escape"]);
    let s = t.wait_for("the lists again", |s| !s.contains("New sandbox"));
    assert!(!s.contains(" running "), "{s}");
    t.type_text("q");
    t.wait_for("the shell again", |s| {
        s.contains("before-42") && !s.contains("Sandboxes (")
    });
}

#[test]
fn the_info_tab_shows_where_a_service_is_reached() {
    use server_support::serve::{serve_data_dir, Serve};
    let (_dir, data) = serve_data_dir();
    let serve = Serve::start(std::path::Path::new(&data), &[]);
    let bin = env!("CARGO_BIN_EXE_sandscope");
    let port = some_port().to_string();
    let created = std::process::Command::new(bin)
        .env("CWSANDBOX_API_KEY", common::TOKEN)
        .env(
            "SANDSCOPE_LOG_DIR",
            std::path::Path::new(&data).join("cli-logs"),
        )
        .args(["--endpoint", &serve.url, "create", "--service"])
        .arg(format!("{port}:web"))
        .args(["--", "python3", "-m", "http.server", &port])
        .args(["--bind", "127.0.0.1"])
        .output()
        .expect("sandscope create runs");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    let t = launch_line(&format!(
        "CWSANDBOX_API_KEY={} {bin} --endpoint {}",
        common::TOKEN,
        serve.url
    ));
    t.wait_text(" running ");
    t.type_text("d");
    the_page_answers_through_the_url_shown(&t, &format!("web port {port} public"));
    t.keys(&["Escape"]);
    t.wait_for("the lists again", |s| !s.contains("┃service"));
    t.type_text("q");
    t.wait_for("the shell again", |s| {
        s.contains("before-42") && !s.contains("Sandboxes (")
    });
}
