//! The detail screen through update: what each tab asks for, what it does
//! with the answers, and that stale answers are dropped.
use bytes::Bytes;
use crossterm::event::KeyCode;

use crate::client::StreamKind;
use crate::tui::msg::{Effect, Focus, Msg, NetEvent};
use crate::tui::update::tests::Harness;

fn streams(fx: &[Effect]) -> Vec<(u64, bool, u32, bool)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::StreamLogs {
                generation, opts, ..
            } => Some((*generation, opts.follow, opts.tail_lines, opts.timestamps)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_log_view_follows_restarts_on_new_options_and_drops_stale_data() {
    let mut h = Harness::new();
    let fx = h.key(KeyCode::Char('l'));
    assert_eq!(h.state.focus, Focus::Detail);
    let [(first, true, 200, false)] = streams(&fx)[..] else {
        panic!("{fx:?}");
    };
    let inbox = h.state.detail.as_ref().unwrap().logs.pane.inbox.clone();
    inbox.push(StreamKind::Stdout, Bytes::from_static(b"booting\n"));
    assert!(h
        .net(NetEvent::LogsChanged { generation: first })
        .is_empty());
    let texts = |h: &Harness| -> Vec<String> {
        let p = &h.state.detail.as_ref().unwrap().logs.pane;
        p.lines().iter().map(|l| l.text.clone()).collect()
    };
    assert_eq!(texts(&h), ["booting"]);

    // Timestamps on: a new stream into a fresh pane.
    let fx = h.key(KeyCode::Char('t'));
    let [(second, true, 200, true)] = streams(&fx)[..] else {
        panic!("{fx:?}");
    };
    assert!(second > first);
    assert!(texts(&h).is_empty());
    // The old stream's late end does not touch the new view.
    h.net(NetEvent::LogsEnded {
        generation: first,
        error: None,
    });
    assert!(h.state.detail.as_ref().unwrap().logs.ended.is_none());
    let fx = h.key(KeyCode::Char('T'));
    assert_eq!(streams(&fx)[0].2, 2000);
    let fx = h.key(KeyCode::Char('f'));
    let (third, follow, ..) = streams(&fx)[0];
    assert!(!follow);
    h.net(NetEvent::LogsEnded {
        generation: third,
        error: None,
    });
    let ended = h.state.detail.as_ref().unwrap().logs.ended.clone();
    assert_eq!(ended.as_deref(), Some("end of the log (f follows it)"));

    // Panel keys do nothing here; Esc closes and stops the stream.
    assert!(h.key(KeyCode::Char('x')).is_empty());
    assert!(h.state.popup.is_none());
    let fx = h.key(KeyCode::Esc);
    assert!(matches!(fx.as_slice(), [Effect::StopLogs]));
    assert!(h.state.detail.is_none());
}

use crate::client::{DirEntry, EntryKind, ProcessInfo};
use crate::tui::state::detail::{Fetched, FileContent, Tab};
use crate::tui::state::forms::{Confirm, Popup};

fn entry(name: &str, kind: EntryKind) -> DirEntry {
    DirEntry {
        name: name.into(),
        kind,
        size: Some(3),
        mode: None,
        link_target: None,
    }
}

fn generation(h: &Harness) -> u64 {
    h.state.detail.as_ref().unwrap().generation
}

/// The listing request the files tab waits for.
fn asked(h: &Harness) -> u64 {
    h.state.detail.as_ref().unwrap().files.asked
}

#[test]
fn files_browse_open_go_up_and_download() {
    let mut h = Harness::new();
    h.key(KeyCode::Char('d'));
    assert_eq!(h.state.detail.as_ref().unwrap().tab, Tab::Info);
    // Info, Log, Processes, Files.
    h.key(KeyCode::Tab);
    h.key(KeyCode::Tab);
    let fx = h.key(KeyCode::Tab);
    assert!(
        matches!(fx.as_slice(), [Effect::ListDir { path, .. }] if path == "/workspace"),
        "{fx:?}"
    );
    let g = generation(&h);
    // An image without a workspace opens at the top.
    let fx = h.net(NetEvent::Listing {
        request: asked(&h),
        path: "/workspace".into(),
        result: Err("no such directory".into()),
    });
    assert!(
        matches!(fx.as_slice(), [Effect::ListDir { path, .. }] if path == "/"),
        "{fx:?}"
    );
    h.net(NetEvent::Listing {
        request: asked(&h),
        path: "/".into(),
        result: Ok(vec![
            entry("etc", EntryKind::Dir),
            entry("notes.txt", EntryKind::File),
        ]),
    });
    let fx = h.key(KeyCode::Enter);
    assert!(matches!(fx.as_slice(), [Effect::ListDir { path, .. }] if path == "/etc"));
    h.net(NetEvent::Listing {
        request: asked(&h),
        path: "/etc".into(),
        result: Ok(vec![entry("hosts", EntryKind::File)]),
    });
    let fx = h.key(KeyCode::Backspace);
    assert!(matches!(fx.as_slice(), [Effect::ListDir { path, .. }] if path == "/"));
    h.net(NetEvent::Listing {
        request: asked(&h),
        path: "/".into(),
        result: Ok(vec![
            entry("etc", EntryKind::Dir),
            entry("notes.txt", EntryKind::File),
        ]),
    });
    // Back up, the directory we came from is selected; the file is below.
    assert_eq!(h.state.detail.as_ref().unwrap().files.selected, 0);
    h.key(KeyCode::Down);
    let fx = h.key(KeyCode::Enter);
    assert!(matches!(fx.as_slice(), [Effect::ReadFile { path, .. }] if path == "/notes.txt"));
    h.net(NetEvent::FileRead {
        generation: g,
        path: "/notes.txt".into(),
        result: Ok(b"one\ntwo\n".to_vec()),
    });
    let open = h
        .state
        .detail
        .as_ref()
        .unwrap()
        .files
        .open
        .as_ref()
        .unwrap();
    assert!(matches!(&open.content, Fetched::Ready(FileContent::Text(p)) if p.len() >= 2));
    let fx = h.key(KeyCode::Char('D'));
    let Some(Effect::Download { path, to, .. }) = fx.first() else {
        panic!("{fx:?}");
    };
    assert_eq!(path, "/notes.txt");
    assert_eq!(to, &h.state.view.downloads.join("notes.txt"));
    // Esc closes the file first, then the screen.
    h.key(KeyCode::Esc);
    assert!(h.state.detail.as_ref().unwrap().files.open.is_none());
    // An answer for an older screen is dropped.
    let old = asked(&h);
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('d'));
    h.net(NetEvent::Listing {
        request: old,
        path: "/old".into(),
        result: Ok(vec![]),
    });
    assert_eq!(h.state.detail.as_ref().unwrap().files.cwd, "/workspace");
}

fn ps(pid: u32, cmd: &str) -> ProcessInfo {
    ProcessInfo {
        pid,
        ppid: 1,
        state: 'S',
        uid: Some(0),
        user: Some("root".into()),
        elapsed: None,
        name: cmd.into(),
        cmdline: vec![cmd.into()],
    }
}

#[test]
fn processes_refresh_themselves_and_signal_after_asking() {
    let mut h = Harness::new();
    h.key(KeyCode::Char('d'));
    h.key(KeyCode::Tab);
    let fx = h.key(KeyCode::Tab);
    assert!(
        matches!(fx.as_slice(), [Effect::FetchProcesses { .. }]),
        "{fx:?}"
    );
    // While a listing is on its way, ticks ask for no other.
    assert!(h.send(Msg::Tick).is_empty());
    let g = generation(&h);
    h.net(NetEvent::Processes {
        generation: g,
        result: Ok(vec![ps(1, "sleep"), ps(42, "python3")]),
    });
    h.key(KeyCode::Down);
    h.key(KeyCode::Char('K'));
    let Some(Popup::Confirm(Confirm::Signal { pid, signal, .. })) = &h.state.popup else {
        panic!("asks first");
    };
    assert_eq!((*pid, *signal), (42, "KILL"));
    let fx = h.key(KeyCode::Char('y'));
    assert!(matches!(
        fx.as_slice(),
        [Effect::Signal {
            pid: 42,
            signal: "KILL",
            ..
        }]
    ));
    // Two seconds on, the tab lists again.
    h.state.detail.as_mut().unwrap().procs.asked =
        Some(std::time::Instant::now() - std::time::Duration::from_secs(3));
    let fx = h.send(Msg::Tick);
    assert!(
        matches!(fx.as_slice(), [Effect::FetchProcesses { .. }]),
        "{fx:?}"
    );
}

#[test]
fn ports_start_report_their_url_and_close() {
    let mut h = Harness::new();
    h.key(KeyCode::Char('d'));
    h.key(KeyCode::BackTab);
    assert_eq!(h.state.detail.as_ref().unwrap().tab, Tab::Ports);
    h.key(KeyCode::Char('a'));
    h.typ("x");
    h.key(KeyCode::Enter);
    assert!(matches!(&h.state.popup, Some(Popup::Form(f)) if f.error.is_some()));
    h.key(KeyCode::Backspace);
    h.typ("8000");
    let fx = h.key(KeyCode::Enter);
    let Some(Effect::StartForward {
        id,
        local: 0,
        remote: 8000,
        ..
    }) = fx.first()
    else {
        panic!("{fx:?}");
    };
    let id = *id;
    let addr: std::net::SocketAddr = "127.0.0.1:41234".parse().unwrap();
    h.net(NetEvent::ForwardListening {
        id,
        addr,
        tool: "python3".into(),
    });
    assert_eq!(
        h.state.forwards[0].url().as_deref(),
        Some("http://127.0.0.1:41234/")
    );
    // Forwards outlive the screen.
    h.key(KeyCode::Esc);
    assert_eq!(h.state.forwards.len(), 1);
    h.key(KeyCode::Char('d'));
    h.key(KeyCode::BackTab);
    let fx = h.key(KeyCode::Char('k'));
    assert!(matches!(fx.as_slice(), [Effect::StopForward(i)] if *i == id));
    assert!(h.state.forwards.is_empty());
}

#[test]
fn an_upload_reads_a_home_relative_path_and_lands_in_the_directory_shown() {
    let mut h = Harness::new();
    h.key(KeyCode::Char('d'));
    for _ in 0..3 {
        h.key(KeyCode::Tab);
    }
    h.net(NetEvent::Listing {
        request: asked(&h),
        path: "/workspace".into(),
        result: Ok(vec![]),
    });
    h.key(KeyCode::Char('U'));
    h.typ("~/data/blob.bin");
    let fx = h.key(KeyCode::Enter);
    let Some(Effect::Upload { from, to, dir, .. }) = fx.first() else {
        panic!("{fx:?}");
    };
    let home = directories::UserDirs::new().map(|u| u.home_dir().to_path_buf());
    assert_eq!(Some(from.clone()), home.map(|h| h.join("data/blob.bin")));
    assert_eq!(
        (to.as_str(), dir.as_str()),
        ("/workspace/blob.bin", "/workspace")
    );
}

#[test]
fn a_listing_overtaken_by_a_newer_one_is_dropped() {
    let mut h = Harness::new();
    h.key(KeyCode::Char('d'));
    for _ in 0..3 {
        h.key(KeyCode::Tab);
    }
    // The tab's first listing is still on its way when an upload is made.
    let first = asked(&h);
    h.key(KeyCode::Char('U'));
    h.typ("/tmp/blob.bin");
    let fx = h.key(KeyCode::Enter);
    let Some(Effect::Upload { request, .. }) = fx.first() else {
        panic!("{fx:?}");
    };
    let after_upload = *request;
    assert_ne!(after_upload, first);
    h.net(NetEvent::Listing {
        request: after_upload,
        path: "/workspace".into(),
        result: Ok(vec![entry("blob.bin", EntryKind::File)]),
    });
    // The first listing, taken before the upload, arrives last.
    h.net(NetEvent::Listing {
        request: first,
        path: "/workspace".into(),
        result: Ok(vec![]),
    });
    let names: Vec<_> = h
        .state
        .detail
        .as_ref()
        .unwrap()
        .files
        .entries()
        .iter()
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(names, ["blob.bin"]);
}
