//! Teaching with sandscope, as a presenter would: a demo script stepped
//! with one key (a pause holds until it, an expect until its pattern is
//! printed), a line broadcast to three processes, and a recording of the
//! screen that parses as asciicast v2 and plays in asciinema.
use std::path::Path;

use super::{launch, launch_until, new_sandbox, process_row, quit_confirmed, Tmux};

/// Quits after a demo restart: the stopped sandboxes may still be counted
/// while they terminate, so the exact number is not asserted.
fn quit_with_sandboxes(t: &Tmux) {
    t.type_text("q");
    t.wait_text("still runs");
    t.type_text("y");
    t.wait_for("the shell again", |s| {
        s.contains("before-42") && !s.contains("Sandboxes (")
    });
}

/// The processes panel's row of a marked process `p<n>` (`*p<n>`).
fn marked_row(screen: &str, n: u32) -> Option<String> {
    let tag = format!("*p{n} ");
    screen
        .lines()
        .find_map(|l| l.split_once(&tag).map(|(_, rest)| rest.to_string()))
}

const STEPPED: &str = r#"
[[sandbox]]
name = "box"

[[step]]
pause = "PAUSE-ONE before anything runs"

[[step]]
exec = { sandbox = "box", name = "sh", shell = "read x; echo got-$x; sleep 2; echo READY-$((6*7)); sleep 60", stdin = true }
caption = "CAPTION-TWO while it runs"

[[step]]
type = "hello\n"
pace = "20ms"

[[step]]
expect = "READY-42"
timeout = "60s"

[[step]]
pause = "PAUSE-THREE after the expect"
"#;

#[test]
fn a_demo_holds_at_pauses_and_expects_and_steps_on_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("stepped.toml");
    std::fs::write(&script, STEPPED).unwrap();
    let t = launch(&format!("--script '{}'", script.display()));

    // The pause holds: its caption shows and nothing runs, however long.
    let s = t.wait_text("PAUSE-ONE before anything runs");
    assert!(s.contains("step 1/5"), "{s}");
    t.wait_for("the sandbox", |s| s.contains(" running "));
    std::thread::sleep(std::time::Duration::from_secs(2));
    let s = t.screen();
    assert!(
        process_row(&s, 1).is_none(),
        "a step ran during the pause:\n{s}"
    );
    assert!(s.contains("PAUSE-ONE"), "{s}");

    // The key: the exec starts, the line is typed into it, and the demo
    // waits for READY-42, which comes two seconds after got-hello.
    t.type_text(">");
    let s = t.wait_text("got-hello");
    assert!(s.contains("CAPTION-TWO while it runs"), "{s}");
    if !s.contains("READY-42") {
        assert!(
            !s.contains("PAUSE-THREE"),
            "the expect did not wait for its pattern:\n{s}"
        );
        assert!(
            s.contains("expect /READY-42/"),
            "the banner says what it waits for:\n{s}"
        );
    }
    let s = t.wait_text("PAUSE-THREE after the expect");
    assert!(s.contains("READY-42"), "{s}");
    assert!(s.contains("step 5/5"), "{s}");

    // Past the last step, then again from the start on a fresh sandbox.
    t.type_text(">");
    t.wait_text("the demo is over");
    t.keys(&["C-r"]);
    // The old run's process is gone with its sandbox.
    t.wait_for("the first step again", |s| {
        s.contains("step 1/5") && s.contains("PAUSE-ONE") && process_row(s, 1).is_none()
    });
    t.type_text(">");
    t.wait_text("got-hello");
    quit_with_sandboxes(&t);
}

#[test]
fn a_line_broadcast_reaches_each_marked_cat() {
    let t = launch("");
    new_sandbox(&t, None);
    for n in 1..=3 {
        t.type_text("x");
        t.wait_text("Run in");
        t.type_text("cat");
        t.keys(&["Enter"]);
        t.wait_for(&format!("p{n} running"), |s| {
            process_row(s, n).is_some_and(|r| r.contains("running"))
        });
        // The new process is selected: mark it.
        t.keys(&["Space"]);
    }
    t.type_text("b");
    t.wait_text("BROADCAST p1 p2 p3");
    t.type_text("i");
    t.wait_text("broadcast → p1 p2 p3 (3)");
    t.type_text("hello-all");
    t.keys(&["Enter"]);
    // Each cat echoed the 10 bytes back, counted in its OUT column.
    let s = t.wait_for("every cat's copy", |s| {
        (1..=3).all(|n| marked_row(s, n).is_some_and(|r| r.contains("10B")))
    });
    assert!(s.contains("line sent to 3 (p1 p2 p3)"), "{s}");
    // Every pane shows the line twice: the echo of what was sent, then cat's.
    let panes: Vec<&str> = s.lines().filter(|l| l.contains("hello-all")).collect();
    assert!(
        panes
            .iter()
            .map(|l| l.matches("hello-all").count())
            .sum::<usize>()
            >= 6,
        "{s}"
    );

    // EOF to all of them: each cat ends.
    t.keys(&["C-d"]);
    t.wait_for("every cat ended", |s| {
        (1..=3).all(|n| marked_row(s, n).is_some_and(|r| r.contains("exit 0")))
    });
    // Now none takes input: each is named, nothing stops with an error.
    t.type_text("late");
    t.keys(&["Enter"]);
    let s = t.wait_text("line reached no process");
    assert!(s.contains("skipped p1"), "{s}");
    t.keys(&["Escape"]);
    t.type_text("b");
    t.wait_text("broadcast off");
    quit_confirmed(&t, 1);
}

/// One asciicast v2 file, checked for real: the header's size, events in
/// time order of the two kinds, and the output's text.
struct Cast {
    width: u64,
    height: u64,
    output: String,
    resizes: Vec<String>,
}

fn read_cast(path: &Path) -> Cast {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().expect("a header")).unwrap();
    assert_eq!(header["version"], 2, "{header}");
    let mut last = 0.0;
    let mut output = String::new();
    let mut resizes = Vec::new();
    let mut events = 0;
    for line in lines {
        let ev: serde_json::Value = serde_json::from_str(line).expect("an event is JSON");
        let at = ev[0].as_f64().expect("a time");
        assert!(at >= last, "events out of order: {at} after {last}");
        last = at;
        let data = ev[2].as_str().expect("event data").to_string();
        match ev[1].as_str() {
            Some("o") => output.push_str(&data),
            Some("r") => resizes.push(data),
            other => panic!("unknown event kind {other:?}"),
        }
        events += 1;
    }
    assert!(events > 0, "no events in {}", path.display());
    Cast {
        width: header["width"].as_u64().expect("width"),
        height: header["height"].as_u64().expect("height"),
        output,
        resizes,
    }
}

#[test]
fn a_recording_holds_the_screen_and_only_the_screen() {
    let dir = tempfile::tempdir().unwrap();
    let cast = dir.path().join("session.cast");
    let t = launch(&format!("--record '{}'", cast.display()));
    t.wait_text("REC");
    new_sandbox(&t, None);
    t.type_text("x");
    t.wait_text("Run in");
    t.type_text("sh -c 'echo recorded-$((40+2))'");
    t.keys(&["Enter"]);
    t.wait_for("p1 exit 0", |s| {
        process_row(s, 1).is_some_and(|r| r.contains("exit 0"))
    });
    t.tmux(&["resize-window", "-t", "main", "-x", "120", "-y", "40"]);
    t.wait_for("the smaller screen", |s| {
        s.lines().next().is_some_and(|l| l.chars().count() <= 120)
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    t.type_text("R");
    let s = t.wait_text("recorded ");
    assert!(s.contains("frames"), "{s}");

    let c = read_cast(&cast);
    assert_eq!((c.width, c.height), (160, 48));
    assert!(
        c.output.contains("recorded-42"),
        "the pane's text is in the cast"
    );
    assert!(
        c.output.contains("Sandboxes ("),
        "the screen is in the cast"
    );
    assert!(
        !c.output.contains("before-"),
        "the terminal's other contents are not in the cast"
    );
    assert_eq!(c.resizes, vec!["120x40".to_string()]);

    // R starts a recording into the save directory, at the new size.
    t.type_text("R");
    let s = t.wait_text("recording the screen to ");
    let dir = t.home().join("state/sandscope/transcripts");
    assert!(s.contains(&dir.display().to_string()), "{s}");
    t.type_text("R");
    t.wait_text("recorded ");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cast"))
        .expect("a cast in the save directory");
    let second = read_cast(&file);
    assert_eq!((second.width, second.height), (120, 40));
    assert!(
        second.output.contains("recorded-42"),
        "drawn whole at the start"
    );

    // A pane's output saved as a cast, with carriage returns for a terminal.
    let pane_cast = dir.join("p1.cast");
    t.type_text("S");
    t.wait_text("Save");
    t.keys(&["C-a", "C-k"]);
    t.type_text(&pane_cast.display().to_string());
    t.keys(&["Enter"]);
    t.wait_text("saved ");
    let p1 = read_cast(&pane_cast);
    assert_eq!(p1.output, "recorded-42\r\n");
    quit_confirmed(&t, 1);

    plays_in_asciinema(&cast, "recorded-42");
}

/// The reference player, asciinema, replays `cast` to its end in a
/// terminal, and `text` is on its screen then.
fn plays_in_asciinema(cast: &Path, text: &str) {
    let python = super::pinned_venv::asciinema(&super::pinned_venv::target_dir())
        .unwrap_or_else(|e| panic!("asciinema for checking recordings: {e}"));
    let t = Tmux::start(160, 48);
    t.wait_text("e2e$");
    t.type_text(&format!(
        "'{}' -m asciinema play --speed 20 '{}'; echo \"played\"-rc=$?",
        python.display(),
        cast.display()
    ));
    t.keys(&["Enter"]);
    // The typed line reads `"played"-rc`; only the echo prints this.
    let s = t.wait_text("played-rc=");
    assert!(s.contains("played-rc=0"), "asciinema play failed:\n{s}");
    assert!(
        s.contains(text),
        "{text} is not on the replayed screen:\n{s}"
    );
}

/// The classroom demo as the README runs it: eight sandboxes in the
/// presenter layout, one broadcast line of setup reaching all of them, and
/// the wait for the first three to finish the exercise.
#[test]
fn the_classroom_demo_broadcasts_to_eight_and_waits_for_three() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demos/classroom.toml");
    let t = launch_until(&format!("--script '{}'", demo.display()), "demo · step");
    let s = t.wait_text("Eight students, eight sandboxes");
    assert!(
        !s.contains("Sandboxes ("),
        "the presenter layout has no lists:\n{s}"
    );
    t.wait_for("eight shells", |s| {
        s.matches(" $ sh · running").count() == 8
    });

    t.type_text(">");
    let s = t.wait_text("Everyone has exercise.py");
    assert_eq!(
        s.matches("setup done: exercise.py").count(),
        8,
        "every student got the setup:\n{s}"
    );

    t.type_text(">");
    let s = t.wait_text("The first three are in");
    assert!(s.contains("(waited for 3)"), "{s}");
    assert!(s.matches("sum of 1..100 = 5050").count() >= 3, "{s}");
    quit_confirmed(&t, 8);
}

/// `sandscope play` replays a cast on the alternate screen and gives the
/// shell its screen back; a broken cast is refused with its line.
#[test]
fn play_replays_a_cast_and_refuses_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.cast");
    std::fs::write(
        &good,
        "{\"version\": 2, \"width\": 80, \"height\": 24}\n\
         [0.1, \"o\", \"\\u001b[2J\\u001b[Hplayed-\"]\n\
         [0.3, \"r\", \"100x30\"]\n\
         [0.5, \"o\", \"back-42\\r\\n\"]\n\
         [1.5, \"o\", \"still-there\\r\\n\"]\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.cast");
    std::fs::write(
        &bad,
        "{\"version\": 2, \"width\": 80, \"height\": 24}\n[0.1, \"o\"]\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_sandscope");
    let t = Tmux::start(100, 30);
    t.wait_text("e2e$");
    t.type_text("echo before-$((40+2))");
    t.keys(&["Enter"]);
    t.wait_text("before-42");
    t.type_text(&format!("{bin} play '{}'; echo rc=$?", good.display()));
    t.keys(&["Enter"]);
    let s = t.wait_text("played-back-42");
    assert!(
        !s.contains("before-42"),
        "played on the alternate screen:\n{s}"
    );
    assert!(t.alternate_screen_on());
    t.wait_text("still-there");
    let s = t.wait_text("rc=0");
    assert!(
        s.contains("before-42") && !s.contains("played-back-42"),
        "{s}"
    );
    t.wait_for("alternate screen left", |_| !t.alternate_screen_on());

    t.type_text(&format!("{bin} play '{}'; echo rc=$?", bad.display()));
    t.keys(&["Enter"]);
    let s = t.wait_text("rc=1");
    assert!(s.contains("line 2: not an event"), "{s}");
}
