//! The default bindings for teaching: demo steps, broadcast input, the
//! presenter layout and recording. Kept apart from the others so the
//! table stays one screenful per concern.
use super::defaults::{row, Row, G};
use crate::tui::msg::Action;

pub const TEACHING: &[Row] = &[
    row(
        Action::NextStep,
        "next_step",
        G,
        &[">"],
        "demo: run the next step now (ends a pause, skips a wait)",
        Some("next step"),
    ),
    row(
        Action::RestartDemo,
        "restart_demo",
        G,
        &["ctrl-r"],
        "demo: start again from the first step on fresh sandboxes",
        None,
    ),
    row(
        Action::Broadcast,
        "broadcast",
        G,
        &["b"],
        "broadcast: what is typed goes to every marked process (again: off)",
        Some("broadcast"),
    ),
    row(
        Action::Presenter,
        "presenter",
        G,
        &["P"],
        "presenter layout: panes on the whole screen, large captions",
        None,
    ),
    row(
        Action::Record,
        "record",
        G,
        &["R"],
        "start/stop recording the screen to an asciicast file",
        Some("record"),
    ),
];
