//! Everything the screen shows, and nothing that talks to the network.
pub mod demo;
pub mod detail;
pub mod filter;
pub mod forms;
pub mod forwards;
pub mod history;
pub mod pane;
pub mod procs;
pub mod sandboxes;
pub mod term;
pub mod waits;

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use tui_textarea::TextArea;

use super::msg::{Focus, PaneRef, ProcKey};
use detail::Detail;
use filter::ListFilter;
use forms::Popup;
use pane::Pane;
use procs::Proc;
use sandboxes::Sandboxes;
use waits::WaitGroup;

/// Panes the presenter layout tiles at most (a classroom of sandboxes).
pub const PRESENTER_TILES: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Nothing has come back from the server yet.
    Connecting,
    Connected,
    /// The last request failed to reach the server.
    Broken(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// The message shown in the status line until the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: Level,
    pub text: String,
}

/// Settings update and render need (the rest stays with the app).
#[derive(Debug, Clone)]
pub struct View {
    pub scrollback_lines: usize,
    pub max_tiles: usize,
    pub wrap: bool,
    /// Show what is sent to stdin in the pane (processes without a tty).
    pub echo_stdin: bool,
    /// What a shell pane runs (empty: bash where there is one, else sh).
    pub shell: Vec<String>,
    /// Where files downloaded from sandboxes go.
    pub downloads: std::path::PathBuf,
    /// Where transcripts are saved unless given an absolute path.
    pub save_dir: PathBuf,
}

#[derive(Debug)]
pub struct State {
    pub endpoint: String,
    /// "embedded (bubblewrap)" or "remote".
    pub server_kind: String,
    pub connection: Connection,
    pub sandboxes: Sandboxes,
    pub procs: Vec<Proc>,
    pub selected_proc: Option<ProcKey>,
    /// List the processes of every sandbox instead of the selected one.
    pub all_procs: bool,
    pub proc_filter: ListFilter,
    pub waits: Vec<WaitGroup>,
    /// The detail screen of a sandbox, when open.
    pub detail: Option<Detail>,
    pub forwards: Vec<forwards::Forward>,
    /// The last snapshot taken here: the new-sandbox dialog offers it.
    pub last_snapshot: Option<String>,
    pub focus: Focus,
    pub zoom: bool,
    pub stdin: TextArea<'static>,
    pub popup: Option<Popup>,
    pub notice: Option<Notice>,
    pub view: View,
    pub now: Instant,
    pub wall: SystemTime,
    pub quitting: bool,
    /// The demo script being walked through, if one was given.
    pub demo: Option<demo::Demo>,
    /// What is typed goes to every marked process.
    pub broadcast: bool,
    /// The presenter layout: panes on the whole screen.
    pub presenter: bool,
    /// The asciicast file the screen is being written to.
    pub recording: Option<PathBuf>,
    next_key: ProcKey,
    next_wait: u64,
    next_generation: u64,
}

impl State {
    pub fn new(endpoint: String, server_kind: String, view: View, show_terminated: bool) -> State {
        let mut sandboxes = Sandboxes::default();
        sandboxes.show_terminated = show_terminated;
        State {
            endpoint,
            server_kind,
            connection: Connection::Connecting,
            sandboxes,
            procs: Vec::new(),
            selected_proc: None,
            all_procs: false,
            proc_filter: ListFilter::default(),
            waits: Vec::new(),
            detail: None,
            forwards: Vec::new(),
            last_snapshot: None,
            focus: Focus::Sandboxes,
            zoom: false,
            stdin: TextArea::default(),
            popup: None,
            notice: None,
            view,
            now: Instant::now(),
            wall: SystemTime::now(),
            quitting: false,
            demo: None,
            broadcast: false,
            presenter: false,
            recording: None,
            next_key: 1,
            next_wait: 1,
            next_generation: 1,
        }
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            level: Level::Info,
            text: text.into(),
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        let text = text.into();
        tracing::warn!(%text, "shown to the user");
        self.notice = Some(Notice {
            level: Level::Error,
            text,
        });
    }

    pub fn alloc_key(&mut self) -> ProcKey {
        let k = self.next_key;
        self.next_key += 1;
        k
    }

    pub fn alloc_wait(&mut self) -> u64 {
        let k = self.next_wait;
        self.next_wait += 1;
        k
    }

    /// The filter of the list that has the focus, if it has one.
    pub fn focused_filter(&self) -> Option<&ListFilter> {
        match self.focus {
            Focus::Sandboxes => Some(&self.sandboxes.filter),
            Focus::Processes => Some(&self.proc_filter),
            _ => None,
        }
    }

    pub fn focused_filter_mut(&mut self) -> Option<&mut ListFilter> {
        match self.focus {
            Focus::Sandboxes => Some(&mut self.sandboxes.filter),
            Focus::Processes => Some(&mut self.proc_filter),
            _ => None,
        }
    }

    /// Keys go to the focused list's filter box.
    pub fn typing_filter(&self) -> bool {
        self.focused_filter().is_some_and(|f| f.editing)
    }

    /// A number for a new stream, so events of an older one can be told
    /// apart and dropped.
    pub fn alloc_generation(&mut self) -> u64 {
        let g = self.next_generation;
        self.next_generation += 1;
        g
    }

    /// A pane of lines by what it belongs to.
    pub fn pane(&self, r: PaneRef) -> Option<&Pane> {
        match r {
            PaneRef::Proc(k) => self.proc(k).map(|p| &p.pane),
            PaneRef::Logs => self.detail.as_ref().map(|d| &d.logs.pane),
            PaneRef::File => match self.detail.as_ref()?.files.open.as_ref()?.content {
                detail::Fetched::Ready(detail::FileContent::Text(ref p)) => Some(p),
                _ => None,
            },
        }
    }

    pub fn pane_mut(&mut self, r: PaneRef) -> Option<&mut Pane> {
        match r {
            PaneRef::Proc(k) => self.proc_mut(k).map(|p| &mut p.pane),
            PaneRef::Logs => self.detail.as_mut().map(|d| &mut d.logs.pane),
            PaneRef::File => match self.detail.as_mut()?.files.open.as_mut()?.content {
                detail::Fetched::Ready(detail::FileContent::Text(ref mut p)) => Some(p),
                _ => None,
            },
        }
    }

    /// The pane search, wrap and save act on: the log when the detail
    /// screen has the keys, else the selected process's.
    pub fn focused_pane(&self) -> Option<PaneRef> {
        if self.focus == Focus::Detail {
            let d = self.detail.as_ref()?;
            return match d.tab {
                detail::Tab::Logs => Some(PaneRef::Logs),
                detail::Tab::Files => self.pane(PaneRef::File).map(|_| PaneRef::File),
                _ => None,
            };
        }
        self.selected().map(|p| PaneRef::Proc(p.key))
    }

    pub fn new_pane(&self) -> Pane {
        Pane::new(self.view.scrollback_lines, self.view.wrap)
    }

    pub fn proc(&self, key: ProcKey) -> Option<&Proc> {
        self.procs.iter().find(|p| p.key == key)
    }

    pub fn proc_mut(&mut self, key: ProcKey) -> Option<&mut Proc> {
        self.procs.iter_mut().find(|p| p.key == key)
    }

    /// Processes listed in the processes panel, newest last.
    pub fn listed_procs(&self) -> Vec<&Proc> {
        let sb = self.sandboxes.selected().map(|s| s.id.as_str());
        self.procs
            .iter()
            .filter(|p| self.all_procs || self.presenter || Some(p.sandbox_id.as_str()) == sb)
            .filter(|p| {
                !self.proc_filter.is_active() || {
                    let (tag, cmd, st) =
                        (format!("p{}", p.key), p.display_command(), p.state_label());
                    self.proc_filter.keeps([
                        tag.as_str(),
                        cmd.as_str(),
                        st.as_str(),
                        p.sandbox_id.as_str(),
                    ])
                }
            })
            .collect()
    }

    pub fn selected(&self) -> Option<&Proc> {
        let key = self.selected_proc?;
        self.listed_procs().into_iter().find(|p| p.key == key)
    }

    pub fn selected_mut(&mut self) -> Option<&mut Proc> {
        let key = self.selected()?.key;
        self.proc_mut(key)
    }

    /// The processes marked for a wait group.
    pub fn marked(&self) -> Vec<ProcKey> {
        self.procs
            .iter()
            .filter(|p| p.marked)
            .map(|p| p.key)
            .collect()
    }

    /// Takes the mark off these processes.
    pub fn unmark(&mut self, keys: &[ProcKey]) {
        for p in self.procs.iter_mut().filter(|p| keys.contains(&p.key)) {
            p.marked = false;
        }
    }

    /// Keeps the process selection inside the listed processes.
    pub fn fix_proc_selection(&mut self) {
        if self.selected().is_none() {
            self.selected_proc = self.listed_procs().last().map(|p| p.key);
        }
    }

    /// Panes on screen: the selected one when zoomed, otherwise the newest
    /// listed processes (live ones first), at most `max_tiles`, always
    /// including the selected one.
    pub fn tiled_panes(&self) -> Vec<ProcKey> {
        let Some(sel) = self.selected().map(|p| p.key) else {
            return Vec::new();
        };
        if self.zoom {
            return vec![sel];
        }
        let listed = self.listed_procs();
        // On a projector the lists are gone: the room goes to the panes.
        let max = if self.presenter {
            PRESENTER_TILES
        } else {
            self.view.max_tiles.max(1)
        };
        let mut chosen: Vec<ProcKey> = vec![sel];
        let live = listed.iter().rev().filter(|p| p.is_live() || p.marked);
        let rest = listed.iter().rev().filter(|p| !(p.is_live() || p.marked));
        for p in live.chain(rest) {
            if chosen.len() >= max {
                break;
            }
            if !chosen.contains(&p.key) {
                chosen.push(p.key);
            }
        }
        // Stable on screen: in start order.
        chosen.sort_unstable();
        chosen
    }

    /// Process count per sandbox for the sandboxes panel.
    pub fn proc_count(&self, sandbox_id: &str) -> (usize, usize) {
        let of = self.procs.iter().filter(|p| p.sandbox_id == sandbox_id);
        let live = of.clone().filter(|p| p.is_live()).count();
        (live, of.count())
    }

    /// Whether anything on screen changes with time alone.
    pub fn has_clocks(&self) -> bool {
        self.procs.iter().any(Proc::is_live) || self.waits.iter().any(|w| !w.is_done())
    }
}
