//! `[[step]]` entries: what each may hold, and the checks that refuse a
//! bad one before anything starts.
use std::collections::HashSet;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::{line_of, ExecSpec, SandboxSpec};
use crate::tui::state::forms::parse_duration;

/// How long an `expect` waits unless it says otherwise.
pub const EXPECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The time between two typed characters unless `pace` says otherwise.
pub const TYPE_PACE: Duration = Duration::from_millis(60);

/// One `[[step]]` as written: exactly one of the kinds, plus options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Wait for the next-step key, showing this caption.
    pub pause: Option<String>,
    pub exec: Option<ExecSpec>,
    /// Text typed into `in` (`\n` is Enter).
    #[serde(rename = "type")]
    pub type_text: Option<String>,
    /// A regular expression waited for in the output of `in`.
    pub expect: Option<Spanned<String>>,
    /// Close the stdin of this process.
    pub eof: Option<Spanned<String>>,
    /// A line sent to every marked process.
    pub broadcast: Option<String>,
    /// Wait for n of the marked processes.
    pub wait: Option<usize>,
    /// The process `type` and `expect` act on: the latest exec if not given.
    #[serde(rename = "in")]
    pub target: Option<Spanned<String>>,
    pub pace: Option<String>,
    pub timeout: Option<String>,
    /// A banner shown from this step on (empty: none).
    pub caption: Option<String>,
}

/// What a step does, checked.
#[derive(Debug, Clone)]
pub enum Step {
    Pause,
    Exec(Box<ExecSpec>),
    Type {
        text: String,
        target: String,
        pace: Duration,
    },
    Expect {
        pattern: Regex,
        target: String,
        timeout: Duration,
    },
    Eof {
        target: String,
    },
    Broadcast {
        line: String,
    },
    Wait {
        n: usize,
    },
}

#[derive(Debug, Clone)]
pub struct StepDef {
    /// Where it is in the file, for messages (0: not from a `[[step]]`).
    pub line: usize,
    /// Shown from this step on; `Some("")` takes the banner away.
    pub caption: Option<String>,
    pub step: Step,
}

impl StepDef {
    /// A few words saying what the step does, for the banner and errors.
    pub fn describe(&self) -> String {
        match &self.step {
            Step::Pause => "pause".into(),
            Step::Exec(e) => format!("exec in {:?}", e.sandbox),
            Step::Type { target, .. } => format!("type into {target:?}"),
            Step::Expect {
                pattern, target, ..
            } => format!("expect /{}/ in {target:?}", pattern.as_str()),
            Step::Eof { target } => format!("EOF to {target:?}"),
            Step::Broadcast { .. } => "broadcast".into(),
            Step::Wait { n } => format!("wait for {n} of the marked"),
        }
    }
}

/// Checks steps in file order, knowing the sandboxes and which processes
/// earlier steps start (a step may only name one started before it).
pub struct Checker<'a> {
    text: &'a str,
    sandboxes: HashSet<&'a str>,
    procs: Vec<String>,
    marked: usize,
}

impl<'a> Checker<'a> {
    pub fn new(text: &'a str, sandboxes: &'a [SandboxSpec]) -> Checker<'a> {
        Checker {
            text,
            sandboxes: sandboxes.iter().map(|s| s.name.as_str()).collect(),
            procs: Vec::new(),
            marked: 0,
        }
    }

    pub fn exec(
        &mut self,
        line: usize,
        e: &ExecSpec,
        caption: Option<String>,
    ) -> anyhow::Result<StepDef> {
        if !self.sandboxes.contains(e.sandbox.as_str()) {
            bail!("no [[sandbox]] named {:?}{}", e.sandbox, self.known());
        }
        e.argv()?;
        e.options()?;
        self.procs.push(e.proc_name().to_string());
        self.marked += usize::from(e.mark);
        Ok(StepDef {
            line,
            caption,
            step: Step::Exec(Box::new(e.clone())),
        })
    }

    fn known(&self) -> String {
        let mut names: Vec<&str> = self.sandboxes.iter().copied().collect();
        names.sort_unstable();
        if names.is_empty() {
            " (the script has no [[sandbox]])".into()
        } else {
            format!(" (there are: {})", names.join(", "))
        }
    }

    /// The process a step acts on, by name, or the latest one started.
    fn target(&self, named: Option<&Spanned<String>>, kind: &str) -> anyhow::Result<String> {
        match named {
            Some(n) => {
                let name = n.get_ref();
                if self.procs.iter().any(|p| p == name) {
                    Ok(name.clone())
                } else {
                    let line = line_of(self.text, n.span().start);
                    let started = if self.procs.is_empty() {
                        "none is started before this step".to_string()
                    } else {
                        format!("started before it: {}", self.procs.join(", "))
                    };
                    Err(anyhow!(
                        "line {line}: {kind} names no process {name:?} ({started}; \
                         a process is named by its exec's name, else its sandbox)"
                    ))
                }
            }
            None => self.procs.last().cloned().ok_or_else(|| {
                anyhow!("{kind} needs a process: start one with an exec step first")
            }),
        }
    }

    pub fn step(&mut self, line: usize, s: &StepSpec) -> anyhow::Result<StepDef> {
        let kinds = [
            ("pause", s.pause.is_some()),
            ("exec", s.exec.is_some()),
            ("type", s.type_text.is_some()),
            ("expect", s.expect.is_some()),
            ("eof", s.eof.is_some()),
            ("broadcast", s.broadcast.is_some()),
            ("wait", s.wait.is_some()),
        ];
        let given: Vec<&str> = kinds.iter().filter(|k| k.1).map(|k| k.0).collect();
        let kind = match given.as_slice() {
            [one] => *one,
            [] => bail!("a step needs one of: {}", kinds.map(|k| k.0).join(", ")),
            many => bail!("a step does one thing; this one has {}", many.join(" and ")),
        };
        let allowed: &[&str] = match kind {
            "type" => &["in", "pace"],
            "expect" => &["in", "timeout"],
            _ => &[],
        };
        for (opt, set) in [
            ("in", s.target.is_some()),
            ("pace", s.pace.is_some()),
            ("timeout", s.timeout.is_some()),
        ] {
            if set && !allowed.contains(&opt) {
                bail!("`{opt}` does not apply to a {kind} step");
            }
        }
        let duration = |v: &Option<String>, default: Duration, what: &str| match v {
            Some(t) => parse_duration(t)
                .map_err(anyhow::Error::msg)
                .with_context(|| what.to_string()),
            None => Ok(default),
        };
        let caption = s.caption.clone();
        let step = match kind {
            "pause" => Step::Pause,
            "exec" => {
                let e = s.exec.as_ref().ok_or_else(|| anyhow!("exec"))?;
                return self.exec(line, e, caption);
            }
            "type" => {
                let text = s.type_text.clone().unwrap_or_default();
                if text.is_empty() {
                    bail!("type needs some text");
                }
                Step::Type {
                    text,
                    target: self.target(s.target.as_ref(), "type")?,
                    pace: duration(&s.pace, TYPE_PACE, "pace")?,
                }
            }
            "expect" => {
                let p = s.expect.as_ref().ok_or_else(|| anyhow!("expect"))?;
                let pattern = Regex::new(p.get_ref()).map_err(|e| {
                    let line = line_of(self.text, p.span().start);
                    anyhow!("line {line}: expect: bad pattern: {e}")
                })?;
                Step::Expect {
                    pattern,
                    target: self.target(s.target.as_ref(), "expect")?,
                    timeout: duration(&s.timeout, EXPECT_TIMEOUT, "timeout")?,
                }
            }
            "eof" => Step::Eof {
                target: self.target(s.eof.as_ref(), "eof")?,
            },
            "broadcast" => Step::Broadcast {
                line: s.broadcast.clone().unwrap_or_default(),
            },
            _ => {
                let n = s.wait.unwrap_or(0);
                if n == 0 || n > self.marked {
                    bail!(
                        "wait = {n}: n must be between 1 and {} (the execs with mark = true before it)",
                        self.marked
                    );
                }
                Step::Wait { n }
            }
        };
        let caption = match (&step, caption) {
            (Step::Pause, None) => s.pause.clone(),
            (_, c) => c,
        };
        Ok(StepDef {
            line,
            caption,
            step,
        })
    }
}
