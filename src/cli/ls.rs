//! `sandscope ls`: a table of sandboxes.
use super::connect::{connect, explain};
use super::GlobalArgs;
use crate::client::{ListQuery, Sandbox};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Include completed, failed and terminated sandboxes.
    #[arg(long, short)]
    pub all: bool,
    /// Only sandboxes with this tag; repeat to require several.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

pub async fn run(global: &GlobalArgs, args: LsArgs) -> anyhow::Result<ExitCode> {
    let client = connect(global).await?;
    let q = ListQuery {
        tags: args.tags,
        include_terminated: args.all,
    };
    let list = client
        .list(&q)
        .await
        .map_err(|e| explain(&client.endpoint().url, e))?;
    print!("{}", table(&list, SystemTime::now()));
    Ok(ExitCode::SUCCESS)
}

const HEADERS: [&str; 6] = ["ID", "NAME", "STATE", "IMAGE", "TAGS", "AGE"];

/// The table as text, columns padded to their widest cell.
pub fn table(list: &[Sandbox], now: SystemTime) -> String {
    let rows: Vec<[String; 6]> = list
        .iter()
        .map(|sb| {
            [
                sb.id.clone(),
                if sb.display_name.is_empty() {
                    "-".into()
                } else {
                    sb.display_name.clone()
                },
                sb.state.to_string(),
                if sb.image.is_empty() {
                    "-".into()
                } else {
                    sb.image.clone()
                },
                if sb.tags.is_empty() {
                    "-".into()
                } else {
                    sb.tags.join(",")
                },
                sb.created
                    .and_then(|c| now.duration_since(c).ok())
                    .map(age)
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 6]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(HEADERS);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
    out
}

/// "42s", "5m", "3h", "2d": coarse, like `docker ps`.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::SandboxState;

    #[test]
    fn ages() {
        assert_eq!(age(Duration::from_secs(5)), "5s");
        assert_eq!(age(Duration::from_secs(125)), "2m");
        assert_eq!(age(Duration::from_secs(7200)), "2h");
        assert_eq!(age(Duration::from_secs(3 * 86400)), "3d");
    }

    #[test]
    fn table_aligns_columns() {
        let now = SystemTime::now();
        let sb = Sandbox {
            id: "abc123".into(),
            display_name: String::new(),
            state: SandboxState::Running,
            state_reason: String::new(),
            image: "python:3.11".into(),
            tags: vec!["a".into(), "b".into()],
            created: now.checked_sub(Duration::from_secs(90)),
            started: None,
            ended: None,
            exit_code: None,
            runner_id: String::new(),
            max_lifetime: None,
        };
        let t = table(&[sb], now);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("ID      NAME  STATE    IMAGE"));
        assert!(lines[1].starts_with("abc123  -     running  python:3.11  a,b   1m"));
    }
}
