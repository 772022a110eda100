//! The processes inside a sandbox, whoever started them, and signalling
//! one. The API has no RPC for either, so both run a POSIX `sh` script
//! through an exec that reads the sandbox's own `/proc` (its pid namespace:
//! the pids are the sandbox's). The script prints raw `/proc` fields and
//! the command lines hex-encoded by `od` (they hold NULs and any other
//! byte); all the parsing happens here.
use super::error::{Error, Result};
use super::types::ExecOptions;
use super::Client;
use std::collections::HashMap;
use std::time::Duration;

/// One process in a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: u32,
    /// The kernel's one-letter state: `R` running, `S` sleeping, `Z` zombie...
    pub state: char,
    pub uid: Option<u32>,
    /// The uid's name in the sandbox's `/etc/passwd`, where it has one.
    pub user: Option<String>,
    /// How long it has run, by the sandbox's clock.
    pub elapsed: Option<Duration>,
    /// The kernel's short name (`comm`), for processes without a command line.
    pub name: String,
    /// Its arguments; empty for kernel threads and zombies.
    pub cmdline: Vec<String>,
}

impl ProcessInfo {
    /// The command line for display: the arguments joined by spaces, or
    /// `[name]` as `ps` shows a process without one.
    pub fn command(&self) -> String {
        if self.cmdline.is_empty() {
            format!("[{}]", self.name)
        } else {
            self.cmdline.join(" ")
        }
    }
}

const HEADER: &str = "sandscope-ps 1";
const EXIT_NO_SUCH_PROCESS: i32 = 3;

/// Skips its own shell (`$$`); a process gone between the glob and the
/// read is skipped too. `read` and `printf` are builtins, so a process
/// costs one `od`.
const PS_SCRIPT: &str = r#"
[ -r /proc/self/stat ] || { echo "/proc is not mounted in this sandbox" >&2; exit 3; }
printf 'sandscope-ps 1\n'
read -r up _ < /proc/uptime || up=
printf 'uptime %s\n' "$up"
hz=$(getconf CLK_TCK 2>/dev/null) || hz=
printf 'hz %s\n' "${hz:-100}"
printf '\0'
cat /etc/passwd 2>/dev/null
printf '\0'
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  [ "$p" = "$$" ] && continue
  read -r st < "$d/stat" 2>/dev/null || continue
  u=
  while read -r k v _; do
    if [ "$k" = "Uid:" ]; then u=$v; break; fi
  done < "$d/status" 2>/dev/null
  printf 'P %s\nS %s\nU %s\nC\n' "$p" "$st" "$u"
  od -An -v -tx1 "$d/cmdline" 2>/dev/null
done
"#;

const KILL_SCRIPT: &str = r#"
[ -d "/proc/$2" ] || { echo "no process $2 in this sandbox" >&2; exit 3; }
case $1 in
  *[!0-9]*) kill -s "$1" "$2" ;;
  *) kill "-$1" "$2" ;;
esac
"#;

impl Client {
    /// Every process running in the sandbox, by pid, including ones other
    /// clients started. `FailedPrecondition` when the sandbox has no
    /// `/proc` or no POSIX `sh`.
    pub async fn processes(&self, sandbox_id: &str) -> Result<Vec<ProcessInfo>> {
        let argv = script_argv(PS_SCRIPT, "sandscope-ps", &[]);
        let result = self
            .exec(sandbox_id, &argv, ExecOptions::default())
            .await?
            .result()
            .await?;
        if result.returncode != 0 {
            let why = result.stderr_text();
            return Err(Error::FailedPrecondition(format!(
                "cannot list the sandbox's processes: {} (exit code {})",
                why.trim(),
                result.returncode
            )));
        }
        parse_ps(&result.stdout).ok_or_else(|| Error::Server {
            code: "internal".into(),
            message: "cannot list the sandbox's processes: the sandbox's shell printed no listing"
                .into(),
            reason: None,
        })
    }

    /// Sends `signal` (a name such as `TERM`, `SIGKILL`, or a number) to
    /// process `pid` in the sandbox, with the shell's `kill`. `NotFound`
    /// when there is no such process.
    pub async fn signal_process(&self, sandbox_id: &str, pid: u32, signal: &str) -> Result<()> {
        let sig = signal_name(signal)?;
        let argv = script_argv(KILL_SCRIPT, "sandscope-kill", &[&sig, &pid.to_string()]);
        let result = self
            .exec(sandbox_id, &argv, ExecOptions::default())
            .await?
            .result()
            .await?;
        let why = result.stderr_text();
        match result.returncode {
            0 => Ok(()),
            EXIT_NO_SUCH_PROCESS => Err(Error::NotFound(why.trim().to_string())),
            code => Err(Error::FailedPrecondition(format!(
                "kill -s {sig} {pid} failed: {} (exit code {code})",
                why.trim()
            ))),
        }
    }
}

fn script_argv(script: &str, name: &str, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec!["/bin/sh".into(), "-c".into(), script.into(), name.into()];
    v.extend(args.iter().map(|a| a.to_string()));
    v
}

/// `TERM`, `sigterm`, `SIGTERM` → `TERM`; `9` → `9`. Anything else is
/// refused before it reaches a shell.
pub(crate) fn signal_name(s: &str) -> Result<String> {
    let up = s.trim().to_ascii_uppercase();
    let up = up.strip_prefix("SIG").unwrap_or(&up).to_string();
    let numeric = !up.is_empty() && up.bytes().all(|b| b.is_ascii_digit());
    let named = !up.is_empty()
        && up
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if (numeric && up.parse::<u8>().is_ok_and(|n| n < 65)) || (named && !numeric) {
        Ok(up)
    } else {
        Err(Error::InvalidArgument(format!(
            "{s:?} is not a signal (try TERM, KILL, INT, HUP or a number)"
        )))
    }
}

/// The script's output as processes, sorted by pid; `None` without the header.
pub(crate) fn parse_ps(out: &[u8]) -> Option<Vec<ProcessInfo>> {
    let start = out
        .windows(HEADER.len())
        .position(|w| w == HEADER.as_bytes())?;
    let mut sections = out[start..].splitn(3, |b| *b == 0);
    let head = String::from_utf8_lossy(sections.next()?);
    let passwd = users(&String::from_utf8_lossy(
        sections.next().unwrap_or_default(),
    ));
    let body = String::from_utf8_lossy(sections.next().unwrap_or_default());

    let mut uptime = None;
    let mut hz = 100.0;
    for line in head.lines() {
        if let Some(v) = line.strip_prefix("uptime ") {
            uptime = v.trim().parse::<f64>().ok();
        } else if let Some(v) = line.strip_prefix("hz ") {
            hz = v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|h| *h > 0.0)
                .unwrap_or(100.0);
        }
    }

    let mut procs = Vec::new();
    let mut cur: Option<(ProcessInfo, Vec<u8>)> = None;
    let finish = |cur: Option<(ProcessInfo, Vec<u8>)>, procs: &mut Vec<ProcessInfo>| {
        if let Some((mut p, cmd)) = cur {
            p.cmdline = split_cmdline(&cmd);
            procs.push(p);
        }
    };
    for line in body.lines() {
        if let Some(pid) = line.strip_prefix("P ") {
            finish(cur.take(), &mut procs);
            cur = pid.trim().parse().ok().map(|pid| (blank(pid), Vec::new()));
            continue;
        }
        let Some((p, cmd)) = cur.as_mut() else {
            continue;
        };
        if let Some(stat) = line.strip_prefix("S ") {
            apply_stat(p, stat, uptime, hz);
        } else if let Some(uid) = line.strip_prefix("U ") {
            p.uid = uid.trim().parse().ok();
            p.user = p.uid.and_then(|u| passwd.get(&u).cloned());
        } else if line.starts_with(' ') {
            cmd.extend(
                line.split_whitespace()
                    .filter_map(|h| u8::from_str_radix(h, 16).ok()),
            );
        }
    }
    finish(cur.take(), &mut procs);
    procs.sort_by_key(|p| p.pid);
    Some(procs)
}

fn blank(pid: u32) -> ProcessInfo {
    ProcessInfo {
        pid,
        ppid: 0,
        state: '?',
        uid: None,
        user: None,
        elapsed: None,
        name: String::new(),
        cmdline: Vec::new(),
    }
}

/// `pid (comm) S ppid ... starttime ...`: the name may hold spaces and
/// parentheses, so the fields are counted from its last `)`.
fn apply_stat(p: &mut ProcessInfo, stat: &str, uptime: Option<f64>, hz: f64) {
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return;
    };
    if close < open {
        return;
    }
    p.name = stat[open + 1..close].to_string();
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    p.state = rest.first().and_then(|s| s.chars().next()).unwrap_or('?');
    p.ppid = rest.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    // Field 22 of stat, the 20th after the name: start time in clock ticks
    // since boot.
    let start = rest.get(19).and_then(|s| s.parse::<f64>().ok());
    p.elapsed = match (uptime, start) {
        (Some(up), Some(ticks)) => Duration::try_from_secs_f64((up - ticks / hz).max(0.0)).ok(),
        _ => None,
    };
}

fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    let trimmed = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

fn users(passwd: &str) -> HashMap<u32, String> {
    passwd
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let uid = f.nth(1)?.parse().ok()?;
            Some((uid, name.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse() {
        let out = b"sandscope-ps 1\nuptime 1000.50\nhz 100\n\0root:x:0:0::/root:/bin/sh\n\0\
P 1\nS 1 (sh) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 50000 1 2\nU 0\nC\n 73 68 00 2d 63 00\n\
P 7\nS 7 (we (ird) x) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 90050 1 2\nU 1234\nC\n";
        let ps = parse_ps(out).unwrap_or_default();
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].pid, 1);
        assert_eq!(ps[0].cmdline, vec!["sh".to_string(), "-c".to_string()]);
        assert_eq!(ps[0].user.as_deref(), Some("root"));
        assert_eq!(ps[0].elapsed, Some(Duration::from_millis(500_500)));
        assert_eq!(ps[1].name, "we (ird) x");
        assert_eq!(ps[1].state, 'R');
        assert_eq!(ps[1].ppid, 1);
        assert_eq!(ps[1].user, None);
        assert_eq!(ps[1].command(), "[we (ird) x]");
        assert_eq!(ps[1].elapsed, Some(Duration::from_secs(100)));
    }

    #[test]
    fn signals_are_checked() {
        assert_eq!(signal_name("sigterm").ok().as_deref(), Some("TERM"));
        assert_eq!(signal_name("9").ok().as_deref(), Some("9"));
        for bad in ["", "TERM; rm", "-9", "99", "SIG"] {
            assert!(signal_name(bad).is_err(), "{bad:?}");
        }
    }
}
