//! The files tab: moving through directories, opening a file, and copying
//! files between the sandbox and this machine.
use std::path::PathBuf;

use crate::tui::msg::Effect;
use crate::tui::state::detail::{self as det, Detail, Fetched, FileView, Tab};
use crate::tui::state::forms::{Form, Popup};
use crate::tui::state::State;

use super::current;

pub fn move_by(d: &mut Detail, delta: isize) {
    match d.files.open.as_mut().map(|f| &mut f.content) {
        Some(Fetched::Ready(det::FileContent::Text(pane))) => pane.scroll_by(delta),
        Some(_) => {}
        None => d.files.move_by(delta),
    }
}

/// Asks for a listing of `path`. Only the newest request's answer is
/// taken: an older one still on its way (the tab's first listing, say,
/// overtaken by an upload's) would show what is no longer there.
pub fn list(state: &mut State, path: String, fx: &mut Vec<Effect>) {
    let request = state.alloc_generation();
    let Some(d) = state.detail.as_mut() else {
        return;
    };
    d.files.asked = request;
    fx.push(Effect::ListDir {
        request,
        sandbox_id: d.sandbox_id.clone(),
        path,
    });
}

/// Enter: into a directory, or open a file (a symlink is tried as a
/// directory first; the listing says what it is).
pub fn open_selected(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(d) = state.detail.as_mut().filter(|d| d.tab == Tab::Files) else {
        return;
    };
    if d.files.open.is_some() {
        return;
    }
    let Some((path, is_dir)) = d.files.target() else {
        return;
    };
    let link = d
        .files
        .selected_entry()
        .is_some_and(|e| e.kind == crate::client::EntryKind::Symlink);
    if is_dir || link {
        list(state, path, fx);
    } else {
        d.files.open = Some(FileView {
            path: path.clone(),
            content: Fetched::Loading,
        });
        fx.push(Effect::ReadFile {
            generation: d.generation,
            sandbox_id: d.sandbox_id.clone(),
            path,
        });
    }
}

/// Backspace: out of an open file, else up one directory.
pub fn parent(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(d) = state.detail.as_mut().filter(|d| d.tab == Tab::Files) else {
        return;
    };
    if d.files.open.take().is_some() {
        return;
    }
    let up = det::parent(&d.files.cwd);
    list(state, up, fx);
}

pub fn on_listing(
    state: &mut State,
    request: u64,
    path: String,
    result: Result<Vec<crate::client::DirEntry>, String>,
    fx: &mut Vec<Effect>,
) -> bool {
    let Some(d) = state.detail.as_mut().filter(|d| d.files.asked == request) else {
        return false;
    };
    match result {
        Ok(entries) => {
            // Coming back up, the directory we were in stays selected.
            let came_from = d.files.cwd.rsplit('/').next().unwrap_or("").to_string();
            let back_up = d.files.cwd.starts_with(&path) && d.files.cwd != path;
            d.files.selected = if back_up {
                entries
                    .iter()
                    .position(|e| e.name == came_from)
                    .unwrap_or(0)
            } else {
                0
            };
            d.files.cwd = path;
            d.files.list = Fetched::Ready(entries);
            true
        }
        Err(_) if d.files.list == Fetched::Loading && path == det::START_DIR => {
            // No workspace in this image: start at the top instead.
            d.files.cwd = "/".into();
            list(state, "/".into(), fx);
            true
        }
        Err(e) if d.files.list == Fetched::Loading => {
            d.files.list = Fetched::Failed(e);
            true
        }
        // A directory that cannot be entered: stay where we are and say why.
        Err(e) => {
            state.error(format!("{path}: {e}"));
            true
        }
    }
}

pub fn on_read(
    state: &mut State,
    generation: u64,
    path: String,
    result: Result<Vec<u8>, String>,
) -> bool {
    let pane = state.new_pane();
    let Some(d) = current(state, generation) else {
        return false;
    };
    let Some(open) = d.files.open.as_mut().filter(|f| f.path == path) else {
        return false;
    };
    open.content = match result {
        Ok(bytes) => Fetched::Ready(det::classify(&bytes, pane)),
        Err(e) => Fetched::Failed(e),
    };
    true
}

/// `D`: the selected (or open) file to the download directory.
pub fn start_download(state: &mut State, fx: &mut Vec<Effect>) {
    let dir = state.view.downloads.clone();
    let Some(d) = state.detail.as_ref().filter(|d| d.tab == Tab::Files) else {
        return;
    };
    let path = match (&d.files.open, d.files.target()) {
        (Some(f), _) => f.path.clone(),
        (None, Some((_, true))) | (None, None) => {
            state.error("select a file to download (directories are not copied)");
            return;
        }
        (None, Some((p, false))) => p,
    };
    let name = path
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("download");
    fx.push(Effect::Download {
        sandbox_id: d.sandbox_id.clone(),
        path: path.clone(),
        to: dir.join(name),
    });
    state.info(format!("downloading {path}…"));
}

/// `U`: asks for a file of this machine to put into the current directory.
pub fn start_upload(state: &mut State) {
    let Some(d) = state.detail.as_ref().filter(|d| d.tab == Tab::Files) else {
        return;
    };
    state.popup = Some(Popup::Form(Form::upload(&d.files.cwd)));
}

/// The upload form was filled in.
pub fn upload(state: &mut State, from: &str, fx: &mut Vec<Effect>) -> Result<(), String> {
    let from = from.trim();
    // `~/` as a shell would read it: people type paths that way.
    let from = match (from.strip_prefix("~/"), directories::UserDirs::new()) {
        (Some(rest), Some(u)) => u.home_dir().join(rest),
        _ => PathBuf::from(from),
    };
    let name = from
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("type the path of a file on this machine")?
        .to_string();
    let request = state.alloc_generation();
    let d = state.detail.as_mut().ok_or("the detail screen is closed")?;
    // The listing after the upload supersedes any still on its way.
    d.files.asked = request;
    fx.push(Effect::Upload {
        request,
        sandbox_id: d.sandbox_id.clone(),
        to: det::join(&d.files.cwd, &name),
        dir: d.files.cwd.clone(),
        from,
    });
    Ok(())
}
