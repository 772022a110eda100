//! Scoped key bindings: the panels, the stdin box and every popup are
//! scopes. The help popup and all hints are generated from this table, so
//! they cannot drift from what the keys really do.
mod combo;
mod defaults;
mod scopes;
mod teaching;

use anyhow::{anyhow, bail};
use crossterm::event::{KeyEvent, KeyModifiers};

use super::msg::{Action, Focus};
pub use combo::KeyCombo;
pub use scopes::{PopupScope, Scope};

/// One row of the binding table.
#[derive(Debug, Clone)]
pub struct Binding {
    pub action: Action,
    /// The name used in `[keys]`.
    pub name: &'static str,
    pub scope: Scope,
    pub keys: Vec<KeyCombo>,
    pub help: &'static str,
    /// Short label for hints; `None` keeps it out of the hints.
    pub hint: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

impl Default for Keymap {
    fn default() -> Self {
        let bindings = defaults::DEFAULTS
            .iter()
            .chain(teaching::TEACHING)
            .map(|r| Binding {
                action: r.action,
                name: r.name,
                scope: r.scope,
                // The defaults are constants checked by a unit test.
                keys: r
                    .keys
                    .iter()
                    .filter_map(|k| KeyCombo::parse(k).ok())
                    .collect(),
                help: r.help,
                hint: r.hint,
            })
            .collect();
        Keymap { bindings }
    }
}

/// Global actions that also work in the detail screen.
const DETAIL_GLOBALS: &[Action] = &[
    Action::Quit,
    Action::Help,
    Action::Search,
    Action::Wrap,
    Action::Up,
    Action::Down,
    Action::PageUp,
    Action::PageDown,
    Action::Top,
    Action::Bottom,
];

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

    /// Refuses a key bound to two actions in one scope: only one of them
    /// could ever run. (A panel's key may shadow a global one; that is how
    /// `n` means "next match" in the output pane.)
    pub fn check_conflicts(&self) -> anyhow::Result<()> {
        for (i, a) in self.bindings.iter().enumerate() {
            for b in &self.bindings[i + 1..] {
                if a.scope != b.scope || a.name == b.name {
                    continue;
                }
                if let Some(k) = a.keys.iter().find(|k| b.keys.contains(k)) {
                    bail!(
                        "[keys] `{}` and `{}` are both bound to {} in {} (scope `{}`); \
                         give one of them another key",
                        a.name,
                        b.name,
                        k.label(),
                        a.scope.title().to_lowercase(),
                        scope_name(a.scope),
                    );
                }
            }
        }
        Ok(())
    }

    fn find(&self, scope: Scope, combo: &KeyCombo) -> Option<Action> {
        self.bindings
            .iter()
            .find(|b| b.scope == scope && b.keys.contains(combo))
            .map(|b| b.action)
    }

    /// The action for a key in the given focus: the focus's own bindings
    /// first, then the global ones. In the stdin box only its own bindings
    /// count (plus focus cycling and Ctrl-quit), so typing `q` types a `q`.
    pub fn lookup(&self, focus: Focus, ev: &KeyEvent) -> Option<Action> {
        let combo = KeyCombo::from_event(ev);
        let scope = Scope::In(focus);
        if let Some(a) = self.find(scope, &combo) {
            return Some(a);
        }
        if focus == Focus::Terminal {
            return None;
        }
        let global = self.find(Scope::Global, &combo)?;
        // The detail screen is about one sandbox's own views: the keys that
        // act on the panels behind it do not apply there.
        if focus == Focus::Detail && !DETAIL_GLOBALS.contains(&global) {
            return None;
        }
        if scope.takes_text()
            && !matches!(global, Action::FocusNext | Action::FocusPrev)
            && !(combo.mods.contains(KeyModifiers::CONTROL) && global == Action::Quit)
        {
            return None;
        }
        Some(global)
    }

    /// The action for a key in an open popup; nothing else applies there.
    pub fn lookup_popup(&self, popup: PopupScope, ev: &KeyEvent) -> Option<Action> {
        self.find(Scope::Popup(popup), &KeyCombo::from_event(ev))
    }

    /// The first key bound to an action (in the first scope that binds
    /// it), for hints and messages.
    pub fn key_for(&self, action: Action) -> String {
        self.bindings
            .iter()
            .find(|b| b.action == action && !b.keys.is_empty())
            .and_then(|b| b.keys.first())
            .map(KeyCombo::label)
            .unwrap_or_else(|| "(unbound)".into())
    }

    /// Hint pairs (keys, label) for the status bar in this focus, most
    /// important first.
    pub fn hints(&self, focus: Focus) -> Vec<(String, &'static str)> {
        let scope = Scope::In(focus);
        let scoped: Vec<&Binding> = self.bindings.iter().filter(|b| b.scope == scope).collect();
        // A global key the panel binds to something else does not do the
        // global thing here, so it is not hinted.
        let shadowed = |k: &KeyCombo| scoped.iter().any(|b| b.keys.contains(k));
        let global = self.bindings.iter().filter(|b| {
            b.scope == Scope::Global
                && !scope.takes_text()
                && focus != Focus::Terminal
                && (focus != Focus::Detail || DETAIL_GLOBALS.contains(&b.action))
                && !b.keys.first().is_some_and(shadowed)
        });
        scoped
            .iter()
            .copied()
            .chain(global)
            .filter_map(|b| Some((b.keys.first()?.label(), b.hint?)))
            .collect()
    }

    /// Hints for a popup: every key of each hinted binding, with its label.
    pub fn popup_hints(&self, popup: PopupScope) -> Vec<(Vec<String>, &'static str)> {
        self.bindings
            .iter()
            .filter(|b| b.scope == Scope::Popup(popup) && !b.keys.is_empty())
            .filter_map(|b| Some((b.keys.iter().map(KeyCombo::label).collect(), b.hint?)))
            .collect()
    }

    /// Help sections: (scope title, [(keys, description)]).
    pub fn help(&self) -> Vec<(&'static str, Vec<(String, &'static str)>)> {
        scopes::ALL
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

/// A scope as error messages name it.
fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Global => "global",
        Scope::In(f) => f.name(),
        Scope::Popup(PopupScope::Form) => "dialog",
        Scope::Popup(PopupScope::Confirm) => "confirm",
        Scope::Popup(PopupScope::Help) => "help",
    }
}

#[cfg(test)]
mod tests;
