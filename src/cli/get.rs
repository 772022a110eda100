//! `sandscope get`: one sandbox in full, as a readable list of fields or
//! as JSON.
use super::connect::{connect, explain};
use super::ls::age;
use super::output::{self, cell, Format};
use super::GlobalArgs;
use crate::client::{ContainerDetails, Resources, SandboxDetails};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::SystemTime;

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Sandbox id.
    pub id: String,
    /// `table` (default) or `json`.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

pub async fn run(global: &GlobalArgs, args: GetArgs) -> anyhow::Result<ExitCode> {
    let client = connect(global).await?;
    let d = client
        .details(&args.id)
        .await
        .map_err(|e| explain(&client.endpoint().url, e))?;
    match args.output {
        Format::Table => print!("{}", describe(&d, SystemTime::now())),
        Format::Json => output::print_json(&to_json(&d))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `key: value` lines, a section per container; empty fields are left out.
pub fn describe(d: &SandboxDetails, now: SystemTime) -> String {
    let sb = &d.sandbox;
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| {
        if !v.is_empty() {
            rows.push((k.to_string(), v));
        }
    };
    put("id", cell(&sb.id));
    put("name", opt(&sb.display_name));
    put("state", sb.state.to_string());
    put("state reason", opt(&sb.state_reason));
    put(
        "exit code",
        sb.exit_code.map(|c| c.to_string()).unwrap_or_default(),
    );
    put("image", opt(&sb.image));
    put("tags", opt(&sb.tags.join(",")));
    for (k, t) in [
        ("created", sb.created),
        ("started", sb.started),
        ("ended", sb.ended),
    ] {
        put(
            k,
            t.map(|t| {
                let ago = now.duration_since(t).map(age).unwrap_or_default();
                format!("{} ({ago} ago)", output::time(t))
            })
            .unwrap_or_default(),
        );
    }
    put(
        "max lifetime",
        sb.max_lifetime
            .map(|m| format!("{}s", m.as_secs()))
            .unwrap_or_default(),
    );
    put("runner", opt(&sb.runner_id));
    put("runtime class", opt(&d.runtime_class));
    put("resources", res(&d.effective_resources));
    put("limits", res(&d.effective_limits));
    if let Some(u) = d.usage {
        put(
            "usage",
            format!(
                "cpu={}m memory={}MB gpu={}",
                u.cpu_millicores, u.memory_mb, u.gpu_count
            ),
        );
    }
    for v in &d.volumes {
        put(&format!("volume {}", cell(&v.name)), cell(&v.source));
    }
    for s in &d.services {
        put("service", cell(&s.summary()));
    }
    for (k, v) in &d.annotations {
        put(&format!("annotation {}", cell(k)), cell(v));
    }
    for e in &d.egress {
        put("egress", cell(e));
    }
    let mut out = lines(&rows, "");
    for c in &d.containers {
        out.push_str(&format!("container {}:\n", cell(&c.name)));
        out.push_str(&lines(&container_rows(c), "  "));
    }
    out
}

fn container_rows(c: &ContainerDetails) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut put = |k: &str, v: String| {
        if !v.is_empty() {
            rows.push((k.to_string(), v));
        }
    };
    put("image", opt(&c.image));
    put("command", command_line(&c.command));
    put("working dir", opt(&c.working_dir));
    put("state", c.state.map(|s| s.to_string()).unwrap_or_default());
    if c.state.is_some_and(|s| s.is_terminal()) {
        put(
            "exit code",
            c.exit_code.map(|e| e.to_string()).unwrap_or_default(),
        );
    }
    if c.restarts > 0 {
        put("restarts", c.restarts.to_string());
    }
    put("resources", res(&c.resources));
    put("requests", res(&c.requests));
    put("limits", res(&c.limits));
    for (k, v) in &c.env {
        put("env", format!("{}={}", cell(k), cell(v)));
    }
    for f in &c.files {
        put("file", cell(f));
    }
    for m in &c.mounts {
        let ro = if m.read_only { " (read-only)" } else { "" };
        let sub = if m.sub_path.is_empty() {
            String::new()
        } else {
            format!(" sub-path {}", cell(&m.sub_path))
        };
        put(
            "mount",
            format!("{} at {}{sub}{ro}", cell(&m.volume), cell(&m.path)),
        );
    }
    rows
}

fn lines(rows: &[(String, String)], indent: &str) -> String {
    let w = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    rows.iter()
        .map(|(k, v)| format!("{indent}{:<w$} {v}\n", format!("{k}:")))
        .collect()
}

fn opt(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        cell(s)
    }
}

fn res(r: &Option<Resources>) -> String {
    r.as_ref().map(Resources::summary).unwrap_or_default()
}

/// The command as a shell would take it back, each word quoted if needed.
fn command_line(argv: &[String]) -> String {
    let words: Vec<String> = argv
        .iter()
        .map(|a| {
            shlex::try_quote(a)
                .map(|q| q.into_owned())
                .unwrap_or_else(|_| format!("{a:?}"))
        })
        .collect();
    cell(&words.join(" "))
}

fn time(t: Option<SystemTime>) -> Value {
    t.map_or(Value::Null, |t| Value::String(output::time(t)))
}

fn res_json(r: &Option<Resources>) -> Value {
    match r {
        None => Value::Null,
        Some(r) => json!({
            "cpu": r.cpu, "memory": r.memory, "gpu_count": r.gpu_count, "gpu_type": r.gpu_type,
        }),
    }
}

/// Every field, with times as RFC 3339 strings and absent values as null.
pub fn to_json(d: &SandboxDetails) -> Value {
    let sb = &d.sandbox;
    let containers: Vec<Value> = d
        .containers
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "image": c.image,
                "command": c.command,
                "env": c.env,
                "working_dir": c.working_dir,
                "files": c.files,
                "mounts": c.mounts.iter().map(|m| json!({
                    "volume": m.volume, "path": m.path, "read_only": m.read_only, "sub_path": m.sub_path,
                })).collect::<Vec<_>>(),
                "resources": res_json(&c.resources),
                "requests": res_json(&c.requests),
                "limits": res_json(&c.limits),
                "state": c.state.map(|s| s.as_str()),
                "exit_code": c.exit_code,
                "restarts": c.restarts,
            })
        })
        .collect();
    json!({
        "id": sb.id,
        "name": sb.display_name,
        "state": sb.state.as_str(),
        "state_reason": sb.state_reason,
        "exit_code": sb.exit_code,
        "image": sb.image,
        "tags": sb.tags,
        "created": time(sb.created),
        "started": time(sb.started),
        "ended": time(sb.ended),
        "max_lifetime_seconds": sb.max_lifetime.map(|m| m.as_secs()),
        "runner_id": sb.runner_id,
        "runtime_class": d.runtime_class,
        "effective_resources": res_json(&d.effective_resources),
        "effective_limits": res_json(&d.effective_limits),
        "usage": d.usage.map(|u| json!({
            "cpu_millicores": u.cpu_millicores, "memory_mb": u.memory_mb, "gpu_count": u.gpu_count,
        })),
        "volumes": d.volumes.iter().map(|v| json!({"name": v.name, "source": v.source})).collect::<Vec<_>>(),
        "services": d.services.iter().map(|s| json!({
            "name": s.name, "port": s.port, "visibility": s.visibility, "url": s.url,
            "address": s.address, "tls_passthrough": s.tls_passthrough,
        })).collect::<Vec<_>>(),
        "annotations": d.annotations,
        "egress": d.egress,
        "containers": containers,
    })
}
