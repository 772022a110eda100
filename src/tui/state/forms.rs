//! Popups: dialogs with fields, confirmations and help. Values are parsed
//! here so that update only decides what to do with a valid request.
use crate::tui::keymap::PopupScope;
use std::collections::BTreeMap;
use std::time::Duration;

use tui_textarea::TextArea;

use crate::client::{Egress, ExecOptions, SandboxRequest, ServiceRequest};
use crate::tui::msg::{PaneRef, ProcKey};

/// Most sandboxes one create dialog makes.
const MAX_COUNT: usize = 64;

#[derive(Debug)]
pub enum FieldKind {
    Text(Box<TextArea<'static>>),
    Toggle(bool),
}

#[derive(Debug)]
pub struct Field {
    pub label: &'static str,
    pub kind: FieldKind,
}

impl Field {
    fn text(label: &'static str, placeholder: &str, value: &str) -> Field {
        let mut ta = TextArea::new(vec![value.to_string()]);
        ta.set_placeholder_text(placeholder);
        ta.move_cursor(tui_textarea::CursorMove::End);
        Field {
            label,
            kind: FieldKind::Text(Box::new(ta)),
        }
    }

    fn toggle(label: &'static str, on: bool) -> Field {
        Field {
            label,
            kind: FieldKind::Toggle(on),
        }
    }

    pub fn value(&self) -> String {
        match &self.kind {
            FieldKind::Text(ta) => ta.lines().join(""),
            FieldKind::Toggle(on) => on.to_string(),
        }
    }

    fn on(&self) -> bool {
        matches!(self.kind, FieldKind::Toggle(true))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormKind {
    CreateSandbox,
    Exec {
        sandbox_id: String,
    },
    WaitN {
        members: Vec<ProcKey>,
    },
    /// `from`: where the pane's view was when the search began, so that
    /// typing searches from there and Esc can go back to it.
    Search {
        target: PaneRef,
        from: usize,
    },
    Save {
        key: ProcKey,
    },
    /// A file of this machine into the sandbox's directory `dir`.
    Upload {
        dir: String,
    },
    /// A port of the sandbox to forward.
    Forward,
}

#[derive(Debug)]
pub struct Form {
    pub kind: FormKind,
    pub title: String,
    pub fields: Vec<Field>,
    pub focused: usize,
    /// Why the last submit was refused.
    pub error: Option<String>,
}

impl Form {
    /// `snapshot`: the id the "from snapshot" field starts with.
    pub fn create_sandbox(snapshot: Option<&str>) -> Form {
        Form {
            kind: FormKind::CreateSandbox,
            title: "New sandbox (Enter: create)".into(),
            fields: vec![
                Field::text("image", "python:3.11", ""),
                Field::text("name", "(optional display name)", ""),
                Field::text(
                    "command",
                    "main command (empty: keep the sandbox alive)",
                    "",
                ),
                Field::text("tags", "tag1 tag2", ""),
                Field::text("env", "KEY=VALUE ...", ""),
                Field::text("max lifetime", "e.g. 30m (empty: server default)", ""),
                Field::text(
                    "egress",
                    "empty: none · all · hosts and ranges: pypi.org 10.0.0.0/8",
                    "",
                ),
                Field::text(
                    "services",
                    "8080:web 8443::tls · kinds public private https tls",
                    "",
                ),
                Field::text(
                    "snapshot",
                    "(optional) snapshot id: /workspace starts as its copy",
                    snapshot.unwrap_or_default(),
                ),
                Field::text("count", "how many alike (empty: 1)", ""),
            ],
            focused: 0,
            error: None,
        }
    }

    pub fn exec(sandbox_id: &str, label: &str) -> Form {
        Form {
            kind: FormKind::Exec {
                sandbox_id: sandbox_id.to_string(),
            },
            title: format!("Run in {label} (Enter: run)"),
            fields: vec![
                Field::text("command", "e.g. python3 -i", ""),
                Field::toggle("via sh -c", false),
                Field::text("cwd", "(sandbox default)", ""),
                Field::text("timeout", "e.g. 30s (empty: none)", ""),
                Field::toggle("check", false),
                Field::toggle("stdin open", true),
                Field::toggle("tty", false),
                Field::text("env", "KEY=VALUE ...", ""),
            ],
            focused: 0,
            error: None,
        }
    }

    pub fn wait_n(members: Vec<ProcKey>) -> Form {
        let title = format!(
            "Wait for N of {} marked processes (Enter: wait)",
            members.len()
        );
        Form {
            kind: FormKind::WaitN { members },
            title,
            fields: vec![Field::text("N", "1", "1")],
            focused: 0,
            error: None,
        }
    }

    pub fn search(target: PaneRef, current: &str, from: usize) -> Form {
        Form {
            kind: FormKind::Search { target, from },
            title: "Search this pane (as you type; Enter: keep)".into(),
            fields: vec![Field::text("find", "text (case-insensitive)", current)],
            focused: 0,
            error: None,
        }
    }

    pub fn upload(dir: &str) -> Form {
        Form {
            kind: FormKind::Upload {
                dir: dir.to_string(),
            },
            title: format!("Upload into {dir} (Enter: upload)"),
            fields: vec![Field::text("file", "path of a file on this machine", "")],
            focused: 0,
            error: None,
        }
    }

    pub fn forward() -> Form {
        Form {
            kind: FormKind::Forward,
            title: "Forward a port (Enter: start)".into(),
            fields: vec![Field::text(
                "port",
                "8080 (any free local port) or 9000:8080 (local:sandbox)",
                "",
            )],
            focused: 0,
            error: None,
        }
    }

    pub fn save(key: ProcKey, default_path: &str) -> Form {
        Form {
            kind: FormKind::Save { key },
            title: "Save transcript (Enter: save)".into(),
            fields: vec![Field::text("file", "path", default_path)],
            focused: 0,
            error: None,
        }
    }

    pub fn field(&self, label: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.label == label)
    }

    fn text_of(&self, label: &str) -> String {
        self.field(label)
            .map(|f| f.value().trim().to_string())
            .unwrap_or_default()
    }

    fn on(&self, label: &str) -> bool {
        self.field(label).is_some_and(Field::on)
    }

    pub fn focus_next(&mut self, forward: bool) {
        let n = self.fields.len();
        if n > 0 {
            self.focused = if forward {
                (self.focused + 1) % n
            } else {
                (self.focused + n - 1) % n
            };
        }
    }

    pub fn focused_field_mut(&mut self) -> Option<&mut Field> {
        self.fields.get_mut(self.focused)
    }

    /// The create request; empty fields take the server's defaults.
    pub fn sandbox_request(&self) -> Result<SandboxRequest, String> {
        let max_lifetime = match self.text_of("max lifetime").as_str() {
            "" => None,
            s => Some(parse_duration(s)?),
        };
        let name = self.text_of("name");
        let command = self.text_of("command");
        let command = if command.trim().is_empty() {
            Vec::new()
        } else {
            shlex::split(&command).ok_or("unbalanced quotes in the main command")?
        };
        Ok(SandboxRequest {
            image: self.text_of("image"),
            command,
            tags: split_words(&self.text_of("tags"))?,
            env: parse_env(&self.text_of("env"))?,
            max_lifetime,
            display_name: (!name.is_empty()).then_some(name),
            egress: Egress::parse(&self.text_of("egress"))?,
            services: ServiceRequest::parse_list(&self.text_of("services"))?,
            from_snapshot: Some(self.text_of("snapshot")).filter(|s| !s.is_empty()),
            ..SandboxRequest::default()
        })
    }

    /// How many sandboxes the create dialog asks for.
    pub fn count(&self) -> Result<usize, String> {
        match self.text_of("count").as_str() {
            "" => Ok(1),
            s => match s.parse::<usize>() {
                Ok(n) if (1..=MAX_COUNT).contains(&n) => Ok(n),
                _ => Err(format!("count must be a number from 1 to {MAX_COUNT}")),
            },
        }
    }

    /// The argv and options of an exec.
    pub fn exec_request(&self) -> Result<(Vec<String>, ExecOptions), String> {
        let command = self.text_of("command");
        if command.is_empty() {
            return Err("type a command".into());
        }
        let argv = if self.on("via sh -c") {
            vec!["sh".to_string(), "-c".to_string(), command]
        } else {
            shlex::split(&command).ok_or("unbalanced quotes in the command")?
        };
        if argv.is_empty() {
            return Err("type a command".into());
        }
        let cwd = self.text_of("cwd");
        if !cwd.is_empty() && !cwd.starts_with('/') {
            return Err("cwd must be an absolute path".into());
        }
        let timeout = match self.text_of("timeout").as_str() {
            "" => None,
            s => Some(parse_duration(s)?),
        };
        // A terminal's size is known once its pane is drawn; it is sent then.
        let tty = self.on("tty").then_some((80, 24));
        let opts = ExecOptions {
            stdin: self.on("stdin open") || tty.is_some(),
            cwd: (!cwd.is_empty()).then_some(cwd),
            timeout,
            check: self.on("check"),
            env: parse_env(&self.text_of("env"))?,
            tty,
        };
        Ok((argv, opts))
    }

    pub fn wait_n_value(&self) -> Result<usize, String> {
        match self.text_of("N").parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err("N must be a whole number of at least 1".into()),
        }
    }

    pub fn single_value(&self) -> String {
        self.fields.first().map(Field::value).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    StopSandbox {
        id: String,
    },
    Quit {
        active: usize,
    },
    /// A signal to a process inside a sandbox (the detail screen's table).
    Signal {
        sandbox_id: String,
        pid: u32,
        signal: &'static str,
        command: String,
    },
}

#[derive(Debug)]
pub enum Popup {
    Help { scroll: u16 },
    Form(Form),
    Confirm(Confirm),
}

impl Popup {
    /// The keymap scope that applies while this popup is open.
    pub fn scope(&self) -> PopupScope {
        match self {
            Popup::Help { .. } => PopupScope::Help,
            Popup::Form(_) => PopupScope::Form,
            Popup::Confirm(_) => PopupScope::Confirm,
        }
    }
}

/// `30`, `30s`, `1.5s`, `500ms`, `5m`, `2h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (try 30s, 5m, 1h)"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use ms, s, m or h)")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(format!("`{s}` must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn split_words(s: &str) -> Result<Vec<String>, String> {
    let s = s.replace(',', " ");
    shlex::split(&s).ok_or_else(|| "unbalanced quotes".to_string())
}

/// `A=1 B="two words"`.
pub fn parse_env(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut env = BTreeMap::new();
    for word in shlex::split(s).ok_or("unbalanced quotes in env")? {
        match word.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                env.insert(k.to_string(), v.to_string());
            }
            _ => return Err(format!("env entry `{word}` is not KEY=VALUE")),
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(form: &mut Form, label: &str, value: &str) {
        let f = form.fields.iter_mut().find(|f| f.label == label).unwrap();
        f.kind = match &f.kind {
            FieldKind::Text(_) => FieldKind::Text(Box::new(TextArea::new(vec![value.to_string()]))),
            FieldKind::Toggle(_) => FieldKind::Toggle(value == "on"),
        };
    }

    #[test]
    fn exec_defaults_and_parsing() {
        let mut f = Form::exec("sb1", "sb1");
        assert!(f.exec_request().is_err());
        set(&mut f, "command", "python3 -c 'print(1)'");
        let (argv, opts) = f.exec_request().unwrap();
        assert_eq!(argv, vec!["python3", "-c", "print(1)"]);
        assert!(opts.stdin);
        assert!(!opts.check);
        assert_eq!(opts.timeout, None);
        set(&mut f, "via sh -c", "on");
        set(&mut f, "timeout", "1.5");
        set(&mut f, "env", "A=1 B='x y'");
        let (argv, opts) = f.exec_request().unwrap();
        assert_eq!(argv, vec!["sh", "-c", "python3 -c 'print(1)'"]);
        assert_eq!(opts.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(opts.env.get("B").map(String::as_str), Some("x y"));
        set(&mut f, "cwd", "relative");
        assert!(f.exec_request().unwrap_err().contains("absolute"));
    }

    #[test]
    fn create_defaults_are_empty() {
        let f = Form::create_sandbox(None);
        let req = f.sandbox_request().unwrap();
        assert_eq!(req, SandboxRequest::default());
        assert_eq!(f.count(), Ok(1));
        let f = Form::create_sandbox(Some("fss-1"));
        assert_eq!(
            f.sandbox_request().unwrap().from_snapshot.as_deref(),
            Some("fss-1")
        );
        let mut f = Form::create_sandbox(None);
        set(&mut f, "count", "8");
        assert_eq!(f.count(), Ok(8));
        set(&mut f, "count", "0");
        assert!(f.count().is_err());
        set(&mut f, "tags", "a, b c");
        set(&mut f, "max lifetime", "5m");
        let req = f.sandbox_request().unwrap();
        assert_eq!(req.tags, vec!["a", "b", "c"]);
        assert_eq!(req.max_lifetime, Some(Duration::from_secs(300)));
        set(&mut f, "egress", "pypi.org 10.1.0.0/16");
        assert_eq!(
            f.sandbox_request().unwrap().egress,
            Egress::Grants(vec![
                crate::client::Grant::Host("pypi.org".into()),
                crate::client::Grant::Net("10.1.0.0/16".into())
            ])
        );
        set(&mut f, "egress", "not a/name");
        assert!(f.sandbox_request().is_err());
        set(&mut f, "egress", "");
        set(&mut f, "services", "8080:web 8443::tls");
        let services = f.sandbox_request().unwrap().services;
        assert_eq!(services.len(), 2);
        assert_eq!((services[0].port, services[0].name.as_str()), (8080, "web"));
        set(&mut f, "services", "8080:web:udp");
        assert!(f.sandbox_request().unwrap_err().contains("udp"));
        set(&mut f, "services", "");
        set(&mut f, "env", "NOEQUALS");
        assert!(f.sandbox_request().is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[test]
    fn wait_n_must_be_positive() {
        let mut f = Form::wait_n(vec![1, 2]);
        assert_eq!(f.wait_n_value(), Ok(1));
        set(&mut f, "N", "0");
        assert!(f.wait_n_value().is_err());
    }
}
