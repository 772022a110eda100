//! End-to-end: the real binary in a real terminal (tmux), against the
//! embedded server with its data in a temporary directory. Every wait polls
//! the screen until the expected text shows up, under one generous
//! deadline; nothing is asserted on timing.
//!
//! `net` tests the UI's network side against a real server without a
//! terminal; it lives here to keep the number of test binaries small.
mod common;
#[path = "tui_e2e/detail.rs"]
mod detail;
#[path = "tui_e2e/net.rs"]
mod net;
#[path = "support/pinned_venv.rs"]
mod pinned_venv;
mod server_support;
#[path = "tui_e2e/snapshots.rs"]
mod snapshots;
#[path = "tui_e2e/teaching.rs"]
mod teaching;
#[path = "tui_e2e/terminal.rs"]
mod terminal;
use common::tmux::Tmux;
use std::path::Path;

/// The processes panel's row of process `p<n>`: the text right of its id
/// (the panel is the rightmost one on its lines).
fn process_row(screen: &str, n: u32) -> Option<String> {
    let tag = format!(" p{n} ");
    screen
        .lines()
        .filter_map(|l| l.split_once(&tag).map(|(_, rest)| rest))
        .find(|rest| rest.contains("running") || rest.contains("exit") || rest.contains("starting"))
        .map(str::to_string)
}

/// Starts sandscope (with `args`) from the shell, after leaving a marker on
/// the shell's screen that must be back once it quits.
fn launch(args: &str) -> Tmux {
    launch_until(args, "Sandboxes (")
}

/// Like `launch`, until `ready` is on the screen (a layout without lists).
fn launch_until(args: &str, ready: &str) -> Tmux {
    launch_line_until(
        &format!("{} {args}", env!("CARGO_BIN_EXE_sandscope")),
        ready,
    )
}

/// The same with the whole command line given (variables before it, say).
fn launch_line(line: &str) -> Tmux {
    launch_line_until(line, "Sandboxes (")
}

fn launch_line_until(line: &str, ready: &str) -> Tmux {
    assert!(Path::new(env!("CARGO_BIN_EXE_sandscope")).exists());
    let t = Tmux::start(160, 48);
    t.wait_text("e2e$");
    t.type_text("echo before-$((40+2))");
    t.keys(&["Enter"]);
    t.wait_text("before-42");
    t.type_text(line);
    t.keys(&["Enter"]);
    t.wait_text(ready);
    assert!(t.alternate_screen_on());
    t
}

/// Creates a sandbox with the dialog's defaults (and `command` as its main
/// command, if given) and waits until it runs.
fn new_sandbox(t: &Tmux, command: Option<&str>) {
    t.type_text("n");
    t.wait_text("New sandbox");
    if let Some(cmd) = command {
        // image, name, then the main command.
        t.keys(&["Down", "Down"]);
        t.type_text(cmd);
    }
    t.keys(&["Enter"]);
    t.wait_for("a running sandbox", |s| {
        s.contains(" running ") && !s.contains("New sandbox")
    });
}

/// Quits with sandboxes still running: it asks, then the shell is back.
fn quit_confirmed(t: &Tmux, running: usize) {
    t.type_text("q");
    t.wait_text(&format!("still runs {running} sandbox"));
    t.type_text("y");
    let s = t.wait_for("the shell again", |s| {
        s.contains("before-42") && !s.contains("Sandboxes (")
    });
    assert!(s.contains("e2e$"), "prompt is back:\n{s}");
    t.wait_for("alternate screen left", |_| !t.alternate_screen_on());
}

#[test]
fn create_exec_stdin_eof_failure_and_quit() {
    let t = launch("");

    // New sandbox with the defaults.
    t.type_text("n");
    t.wait_text("New sandbox");
    t.keys(&["Enter"]);
    t.wait_for("a running sandbox", |s| {
        s.lines().any(|l| l.contains("Sandboxes ("))
            && s.contains(" running ")
            && !s.contains("New sandbox")
    });

    // exec cat, with stdin open by default.
    t.type_text("x");
    t.wait_text("Run in");
    t.type_text("cat");
    t.keys(&["Enter"]);
    t.wait_for("p1 running", |s| {
        process_row(s, 1).is_some_and(|r| r.contains("cat") && r.contains("running"))
    });

    // Type a line into stdin, send it, then EOF.
    t.type_text("i");
    t.wait_text("EOF");
    t.type_text("hello-from-tmux");
    t.keys(&["Enter"]);
    // cat echoed the 16 bytes back: they are counted in the OUT column.
    t.wait_for("the echoed line", |s| {
        process_row(s, 1).is_some_and(|r| r.contains("16B"))
    });
    // A bracketed paste sends every complete line at once: 16 + 22 bytes.
    t.tmux(&["set-buffer", "pasted one\npasted two\n"]);
    t.tmux(&["paste-buffer", "-p", "-t", "main"]);
    t.wait_for("the pasted lines", |s| {
        process_row(s, 1).is_some_and(|r| r.contains("38B"))
    });
    t.keys(&["C-d"]);
    let s = t.wait_for("p1 exit 0", |s| {
        process_row(s, 1).is_some_and(|r| r.contains("exit 0"))
    });
    assert!(
        s.contains("hello-from-tmux"),
        "the line is in the pane:\n{s}"
    );
    assert!(
        s.contains("pasted two"),
        "pasted lines are in the pane:\n{s}"
    );
    // What was sent is echoed in the pane before cat's copy of it, and the
    // EOF leaves a mark.
    assert!(
        s.matches("hello-from-tmux").count() >= 2,
        "the sent line is echoed:\n{s}"
    );
    assert!(s.contains("^D"), "EOF is marked in the pane:\n{s}");

    // A failing command shows its exit code.
    t.keys(&["Escape"]);
    t.type_text("x");
    t.wait_text("Run in");
    t.type_text("sh -c 'exit 3'");
    t.keys(&["Enter"]);
    t.wait_for("p2 exit 3", |s| {
        process_row(s, 2).is_some_and(|r| r.contains("exit 3"))
    });

    // Quit: the embedded server still runs the sandbox, so it asks first.
    quit_confirmed(&t, 1);
}

#[test]
fn script_runs_parallel_jobs_and_waits_for_two() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demos/parallel-jobs.toml");
    let t = launch(&format!("--script '{}'", demo.display()));
    // Three sandboxes, three jobs, a wait for 2 of 3: the fast job first,
    // the failing one second, the slow one still pending.
    let s = t.wait_text("done: 2 of 3 finished");
    let wait_view: Vec<&str> = s.lines().skip_while(|l| !l.contains("wait #1")).collect();
    let first = wait_view
        .iter()
        .find(|l| l.contains(" 1. "))
        .expect("first finisher");
    let second = wait_view
        .iter()
        .find(|l| l.contains(" 2. "))
        .expect("second finisher");
    assert!(first.contains("p1") && first.contains("exit 0"), "{first}");
    assert!(
        second.contains("p2") && second.contains("exit 3"),
        "{second}"
    );
    assert!(
        wait_view
            .iter()
            .any(|l| l.contains("p3") && l.contains("pending")),
        "{s}"
    );
    assert!(
        s.contains("medium failed"),
        "stderr of the failing job is shown:\n{s}"
    );
    quit_confirmed(&t, 3);
}

/// Commands in a sandbox started from the TUI cannot reach the terminal the
/// TUI (and its embedded server) runs in: no keystrokes injected with
/// TIOCSTI, no text written over its screen, and an interactive shell is
/// not stopped by the terminal's job control.
#[test]
fn a_sandbox_cannot_reach_the_tuis_terminal() {
    let t = launch("");
    new_sandbox(&t, None);

    // TIOCSTI would type `?` into the TUI, which opens its help.
    t.type_text("x");
    t.wait_text("Run in");
    t.type_text(
        "python3 -c \"import fcntl,termios; fcntl.ioctl(open('/dev/tty'), termios.TIOCSTI, b'?')\"",
    );
    t.keys(&["Enter"]);
    let s = t.wait_for("p1 to end", |s| {
        process_row(s, 1).is_some_and(|r| r.contains("exit"))
    });
    assert!(
        process_row(&s, 1).is_some_and(|r| r.contains("exit 1")),
        "opening /dev/tty must fail:\n{s}"
    );
    assert!(s.contains("No such device or address"), "{s}");
    assert!(!s.contains(" Help "), "a keystroke reached the TUI:\n{s}");

    // Writing to /dev/tty would draw over the TUI's screen. The text is put
    // together by printf, so the command line shown in the TUI lacks it.
    t.keys(&["Escape"]);
    t.type_text("x");
    t.wait_text("Run in");
    t.type_text("sh -c 'printf \"%s-%s\\n\" SANDBOX ESCAPED > /dev/tty'");
    t.keys(&["Enter"]);
    let s = t.wait_for("p2 to end", |s| {
        process_row(s, 2).is_some_and(|r| r.contains("exit"))
    });
    assert!(
        !s.contains("SANDBOX-ESCAPED"),
        "the sandbox wrote on the screen:\n{s}"
    );
    assert!(
        process_row(&s, 2).is_some_and(|r| r.contains("exit 2")),
        "writing /dev/tty must fail:\n{s}"
    );

    // An interactive shell runs to its end instead of being stopped.
    t.keys(&["Escape"]);
    t.type_text("x");
    t.wait_text("Run in");
    t.type_text("bash -i -c 'echo interactive-$((6*7))'");
    t.keys(&["Enter"]);
    let s = t.wait_for("p3 exit 0", |s| {
        process_row(s, 3).is_some_and(|r| r.contains("exit 0"))
    });
    assert!(s.contains("interactive-42"), "{s}");

    quit_confirmed(&t, 1);
}

/// stdout and stderr show in the order they were written, on screen and
/// in the saved transcript, which goes into the save directory (here the
/// state directory's `transcripts`) with its full path in the status line.
#[test]
fn interleaved_output_is_saved_in_order_into_the_save_dir() {
    let t = launch("");
    new_sandbox(&t, None);
    t.type_text("x");
    t.wait_text("Run in");
    t.type_text(
        "sh -c 'sleep 0.05; for i in 1 2 3; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done'",
    );
    t.keys(&["Enter"]);
    let s = t.wait_for("p1 exit 0", |s| {
        process_row(s, 1).is_some_and(|r| r.contains("exit 0"))
    });
    let shown: Vec<&str> = s
        .lines()
        .filter_map(|l| {
            let cell = l.trim_start_matches('│').split_whitespace().next()?;
            (cell.starts_with("out") || cell.starts_with("err")).then_some(cell)
        })
        .collect();
    assert_eq!(
        shown,
        ["out1", "err1", "out2", "err2", "out3", "err3"],
        "{s}"
    );

    t.type_text("S");
    t.wait_text("Save");
    t.keys(&["Enter"]);
    let dir = t.home().join("state/sandscope/transcripts");
    let file = dir.join("sandscope-p1.log");
    let s = t.wait_text("saved ");
    assert!(
        s.contains(&file.display().to_string()),
        "the full path is shown:\n{s}"
    );
    let text = std::fs::read_to_string(&file).expect("the transcript");
    assert_eq!(
        text,
        "out1\n[stderr] err1\nout2\n[stderr] err2\nout3\n[stderr] err3\n"
    );
    quit_confirmed(&t, 1);
}
