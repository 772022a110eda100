//! The TUI's own settings: the `[ui]`, `[keys]` and `[colors]` tables of the
//! config file. Parsed from the already loaded `toml::Table` so the config
//! module does not need to know about the TUI.
use anyhow::{anyhow, bail, Context};
use std::path::PathBuf;
use std::time::Duration;

use super::keymap::Keymap;
use super::theme::Theme;

/// Everything the TUI reads from the config file, with defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Lines kept per output pane; older lines are dropped.
    pub scrollback_lines: usize,
    /// How often the sandbox list is refreshed from the server.
    pub refresh_interval: Duration,
    /// Upper bound on redraws per second.
    pub max_fps: u32,
    /// How many output panes are tiled at most when not zoomed.
    pub max_tiles: usize,
    /// Whether new panes wrap long lines.
    pub wrap: bool,
    /// Whether terminated sandboxes are listed at start.
    pub show_terminated: bool,
    /// Grace period given to a sandbox's processes when it is stopped.
    pub stop_grace: Duration,
    /// Whether the mouse is captured (click to focus, wheel to scroll).
    pub mouse: bool,
    /// Whether what is sent to a process's stdin is shown in its pane.
    pub echo_stdin: bool,
    /// The command a shell pane runs; empty: `/bin/bash` where the sandbox
    /// has it, else `/bin/sh`.
    pub shell: Vec<String>,
    /// Where files downloaded from sandboxes go; `None`: the user's
    /// download directory, else `~/Downloads`.
    pub downloads: Option<std::path::PathBuf>,
    /// Where `S` saves transcripts given as a bare file name.
    pub save_dir: PathBuf,
    /// Start in the presenter layout (`[ui] layout = "presenter"`).
    pub presenter: bool,
    pub keymap: Keymap,
    pub theme: Theme,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            scrollback_lines: 10_000,
            refresh_interval: Duration::from_secs(2),
            max_fps: 30,
            max_tiles: 4,
            wrap: false,
            show_terminated: false,
            stop_grace: Duration::from_secs(5),
            mouse: true,
            echo_stdin: true,
            shell: Vec::new(),
            downloads: None,
            save_dir: crate::config::transcript_dir(),
            presenter: false,
            keymap: Keymap::default(),
            theme: Theme::default(),
        }
    }
}

impl Settings {
    /// The directory downloads go to: the configured one, else the user's
    /// download directory, else `Downloads` in the home directory (never
    /// wherever the TUI happened to be started).
    pub fn download_dir(&self) -> std::path::PathBuf {
        if let Some(d) = &self.downloads {
            return d.clone();
        }
        let user = directories::UserDirs::new();
        match user.as_ref().and_then(|u| u.download_dir()) {
            Some(d) => d.to_path_buf(),
            None => user
                .map(|u| u.home_dir().join("Downloads"))
                .unwrap_or_else(|| std::env::temp_dir().join("sandscope-downloads")),
        }
    }

    /// Reads the TUI tables from the whole config file. Missing tables and
    /// keys keep their defaults; a wrong type or an unknown key is an error,
    /// so a typo does not silently do nothing. `no_color` comes from the
    /// `NO_COLOR` convention and wins over `[colors]`.
    pub fn from_table(raw: &toml::Table, no_color: bool) -> anyhow::Result<Settings> {
        let mut s = Settings::default();
        if let Some(ui) = table(raw, "ui")? {
            for (key, value) in ui {
                let ctx = || format!("[ui] {key}");
                match key.as_str() {
                    "scrollback_lines" => {
                        s.scrollback_lines = positive(value).with_context(ctx)?;
                    }
                    "refresh_interval_ms" => {
                        s.refresh_interval =
                            Duration::from_millis(positive(value).with_context(ctx)? as u64);
                    }
                    "max_fps" => s.max_fps = positive(value).with_context(ctx)?.min(240) as u32,
                    "max_tiles" => s.max_tiles = positive(value).with_context(ctx)?.min(16),
                    "wrap" => s.wrap = boolean(value).with_context(ctx)?,
                    "show_terminated" => s.show_terminated = boolean(value).with_context(ctx)?,
                    "stop_grace_seconds" => {
                        s.stop_grace =
                            Duration::from_secs(positive(value).with_context(ctx)? as u64)
                    }
                    "mouse" => s.mouse = boolean(value).with_context(ctx)?,
                    "echo_stdin" => s.echo_stdin = boolean(value).with_context(ctx)?,
                    "shell" => s.shell = command(value).with_context(ctx)?,
                    "download_dir" => {
                        let dir = value.as_str().ok_or_else(|| anyhow!("expected a path"))?;
                        if dir.is_empty() {
                            bail!("[ui] download_dir: empty (leave it out for the default)");
                        }
                        s.downloads = Some(dir.into());
                    }
                    "save_dir" => s.save_dir = absolute_dir(value).with_context(ctx)?,
                    "layout" => {
                        s.presenter = match value.as_str() {
                            Some("standard") => false,
                            Some("presenter") => true,
                            _ => bail!("[ui] layout: expected \"standard\" or \"presenter\""),
                        }
                    }
                    other => bail!("unknown key `{other}` in [ui]"),
                }
            }
        }
        if let Some(keys) = table(raw, "keys")? {
            for (action, value) in keys {
                let specs: Vec<String> = match value {
                    toml::Value::String(one) => vec![one.clone()],
                    toml::Value::Array(many) => many
                        .iter()
                        .map(|v| {
                            v.as_str().map(str::to_owned).ok_or_else(|| {
                                anyhow!("[keys] {action}: expected a string or a list of strings")
                            })
                        })
                        .collect::<anyhow::Result<_>>()?,
                    _ => bail!("[keys] {action}: expected a string or a list of strings"),
                };
                s.keymap
                    .rebind(action, &specs)
                    .with_context(|| format!("[keys] {action}"))?;
            }
        }
        s.keymap.check_conflicts()?;
        if let Some(colors) = table(raw, "colors")? {
            for (name, value) in colors {
                let spec = value.as_str().ok_or_else(|| {
                    anyhow!("[colors] {name}: expected a colour name or \"#rrggbb\"")
                })?;
                s.theme
                    .set(name, spec)
                    .with_context(|| format!("[colors] {name}"))?;
            }
        }
        if no_color {
            s.theme = Theme::monochrome();
        }
        Ok(s)
    }
}

/// `NO_COLOR` is honoured when set to anything non-empty (no-color.org).
pub fn no_color_from_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

fn table<'a>(raw: &'a toml::Table, name: &str) -> anyhow::Result<Option<&'a toml::Table>> {
    match raw.get(name) {
        None => Ok(None),
        Some(toml::Value::Table(t)) => Ok(Some(t)),
        Some(_) => bail!("`{name}` must be a table ([{name}])"),
    }
}

fn positive(v: &toml::Value) -> anyhow::Result<usize> {
    match v.as_integer() {
        Some(n) if n > 0 => usize::try_from(n).map_err(|_| anyhow!("number too large")),
        Some(_) => bail!("must be greater than zero"),
        None => bail!("expected an integer"),
    }
}

/// An absolute directory; `~/` at the start stands for the home directory.
fn absolute_dir(v: &toml::Value) -> anyhow::Result<PathBuf> {
    let text = v
        .as_str()
        .ok_or_else(|| anyhow!("expected a directory path"))?;
    let path = match text.strip_prefix("~/") {
        Some(rest) => directories::BaseDirs::new()
            .ok_or_else(|| anyhow!("`~` is unknown: there is no home directory"))?
            .home_dir()
            .join(rest),
        None => PathBuf::from(text),
    };
    if !path.is_absolute() {
        bail!("must be an absolute path (or start with ~/), got {text:?}");
    }
    Ok(path)
}

fn boolean(v: &toml::Value) -> anyhow::Result<bool> {
    v.as_bool().ok_or_else(|| anyhow!("expected true or false"))
}

/// A command as a shell line (`"bash -l"`) or a list of words; empty means
/// the default.
fn command(v: &toml::Value) -> anyhow::Result<Vec<String>> {
    match v {
        toml::Value::String(line) => {
            shlex::split(line).ok_or_else(|| anyhow!("unbalanced quotes in `{line}`"))
        }
        toml::Value::Array(words) => words
            .iter()
            .map(|w| {
                w.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("expected a list of strings"))
            })
            .collect(),
        _ => bail!("expected a command line or a list of words"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Settings> {
        let raw: toml::Table = toml::from_str(text).unwrap();
        Settings::from_table(&raw, false)
    }

    #[test]
    fn shell_takes_a_line_or_words() {
        assert!(parse("").unwrap().shell.is_empty());
        assert_eq!(
            parse("[ui]\nshell = \"bash -l\"").unwrap().shell,
            ["bash", "-l"]
        );
        assert_eq!(parse("[ui]\nshell = [\"zsh\"]").unwrap().shell, ["zsh"]);
        assert!(parse("[ui]\nshell = \"bash 'x\"").is_err());
        assert!(parse("[ui]\nshell = 3").is_err());
    }

    #[test]
    fn defaults_when_tables_are_missing() {
        let s = parse("").unwrap();
        assert_eq!(s.scrollback_lines, 10_000);
        assert_eq!(s.refresh_interval, Duration::from_secs(2));
    }

    #[test]
    fn reads_ui_values() {
        let s =
            parse("[ui]\nscrollback_lines = 50\nrefresh_interval_ms = 750\nwrap = true\n").unwrap();
        assert!(s.echo_stdin);
        assert!(!parse("[ui]\necho_stdin = false\n").unwrap().echo_stdin);
        assert_eq!(s.scrollback_lines, 50);
        assert_eq!(s.refresh_interval, Duration::from_millis(750));
        assert!(s.wrap);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_types() {
        let e = parse("[ui]\nscrolback = 5\n").unwrap_err();
        assert!(format!("{e:#}").contains("scrolback"));
        let e = parse("[ui]\nscrollback_lines = \"many\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("integer"));
        assert!(parse("[ui]\nscrollback_lines = 0\n").is_err());
        assert!(parse("ui = 3\n").is_err());
    }

    #[test]
    fn bad_key_spec_is_an_error() {
        let e = parse("[keys]\nquit = \"ctrl-\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("quit"));
        let e = parse("[keys]\nno_such_action = \"q\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("no_such_action"));
    }

    #[test]
    fn a_key_bound_to_two_actions_is_refused_at_load() {
        let e = parse("[keys]\nkill = \"x\"\n").unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.contains("`exec`") && text.contains("`kill`") && text.contains("x"),
            "{text}"
        );
        assert!(parse("[keys]\nkill = \"x\"\nexec = \"e\"\n").is_ok());
    }

    #[test]
    fn save_dir_must_be_absolute() {
        let s = parse("[ui]\nsave_dir = \"/srv/logs\"\n").unwrap();
        assert_eq!(s.save_dir, PathBuf::from("/srv/logs"));
        let e = parse("[ui]\nsave_dir = \"logs\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("absolute"), "{e:#}");
        assert!(Settings::default().save_dir.ends_with("transcripts"));
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;
    use crate::tui::theme::COLOR_KEYS;

    /// The shipped example must load and must mention every setting.
    #[test]
    fn config_example_documents_every_key() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let cfg = crate::config::Config::parse(&text).unwrap();
        let s = Settings::from_table(&cfg.raw, false).unwrap();
        assert_eq!(s.scrollback_lines, 10_000);
        let keys = cfg.raw["keys"].as_table().unwrap();
        for b in &Keymap::default().bindings {
            assert!(
                keys.contains_key(b.name),
                "[keys] {} is not documented",
                b.name
            );
        }
        let colors = cfg.raw["colors"].as_table().unwrap();
        for (name, _) in COLOR_KEYS {
            assert!(
                colors.contains_key(*name),
                "[colors] {name} is not documented"
            );
        }
        let ui = cfg.raw["ui"].as_table().unwrap();
        for key in [
            "scrollback_lines",
            "refresh_interval_ms",
            "max_fps",
            "max_tiles",
            "wrap",
            "show_terminated",
            "stop_grace_seconds",
            "mouse",
            "echo_stdin",
            "layout",
        ] {
            assert!(ui.contains_key(key), "[ui] {key} is not documented");
        }
        // Its default depends on the machine, so the example shows it
        // commented out.
        assert!(
            text.contains("# save_dir = "),
            "[ui] save_dir is not documented"
        );
        for name in [
            "default_profile",
            "api_key_env",
            "api_key",
            "CWSANDBOX_API_KEY",
            "NO_COLOR",
        ] {
            assert!(text.contains(name), "{name} is not documented");
        }
    }
}
