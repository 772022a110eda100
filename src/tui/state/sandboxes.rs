//! The sandbox list as last reported by the server, and the selection.
use super::filter::ListFilter;
use crate::client::Sandbox;

#[derive(Debug, Default)]
pub struct Sandboxes {
    all: Vec<Sandbox>,
    /// Selection by id, so a refresh that reorders rows keeps it.
    selected: Option<String>,
    pub show_terminated: bool,
    /// A list has arrived at least once.
    pub loaded: bool,
    pub filter: ListFilter,
}

impl Sandboxes {
    /// Rows in display order (newest first), terminated ones only when
    /// shown, and only those the filter keeps (by id, name, image, state or
    /// tag).
    pub fn visible(&self) -> Vec<&Sandbox> {
        self.all
            .iter()
            .filter(|s| self.show_terminated || !s.state.is_terminal() || self.is_selected(&s.id))
            .filter(|s| !self.filter.is_active() || self.keeps(s))
            .collect()
    }

    fn keeps(&self, s: &Sandbox) -> bool {
        let state = s.state.to_string();
        let fields = [
            s.id.as_str(),
            s.display_name.as_str(),
            s.image.as_str(),
            state.as_str(),
        ];
        self.filter
            .keeps(fields.into_iter().chain(s.tags.iter().map(String::as_str)))
    }

    /// The filter changed: a selection it hides moves to the first row it
    /// keeps (if any), so what the other panels show is on screen.
    pub fn refilter(&mut self) {
        let shown = self
            .selected
            .as_deref()
            .is_some_and(|id| self.visible().iter().any(|s| s.id == id));
        if !shown {
            if let Some(first) = self.visible().first().map(|s| s.id.clone()) {
                self.selected = Some(first);
            }
        }
    }

    fn is_selected(&self, id: &str) -> bool {
        self.selected.as_deref() == Some(id)
    }

    pub fn get(&self, id: &str) -> Option<&Sandbox> {
        self.all.iter().find(|s| s.id == id)
    }

    pub fn selected(&self) -> Option<&Sandbox> {
        self.selected.as_deref().and_then(|id| self.get(id))
    }

    pub fn selected_index(&self) -> Option<usize> {
        let id = self.selected.as_deref()?;
        self.visible().iter().position(|s| s.id == id)
    }

    /// Replaces the list with a fresh one from the server. Sandboxes this
    /// TUI knows (for example, just created) but the list omits because they
    /// are terminal are kept, so their processes still have a home. Returns
    /// whether anything changed (an idle refresh must not cause a redraw).
    pub fn replace(&mut self, list: Vec<Sandbox>) -> bool {
        let mut merged = list;
        for old in &self.all {
            if !merged.iter().any(|s| s.id == old.id) && old.state.is_terminal() {
                merged.push(old.clone());
            }
        }
        merged.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        let changed = merged != self.all || !self.loaded;
        self.all = merged;
        self.loaded = true;
        self.fix_selection();
        changed
    }

    /// Inserts or updates one sandbox (after create, stop, wait_running).
    pub fn upsert(&mut self, sb: Sandbox) {
        match self.all.iter_mut().find(|s| s.id == sb.id) {
            Some(slot) => *slot = sb,
            None => {
                self.all.insert(0, sb);
            }
        }
        self.fix_selection();
    }

    pub fn select_id(&mut self, id: &str) {
        if self.get(id).is_some() {
            self.selected = Some(id.to_string());
        }
    }

    pub fn select_index(&mut self, i: usize) {
        let id = self.visible().get(i).map(|s| s.id.clone());
        if let Some(id) = id {
            self.selected = Some(id);
        }
    }

    /// Moves the selection by `delta` rows, clamped.
    pub fn move_by(&mut self, delta: isize) {
        let n = self.visible().len();
        if n == 0 {
            return;
        }
        let cur = self.selected_index().unwrap_or(0) as isize;
        let next = (cur + delta).clamp(0, n as isize - 1) as usize;
        self.select_index(next);
    }

    fn fix_selection(&mut self) {
        let still_there = self
            .selected
            .as_deref()
            .is_some_and(|id| self.get(id).is_some());
        if !still_there {
            let first = self.visible().first().map(|s| s.id.clone());
            self.selected = first;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::client::SandboxState;
    use std::time::{Duration, SystemTime};

    pub fn sandbox(id: &str, state: SandboxState, age_secs: u64) -> Sandbox {
        Sandbox {
            id: id.into(),
            display_name: format!("{id}-name"),
            state,
            state_reason: String::new(),
            image: "python:3.11".into(),
            tags: vec!["demo".into()],
            created: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_secs)),
            started: None,
            ended: None,
            exit_code: None,
            runner_id: String::new(),
            max_lifetime: None,
        }
    }

    #[test]
    fn newest_first_and_terminated_hidden() {
        let mut s = Sandboxes::default();
        s.replace(vec![
            sandbox("old", SandboxState::Running, 100),
            sandbox("new", SandboxState::Running, 1),
            sandbox("dead", SandboxState::Terminated, 50),
        ]);
        let ids: Vec<_> = s.visible().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["new", "old"]);
        s.show_terminated = true;
        assert_eq!(s.visible().len(), 3);
    }

    #[test]
    fn selection_survives_refresh_and_falls_back() {
        let mut s = Sandboxes::default();
        s.replace(vec![
            sandbox("a", SandboxState::Running, 2),
            sandbox("b", SandboxState::Running, 1),
        ]);
        s.select_id("a");
        s.replace(vec![
            sandbox("b", SandboxState::Running, 1),
            sandbox("a", SandboxState::Running, 2),
        ]);
        assert_eq!(s.selected().unwrap().id, "a");
        s.replace(vec![sandbox("b", SandboxState::Running, 1)]);
        assert_eq!(s.selected().unwrap().id, "b");
        s.move_by(5);
        assert_eq!(s.selected().unwrap().id, "b");
    }

    #[test]
    fn unchanged_refresh_reports_no_change() {
        let mut s = Sandboxes::default();
        assert!(s.replace(vec![]));
        assert!(s.replace(vec![sandbox("a", SandboxState::Running, 2)]));
        assert!(!s.replace(vec![sandbox("a", SandboxState::Running, 2)]));
        assert!(s.replace(vec![sandbox("a", SandboxState::Terminated, 2)]));
    }

    #[test]
    fn the_filter_keeps_matching_rows_and_moves_the_selection() {
        let mut s = Sandboxes::default();
        let mut b = sandbox("b2", SandboxState::Running, 1);
        b.tags = vec!["gpu".into()];
        s.replace(vec![sandbox("a1", SandboxState::Running, 2), b]);
        s.select_id("a1");
        s.filter.query = "gpu".into();
        s.refilter();
        let ids: Vec<_> = s.visible().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["b2"]);
        assert_eq!(s.selected().unwrap().id, "b2");
        s.filter.query = "RUNNING a1".into();
        s.refilter();
        assert_eq!(s.selected().unwrap().id, "a1");
        s.filter.query = "nothing".into();
        s.refilter();
        assert!(s.visible().is_empty());
    }

    #[test]
    fn upsert_updates_in_place() {
        let mut s = Sandboxes::default();
        s.upsert(sandbox("a", SandboxState::Creating, 1));
        s.upsert(sandbox("a", SandboxState::Running, 1));
        assert_eq!(s.visible().len(), 1);
        assert_eq!(s.selected().unwrap().state, SandboxState::Running);
    }
}
