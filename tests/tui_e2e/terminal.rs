//! Terminal panes, driven as a person would: a shell opened with `o`, its
//! size against the pane's drawn size through resizes and zoom, Ctrl-C, Tab
//! completion, a full-screen editor, and the one key that leaves.
use super::{launch, new_sandbox, quit_confirmed, Tmux};

/// Rows and columns inside the terminal pane whose title holds `title`, as
/// drawn on the screen (the box between its corners).
fn pane_inner(screen: &str, title: &str) -> Option<(usize, usize)> {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    // The title sits right after the top-left corner (the process list
    // has the same text elsewhere).
    let heads = [format!("┏{title}"), format!("┌{title}")];
    let top = lines.iter().position(|l| {
        let text: String = l.iter().collect();
        heads.iter().any(|h| text.contains(h.as_str()))
    })?;
    let row = &lines[top];
    let left = {
        let text: String = row.iter().collect();
        let byte = heads.iter().find_map(|h| text.find(h.as_str()))?;
        text[..byte].chars().count()
    };
    let title_at = left + 1;
    let right = (title_at..row.len()).find(|&i| matches!(row[i], '┐' | '┓'))?;
    let bottom = (top + 1..lines.len())
        .find(|&r| lines[r].get(left).is_some_and(|c| matches!(c, '└' | '┗')))?;
    Some((bottom - top - 1, right - left - 1))
}

/// The `rows cols` printed after `marker=` (digits right after it, which the
/// echoed command line does not have).
fn printed_size(screen: &str, marker: &str) -> Option<(usize, usize)> {
    let mut found = None;
    for (i, _) in screen.match_indices(marker) {
        let rest = &screen[i + marker.len()..];
        let mut words = rest.split_whitespace();
        let rows = words.next().and_then(|w| w.parse().ok());
        let cols = words
            .next()
            .and_then(|w| w.trim_end_matches('┃').parse().ok());
        if let (Some(r), Some(c)) = (rows, cols) {
            found = Some((r, c));
        }
    }
    found
}

/// Runs `stty size` in the shell and checks it against the drawn pane.
fn size_matches_the_pane(t: &Tmux, marker: &str) {
    t.type_text(&format!("echo {marker}=$(stty size)"));
    t.keys(&["Enter"]);
    let s = t.wait_for(&format!("{marker}= printed"), |s| {
        printed_size(s, &format!("{marker}=")).is_some()
    });
    let printed = printed_size(&s, &format!("{marker}=")).expect("a size");
    let drawn = pane_inner(&s, " p1 ").expect("the terminal pane on screen");
    assert_eq!(printed, drawn, "stty size vs the pane as drawn:\n{s}");
}

#[test]
fn a_shell_pane_is_a_real_terminal() {
    let t = launch("");
    new_sandbox(&t, None);

    t.type_text("o");
    t.wait_text("typing into the terminal");
    t.type_text("echo ready-$((6*7)) $TERM");
    t.keys(&["Enter"]);
    t.wait_text("ready-42 xterm-256color");

    // The program sees the pane's size, and follows the window's.
    size_matches_the_pane(&t, "first");
    t.tmux(&["resize-window", "-t", "main", "-x", "120", "-y", "40"]);
    size_matches_the_pane(&t, "resized");

    // Ctrl-C reaches the program (sleep would outlast the test's deadline).
    t.type_text("sleep 100");
    t.keys(&["Enter"]);
    t.keys(&["C-c"]);
    t.type_text("echo after-$((1+1))");
    t.keys(&["Enter"]);
    t.wait_text("after-2");

    // Tab completes in the shell instead of moving the focus.
    t.type_text("ls /etc/hostn");
    t.keys(&["Tab"]);
    t.keys(&["Enter"]);
    t.wait_for("the completed name listed", |s| {
        s.lines()
            .any(|l| l.trim_matches(|c: char| c == '┃' || c.is_whitespace()) == "/etc/hostname")
    });

    // A full-screen editor draws its screen, takes Esc, and gives the
    // shell's screen back when it quits.
    t.type_text("vi /tmp/from-vi.txt");
    t.keys(&["Enter"]);
    t.wait_text("from-vi.txt");
    t.wait_for("vi's empty-line marks", |s| s.matches("┃~").count() >= 3);
    t.type_text("iwritten-in-vi");
    t.keys(&["Escape"]);
    t.type_text(":wq");
    t.keys(&["Enter"]);
    t.wait_for("the shell's screen again", |s| !s.contains("┃~"));
    t.type_text("cat /tmp/from-vi.txt");
    t.keys(&["Enter"]);
    t.wait_for("the file vi wrote", |s| {
        s.lines().any(|l| l.contains("┃written-in-vi"))
    });

    // Ctrl-] leaves; then the panels' keys work again, and zooming gives
    // the program the zoomed size.
    t.keys(&["C-]"]);
    t.wait_text("Enter or i types into it");
    t.type_text("z");
    t.keys(&["Enter"]);
    t.wait_text("typing into the terminal");
    size_matches_the_pane(&t, "zoomed");
    t.keys(&["C-]"]);
    t.wait_text("Enter or i types into it");
    t.type_text("z");
    t.wait_text("Sandboxes (");
    quit_confirmed(&t, 1);
}
