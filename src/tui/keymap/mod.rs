//! Focus-scoped key bindings. The help popup and the hint line are generated
//! from this table, so they cannot drift from what the keys really do.
use anyhow::{anyhow, bail};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::msg::{Action, Focus};

/// Where a binding applies. Focus scopes are consulted before `Global`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Global,
    In(Focus),
}

impl Scope {
    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "Everywhere",
            Scope::In(Focus::Sandboxes) => "Sandboxes panel",
            Scope::In(Focus::Processes) => "Processes panel",
            Scope::In(Focus::Output) => "Output pane",
            Scope::In(Focus::Stdin) => "Stdin box",
        }
    }
}

/// A key with its modifiers, normalised so that `G` and `shift-g` agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyCombo {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeyCombo {
    pub fn from_event(ev: &KeyEvent) -> KeyCombo {
        let mut mods =
            ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        // Shift is already part of the character (and of BackTab).
        if matches!(ev.code, KeyCode::Char(_) | KeyCode::BackTab) {
            mods.remove(KeyModifiers::SHIFT);
        }
        KeyCombo {
            code: ev.code,
            mods,
        }
    }

    /// Parses `q`, `?`, `G`, `ctrl-d`, `alt-x`, `shift-tab`, `space`,
    /// `enter`, `esc`, `tab`, `up`, `pgdn`, `home`, `f3`, ...
    pub fn parse(spec: &str) -> anyhow::Result<KeyCombo> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = spec.trim();
        if rest.is_empty() {
            bail!("empty key");
        }
        loop {
            let lower = rest.to_ascii_lowercase();
            let (m, len) = if lower.starts_with("ctrl-") {
                (KeyModifiers::CONTROL, 5)
            } else if lower.starts_with("alt-") {
                (KeyModifiers::ALT, 4)
            } else if lower.starts_with("shift-") {
                (KeyModifiers::SHIFT, 6)
            } else {
                break;
            };
            mods |= m;
            rest = &rest[len..];
            if rest.is_empty() {
                bail!("`{spec}`: modifier without a key");
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                if mods.contains(KeyModifiers::SHIFT) {
                    mods.remove(KeyModifiers::SHIFT);
                    KeyCode::Char(c.to_ascii_uppercase())
                } else if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            _ => match rest.to_ascii_lowercase().as_str() {
                "space" => KeyCode::Char(' '),
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" if mods.contains(KeyModifiers::SHIFT) => {
                    mods.remove(KeyModifiers::SHIFT);
                    KeyCode::BackTab
                }
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pgup" | "pageup" => KeyCode::PageUp,
                "pgdn" | "pgdown" | "pagedown" => KeyCode::PageDown,
                f if f.starts_with('f') => match f[1..].parse::<u8>() {
                    Ok(n) if (1..=12).contains(&n) => KeyCode::F(n),
                    _ => bail!("unknown key `{spec}`"),
                },
                _ => bail!("unknown key `{spec}`"),
            },
        };
        Ok(KeyCombo { code, mods })
    }

    /// Short human form used in help and hints.
    pub fn label(&self) -> String {
        let mut s = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            s.push_str("Ctrl-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            s.push_str("Alt-");
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            s.push_str("Shift-");
        }
        match self.code {
            KeyCode::Char(' ') => s.push_str("Space"),
            KeyCode::Char(c) if self.mods.contains(KeyModifiers::CONTROL) => {
                s.push(c.to_ascii_uppercase())
            }
            KeyCode::Char(c) => s.push(c),
            KeyCode::Enter => s.push_str("Enter"),
            KeyCode::Esc => s.push_str("Esc"),
            KeyCode::Tab => s.push_str("Tab"),
            KeyCode::BackTab => s.push_str("Shift-Tab"),
            KeyCode::Backspace => s.push_str("Backspace"),
            KeyCode::Delete => s.push_str("Del"),
            KeyCode::Insert => s.push_str("Ins"),
            KeyCode::Up => s.push('↑'),
            KeyCode::Down => s.push('↓'),
            KeyCode::Left => s.push('←'),
            KeyCode::Right => s.push('→'),
            KeyCode::Home => s.push_str("Home"),
            KeyCode::End => s.push_str("End"),
            KeyCode::PageUp => s.push_str("PgUp"),
            KeyCode::PageDown => s.push_str("PgDn"),
            KeyCode::F(n) => s.push_str(&format!("F{n}")),
            other => s.push_str(&format!("{other:?}")),
        }
        s
    }
}

/// One row of the binding table.
#[derive(Debug, Clone)]
pub struct Binding {
    pub action: Action,
    /// The name used in `[keys]`.
    pub name: &'static str,
    pub scope: Scope,
    pub keys: Vec<KeyCombo>,
    pub help: &'static str,
    /// Short label for the hint line; `None` keeps it out of the hints.
    pub hint: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

const SB: Scope = Scope::In(Focus::Sandboxes);
const PR: Scope = Scope::In(Focus::Processes);
const OUT: Scope = Scope::In(Focus::Output);
const IN: Scope = Scope::In(Focus::Stdin);
const G: Scope = Scope::Global;

/// (action, config name, scope, default keys, help text, hint label)
type Row = (
    Action,
    &'static str,
    Scope,
    &'static [&'static str],
    &'static str,
    Option<&'static str>,
);

const DEFAULTS: &[Row] = &[
    (
        Action::Quit,
        "quit",
        G,
        &["q", "ctrl-c"],
        "quit (asks first if the embedded server still runs sandboxes)",
        Some("quit"),
    ),
    (
        Action::Help,
        "help",
        G,
        &["?", "f1"],
        "show this help",
        Some("help"),
    ),
    (
        Action::FocusNext,
        "focus_next",
        G,
        &["tab"],
        "focus the next panel",
        None,
    ),
    (
        Action::FocusPrev,
        "focus_prev",
        G,
        &["shift-tab"],
        "focus the previous panel",
        None,
    ),
    (
        Action::NewSandbox,
        "new_sandbox",
        G,
        &["n"],
        "create a sandbox",
        Some("new"),
    ),
    (
        Action::StopSandbox,
        "stop_sandbox",
        G,
        &["s"],
        "stop the selected sandbox (asks first)",
        Some("stop"),
    ),
    (
        Action::Exec,
        "exec",
        G,
        &["x"],
        "run a command in the selected sandbox",
        Some("exec"),
    ),
    (
        Action::FocusStdin,
        "focus_stdin",
        G,
        &["i"],
        "type into the selected process's stdin",
        Some("stdin"),
    ),
    (
        Action::Kill,
        "kill",
        G,
        &["k"],
        "kill the selected process",
        Some("kill"),
    ),
    (
        Action::Mark,
        "mark",
        G,
        &["space"],
        "mark/unmark the selected process for a wait",
        Some("mark"),
    ),
    (
        Action::WaitMarked,
        "wait",
        G,
        &["w"],
        "wait for N of the marked processes",
        Some("wait"),
    ),
    (
        Action::Zoom,
        "zoom",
        G,
        &["z"],
        "zoom the selected pane / tile all panes",
        Some("zoom"),
    ),
    (
        Action::Search,
        "search",
        G,
        &["/"],
        "search in the selected pane",
        Some("search"),
    ),
    (
        Action::Wrap,
        "wrap",
        G,
        &["W"],
        "toggle line wrap in the selected pane",
        None,
    ),
    (
        Action::Save,
        "save",
        G,
        &["S"],
        "save the selected pane's transcript to a file",
        None,
    ),
    (
        Action::ToggleTerminated,
        "toggle_terminated",
        SB,
        &["t"],
        "show/hide terminated sandboxes",
        Some("terminated"),
    ),
    (
        Action::Up,
        "up",
        G,
        &["up"],
        "previous row / scroll up",
        None,
    ),
    (
        Action::Down,
        "down",
        G,
        &["down"],
        "next row / scroll down",
        None,
    ),
    (Action::PageUp, "page_up", G, &["pgup"], "page up", None),
    (
        Action::PageDown,
        "page_down",
        G,
        &["pgdn"],
        "page down",
        None,
    ),
    (
        Action::Top,
        "top",
        G,
        &["home", "g"],
        "first row / top of the pane",
        None,
    ),
    (
        Action::Bottom,
        "bottom",
        G,
        &["end", "G"],
        "last row / bottom of the pane (resumes follow)",
        None,
    ),
    (
        Action::Open,
        "open",
        SB,
        &["enter"],
        "show this sandbox's processes",
        None,
    ),
    (
        Action::Open,
        "open",
        PR,
        &["enter"],
        "focus this process's output",
        None,
    ),
    (
        Action::ToggleAllProcesses,
        "toggle_all_processes",
        PR,
        &["a"],
        "processes of the selected sandbox / of all sandboxes",
        Some("all"),
    ),
    (
        Action::ClearWait,
        "clear_wait",
        PR,
        &["c"],
        "close the wait view",
        None,
    ),
    (
        Action::SearchNext,
        "search_next",
        OUT,
        &["n"],
        "next search match",
        Some("next"),
    ),
    (
        Action::SearchPrev,
        "search_prev",
        OUT,
        &["N"],
        "previous search match",
        Some("prev"),
    ),
    (
        Action::SendLine,
        "send_line",
        IN,
        &["enter"],
        "send the line (with a newline)",
        Some("send"),
    ),
    (
        Action::SendEof,
        "send_eof",
        IN,
        &["ctrl-d"],
        "close stdin (EOF)",
        Some("EOF"),
    ),
    (
        Action::LeaveStdin,
        "leave_stdin",
        IN,
        &["esc"],
        "leave the stdin box",
        Some("leave"),
    ),
];

impl Default for Keymap {
    fn default() -> Self {
        let bindings = DEFAULTS
            .iter()
            .map(|(action, name, scope, keys, help, hint)| Binding {
                action: *action,
                name,
                scope: *scope,
                // The defaults are constants checked by a unit test.
                keys: keys
                    .iter()
                    .filter_map(|k| KeyCombo::parse(k).ok())
                    .collect(),
                help,
                hint: *hint,
            })
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    /// Replaces the keys of every binding named `name` (`[keys] name = ...`).
    pub fn rebind(&mut self, name: &str, specs: &[String]) -> anyhow::Result<()> {
        let keys = specs
            .iter()
            .map(|s| KeyCombo::parse(s))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut found = false;
        for b in self.bindings.iter_mut().filter(|b| b.name == name) {
            b.keys = keys.clone();
            found = true;
        }
        if found {
            Ok(())
        } else {
            Err(anyhow!("unknown action `{name}`"))
        }
    }

    /// The action for a key in the given focus: the focus's own bindings
    /// first, then the global ones. In the stdin box only its own bindings
    /// count (plus focus cycling), so typing `q` types a `q`.
    pub fn lookup(&self, focus: Focus, ev: &KeyEvent) -> Option<Action> {
        let combo = KeyCombo::from_event(ev);
        let find = |scope: Scope| {
            self.bindings
                .iter()
                .find(|b| b.scope == scope && b.keys.contains(&combo))
                .map(|b| b.action)
        };
        if let Some(a) = find(Scope::In(focus)) {
            return Some(a);
        }
        let global = find(Scope::Global)?;
        if focus == Focus::Stdin
            && !matches!(global, Action::FocusNext | Action::FocusPrev)
            && !(combo.mods.contains(KeyModifiers::CONTROL) && global == Action::Quit)
        {
            return None;
        }
        Some(global)
    }

    /// The first key bound to an action in a scope, for hints and messages.
    pub fn key_for(&self, action: Action) -> String {
        self.bindings
            .iter()
            .find(|b| b.action == action)
            .and_then(|b| b.keys.first())
            .map(KeyCombo::label)
            .unwrap_or_else(|| "(unbound)".into())
    }

    /// Hint pairs (keys, label) for the status bar in this focus.
    pub fn hints(&self, focus: Focus) -> Vec<(String, &'static str)> {
        let scoped: Vec<&Binding> = self
            .bindings
            .iter()
            .filter(|b| b.scope == Scope::In(focus))
            .collect();
        // A global key the panel binds to something else does not do the
        // global thing here, so it is not hinted.
        let shadowed = |k: &KeyCombo| scoped.iter().any(|b| b.keys.contains(k));
        let global = self.bindings.iter().filter(|b| {
            b.scope == Scope::Global
                && focus != Focus::Stdin
                && !b.keys.first().is_some_and(shadowed)
        });
        scoped
            .iter()
            .copied()
            .chain(global)
            .filter_map(|b| Some((b.keys.first()?.label(), b.hint?)))
            .collect()
    }

    /// Help sections: (scope title, [(keys, description)]).
    pub fn help(&self) -> Vec<(&'static str, Vec<(String, &'static str)>)> {
        let scopes = [
            Scope::Global,
            Scope::In(Focus::Sandboxes),
            Scope::In(Focus::Processes),
            Scope::In(Focus::Output),
            Scope::In(Focus::Stdin),
        ];
        scopes
            .iter()
            .map(|scope| {
                let rows = self
                    .bindings
                    .iter()
                    .filter(|b| b.scope == *scope)
                    .map(|b| {
                        let keys: Vec<String> = b.keys.iter().map(KeyCombo::label).collect();
                        let keys = if keys.is_empty() {
                            "(unbound)".to_string()
                        } else {
                            keys.join(" ")
                        };
                        (keys, b.help)
                    })
                    .collect();
                (scope.title(), rows)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn every_default_parses() {
        for (_, name, _, keys, _, _) in DEFAULTS {
            for k in keys.iter() {
                assert!(KeyCombo::parse(k).is_ok(), "{name}: {k}");
            }
        }
    }

    #[test]
    fn parses_specs() {
        let c = KeyCombo::parse("ctrl-d").unwrap();
        assert_eq!(
            c,
            KeyCombo {
                code: KeyCode::Char('d'),
                mods: KeyModifiers::CONTROL
            }
        );
        assert_eq!(
            KeyCombo::parse("shift-g").unwrap(),
            KeyCombo::parse("G").unwrap()
        );
        assert_eq!(KeyCombo::parse("shift-tab").unwrap().code, KeyCode::BackTab);
        assert_eq!(KeyCombo::parse("f3").unwrap().code, KeyCode::F(3));
        assert!(KeyCombo::parse("ctrl-").is_err());
        assert!(KeyCombo::parse("hyper").is_err());
        assert!(KeyCombo::parse("f13").is_err());
    }

    #[test]
    fn focus_scope_wins_over_global() {
        let km = Keymap::default();
        let n = key(KeyCode::Char('n'), KeyModifiers::NONE);
        assert_eq!(km.lookup(Focus::Sandboxes, &n), Some(Action::NewSandbox));
        assert_eq!(km.lookup(Focus::Output, &n), Some(Action::SearchNext));
        let shift_n = key(KeyCode::Char('N'), KeyModifiers::SHIFT);
        assert_eq!(km.lookup(Focus::Output, &shift_n), Some(Action::SearchPrev));
    }

    #[test]
    fn stdin_box_keeps_letters() {
        let km = Keymap::default();
        let q = key(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(km.lookup(Focus::Stdin, &q), None);
        let ctrl_d = key(KeyCode::Char('d'), KeyModifiers::CONTROL);
        assert_eq!(km.lookup(Focus::Stdin, &ctrl_d), Some(Action::SendEof));
        let tab = key(KeyCode::Tab, KeyModifiers::NONE);
        assert_eq!(km.lookup(Focus::Stdin, &tab), Some(Action::FocusNext));
        let ctrl_c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(km.lookup(Focus::Stdin, &ctrl_c), Some(Action::Quit));
    }

    #[test]
    fn hints_skip_shadowed_global_keys() {
        let km = Keymap::default();
        let out = km.hints(Focus::Output);
        assert!(out.contains(&("n".to_string(), "next")));
        assert!(!out.iter().any(|(_, l)| *l == "new"));
        let sb = km.hints(Focus::Sandboxes);
        assert!(sb.contains(&("n".to_string(), "new")));
        let stdin = km.hints(Focus::Stdin);
        assert_eq!(stdin.len(), 3);
    }

    #[test]
    fn rebinding_changes_lookup_and_help() {
        let mut km = Keymap::default();
        km.rebind("quit", &["ctrl-q".into()]).unwrap();
        let q = key(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(km.lookup(Focus::Sandboxes, &q), None);
        let cq = key(KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert_eq!(km.lookup(Focus::Sandboxes, &cq), Some(Action::Quit));
        let help = km.help();
        assert!(help[0].1.iter().any(|(k, _)| k == "Ctrl-Q"));
        assert!(km.rebind("nope", &["x".into()]).is_err());
    }
}
