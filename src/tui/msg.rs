//! The one message type of the loop and the named actions keys map to.
//! Terminal input, timers and network events all arrive as `Msg`; update
//! answers with `Effect`s that the network side carries out.
use std::path::PathBuf;

use crossterm::event::{KeyEvent, MouseEvent};

use crate::client::{
    DirEntry, ExecOptions, LogOptions, ProcessInfo, ProcessStatus, Sandbox, SandboxDetails,
    SandboxRequest, Snapshot,
};

use super::state::pane::PaneInbox;

/// Identifies a process (and its pane) inside this TUI. The server's exec
/// ids are not exposed by the client, and a local number is shorter anyway.
pub type ProcKey = u64;

/// A pane of lines: a process's, the log view's, or an open file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaneRef {
    Proc(ProcKey),
    Logs,
    /// A text file open in the detail screen's files tab.
    File,
}

// Messages are moved once through the channel; boxing the large network
// events would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Paste(String),
    Resize,
    /// A frame was drawn; the panes' sizes in it are in the hits, and
    /// terminal panes follow them.
    Drawn,
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
    /// New log data sits in the log view's inbox.
    LogsChanged {
        generation: u64,
    },
    /// The log stream ended: the main process ended (when following), the
    /// backlog was read (when not), or it failed.
    LogsEnded {
        generation: u64,
        error: Option<String>,
    },
    /// Answers for the detail screen of `generation`.
    Details {
        generation: u64,
        result: Result<Box<SandboxDetails>, String>,
    },
    Processes {
        generation: u64,
        result: Result<Vec<ProcessInfo>, String>,
    },
    /// The answer to listing request `request` (see `Effect::ListDir`).
    Listing {
        request: u64,
        path: String,
        result: Result<Vec<DirEntry>, String>,
    },
    FileRead {
        generation: u64,
        path: String,
        result: Result<Vec<u8>, String>,
    },
    /// A signal, download or upload finished: what to tell the user.
    Done(Result<String, String>),
    ForwardListening {
        id: u64,
        addr: std::net::SocketAddr,
        tool: String,
    },
    ForwardFailed {
        id: u64,
        error: String,
    },
    ForwardCounts {
        id: u64,
        active: usize,
        total: u64,
    },
    /// A snapshot asked for with `Effect::Snapshot`, ready or failed.
    Snapshot(Result<Snapshot, String>),
    /// Answer to `Effect::CheckQuit`: active sandboxes of the embedded server.
    QuitCheck {
        active: usize,
    },
    Script(ScriptEvent),
    /// The screen is being written to this cast file.
    RecordingStarted(PathBuf),
    /// Recording stopped: a summary of what was written, or why it failed.
    RecordingStopped {
        path: PathBuf,
        result: Result<String, String>,
    },
}

/// What the script's side reports: its sandboxes are up, or a timer a
/// step asked for has gone off.
#[derive(Debug)]
pub enum ScriptEvent {
    /// The sandboxes of run `run` (the script's name for each: its id),
    /// and what went wrong with those that did not come up.
    Ready {
        run: u64,
        ids: std::collections::BTreeMap<String, String>,
        errors: Vec<String>,
    },
    Timer {
        run: u64,
        token: u64,
    },
}

/// Requests from update to the network side.
#[derive(Debug)]
pub enum Effect {
    RefreshSandboxes {
        include_terminated: bool,
    },
    CreateSandbox(SandboxRequest),
    StopSandbox(String),
    /// Snapshot the workspace of this sandbox.
    Snapshot(String),
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
    /// Bytes for a process on a terminal: keys and pastes, unmodified.
    TermInput {
        key: ProcKey,
        data: Vec<u8>,
    },
    /// A terminal pane's new size, for the process's terminal.
    TermResize {
        key: ProcKey,
        cols: u16,
        rows: u16,
    },
    Save {
        path: PathBuf,
        text: String,
    },
    /// Read a sandbox's log into the log view's inbox, replacing any stream
    /// that fed it before.
    StreamLogs {
        generation: u64,
        sandbox_id: String,
        opts: LogOptions,
        inbox: PaneInbox,
    },
    StopLogs,
    FetchDetails {
        generation: u64,
        sandbox_id: String,
    },
    FetchProcesses {
        generation: u64,
        sandbox_id: String,
    },
    Signal {
        sandbox_id: String,
        pid: u32,
        signal: &'static str,
    },
    /// `request` numbers the listing, so that only the newest one asked
    /// for is shown (it also tells one detail screen's from another's).
    ListDir {
        request: u64,
        sandbox_id: String,
        path: String,
    },
    ReadFile {
        generation: u64,
        sandbox_id: String,
        path: String,
    },
    /// A file of the sandbox to a file on this machine.
    Download {
        sandbox_id: String,
        path: String,
        to: PathBuf,
    },
    /// A file of this machine into the sandbox; the listing of `dir` is
    /// fetched again after.
    Upload {
        /// The listing request the new listing answers.
        request: u64,
        sandbox_id: String,
        from: PathBuf,
        to: String,
        dir: String,
    },
    StartForward {
        id: u64,
        sandbox_id: String,
        local: u16,
        remote: u16,
    },
    StopForward(u64),
    /// Create the sandboxes of a script's run `run`.
    RunScript {
        run: u64,
        script: std::sync::Arc<super::script::Script>,
    },
    /// Report `ScriptEvent::Timer` after a while.
    ScriptTimer {
        run: u64,
        token: u64,
        after: std::time::Duration,
    },
    /// Start writing the screen to this asciicast file (the app does it).
    StartRecording(PathBuf),
    StopRecording,
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
    /// A terminal pane: every key goes to its process but the one that
    /// leaves.
    Terminal,
    /// The detail screen of a sandbox (its log, ...).
    Detail,
}

impl Focus {
    pub fn name(self) -> &'static str {
        match self {
            Focus::Sandboxes => "sandboxes",
            Focus::Processes => "processes",
            Focus::Output => "output",
            Focus::Stdin => "stdin",
            Focus::Terminal => "terminal",
            Focus::Detail => "detail",
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
    Snapshot,
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
    /// Open a shell in the selected sandbox, in a terminal pane.
    Shell,
    LeaveTerminal,
    /// Narrow the focused list as you type.
    Filter,
    /// The selected sandbox's log, in the detail screen.
    Logs,
    CloseDetail,
    ToggleTimestamps,
    CycleTail,
    ToggleFollow,
    /// The selected sandbox's detail screen, on its info tab.
    Detail,
    NextTab,
    PrevTab,
    Refresh,
    /// Up one directory in the files tab.
    Parent,
    Download,
    Upload,
    AddForward,
    /// SIGKILL rather than SIGTERM to the selected process of the tab.
    KillHard,
    ClearMarks,
    /// Stdin box: recall an earlier / a later line sent.
    HistoryPrev,
    HistoryNext,
    /// Demo scripts: run the next step now / start again on fresh sandboxes.
    NextStep,
    RestartDemo,
    /// Send what is typed to every marked process.
    Broadcast,
    /// Panes on the whole screen, the captions large.
    Presenter,
    /// Start or stop writing the screen to an asciicast file.
    Record,
    // Popups.
    Submit,
    Cancel,
    Confirm,
    NextField,
    PrevField,
    Toggle,
}
