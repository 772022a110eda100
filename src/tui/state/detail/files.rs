//! The files tab: a directory of the sandbox, and a file opened from it.
use crate::client::{DirEntry, EntryKind};
use crate::tui::state::pane::Pane;

use super::Fetched;

/// A file read through ReadFile and shown as text, or said to be binary.
#[derive(Debug)]
pub struct FileView {
    pub path: String,
    pub content: Fetched<FileContent>,
}

#[derive(Debug)]
pub enum FileContent {
    /// Lines in a pane, so paging, search and wrap work as in output.
    Text(Pane),
    /// Not text: its size, and the first bytes as a hex dump.
    Binary { size: usize, dump: Vec<String> },
}

#[derive(Debug)]
pub struct FilesView {
    pub cwd: String,
    pub list: Fetched<Vec<DirEntry>>,
    pub selected: usize,
    pub open: Option<FileView>,
    /// The newest listing asked for; answers to older ones are dropped.
    pub asked: u64,
}

/// Where the files tab opens: the sandbox's workspace, the usual working
/// directory; an image without one opens at `/` instead.
pub const START_DIR: &str = "/workspace";

/// Bytes shown of a binary file.
const DUMP_BYTES: usize = 4096;

impl FilesView {
    pub fn new(cwd: &str) -> FilesView {
        FilesView {
            cwd: cwd.to_string(),
            list: Fetched::Loading,
            selected: 0,
            open: None,
            asked: 0,
        }
    }

    pub fn entries(&self) -> &[DirEntry] {
        match &self.list {
            Fetched::Ready(v) => v,
            _ => &[],
        }
    }

    pub fn selected_entry(&self) -> Option<&DirEntry> {
        self.entries().get(self.selected)
    }

    /// The full path of an entry of the current directory.
    pub fn path_of(&self, name: &str) -> String {
        join(&self.cwd, name)
    }

    pub fn move_by(&mut self, delta: isize) {
        let n = self.entries().len();
        if n == 0 {
            return;
        }
        let next = (self.selected as isize).saturating_add(delta);
        self.selected = next.clamp(0, n as isize - 1) as usize;
    }

    /// Where Enter on the selected entry goes: a directory to list, or a
    /// file to open.
    pub fn target(&self) -> Option<(String, bool)> {
        let e = self.selected_entry()?;
        let path = self.path_of(&e.name);
        Some((path, matches!(e.kind, EntryKind::Dir)))
    }
}

pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The directory above `path` (`/` stays `/`).
pub fn parent(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => trimmed[..i].to_string(),
    }
}

/// Text when it decodes as UTF-8 without control bytes other than the
/// usual whitespace and escapes; else binary.
pub fn classify(bytes: &[u8], pane: Pane) -> FileContent {
    let texty = std::str::from_utf8(bytes).is_ok()
        && !bytes
            .iter()
            .any(|&b| b == 0 || (b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x1b | 0x0c)));
    if texty {
        let mut pane = pane;
        pane.append(crate::client::StreamKind::Stdout, bytes);
        FileContent::Text(pane)
    } else {
        let dump = bytes[..bytes.len().min(DUMP_BYTES)]
            .chunks(16)
            .enumerate()
            .map(|(i, row)| {
                let hex: Vec<String> = row.iter().map(|b| format!("{b:02x}")).collect();
                let ascii: String = row
                    .iter()
                    .map(|&b| {
                        if b.is_ascii_graphic() || b == b' ' {
                            b as char
                        } else {
                            '.'
                        }
                    })
                    .collect();
                format!("{:08x}  {:<47}  {ascii}", i * 16, hex.join(" "))
            })
            .collect();
        FileContent::Binary {
            size: bytes.len(),
            dump,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_and_climb() {
        assert_eq!(join("/", "etc"), "/etc");
        assert_eq!(join("/etc", "hosts"), "/etc/hosts");
        assert_eq!(parent("/etc/ssl"), "/etc");
        assert_eq!(parent("/etc"), "/");
        assert_eq!(parent("/"), "/");
        assert_eq!(parent("/a/b/"), "/a");
    }

    #[test]
    fn text_and_binary_are_told_apart() {
        let text = classify(b"hello\n\tworld\n", Pane::new(10, false));
        assert!(matches!(text, FileContent::Text(ref p) if p.len() >= 2));
        let bin = classify(&[0x7f, b'E', b'L', b'F', 0, 1, 2], Pane::new(10, false));
        let FileContent::Binary { size, dump } = bin else {
            panic!("binary");
        };
        assert_eq!(size, 7);
        assert!(
            dump[0].starts_with("00000000  7f 45 4c 46 00 01 02"),
            "{dump:?}"
        );
        assert!(dump[0].ends_with(".ELF..."), "{dump:?}");
        let latin1 = classify(&[0xe9, b'a'], Pane::new(10, false));
        assert!(matches!(latin1, FileContent::Binary { .. }));
    }
}
