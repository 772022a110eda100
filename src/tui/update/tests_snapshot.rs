//! Update tests for snapshots: the key, the answer, and creating several
//! sandboxes from the snapshot. Same harness as `tests`.
use crossterm::event::KeyCode;

use super::tests::Harness;
use super::*;
use crate::client::{SandboxState, Snapshot, SnapshotState};
use crate::tui::msg::NetEvent;
use crate::tui::state::sandboxes::tests::sandbox;

fn ready(id: &str) -> Snapshot {
    Snapshot {
        id: id.into(),
        state: SnapshotState::Ready,
        state_reason: String::new(),
        size_bytes: 12,
        source_sandbox_id: "sb-1".into(),
        source_volume: "workspace".into(),
        on_stop: false,
        created: None,
        completed: None,
    }
}

#[test]
fn p_snapshots_the_selected_sandbox_and_n_offers_it_for_several_copies() {
    let mut h = Harness::new();
    let fx = h.key(KeyCode::Char('p'));
    assert!(
        matches!(&fx[..], [Effect::Snapshot(id)] if id == "sb-1"),
        "{fx:?}"
    );

    h.net(NetEvent::Snapshot(Ok(ready("fss-a"))));
    let notice = h.state.notice.as_ref().map(|n| n.text.clone());
    assert!(notice.is_some_and(|t| t.contains("fss-a") && t.contains("ready")));

    h.key(KeyCode::Char('n'));
    // Up from the first field to the count field (the last), then type it.
    h.key(KeyCode::Up);
    h.typ("3");
    let fx = h.key(KeyCode::Enter);
    assert_eq!(fx.len(), 3, "{fx:?}");
    for e in &fx {
        assert!(
            matches!(e, Effect::CreateSandbox(r) if r.from_snapshot.as_deref() == Some("fss-a")),
            "{e:?}"
        );
    }
}

#[test]
fn snapshot_refusals_say_why() {
    let mut h = Harness::new();
    h.state.sandboxes.show_terminated = true;
    h.state
        .sandboxes
        .replace(vec![sandbox("sb-done", SandboxState::Completed, 10)]);
    let fx = h.key(KeyCode::Char('p'));
    assert!(fx.is_empty());
    let notice = h.state.notice.as_ref().map(|n| n.text.clone());
    assert!(
        notice.is_some_and(|t| t.contains("completed")),
        "{:?}",
        h.state.notice
    );

    let mut h = Harness::new();
    h.net(NetEvent::Snapshot(Err("size limit".into())));
    let notice = h.state.notice.as_ref().map(|n| n.text.clone());
    assert!(notice.is_some_and(|t| t.contains("snapshot: size limit")));
    assert!(h.state.last_snapshot.is_none());
}
