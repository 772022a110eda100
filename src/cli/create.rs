//! `sandscope create`: start a sandbox, wait until it runs, print its id.
use super::connect::{connect, explain};
use super::GlobalArgs;
use crate::client::{Egress, Grant, SandboxRequest, ServiceRequest};
use anyhow::Context;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Image (default python:3.11).
    #[arg(long)]
    pub image: Option<String>,
    /// A tag; repeat for several.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// An environment variable for every process in the sandbox; repeat for several.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Stop the sandbox after this many seconds.
    #[arg(long, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=u64::from(super::args::MAX_WIRE)))]
    pub max_lifetime: Option<u64>,
    /// A display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Working directory of the main command.
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Let the sandbox reach the whole network (not the host's loopback).
    #[arg(long, conflicts_with_all = ["allow_host", "allow_net"])]
    pub egress: bool,
    /// Let the sandbox resolve NAME and reach it over HTTPS (TCP 443);
    /// `*.example.org` grants every name below example.org. Repeat for
    /// several; nothing else is reachable then.
    #[arg(long = "allow-host", value_name = "NAME", value_parser = Grant::host)]
    pub allow_host: Vec<Grant>,
    /// Let the sandbox reach an address range (`10.1.0.0/16`) on every
    /// port. Repeat for several; nothing else is reachable then.
    #[arg(long = "allow-net", value_name = "CIDR", value_parser = Grant::net)]
    pub allow_net: Vec<Grant>,
    /// A port to publish: PORT[:NAME[:KIND]], KIND one of public (the
    /// default), private, https or tls (TLS passthrough); repeat for
    /// several. `sandscope get` shows where each is reached.
    #[arg(long = "service", value_name = "PORT[:NAME[:KIND]]", value_parser = ServiceRequest::parse)]
    pub services: Vec<ServiceRequest>,
    /// Start with the files of this snapshot in /workspace (`sandscope snapshot ls`).
    #[arg(long, value_name = "ID")]
    pub from_snapshot: Option<String>,
    /// Main command (default: stay up until stopped).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `K=V` into a pair; used by every `--env` flag.
pub fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

pub async fn run(global: &GlobalArgs, args: CreateArgs) -> anyhow::Result<ExitCode> {
    let client = connect(global).await?;
    let grants: Vec<Grant> = args.allow_host.into_iter().chain(args.allow_net).collect();
    let egress = match (args.egress, grants.is_empty()) {
        (true, _) => Egress::Open,
        (false, true) => Egress::Default,
        (false, false) => Egress::Grants(grants),
    };
    let req = SandboxRequest {
        image: args.image.unwrap_or_default(),
        command: args.command,
        tags: args.tags,
        env: args.env.into_iter().collect::<BTreeMap<_, _>>(),
        working_dir: args.workdir,
        max_lifetime: args.max_lifetime.map(Duration::from_secs),
        display_name: args.name,
        files: Vec::new(),
        egress,
        services: args.services,
        from_snapshot: args.from_snapshot,
    };
    let sb = client
        .create(req)
        .await
        .map_err(|e| explain(&client.endpoint().url, e))?;
    tracing::info!(id = %sb.id, "sandbox created");
    client
        .wait_running(&sb.id)
        .await
        .map_err(|e| explain(&client.endpoint().url, e))
        .with_context(|| format!("sandbox {} did not start", sb.id))?;
    println!("{}", sb.id);
    Ok(ExitCode::SUCCESS)
}
