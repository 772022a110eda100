//! Snapshots through the real binary: `p` snapshots the selected
//! sandbox, and the new-sandbox dialog makes several sandboxes from it.
use super::{launch, new_sandbox, process_row, quit_confirmed};

#[test]
fn snapshot_a_sandbox_then_create_two_from_it() {
    let t = launch("");
    new_sandbox(
        &t,
        Some("sh -c 'echo from-the-snapshot > /workspace/f; exec sleep 600'"),
    );
    t.type_text("p");
    let s = t.wait_text("ready (18 bytes)");
    assert!(s.contains("snapshot fss-"), "{s}");

    // The dialog offers the snapshot; ask for two sandboxes from it.
    t.type_text("n");
    let s = t.wait_text("New sandbox");
    assert!(
        s.lines()
            .any(|l| l.contains(" snapshot ") && l.contains("fss-")),
        "{s}"
    );
    // To the count field, the last: one field up from the first.
    t.keys(&["Up"]);
    t.type_text("2");
    t.keys(&["Enter"]);
    t.wait_for("three running sandboxes", |s| {
        s.contains("Sandboxes (3 ")
            && s.matches(" running ").count() >= 3
            && !s.contains("New sandbox")
    });

    // A sandbox made from the snapshot (the last one created is selected)
    // has the file, though its main command never wrote it.
    t.type_text("x");
    t.wait_text("Run in");
    t.type_text("cat /workspace/f");
    t.keys(&["Enter"]);
    let s = t.wait_for("p1 exit 0", |s| {
        process_row(s, 1).is_some_and(|r| r.contains("exit 0"))
    });
    assert!(s.contains("from-the-snapshot"), "{s}");
    quit_confirmed(&t, 3);
}
