//! Where a binding applies: everywhere, in one focus, or in one kind of
//! popup. A new focus or popup becomes a scope by adding it here (its title
//! and its place in the help) and its rows to the defaults.
use crate::tui::msg::Focus;

/// The popups that take keys; each is a scope of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PopupScope {
    Help,
    Confirm,
    Form,
}

/// Where a binding applies. Focus scopes are consulted before `Global`;
/// a popup's scope is the only one consulted while it is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Global,
    In(Focus),
    Popup(PopupScope),
}

/// Every scope, in the order the help lists them.
pub const ALL: &[Scope] = &[
    Scope::Global,
    Scope::In(Focus::Sandboxes),
    Scope::In(Focus::Processes),
    Scope::In(Focus::Output),
    Scope::In(Focus::Stdin),
    Scope::In(Focus::Terminal),
    Scope::In(Focus::Detail),
    Scope::Popup(PopupScope::Form),
    Scope::Popup(PopupScope::Confirm),
    Scope::Popup(PopupScope::Help),
];

impl Scope {
    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "Everywhere",
            Scope::In(Focus::Sandboxes) => "Sandboxes panel",
            Scope::In(Focus::Processes) => "Processes panel",
            Scope::In(Focus::Output) => "Output pane",
            Scope::In(Focus::Stdin) => "Stdin box",
            Scope::In(Focus::Terminal) => "Terminal pane (every other key goes to the program)",
            Scope::In(Focus::Detail) => "Sandbox detail (info, log, processes, files, ports)",
            Scope::Popup(PopupScope::Form) => "Dialogs",
            Scope::Popup(PopupScope::Confirm) => "Confirmations",
            Scope::Popup(PopupScope::Help) => "This help",
        }
    }

    /// Whether keys not bound here are typed into a text field (so global
    /// keys must not take them).
    pub fn takes_text(self) -> bool {
        matches!(
            self,
            Scope::In(Focus::Stdin) | Scope::Popup(PopupScope::Form)
        )
    }
}
