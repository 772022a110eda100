//! The TUI's own ingest and render path without a terminal or a server:
//! panes are created and fed through `update` exactly as the network side
//! does it (chunks into the pane's inbox, then "pane changed"), and frames
//! are drawn by `ui::render` on ratatui's TestBackend at the app's frame
//! cap. Whatever the pane and render code cost, this measures.
#![allow(dead_code)]

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use sandscope::client::{Sandbox, SandboxState, StreamKind};
use sandscope::tui::msg::{Effect, Msg, NetEvent, ProcKey, ScriptEvent};
use sandscope::tui::script::{ExecSpec, Script, Step, StepDef};
use sandscope::tui::settings::Settings;
use sandscope::tui::state::demo::Demo;
use sandscope::tui::state::pane::PaneInbox;
use sandscope::tui::state::{State, View};
use sandscope::tui::ui::{self, Hits};
use sandscope::tui::update::{update, Ctx};

use crate::proc_stat;
use crate::stats::{dist, Dist};

/// What the stream task hands over at a time: the server reads pipes in
/// pieces of this size.
const CHUNK: usize = 64 << 10;

pub struct HeadlessReport {
    pub panes: usize,
    pub bytes: u64,
    pub wall_secs: f64,
    /// CPU time of the thread that ingested and drew.
    pub cpu_secs: f64,
    /// Wall time of each frame: what the user waits for.
    pub frames: Dist,
    /// CPU time of the slowest frame: a wall time far above it means the
    /// thread was preempted, not that drawing was slow.
    pub frame_cpu_max_ms: f64,
    /// Panes drawn on screen (the rest are listed, not tiled).
    pub tiles: usize,
    /// Lines held in every pane's scrollback at the end.
    pub lines_kept: usize,
    pub rss_growth_kib: Option<u64>,
}

/// CPU time of the calling thread, seconds (the scheduler's exact count,
/// not tick samples, so one frame can be timed).
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes into the struct it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn sandbox(id: &str) -> Sandbox {
    Sandbox {
        id: id.to_string(),
        display_name: "flood".to_string(),
        state: SandboxState::Running,
        state_reason: String::new(),
        image: "python:3.11".to_string(),
        tags: Vec::new(),
        created: Some(SystemTime::now()),
        started: Some(SystemTime::now()),
        ended: None,
        exit_code: None,
        runner_id: String::new(),
        max_lifetime: None,
    }
}

/// `line` repeated, long enough that a chunk can start at any offset of
/// the line: chunk `i` begins where chunk `i - 1` ended.
struct Source {
    data: Bytes,
    line_len: usize,
}

impl Source {
    fn new(line: &str) -> Source {
        let reps = (CHUNK + line.len()).div_ceil(line.len()) + 1;
        Source {
            data: Bytes::from(line.repeat(reps)),
            line_len: line.len(),
        }
    }

    /// The next `n` bytes of the stream after `sent` bytes.
    fn chunk(&self, sent: u64, n: usize) -> Bytes {
        let at = (sent % self.line_len as u64) as usize;
        self.data.slice(at..at + n)
    }
}

/// The app's side of the loop: the state, and update applied to messages
/// as the app applies them.
struct Ui {
    state: State,
    settings: Settings,
    hits: Hits,
    fx: Vec<Effect>,
}

impl Ui {
    fn new() -> Ui {
        let settings = Settings::default();
        let view = View {
            scrollback_lines: settings.scrollback_lines,
            max_tiles: settings.max_tiles,
            wrap: settings.wrap,
            echo_stdin: settings.echo_stdin,
            shell: settings.shell.clone(),
            downloads: settings.download_dir(),
            save_dir: settings.save_dir.clone(),
        };
        let state = State::new(
            "http://127.0.0.1:1".into(),
            "remote".into(),
            view,
            settings.show_terminated,
        );
        Ui {
            state,
            settings,
            hits: Hits::default(),
            fx: Vec::new(),
        }
    }

    fn send(&mut self, msg: Msg) -> bool {
        let ctx = Ctx {
            keymap: &self.settings.keymap,
            hits: &self.hits,
        };
        update(&mut self.state, msg, &ctx, &mut self.fx)
    }

    /// Starts `panes` processes the way a script does and reports them
    /// running; returns each one's key and output inbox.
    fn start(
        &mut self,
        panes: usize,
        argv: &[String],
    ) -> Result<Vec<(ProcKey, PaneInbox)>, String> {
        let sb = sandbox("sb-flood");
        self.send(Msg::Net(NetEvent::SandboxList(Ok(vec![sb.clone()]))));
        let exec = ExecSpec {
            sandbox: "flood".into(),
            name: None,
            command: Some(argv.to_vec()),
            shell: None,
            cwd: None,
            timeout: None,
            check: false,
            stdin: Some(false),
            tty: false,
            input: Vec::new(),
            close_stdin: false,
            env: Default::default(),
            mark: false,
        };
        let step = StepDef {
            line: 0,
            caption: None,
            step: Step::Exec(Box::new(exec)),
        };
        let script = Script {
            sandbox: Vec::new(),
            steps: vec![step; panes],
            presenter: false,
        };
        self.state.demo = Some(Demo::new(std::sync::Arc::new(script)));
        let ids = std::collections::BTreeMap::from([("flood".to_string(), sb.id.clone())]);
        self.send(Msg::Net(NetEvent::Script(ScriptEvent::Ready {
            run: 1,
            ids,
            errors: Vec::new(),
        })));
        let mut started = Vec::with_capacity(panes);
        for effect in std::mem::take(&mut self.fx) {
            if let Effect::Exec { key, inbox, .. } = effect {
                started.push((key, inbox));
            }
        }
        if started.len() != panes {
            return Err(format!(
                "headless: {} of {panes} panes were started",
                started.len()
            ));
        }
        for (key, _) in &started {
            self.send(Msg::Net(NetEvent::ExecStarted {
                key: *key,
                stdin: false,
            }));
        }
        Ok(started)
    }
}

/// Draws frames on the TestBackend and times them.
struct Screen {
    term: Terminal<TestBackend>,
    frames: Vec<Duration>,
    frame_cpu_max: f64,
}

impl Screen {
    fn new(width: u16, height: u16) -> Result<Screen, String> {
        Ok(Screen {
            term: Terminal::new(TestBackend::new(width, height))
                .map_err(|e| format!("terminal: {e}"))?,
            frames: Vec::new(),
            frame_cpu_max: 0.0,
        })
    }

    fn draw(&mut self, ui: &mut Ui) -> Result<(), String> {
        let style = ui::Style {
            theme: &ui.settings.theme,
            keymap: &ui.settings.keymap,
        };
        let (t, cpu) = (Instant::now(), thread_cpu_secs());
        let mut hits = Hits::default();
        self.term
            .draw(|f| hits = ui::render(&ui.state, &style, f))
            .map_err(|e| format!("draw: {e}"))?;
        self.frames.push(t.elapsed());
        self.frame_cpu_max = self.frame_cpu_max.max(thread_cpu_secs() - cpu);
        ui.hits = hits;
        Ok(())
    }
}

/// Feeds every pane until each has had `bytes_per_pane`, as the stream
/// tasks do (a chunk into the inbox while it has room; "pane changed" when
/// the inbox was empty), and draws whenever something changed and a frame
/// is due at the app's frame cap.
fn feed(
    ui: &mut Ui,
    screen: &mut Screen,
    inboxes: &[(ProcKey, PaneInbox)],
    source: &Source,
    bytes_per_pane: u64,
) -> Result<(), String> {
    let frame_gap = Duration::from_secs(1) / ui.settings.max_fps.max(1);
    let mut sent = vec![0u64; inboxes.len()];
    let mut last_draw = Instant::now();
    let mut dirty = true;
    loop {
        let mut changed = Vec::new();
        for (i, (key, inbox)) in inboxes.iter().enumerate() {
            let left = bytes_per_pane - sent[i];
            if left == 0 || inbox.is_full() {
                continue;
            }
            let n = left.min(CHUNK as u64) as usize;
            if inbox.push(StreamKind::Stdout, source.chunk(sent[i], n)) {
                changed.push(*key);
            }
            sent[i] += n as u64;
        }
        let done = sent.iter().all(|&n| n == bytes_per_pane);
        if !done && changed.is_empty() {
            return Err("headless: no pane took more output".into());
        }
        for key in changed {
            dirty |= ui.send(Msg::Net(NetEvent::PaneChanged(key)));
        }
        if dirty && (done || last_draw.elapsed() >= frame_gap) {
            screen.draw(ui)?;
            last_draw = Instant::now();
            dirty = false;
        }
        if done {
            return Ok(());
        }
    }
}

/// Every byte reached its pane, each scrollback is full to its bound and
/// ends with what was printed last (`head -c` may cut the line), and the
/// screen shows the text. Returns the lines kept in all panes.
fn check(
    ui: &Ui,
    screen: &Screen,
    inboxes: &[(ProcKey, PaneInbox)],
    bytes_per_pane: u64,
    line: &str,
) -> Result<usize, String> {
    let line_len = line.len() as u64;
    let cut = (bytes_per_pane % line_len) as usize;
    let printed_lines = (bytes_per_pane / line_len) as usize + usize::from(cut > 0);
    let keep = printed_lines.min(ui.settings.scrollback_lines);
    let want = line.trim_end_matches('\n');
    let last_want = if cut > 0 { &line[..cut] } else { want };
    let mut lines_kept = 0;
    for (key, _) in inboxes {
        let p = ui
            .state
            .proc(*key)
            .ok_or_else(|| format!("headless: p{key} vanished"))?;
        if p.pane.bytes_out != bytes_per_pane {
            return Err(format!(
                "headless: p{key} got {} of {bytes_per_pane} bytes",
                p.pane.bytes_out
            ));
        }
        let n = p.pane.visible_len();
        let last = n.checked_sub(1).map(|i| p.pane.lines()[i].text.as_str());
        if n != keep || last != Some(last_want) {
            return Err(format!(
                "headless: p{key} holds {n} lines (expected {keep}), the last {last:?}"
            ));
        }
        lines_kept += n;
    }
    let text = screen.term.backend().to_string();
    if !text.contains(&want[..want.len().min(20)]) {
        return Err(format!(
            "headless: the flood's text is not on the screen:\n{text}"
        ));
    }
    Ok(lines_kept)
}

/// `panes` processes printing `line` over and over, `bytes_per_pane` each,
/// on a `width` x `height` screen with the default settings (scrollback,
/// tiles, frame cap).
pub fn run(
    panes: usize,
    bytes_per_pane: u64,
    line: &str,
    width: u16,
    height: u16,
) -> Result<HeadlessReport, String> {
    let rss_before = proc_stat::reset_own_peak_rss()
        .then(|| proc_stat::rss_kib(std::process::id()))
        .flatten();
    let mut ui = Ui::new();
    let argv = vec![
        "sh".to_string(),
        "-c".to_string(),
        format!("yes '{}' | head -c {bytes_per_pane}", line.trim_end()),
    ];
    let inboxes = ui.start(panes, &argv)?;
    let mut screen = Screen::new(width, height)?;
    let source = Source::new(line);

    let cpu_before = thread_cpu_secs();
    let started = Instant::now();
    feed(&mut ui, &mut screen, &inboxes, &source, bytes_per_pane)?;
    let cpu_secs = thread_cpu_secs() - cpu_before;
    let wall_secs = started.elapsed().as_secs_f64();
    let rss_growth_kib = rss_before
        .zip(proc_stat::peak_rss_kib(std::process::id()))
        .map(|(before, peak)| peak.saturating_sub(before));

    let lines_kept = check(&ui, &screen, &inboxes, bytes_per_pane, line)?;
    Ok(HeadlessReport {
        panes,
        bytes: bytes_per_pane * panes as u64,
        wall_secs,
        cpu_secs,
        frames: dist(&screen.frames),
        frame_cpu_max_ms: screen.frame_cpu_max * 1e3,
        tiles: ui.hits.panes.len(),
        lines_kept,
        rss_growth_kib,
    })
}
