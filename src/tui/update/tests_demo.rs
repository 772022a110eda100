//! Demo scripts stepped through update: what each step waits for, and the
//! keys that move on and start again. No terminal, no server.
use std::collections::BTreeMap;
use std::sync::Arc;

use crossterm::event::KeyCode;

use super::tests::Harness;
use crate::client::{ProcessStatus, StreamKind};
use crate::tui::msg::{Effect, NetEvent, ScriptEvent};
use crate::tui::script::Script;
use crate::tui::state::demo::{Demo, DemoPhase};

fn start(h: &mut Harness, text: &str) -> Vec<Effect> {
    let script = Arc::new(Script::parse(text).unwrap());
    h.state.demo = Some(Demo::new(script));
    let ids = BTreeMap::from([("a".to_string(), "sb-1".to_string())]);
    h.net(NetEvent::Script(ScriptEvent::Ready {
        run: 1,
        ids,
        errors: Vec::new(),
    }))
}

fn phase(h: &Harness) -> DemoPhase {
    h.state.demo.as_ref().unwrap().phase.clone()
}

fn exec_key(fx: &[Effect]) -> u64 {
    fx.iter()
        .find_map(|e| match e {
            Effect::Exec { key, .. } => Some(*key),
            _ => None,
        })
        .expect("an exec")
}

fn output(h: &mut Harness, key: u64, text: &str) -> Vec<Effect> {
    let inbox = h.state.proc(key).unwrap().pane.inbox.clone();
    inbox.push(StreamKind::Stdout, bytes::Bytes::from(text.to_string()));
    h.net(NetEvent::PaneChanged(key))
}

fn timer(h: &mut Harness, fx: &[Effect]) -> Vec<Effect> {
    let (run, token) = fx
        .iter()
        .find_map(|e| match e {
            Effect::ScriptTimer { run, token, .. } => Some((*run, *token)),
            _ => None,
        })
        .expect("a timer");
    h.net(NetEvent::Script(ScriptEvent::Timer { run, token }))
}

const SCRIPT: &str = r#"
[[sandbox]]
name = "a"
[[step]]
pause = "First, a word"
[[step]]
exec = { sandbox = "a", name = "cat", command = ["cat"], stdin = true, mark = true }
caption = "cat copies what it reads"
[[step]]
type = "hi\n"
pace = "1ms"
[[step]]
expect = "^hi$"
timeout = "5s"
[[step]]
eof = "cat"
"#;

#[test]
fn a_script_steps_through_pause_type_expect_and_eof() {
    let mut h = Harness::new();
    let fx = start(&mut h, SCRIPT);
    assert!(fx.is_empty(), "a pause holds: {fx:?}");
    assert_eq!(phase(&h), DemoPhase::Paused);
    let demo = h.state.demo.as_ref().unwrap();
    assert_eq!(demo.caption.as_deref(), Some("First, a word"));
    assert_eq!(demo.progress(), "step 1/5");

    // The next-step key: the exec starts and typing begins.
    let fx = h.key(KeyCode::Char('>'));
    let key = exec_key(&fx);
    assert_eq!(
        h.state.demo.as_ref().unwrap().caption.as_deref(),
        Some("cat copies what it reads")
    );
    assert!(matches!(phase(&h), DemoPhase::Typing { .. }));
    assert_eq!(h.state.stdin.lines().join(""), "", "not running yet");
    h.net(NetEvent::ExecStarted { key, stdin: true });
    let fx = timer(&mut h, &fx);
    assert_eq!(h.state.stdin.lines().join(""), "h", "typed one character");
    let fx2 = timer(&mut h, &fx);
    assert_eq!(h.state.stdin.lines().join(""), "hi");
    // The newline sends the line, and the expect starts waiting.
    let fx3 = timer(&mut h, &fx2);
    assert!(
        fx3.iter()
            .any(|e| matches!(e, Effect::StdinWrite { data, .. } if data == "hi\n")),
        "{fx3:?}"
    );
    assert!(matches!(phase(&h), DemoPhase::Expecting { .. }));
    // The echo of what was sent is no match; cat's copy is.
    let fx = output(&mut h, key, "h");
    assert!(fx.is_empty());
    assert!(matches!(phase(&h), DemoPhase::Expecting { .. }));
    let fx = output(&mut h, key, "i\n");
    assert!(
        fx.iter().any(|e| matches!(e, Effect::StdinEof { .. })),
        "the expect is over and the EOF step ran: {fx:?}"
    );
    assert_eq!(phase(&h), DemoPhase::Finished);
}

#[test]
fn an_expect_times_out_saying_what_it_waited_for() {
    let mut h = Harness::new();
    let fx = start(
        &mut h,
        "[[sandbox]]\nname = \"a\"\n[[step]]\nexec = { sandbox = \"a\", shell = \"echo nope\" }\n[[step]]\nexpect = \"yes\"\ntimeout = \"1ms\"\n",
    );
    let key = exec_key(&fx);
    h.net(NetEvent::ExecStarted { key, stdin: false });
    output(&mut h, key, "nope\n");
    std::thread::sleep(std::time::Duration::from_millis(5));
    timer(&mut h, &fx);
    let DemoPhase::Failed(text) = phase(&h) else {
        panic!("{:?}", phase(&h))
    };
    assert!(text.contains("expect /yes/ in \"a\" (line 5)"), "{text}");
    assert!(text.contains("nope"), "the last line is shown: {text}");
}

#[test]
fn an_expect_fails_when_its_process_ends_first() {
    let mut h = Harness::new();
    let fx = start(
        &mut h,
        "[[sandbox]]\nname = \"a\"\n[[step]]\nexec = { sandbox = \"a\", shell = \"true\" }\n[[step]]\nexpect = \"never\"\n",
    );
    let key = exec_key(&fx);
    h.end(key, ProcessStatus::Exited(0));
    let DemoPhase::Failed(text) = phase(&h) else {
        panic!("{:?}", phase(&h))
    };
    assert!(text.contains("ended (exit 0) first"), "{text}");
}

#[test]
fn restart_stops_the_runs_sandboxes_and_creates_new_ones() {
    let mut h = Harness::new();
    let fx = start(&mut h, SCRIPT);
    assert!(fx.is_empty());
    let fx = h.key(KeyCode::Char('>'));
    let key = exec_key(&fx);
    let fx = h.ctrl('r');
    assert!(fx.iter().any(|e| matches!(e, Effect::Kill(k) if *k == key)));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::StopSandbox(id) if id == "sb-1")));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::RunScript { run: 2, .. })));
    assert!(h.state.proc(key).is_none(), "the old run's process is gone");
    assert_eq!(phase(&h), DemoPhase::Starting);
    // A late answer for the first run is not this run's: its sandboxes go.
    let fx = h.net(NetEvent::Script(ScriptEvent::Ready {
        run: 1,
        ids: BTreeMap::from([("a".to_string(), "sb-old".to_string())]),
        errors: Vec::new(),
    }));
    assert!(matches!(&fx[..], [Effect::StopSandbox(id)] if id == "sb-old"));
    assert_eq!(phase(&h), DemoPhase::Starting);
}

#[test]
fn a_wait_step_holds_until_enough_marked_processes_end() {
    let mut h = Harness::new();
    let fx = start(
        &mut h,
        r#"
[[sandbox]]
name = "a"
[[exec]]
sandbox = "a"
shell = "sleep 1"
mark = true
[[exec]]
sandbox = "a"
name = "two"
shell = "sleep 2"
mark = true
[[step]]
wait = 1
[[step]]
pause = "one finished"
"#,
    );
    let keys: Vec<u64> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Exec { key, .. } => Some(*key),
            _ => None,
        })
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(matches!(phase(&h), DemoPhase::Waiting { .. }));
    h.end(keys[1], ProcessStatus::Exited(0));
    assert_eq!(phase(&h), DemoPhase::Paused);
}
