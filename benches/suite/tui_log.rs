//! The TUI's log file, read as it is written: which processes started and
//! how each one finished, with the bytes its pane received.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub key: u64,
    pub bytes_out: u64,
    /// `exit 0`, `killed`, ...
    pub status: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Events {
    pub started: Vec<u64>,
    pub finished: Vec<Finished>,
}

pub struct TuiLog {
    dir: PathBuf,
}

impl TuiLog {
    pub fn new(dir: &Path) -> TuiLog {
        TuiLog {
            dir: dir.to_path_buf(),
        }
    }

    /// Everything logged so far (the log rolls daily, so all its files).
    pub fn events(&self) -> Events {
        let mut ev = Events::default();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return ev;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("sandscope.log"))
            })
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for line in text.lines() {
                parse_line(line, &mut ev);
            }
        }
        ev
    }
}

fn field<'a>(rest: &'a str, name: &str) -> Option<&'a str> {
    rest.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// `... process finished key=3 bytes_out=1024 status=exit 0`
pub fn parse_line(line: &str, ev: &mut Events) {
    if let Some((_, rest)) = line.split_once("process started") {
        if let Some(key) = field(rest, "key").and_then(|k| k.parse().ok()) {
            ev.started.push(key);
        }
    } else if let Some((_, rest)) = line.split_once("process finished") {
        let key = field(rest, "key").and_then(|k| k.parse().ok());
        let bytes = field(rest, "bytes_out").and_then(|b| b.parse().ok());
        let status = rest
            .split_once("status=")
            .map(|(_, s)| s.trim().to_string());
        if let (Some(key), Some(bytes_out), Some(status)) = (key, bytes, status) {
            ev.finished.push(Finished {
                key,
                bytes_out,
                status,
            });
        }
    }
}
