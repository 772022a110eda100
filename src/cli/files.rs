//! `sandscope files`: list a directory in a sandbox, copy a file out of it
//! or into it. Copies are byte-exact through ReadFile/WriteFile (up to the
//! API's 32 MiB per file); the listing comes from the client's `list_dir`.
use super::connect::{connect, explain};
use super::output::{self, cell, Format};
use super::GlobalArgs;
use crate::client::{DirEntry, MAX_FILE_BYTES};
use anyhow::Context;
use serde_json::json;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct FilesArgs {
    #[command(subcommand)]
    pub command: FilesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum FilesCommand {
    /// List a directory (or show one file) in a sandbox.
    Ls {
        /// Sandbox id.
        id: String,
        /// Absolute path, or relative to the sandbox's working directory.
        #[arg(default_value = ".")]
        path: String,
        /// `table` (default) or `json`.
        #[arg(long, short, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Copy a file out of a sandbox.
    Get {
        /// Sandbox id.
        id: String,
        /// The file in the sandbox.
        remote: String,
        /// Where to write it: a file, a directory, or `-` for stdout
        /// (default: its name in the current directory).
        local: Option<PathBuf>,
    },
    /// Copy a file into a sandbox (missing parent directories are created).
    Put {
        /// Sandbox id.
        id: String,
        /// The file to send, or `-` for stdin.
        local: PathBuf,
        /// Where to write it; ending in `/` puts it in that directory
        /// (default: its name in the sandbox's working directory).
        remote: Option<String>,
    },
}

pub async fn run(global: &GlobalArgs, args: FilesArgs) -> anyhow::Result<ExitCode> {
    let client = connect(global).await?;
    let url = client.endpoint().url.clone();
    match args.command {
        FilesCommand::Ls { id, path, output } => {
            let entries = client
                .list_dir(&id, &path)
                .await
                .map_err(|e| explain(&url, e))
                .with_context(|| format!("cannot list {path} in sandbox {id}"))?;
            match output {
                Format::Table => print!("{}", table(&entries)),
                Format::Json => output::print_json(&to_json(&entries))?,
            }
        }
        FilesCommand::Get { id, remote, local } => {
            let data = client
                .read_file(&id, &remote)
                .await
                .map_err(|e| explain(&url, e))
                .with_context(|| format!("cannot read {remote} from sandbox {id}"))?;
            match local.as_deref() {
                Some(p) if p == Path::new("-") => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&data)
                        .and_then(|_| out.flush())
                        .context("cannot write to stdout")?;
                }
                other => {
                    let dest = local_destination(other, &remote)?;
                    std::fs::write(&dest, &data)
                        .with_context(|| format!("cannot write {}", dest.display()))?;
                    eprintln!("{} bytes -> {}", data.len(), dest.display());
                }
            }
        }
        FilesCommand::Put { id, local, remote } => {
            let from_stdin = local == Path::new("-");
            let remote = remote_destination(&local, remote, from_stdin)?;
            let data = if from_stdin {
                read_limited(std::io::stdin().lock(), "stdin")?
            } else {
                let f = std::fs::File::open(&local)
                    .with_context(|| format!("cannot open {}", local.display()))?;
                let meta = f
                    .metadata()
                    .with_context(|| format!("cannot stat {}", local.display()))?;
                if meta.is_dir() {
                    anyhow::bail!(
                        "{} is a directory; files put copies one file",
                        local.display()
                    );
                }
                read_limited(f, &local.display().to_string())?
            };
            let n = data.len();
            client
                .write_file(&id, &remote, data)
                .await
                .map_err(|e| explain(&url, e))
                .with_context(|| format!("cannot write {remote} in sandbox {id}"))?;
            eprintln!("{n} bytes -> {id}:{remote}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads at most the API's cap; one byte more is an error, not a file
/// quietly cut short.
fn read_limited(r: impl Read, what: &str) -> anyhow::Result<Vec<u8>> {
    let mut data = Vec::new();
    r.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read {what}"))?;
    if data.len() as u64 > MAX_FILE_BYTES {
        anyhow::bail!(
            "{what} is larger than {} MiB, the most the API carries in one file",
            MAX_FILE_BYTES >> 20
        );
    }
    Ok(data)
}

fn base_name(path: &str) -> Option<&str> {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
}

/// `files get`'s target: the given file, or the remote name inside the
/// given directory (or the current one).
fn local_destination(local: Option<&Path>, remote: &str) -> anyhow::Result<PathBuf> {
    let name = || {
        base_name(remote)
            .map(PathBuf::from)
            .with_context(|| format!("{remote:?} has no file name; say where to write it"))
    };
    match local {
        None => name(),
        Some(p) if p.is_dir() => Ok(p.join(name()?)),
        Some(p) => Ok(p.to_path_buf()),
    }
}

/// `files put`'s target: the given path, with the local name appended when
/// it ends in `/`, or the local name alone.
fn remote_destination(
    local: &Path,
    remote: Option<String>,
    from_stdin: bool,
) -> anyhow::Result<String> {
    let name = || {
        let n = if from_stdin {
            None
        } else {
            local.file_name().and_then(|n| n.to_str())
        };
        n.map(str::to_string)
            .context("say where to write it in the sandbox (the local name will not do)")
    };
    match remote {
        None => name(),
        Some(r) if r.ends_with('/') => Ok(format!("{r}{}", name()?)),
        Some(r) if r.is_empty() => anyhow::bail!("the remote path is empty"),
        Some(r) => Ok(r),
    }
}

pub fn table(entries: &[DirEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let name = match &e.link_target {
                Some(t) => format!("{} -> {}", cell(&e.name), cell(t)),
                None => cell(&e.name),
            };
            vec![
                e.mode.clone().unwrap_or_else(|| "-".into()),
                e.kind.as_str().to_string(),
                e.size.map_or_else(|| "-".into(), |s| s.to_string()),
                name,
            ]
        })
        .collect();
    output::table(&["MODE", "KIND", "SIZE", "NAME"], &rows)
}

fn to_json(entries: &[DirEntry]) -> serde_json::Value {
    serde_json::Value::Array(
        entries
            .iter()
            .map(|e| {
                json!({
                    "name": e.name,
                    "kind": e.kind.as_str(),
                    "size": e.size,
                    "mode": e.mode,
                    "link_target": e.link_target,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        assert_eq!(base_name("/a/b.txt"), Some("b.txt"));
        assert_eq!(base_name("/a/dir/"), Some("dir"));
        assert_eq!(base_name("/"), None);
        let r = remote_destination(Path::new("/x/f.bin"), Some("/tmp/".into()), false);
        assert_eq!(r.ok().as_deref(), Some("/tmp/f.bin"));
        assert!(remote_destination(Path::new("-"), None, true).is_err());
        let l = local_destination(Some(Path::new("out.bin")), "/r/f");
        assert_eq!(l.ok(), Some(PathBuf::from("out.bin")));
    }
}
