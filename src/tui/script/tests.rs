use std::path::Path;

use super::*;

#[test]
fn parses_a_full_script() {
    let s = Script::parse(
        r#"
        [[sandbox]]
        name = "a"
        tags = ["demo"]
        max_lifetime = "10m"
        [[exec]]
        sandbox = "a"
        shell = "echo hi"
        mark = true
        [[exec]]
        sandbox = "a"
        command = ["python3", "-i"]
        input = ["print(1)"]
        close_stdin = true
        [wait]
        n = 1
        "#,
    )
    .unwrap();
    let Step::Exec(first) = &s.steps[0].step else {
        panic!("{:?}", s.steps[0])
    };
    let Step::Exec(second) = &s.steps[1].step else {
        panic!("{:?}", s.steps[1])
    };
    assert_eq!(first.argv().unwrap(), vec!["sh", "-c", "echo hi"]);
    assert!(second.options().unwrap().stdin);
    assert!(!first.options().unwrap().stdin);
    assert!(matches!(s.steps[2].step, Step::Wait { n: 1 }));
    assert!(!s.has_steps());
    assert_eq!(
        s.sandbox[0].request().unwrap().display_name.as_deref(),
        Some("a")
    );
}

#[test]
fn parses_steps_with_their_defaults() {
    let s = Script::parse(
        r#"
[[sandbox]]
name = "py"
[[step]]
pause = "Here we go"
[[step]]
exec = { sandbox = "py", name = "repl", command = ["python3", "-i"], tty = true }
caption = "A Python on a terminal"
[[step]]
type = "print(6 * 7)\n"
pace = "10ms"
[[step]]
expect = "^42"
in = "repl"
timeout = "5s"
[[step]]
eof = "repl"
[[step]]
broadcast = "hello"
"#,
    )
    .unwrap();
    assert!(s.has_steps());
    assert_eq!(s.steps.len(), 6);
    assert!(matches!(s.steps[0].step, Step::Pause));
    assert_eq!(s.steps[0].caption.as_deref(), Some("Here we go"));
    assert_eq!(s.steps[0].line, 4);
    let Step::Exec(e) = &s.steps[1].step else {
        panic!()
    };
    assert_eq!(e.options().unwrap().tty, Some((80, 24)));
    assert!(e.options().unwrap().stdin, "a terminal implies stdin");
    assert_eq!(
        s.steps[1].caption.as_deref(),
        Some("A Python on a terminal")
    );
    match &s.steps[2].step {
        Step::Type { text, target, pace } => {
            assert_eq!(text, "print(6 * 7)\n");
            assert_eq!(target, "repl", "the latest exec is the default");
            assert_eq!(*pace, std::time::Duration::from_millis(10));
        }
        other => panic!("{other:?}"),
    }
    match &s.steps[3].step {
        Step::Expect {
            pattern, timeout, ..
        } => {
            assert!(pattern.is_match("42"));
            assert_eq!(*timeout, std::time::Duration::from_secs(5));
        }
        other => panic!("{other:?}"),
    }
}

/// Each bad script is refused with the line it is on and what is wrong.
#[test]
fn bad_steps_are_refused_with_their_line() {
    let head = "[[sandbox]]\nname = \"a\"\n[[step]]\nexec = { sandbox = \"a\", shell = \"cat\", stdin = true }\n";
    let cases: &[(&str, &str)] = &[
        // An unknown key: toml's own message names the line.
        (
            "[[sandbox]]\nname = \"a\"\n[[step]]\npause = \"x\"\nsay = \"hi\"\n",
            "line 5",
        ),
        ("[[step]]\nexec = { sandbox = \"nope\", shell = \"x\" }\n", "line 1: step #1: no [[sandbox]] named \"nope\""),
        (
            "[[sandbox]]\nname = \"a\"\n\n[[step]]\nexpect = \"(unclosed\"\n",
            "line 5: expect: bad pattern",
        ),
        (
            "[[sandbox]]\nname = \"a\"\n[[step]]\nexpect = \"x\"\n",
            "expect needs a process",
        ),
        (
            &format!("{head}[[step]]\ntype = \"ls\\n\"\nin = \"b\"\n"),
            "line 7: type names no process \"b\" (started before it: a",
        ),
        (
            &format!("{head}[[step]]\npause = \"x\"\ntype = \"y\"\n"),
            "line 5: step #2: a step does one thing; this one has pause and type",
        ),
        (
            &format!("{head}[[step]]\ncaption = \"only\"\n"),
            "line 5: step #2: a step needs one of",
        ),
        (
            &format!("{head}[[step]]\npause = \"x\"\ntimeout = \"3s\"\n"),
            "`timeout` does not apply to a pause step",
        ),
        (
            &format!("{head}[[step]]\nexpect = \"x\"\ntimeout = \"soon\"\n"),
            "line 5: step #2: timeout",
        ),
        (&format!("{head}[[step]]\nwait = 1\n"), "wait = 1: n must be between 1 and 0"),
        ("layout = \"projector\"\n", "use \"standard\" or \"presenter\""),
        (
            "[[sandbox]]\nname = \"a\"\n[[step]]\nexec = { sandbox = \"a\", shell = \"x\", tty = true, stdin = false }\n",
            "needs stdin",
        ),
    ];
    for (text, want) in cases {
        let err = match Script::parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains(want),
            "for\n{text}\nwanted {want:?} in {err:?}"
        );
    }
}

#[test]
fn rejects_mistakes() {
    let bad = [
        "[[exec]]\nsandbox = \"nope\"\nshell = \"x\"\n",
        "[[sandbox]]\nname = \"a\"\n[[sandbox]]\nname = \"a\"\n",
        "[[sandbox]]\nname = \"a\"\n[[exec]]\nsandbox = \"a\"\n",
        "[[sandbox]]\nname = \"a\"\n[[exec]]\nsandbox = \"a\"\nshell = \"x\"\ncommand = [\"y\"]\n",
        "[[sandbox]]\nname = \"a\"\n[[exec]]\nsandbox = \"a\"\nshell = \"x\"\n[wait]\nn = 1\n",
        "[[sandbox]]\nname = \"a\"\nimage = 3\n",
        "[[sandbox]]\nname = \"a\"\ncolour = \"red\"\n",
        "[[sandbox]]\nname = \"a\"\n[[exec]]\nsandbox = \"a\"\nshell = \"x\"\nstdin = false\ninput = [\"q\"]\n",
    ];
    for text in bad {
        assert!(Script::parse(text).is_err(), "accepted: {text}");
    }
}

#[test]
fn shipped_demos_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demos");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            Script::load(&path).unwrap();
            n += 1;
        }
    }
    assert!(n >= 2);
}
