//! The sandbox detail screen through the real binary: the main process's
//! log, followed as it prints, searched, with timestamps.
use super::{launch, quit_confirmed};

#[test]
fn the_log_of_a_sandbox_follows_its_main_process() {
    let t = launch("");
    t.type_text("n");
    t.wait_text("New sandbox");
    // image, name, then the main command.
    t.keys(&["Down", "Down"]);
    t.type_text("sh -c 'echo first-line; read x < /dev/null; sleep 1; for i in 1 2 3; do echo later-$i; sleep 0.2; done; sleep 600'");
    t.keys(&["Enter"]);
    t.wait_for("a running sandbox", |s| {
        s.contains(" running ") && !s.contains("New sandbox")
    });
    t.type_text("l");
    t.wait_text("Log · ");
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
        s.contains("Sandboxes (") && !s.contains("Log · ")
    });
    quit_confirmed(&t, 1);
}
