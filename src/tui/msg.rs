//! The one message type of the loop and the named actions keys map to.
//! Terminal input, timers and network events all arrive as `Msg`; update
//! answers with `Effect`s that the network side carries out.
use std::path::PathBuf;

use crossterm::event::{KeyEvent, MouseEvent};

use crate::client::{ExecOptions, ProcessStatus, Sandbox, SandboxRequest};

use super::state::pane::PaneInbox;

/// Identifies a process (and its pane) inside this TUI. The server's exec
/// ids are not exposed by the client, and a local number is shorter anyway.
pub type ProcKey = u64;

// Messages are moved once through the channel; boxing the large network
// events would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Paste(String),
    Resize,
    /// Once a second, so durations and ages move.
    Tick,
    /// SIGTERM or SIGHUP: leave at once, restoring the terminal and stopping
    /// the embedded server on the way out.
    Terminate,
    Net(NetEvent),
}

/// What the network side reports. Errors are already user-facing text.
#[derive(Debug)]
pub enum NetEvent {
    SandboxList(Result<Vec<Sandbox>, String>),
    SandboxUpdated(Sandbox),
    /// A sandbox this TUI asked for: it gets selected.
    SandboxCreated(Sandbox),
    SandboxFailed {
        what: String,
        error: String,
    },
    ExecStarted {
        key: ProcKey,
        stdin: bool,
    },
    ExecFailed {
        key: ProcKey,
        error: String,
    },
    /// New output sits in the pane's inbox; the message itself carries none.
    PaneChanged(ProcKey),
    ProcessEnded {
        key: ProcKey,
        status: ProcessStatus,
    },
    StdinClosed {
        key: ProcKey,
    },
    StdinFailed {
        key: ProcKey,
        error: String,
    },
    Saved {
        path: PathBuf,
        result: Result<usize, String>,
    },
    /// Answer to `Effect::CheckQuit`: active sandboxes of the embedded server.
    QuitCheck {
        active: usize,
    },
    Script(ScriptEvent),
}

/// Steps of a `--script` file, fed into update like user actions.
#[derive(Debug)]
pub enum ScriptEvent {
    Exec {
        sandbox_id: String,
        argv: Vec<String>,
        opts: ExecOptions,
        input: Vec<String>,
        close_stdin: bool,
        mark: bool,
    },
    Wait {
        n: usize,
    },
    Failed(String),
    Done,
}

/// Requests from update to the network side.
#[derive(Debug)]
pub enum Effect {
    RefreshSandboxes {
        include_terminated: bool,
    },
    CreateSandbox(SandboxRequest),
    StopSandbox(String),
    Exec {
        key: ProcKey,
        sandbox_id: String,
        argv: Vec<String>,
        opts: ExecOptions,
        inbox: PaneInbox,
    },
    StdinWrite {
        key: ProcKey,
        data: String,
    },
    StdinEof {
        key: ProcKey,
    },
    Kill(ProcKey),
    Save {
        path: PathBuf,
        text: String,
    },
    CheckQuit,
    Quit,
}

/// Where keys go when no popup is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Focus {
    Sandboxes,
    Processes,
    Output,
    Stdin,
}

impl Focus {
    pub fn name(self) -> &'static str {
        match self {
            Focus::Sandboxes => "sandboxes",
            Focus::Processes => "processes",
            Focus::Output => "output",
            Focus::Stdin => "stdin",
        }
    }
}

/// Named actions. Keys map to these through the keymap; update only ever
/// sees actions, never raw keys (except text typed into inputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    FocusNext,
    FocusPrev,
    NewSandbox,
    StopSandbox,
    ToggleTerminated,
    Exec,
    FocusStdin,
    Kill,
    Mark,
    WaitMarked,
    ClearWait,
    Zoom,
    Search,
    SearchNext,
    SearchPrev,
    Wrap,
    Save,
    ToggleAllProcesses,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    SendLine,
    SendEof,
    LeaveStdin,
    ClearMarks,
    /// Stdin box: recall an earlier / a later line sent.
    HistoryPrev,
    HistoryNext,
    // Popups.
    Submit,
    Cancel,
    Confirm,
    NextField,
    PrevField,
    Toggle,
}
