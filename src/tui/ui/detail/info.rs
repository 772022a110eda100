//! The info tab: what GetSandbox says about the sandbox.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{pending, tab_block};
use crate::client::SandboxDetails;
use crate::tui::state::detail::{Detail, Fetched};
use crate::tui::state::State;
use crate::tui::theme::Theme;

pub fn render(state: &State, d: &Detail, theme: &Theme, frame: &mut Frame, area: Rect) {
    let block = tab_block(state, d, "", theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if let Some(p) = pending(&d.info, "the sandbox's details", theme) {
        frame.render_widget(p, inner);
        return;
    }
    let Fetched::Ready(info) = &d.info else {
        return;
    };
    frame.render_widget(
        Paragraph::new(lines(info, theme)).wrap(Wrap { trim: false }),
        inner,
    );
}

fn when(t: Option<std::time::SystemTime>) -> String {
    t.map(|t| {
        chrono::DateTime::<chrono::Utc>::from(t)
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string()
    })
    .unwrap_or_else(|| "-".into())
}

fn lines<'a>(info: &SandboxDetails, theme: &Theme) -> Vec<Line<'a>> {
    let sb = &info.sandbox;
    let mut out = Vec::new();
    let mut row = |k: &str, v: String| {
        out.push(Line::from(vec![
            Span::styled(format!("{k:<14}"), theme.dim),
            Span::raw(v),
        ]));
    };
    row("id", sb.id.clone());
    if !sb.display_name.is_empty() {
        row("name", sb.display_name.clone());
    }
    let mut st = sb.state.to_string();
    if let Some(c) = sb.exit_code {
        st.push_str(&format!(" (exit {c})"));
    }
    row("state", st);
    if !sb.state_reason.is_empty() {
        row("reason", sb.state_reason.clone());
    }
    row("image", sb.image.clone());
    row(
        "tags",
        if sb.tags.is_empty() {
            "-".into()
        } else {
            sb.tags.join(" ")
        },
    );
    row("created", when(sb.created));
    row("started", when(sb.started));
    if sb.ended.is_some() {
        row("ended", when(sb.ended));
    }
    if let Some(l) = sb.max_lifetime {
        row("max lifetime", crate::tui::state::procs::fmt_duration(l));
    }
    if !info.runtime_class.is_empty() {
        row("runtime", info.runtime_class.clone());
    }
    if let Some(r) = info
        .effective_limits
        .as_ref()
        .filter(|r| !r.summary().is_empty())
    {
        row("limits", r.summary());
    }
    if let Some(u) = &info.usage {
        row(
            "usage",
            format!("cpu {}m · memory {} MB", u.cpu_millicores, u.memory_mb),
        );
    }
    for c in &info.containers {
        if !c.command.is_empty() {
            row(
                "command",
                shlex::try_join(c.command.iter().map(String::as_str))
                    .unwrap_or_else(|_| c.command.join(" ")),
            );
        }
        if !c.working_dir.is_empty() {
            row("working dir", c.working_dir.clone());
        }
        for r in [&c.requests, &c.limits, &c.resources].into_iter().flatten() {
            if !r.summary().is_empty() {
                row("resources", r.summary());
                break;
            }
        }
        for (k, v) in &c.env {
            row("env", format!("{k}={v}"));
        }
        for m in &c.mounts {
            let ro = if m.read_only { " (read-only)" } else { "" };
            row("mount", format!("{} at {}{ro}", m.volume, m.path));
        }
        for f in &c.files {
            row("file", f.clone());
        }
    }
    for v in &info.volumes {
        row("volume", format!("{} ({})", v.name, v.source));
    }
    for s in &info.services {
        row("service", s.summary());
    }
    for (k, v) in &info.annotations {
        row("annotation", format!("{k}={v}"));
    }
    for e in &info.egress {
        row("egress", e.clone());
    }
    out
}
