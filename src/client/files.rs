//! Files in a sandbox beyond the unary ReadFile/WriteFile: listing a
//! directory. The API has no listing RPC, so it runs a small POSIX `sh`
//! script through an exec; it assumes nothing beyond `sh`, `wc` and `ls -ld`
//! (no GNU flags), so it works in minimal images and against the hosted API.
use super::error::{Error, Result};
use super::types::ExecOptions;
use super::Client;

/// The largest file ReadFile and WriteFile carry (the API's cap).
pub const MAX_FILE_BYTES: u64 = 32 << 20;

/// What a directory entry is. A symlink is reported as itself, not as
/// what it points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    /// Devices, sockets, pipes.
    Other,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Dir => "dir",
            Self::Symlink => "link",
            Self::Other => "other",
        }
    }
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name inside the directory (for a path that is not a directory,
    /// the path itself). Non-UTF-8 bytes are replaced: the API's paths are
    /// strings, so such a file could not be read through it anyway.
    pub name: String,
    pub kind: EntryKind,
    /// Size in bytes, for regular files that could be read.
    pub size: Option<u64>,
    /// `ls -l`-style mode (`-rw-r--r--`), where `ls` could say.
    pub mode: Option<String>,
    /// Where a symlink points, where `readlink` exists.
    pub link_target: Option<String>,
}

/// Marks the start of the script's output, so that anything else on
/// stdout (a profile that prints) is not mistaken for entries.
const HEADER: &str = "sandscope-ls 1";
/// Exit codes of the script.
const EXIT_NOT_FOUND: i32 = 2;
const EXIT_DENIED: i32 = 4;
/// What a shell says when a command does not exist.
const EXIT_NO_COMMAND: i32 = 127;

/// Records are `KIND SIZE MODE\0NAME\0TARGET\0`, NUL-separated because NUL
/// is the one byte a file name cannot contain. Globs instead of `ls` output
/// keep names byte-exact; `[ -e ] || [ -L ]` drops a pattern that matched
/// nothing (and keeps dangling symlinks).
const SCRIPT: &str = r#"
p=$1
[ -e "$p" ] || [ -L "$p" ] || { echo "$p: no such file or directory" >&2; exit 2; }
printf 'sandscope-ls 1\0'
entry() {
  if [ -L "$1" ]; then k=l; elif [ -d "$1" ]; then k=d; elif [ -f "$1" ]; then k=f; else k=o; fi
  s=-
  if [ "$k" = f ]; then s=$(wc -c < "$1" 2>/dev/null | tr -d ' \t') || s=-; [ -n "$s" ] || s=-; fi
  m=$(ls -ld -- "$1" 2>/dev/null) && m=${m%%[ 	]*} || m=-
  [ -n "$m" ] || m=-
  t=
  if [ "$k" = l ] && command -v readlink >/dev/null 2>&1; then t=$(readlink -- "$1" 2>/dev/null) || t=; fi
  printf '%s %s %s\0%s\0%s\0' "$k" "$s" "$m" "$2" "$t"
}
# Not a directory (a symlink to one counts as one): list the path itself.
if [ ! -d "$p" ]; then entry "$p" "$p"; exit 0; fi
cd -- "$p" 2>/dev/null || { echo "$p: permission denied" >&2; exit 4; }
for f in .[!.]* ..?* *; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  entry "./$f" "$f"
done
"#;

impl Client {
    /// Lists `path` in a sandbox: its entries, sorted by name, or the path
    /// itself when it is not a directory. `NotFound` when it does not
    /// exist, `PermissionDenied` when it cannot be read, and
    /// `FailedPrecondition` when the image lacks what the listing needs.
    pub async fn list_dir(&self, sandbox_id: &str, path: &str) -> Result<Vec<DirEntry>> {
        if path.is_empty() {
            return Err(Error::InvalidArgument("the path is empty".into()));
        }
        if path.contains('\0') {
            return Err(Error::InvalidArgument(format!(
                "{path:?} contains a NUL byte"
            )));
        }
        let argv: Vec<String> = vec![
            "/bin/sh".into(),
            "-c".into(),
            SCRIPT.into(),
            "sandscope-ls".into(),
            path.into(),
        ];
        let result = self
            .exec(sandbox_id, &argv, ExecOptions::default())
            .await?
            .result()
            .await?;
        let why = || {
            let t = result.stderr_text();
            let t = t.trim();
            if t.is_empty() {
                format!("exit code {}", result.returncode)
            } else {
                t.to_string()
            }
        };
        match result.returncode {
            0 => parse_listing(&result.stdout).ok_or_else(|| Error::Server {
                code: "internal".into(),
                message: format!("cannot list {path}: the sandbox's shell printed no listing"),
                reason: None,
            }),
            EXIT_NOT_FOUND => Err(Error::NotFound(why())),
            EXIT_DENIED => Err(Error::PermissionDenied(why())),
            EXIT_NO_COMMAND => Err(Error::FailedPrecondition(format!(
                "cannot list {path}: the sandbox lacks /bin/sh or a basic tool ({})",
                why()
            ))),
            _ => Err(Error::FailedPrecondition(format!(
                "cannot list {path}: {}",
                why()
            ))),
        }
    }
}

/// The script's output as entries; `None` when the header is missing.
pub(crate) fn parse_listing(out: &[u8]) -> Option<Vec<DirEntry>> {
    let start = find(out, HEADER.as_bytes())?;
    let body = out.get(start + HEADER.len() + 1..).unwrap_or_default();
    let mut fields = body.split(|b| *b == 0);
    let mut entries = Vec::new();
    while let (Some(meta), Some(name), Some(target)) = (fields.next(), fields.next(), fields.next())
    {
        let meta = String::from_utf8_lossy(meta);
        let mut parts = meta.split(' ');
        let kind = match parts.next() {
            Some("f") => EntryKind::File,
            Some("d") => EntryKind::Dir,
            Some("l") => EntryKind::Symlink,
            Some("o") => EntryKind::Other,
            // A truncated or foreign record: stop rather than guess.
            _ => break,
        };
        let size = parts.next().and_then(|s| s.parse().ok());
        let mode = parts.next().filter(|m| *m != "-").map(str::to_string);
        let target = String::from_utf8_lossy(target).into_owned();
        entries.push(DirEntry {
            name: String::from_utf8_lossy(name).into_owned(),
            kind,
            size,
            mode,
            link_target: (kind == EntryKind::Symlink && !target.is_empty()).then_some(target),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Some(entries)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_with_odd_names() {
        let out = b"noise\nsandscope-ls 1\0f 12 -rw-r--r--\0a b\0\0d - drwxr-xr-x\0sub\0\0\
l - lrwxrwxrwx\0ln\0/etc/x y\0f - -\0line\nbreak\0\0";
        let got = parse_listing(out).unwrap_or_default();
        let names: Vec<&str> = got.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a b", "line\nbreak", "ln", "sub"]);
        assert_eq!(got[0].size, Some(12));
        assert_eq!(got[0].mode.as_deref(), Some("-rw-r--r--"));
        assert_eq!(got[1].size, None);
        assert_eq!(got[1].mode, None);
        assert_eq!(got[2].link_target.as_deref(), Some("/etc/x y"));
        assert_eq!(got[3].kind, EntryKind::Dir);
    }

    #[test]
    fn missing_header_is_not_a_listing() {
        assert_eq!(parse_listing(b"f 1 -\0x\0\0"), None);
        assert_eq!(parse_listing(b"sandscope-ls 1\0"), Some(vec![]));
    }
}
