//! `sandscope --script FILE.toml`: sandboxes, then steps a presenter can
//! walk through. The format is documented at the top of
//! `assets/demos/exec-guide.toml`:
//!
//! ```toml
//! [[sandbox]]               # one per sandbox, created in parallel
//! name = "py"               # how steps refer to it (required, unique)
//!
//! [[exec]]                  # started at once when every sandbox runs
//! sandbox = "py"
//! shell = "echo hi"
//!
//! [wait]                    # then: wait for n of the marked execs
//! n = 1
//!
//! [[step]]                  # then the steps, in file order
//! pause = "What the audience should look at"
//! [[step]]
//! exec = { sandbox = "py", name = "repl", command = ["python3", "-i"], stdin = true }
//! [[step]]
//! type = "print(6 * 7)\n"   # typed at a human pace into `in`
//! [[step]]
//! expect = "^42$"           # wait until `in` prints a line matching this
//! ```
//!
//! Everything that can be wrong with a script is found here, before the
//! screen switches over, and reported with its line.
mod run;
mod steps;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use serde::Deserialize;

use super::state::forms::parse_duration;
use crate::client::{ExecOptions, SandboxRequest};
pub use run::run;
pub use steps::{Step, StepDef, StepSpec};

/// A checked script, ready to run as often as the presenter restarts it.
#[derive(Debug, Clone)]
pub struct Script {
    pub sandbox: Vec<SandboxSpec>,
    /// `[[exec]]` and `[wait]` come first, as exec and wait steps.
    pub steps: Vec<StepDef>,
    /// `layout = "presenter"`: the demo starts in the presenter layout.
    pub presenter: bool,
}

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    layout: Option<String>,
    #[serde(default)]
    sandbox: Vec<SandboxSpec>,
    #[serde(default)]
    exec: Vec<ExecSpec>,
    wait: Option<WaitSpec>,
    #[serde(default)]
    step: Vec<StepSpec>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SandboxSpec {
    pub name: String,
    #[serde(default)]
    pub image: String,
    pub display_name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub max_lifetime: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExecSpec {
    pub sandbox: String,
    /// How later steps name this process; the sandbox's name if not given.
    pub name: Option<String>,
    pub command: Option<Vec<String>>,
    pub shell: Option<String>,
    pub cwd: Option<String>,
    pub timeout: Option<String>,
    #[serde(default)]
    pub check: bool,
    pub stdin: Option<bool>,
    /// Run on a terminal (a terminal pane), like the exec dialog's switch.
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub input: Vec<String>,
    #[serde(default)]
    pub close_stdin: bool,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub mark: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WaitSpec {
    pub n: usize,
}

/// The line (from 1) of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.get(..at).unwrap_or(text).matches('\n').count() + 1
}

/// Where a step's error is: the line of the field at fault when the
/// error names one, else the step's own line.
fn at_step(line: usize, n: usize, e: anyhow::Error) -> anyhow::Error {
    let text = format!("{e:#}");
    if text.starts_with("line ") {
        anyhow::anyhow!("{text} (step #{n})")
    } else {
        anyhow::anyhow!("line {line}: step #{n}: {text}")
    }
}

/// The lines of each `[[name]]` header, in order: where an entry starts.
fn header_lines(text: &str, name: &str) -> Vec<usize> {
    let header = format!("[[{name}]]");
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(&header))
        .map(|(i, _)| i + 1)
        .collect()
}

impl Script {
    pub fn load(path: &Path) -> anyhow::Result<Script> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read script {}", path.display()))?;
        Script::parse(&text).with_context(|| format!("invalid script {}", path.display()))
    }

    /// Parses and checks everything that can be checked before starting.
    pub fn parse(text: &str) -> anyhow::Result<Script> {
        // toml's own message names the line and what is wrong there.
        let raw: RawScript = toml::from_str(text)?;
        let sandbox_lines = header_lines(text, "sandbox");
        let at = |lines: &[usize], i: usize| lines.get(i).map_or(0, |l| *l);
        for (i, sb) in raw.sandbox.iter().enumerate() {
            let line = at(&sandbox_lines, i);
            if sb.name.is_empty() {
                bail!("line {line}: sandbox #{}: name must not be empty", i + 1);
            }
            if raw.sandbox[..i].iter().any(|o| o.name == sb.name) {
                bail!("line {line}: sandbox name {:?} is used twice", sb.name);
            }
            sb.request().with_context(|| format!("line {line}"))?;
        }
        let mut check = steps::Checker::new(text, &raw.sandbox);
        let exec_lines = header_lines(text, "exec");
        let mut steps = Vec::new();
        for (i, e) in raw.exec.iter().enumerate() {
            let line = at(&exec_lines, i);
            let what = format!("line {line}: exec #{}", i + 1);
            steps.push(check.exec(line, e, None).with_context(|| what)?);
        }
        if let Some(w) = &raw.wait {
            let marked = raw.exec.iter().filter(|e| e.mark).count();
            if marked == 0 {
                bail!("[wait] needs at least one exec with mark = true");
            }
            if w.n == 0 || w.n > marked {
                bail!("[wait] n must be between 1 and {marked} (the marked execs)");
            }
            steps.push(StepDef {
                line: 0,
                caption: None,
                step: Step::Wait { n: w.n },
            });
        }
        let step_lines = header_lines(text, "step");
        for (i, spec) in raw.step.iter().enumerate() {
            let line = at(&step_lines, i);
            let step = check
                .step(line, spec)
                .map_err(|e| at_step(line, i + 1, e))?;
            steps.push(step);
        }
        let presenter = match raw.layout.as_deref() {
            None | Some("standard") => false,
            Some("presenter") => true,
            Some(other) => bail!("layout = {other:?}: use \"standard\" or \"presenter\""),
        };
        Ok(Script {
            sandbox: raw.sandbox,
            steps,
            presenter,
        })
    }

    /// Whether the presenter walks through steps (else it all starts at
    /// once, as scripts without `[[step]]` always did).
    pub fn has_steps(&self) -> bool {
        self.steps.iter().any(|s| {
            matches!(
                s.step,
                Step::Pause | Step::Type { .. } | Step::Expect { .. }
            )
        })
    }
}

impl SandboxSpec {
    pub fn request(&self) -> anyhow::Result<SandboxRequest> {
        let max_lifetime = match &self.max_lifetime {
            Some(s) => Some(parse_duration(s).map_err(anyhow::Error::msg)?),
            None => None,
        };
        Ok(SandboxRequest {
            image: self.image.clone(),
            tags: self.tags.clone(),
            env: self.env.clone(),
            max_lifetime,
            display_name: Some(
                self.display_name
                    .clone()
                    .unwrap_or_else(|| self.name.clone()),
            ),
            ..SandboxRequest::default()
        })
    }
}

impl ExecSpec {
    pub fn argv(&self) -> anyhow::Result<Vec<String>> {
        match (&self.command, &self.shell) {
            (Some(c), None) if !c.is_empty() => Ok(c.clone()),
            (None, Some(s)) if !s.is_empty() => Ok(vec!["sh".into(), "-c".into(), s.clone()]),
            (Some(_), Some(_)) => bail!("give either command or shell, not both"),
            _ => bail!("command (a list) or shell (a string) is required"),
        }
    }

    /// What later steps call this process.
    pub fn proc_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.sandbox)
    }

    pub fn options(&self) -> anyhow::Result<ExecOptions> {
        let stdin = self
            .stdin
            .unwrap_or(!self.input.is_empty() || self.close_stdin || self.tty);
        if !stdin && (!self.input.is_empty() || self.close_stdin) {
            bail!("input/close_stdin need stdin = true");
        }
        if self.tty && !stdin {
            bail!("a process on a terminal (tty = true) needs stdin");
        }
        if let Some(cwd) = &self.cwd {
            if !cwd.starts_with('/') {
                bail!("cwd must be an absolute path");
            }
        }
        let timeout = match &self.timeout {
            Some(t) => Some(parse_duration(t).map_err(anyhow::Error::msg)?),
            None => None,
        };
        Ok(ExecOptions {
            stdin,
            cwd: self.cwd.clone(),
            timeout,
            check: self.check,
            env: self.env.clone(),
            // The pane gives the terminal its real size once it is drawn.
            tty: self.tty.then_some((80, 24)),
        })
    }
}

#[cfg(test)]
mod tests;
