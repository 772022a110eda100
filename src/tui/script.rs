//! `sandscope --script FILE.toml`: sandboxes and commands started as soon
//! as the UI is up. The format is documented at the top of every file in
//! `assets/demos/`:
//!
//! ```toml
//! [[sandbox]]               # one per sandbox
//! name = "py"               # how [[exec]] refers to it (required, unique)
//! image = "python:3.11"     # optional; display_name, tags, env, max_lifetime too
//!
//! [[exec]]                  # started in file order once every sandbox runs
//! sandbox = "py"
//! command = ["python3", "-i"]   # argv; or shell = "a | b" for sh -c
//! input = ["print(42)"]     # lines written to stdin (implies stdin = true)
//! close_stdin = true        # send EOF after the input
//! mark = true               # mark for the [wait] below
//! # also: cwd, timeout ("30s"), check, stdin, env
//!
//! [wait]                    # optional: wait for n of the marked execs
//! n = 1
//! ```
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use futures::future::join_all;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::msg::{Msg, NetEvent, ScriptEvent};
use super::net::describe;
use super::state::forms::parse_duration;
use crate::client::{Client, ExecOptions, SandboxRequest};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Script {
    #[serde(default)]
    pub sandbox: Vec<SandboxSpec>,
    #[serde(default)]
    pub exec: Vec<ExecSpec>,
    pub wait: Option<WaitSpec>,
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
    pub command: Option<Vec<String>>,
    pub shell: Option<String>,
    pub cwd: Option<String>,
    pub timeout: Option<String>,
    #[serde(default)]
    pub check: bool,
    pub stdin: Option<bool>,
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

impl Script {
    pub fn load(path: &Path) -> anyhow::Result<Script> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read script {}", path.display()))?;
        Script::parse(&text).with_context(|| format!("invalid script {}", path.display()))
    }

    /// Parses and checks everything that can be checked before starting.
    pub fn parse(text: &str) -> anyhow::Result<Script> {
        let s: Script = toml::from_str(text)?;
        for (i, sb) in s.sandbox.iter().enumerate() {
            if sb.name.is_empty() {
                bail!("sandbox #{}: name must not be empty", i + 1);
            }
            if s.sandbox[..i].iter().any(|o| o.name == sb.name) {
                bail!("sandbox name {:?} is used twice", sb.name);
            }
            sb.request()?;
        }
        for (i, e) in s.exec.iter().enumerate() {
            if !s.sandbox.iter().any(|sb| sb.name == e.sandbox) {
                bail!("exec #{}: no [[sandbox]] named {:?}", i + 1, e.sandbox);
            }
            e.argv().with_context(|| format!("exec #{}", i + 1))?;
            e.options().with_context(|| format!("exec #{}", i + 1))?;
        }
        if let Some(w) = &s.wait {
            let marked = s.exec.iter().filter(|e| e.mark).count();
            if marked == 0 {
                bail!("[wait] needs at least one exec with mark = true");
            }
            if w.n == 0 || w.n > marked {
                bail!("[wait] n must be between 1 and {marked} (the marked execs)");
            }
        }
        Ok(s)
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

    pub fn options(&self) -> anyhow::Result<ExecOptions> {
        let stdin = self
            .stdin
            .unwrap_or(!self.input.is_empty() || self.close_stdin);
        if !stdin && (!self.input.is_empty() || self.close_stdin) {
            bail!("input/close_stdin need stdin = true");
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
            tty: None,
        })
    }
}

/// Creates the sandboxes (in parallel), then hands every exec to the UI as
/// if typed into the exec dialog.
pub async fn run(client: Client, tx: mpsc::Sender<Msg>, script: Script) {
    let send = |ev: ScriptEvent| {
        let tx = tx.clone();
        async move { tx.send(Msg::Net(NetEvent::Script(ev))).await.is_ok() }
    };
    let created = join_all(script.sandbox.iter().map(|spec| {
        let client = client.clone();
        let tx = tx.clone();
        async move {
            let req = spec
                .request()
                .map_err(|e| format!("sandbox {:?}: {e:#}", spec.name))?;
            let sb = client
                .create(req)
                .await
                .map_err(|e| format!("sandbox {:?}: {}", spec.name, describe(&e)))?;
            let id = sb.id.clone();
            let _ = tx.send(Msg::Net(NetEvent::SandboxCreated(sb))).await;
            let sb = client
                .wait_running(&id)
                .await
                .map_err(|e| format!("sandbox {:?}: {}", spec.name, describe(&e)))?;
            let _ = tx.send(Msg::Net(NetEvent::SandboxUpdated(sb))).await;
            Ok::<_, String>((spec.name.clone(), id))
        }
    }))
    .await;
    let mut ids = BTreeMap::new();
    for r in created {
        match r {
            Ok((name, id)) => {
                ids.insert(name, id);
            }
            Err(e) => {
                send(ScriptEvent::Failed(e)).await;
            }
        }
    }
    for e in &script.exec {
        let Some(id) = ids.get(&e.sandbox) else {
            continue;
        };
        let (Ok(argv), Ok(opts)) = (e.argv(), e.options()) else {
            continue;
        };
        let ev = ScriptEvent::Exec {
            sandbox_id: id.clone(),
            argv,
            opts,
            input: e.input.clone(),
            close_stdin: e.close_stdin,
            mark: e.mark,
        };
        if !send(ev).await {
            return;
        }
    }
    if let Some(w) = &script.wait {
        send(ScriptEvent::Wait { n: w.n }).await;
    }
    send(ScriptEvent::Done).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_script() {
        let s = Script::parse(
            r#"
            [[sandbox]]
            name = "a"
            tags = ["demo"]
            max_lifetime = "10m"
            [[exec]]
            sandbox = "a"
            shell = "echo hi"
            mark = true
            [[exec]]
            sandbox = "a"
            command = ["python3", "-i"]
            input = ["print(1)"]
            close_stdin = true
            [wait]
            n = 1
            "#,
        )
        .unwrap();
        assert_eq!(s.exec[0].argv().unwrap(), vec!["sh", "-c", "echo hi"]);
        assert!(s.exec[1].options().unwrap().stdin);
        assert!(!s.exec[0].options().unwrap().stdin);
        assert_eq!(
            s.sandbox[0].request().unwrap().display_name.as_deref(),
            Some("a")
        );
    }

    #[test]
    fn rejects_mistakes() {
        let bad = [
            "[[exec]]\nsandbox = \"nope\"\nshell = \"x\"\n",
            "[[sandbox]]\nname = \"a\"\n[[sandbox]]\nname = \"a\"\n",
            "[[sandbox]]\nname = \"a\"\n[[exec]]\nsandbox = \"a\"\n",
            "[[sandbox]]\nname = \"a\"\n[[exec]]\nsandbox = \"a\"\nshell = \"x\"\ncommand = [\"y\"]\n",
            "[[sandbox]]\nname = \"a\"\n[[exec]]\nsandbox = \"a\"\nshell = \"x\"\n[wait]\nn = 1\n",
            "[[sandbox]]\nname = \"a\"\nimage = 3\n",
            "[[sandbox]]\nname = \"a\"\ncolour = \"red\"\n",
            "[[sandbox]]\nname = \"a\"\n[[exec]]\nsandbox = \"a\"\nshell = \"x\"\nstdin = false\ninput = [\"q\"]\n",
        ];
        for text in bad {
            assert!(Script::parse(text).is_err(), "accepted: {text}");
        }
    }

    #[test]
    fn shipped_demos_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demos");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Script::load(&path).unwrap();
                n += 1;
            }
        }
        assert!(n >= 2);
    }
}
