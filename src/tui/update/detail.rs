//! The sandbox detail screen: opening it, its log view's options, and the
//! log stream's events.
use crate::tui::msg::{Effect, Focus};
use crate::tui::state::detail::{Detail, LogView, Tab};
use crate::tui::state::State;

/// Opens the log of the selected sandbox (any state: a finished sandbox's
/// log is still worth reading).
pub fn open_logs(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(sb) = state.sandboxes.selected() else {
        state.error("select a sandbox first");
        return;
    };
    let sandbox_id = sb.id.clone();
    let generation = state.alloc_generation();
    let pane = state.new_pane();
    state.detail = Some(Detail {
        sandbox_id,
        tab: Tab::Logs,
        logs: LogView::new(pane, generation),
    });
    state.focus = Focus::Detail;
    restart(state, fx);
}

pub fn close(state: &mut State, fx: &mut Vec<Effect>) {
    if state.detail.take().is_some() {
        fx.push(Effect::StopLogs);
    }
    state.focus = Focus::Sandboxes;
}

/// (Re)reads the log with the view's options into a fresh pane.
fn restart(state: &mut State, fx: &mut Vec<Effect>) {
    let generation = state.alloc_generation();
    let pane = state.new_pane();
    let Some(d) = state.detail.as_mut() else {
        return;
    };
    d.logs.pane = pane;
    d.logs.generation = generation;
    d.logs.ended = None;
    fx.push(Effect::StreamLogs {
        generation,
        sandbox_id: d.sandbox_id.clone(),
        opts: d.logs.opts.clone(),
        inbox: d.logs.pane.inbox.clone(),
    });
}

pub fn toggle_follow(state: &mut State, fx: &mut Vec<Effect>) {
    if let Some(d) = state.detail.as_mut() {
        d.logs.opts.follow = !d.logs.opts.follow;
        restart(state, fx);
    }
}

pub fn toggle_timestamps(state: &mut State, fx: &mut Vec<Effect>) {
    if let Some(d) = state.detail.as_mut() {
        d.logs.opts.timestamps = !d.logs.opts.timestamps;
        restart(state, fx);
    }
}

pub fn cycle_tail(state: &mut State, fx: &mut Vec<Effect>) {
    if let Some(d) = state.detail.as_mut() {
        d.logs.opts.tail_lines = d.logs.next_tail();
        restart(state, fx);
    }
}

/// The log view of the current stream, if `generation` is it.
fn current(state: &mut State, generation: u64) -> Option<&mut LogView> {
    state
        .detail
        .as_mut()
        .map(|d| &mut d.logs)
        .filter(|l| l.generation == generation)
}

pub fn on_changed(state: &mut State, generation: u64) -> bool {
    current(state, generation).is_some_and(|l| l.pane.drain_inbox())
}

pub fn on_ended(state: &mut State, generation: u64, error: Option<String>) -> bool {
    let Some(l) = current(state, generation) else {
        return false;
    };
    l.pane.drain_inbox();
    l.ended = Some(match error {
        Some(e) => format!("the log stream failed: {e}"),
        None if l.opts.follow => "the main process has ended".to_string(),
        None => "end of the log (f follows it)".to_string(),
    });
    true
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use crossterm::event::KeyCode;

    use crate::client::StreamKind;
    use crate::tui::msg::{Effect, Focus, NetEvent};
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
}
