//! The configuration file, connection profiles and where files go.
//!
//! ```toml
//! default_profile = "hosted"
//!
//! [profiles.hosted]
//! endpoint = "https://sandbox.example.com"
//! api_key_env = "MY_SANDBOX_KEY"      # or api_key = "..."
//! ca_file = "ca.pem"                  # optional: trust this CA instead of the system's
//! ```
//! Other tables (`[ui]`, `[keys]`, `[colors]`, ...) belong to the terminal UI
//! and are kept in `Config::raw`.
use crate::client::Endpoint;
use anyhow::{bail, Context};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Overrides the config file location.
pub const CONFIG_ENV: &str = "SANDSCOPE_CONFIG";
/// Overrides the endpoint of every profile.
pub const ENDPOINT_ENV: &str = "SANDSCOPE_ENDPOINT";
/// Where the API key comes from when a profile does not say.
pub const DEFAULT_API_KEY_ENV: &str = "CWSANDBOX_API_KEY";
/// Overrides where log files go.
pub const LOG_DIR_ENV: &str = "SANDSCOPE_LOG_DIR";

/// A named server to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub endpoint: String,
    /// Name of the environment variable holding the API key
    /// (`CWSANDBOX_API_KEY` when unset).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The key itself; takes precedence over `api_key_env`.
    #[serde(default)]
    pub api_key: Option<String>,
    /// For an `https://` endpoint: a PEM file of CA certificates to trust
    /// instead of the system's roots. A relative path is relative to the
    /// config file's directory.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl Profile {
    /// The key to send: `api_key`, else the variable named by `api_key_env`,
    /// else `CWSANDBOX_API_KEY`.
    pub fn resolve_api_key(&self) -> Option<String> {
        if let Some(k) = self.api_key.as_ref().filter(|k| !k.is_empty()) {
            return Some(k.clone());
        }
        let var = self.api_key_env.as_deref().unwrap_or(DEFAULT_API_KEY_ENV);
        env_nonempty(var)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub profiles: BTreeMap<String, Profile>,
    pub default_profile: Option<String>,
    /// The whole file, so other parts can read their own tables.
    pub raw: toml::Table,
}

/// The part of the file this module interprets.
#[derive(Deserialize)]
struct Known {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
    #[serde(default)]
    default_profile: Option<String>,
}

impl Config {
    /// Reads `path`, else `$SANDSCOPE_CONFIG`, else `<config dir>/config.toml`.
    /// A missing default file means defaults; a file named explicitly must
    /// exist. A bad file is an error naming the file and the problem.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let (path, explicit) = match path {
            Some(p) => (Some(p.to_path_buf()), true),
            None => match env_nonempty(CONFIG_ENV) {
                Some(p) => (Some(PathBuf::from(p)), true),
                None => (default_config_path(), false),
            },
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Config::default())
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read config file {}", path.display()))
            }
        };
        let mut cfg = Config::parse(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        if let Some(dir) = path.parent() {
            for p in cfg.profiles.values_mut() {
                if let Some(ca) = p.ca_file.as_mut().filter(|ca| ca.is_relative()) {
                    *ca = dir.join(&*ca);
                }
            }
        }
        Ok(cfg)
    }

    /// Parses the text of a config file.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let raw: toml::Table = toml::from_str(text)?;
        let known: Known = toml::Value::Table(raw.clone()).try_into()?;
        if let Some(name) = &known.default_profile {
            if !known.profiles.contains_key(name) {
                bail!("default_profile {name:?} is not defined under [profiles]");
            }
        }
        for (name, p) in &known.profiles {
            let https = p.endpoint.starts_with("https://");
            if !(https || p.endpoint.starts_with("http://") || p.endpoint.starts_with("unix:")) {
                bail!(
                    "profile {name:?}: endpoint {:?} must start with http://, https:// or unix:",
                    p.endpoint
                );
            }
            if p.ca_file.is_some() && !https {
                bail!(
                    "profile {name:?}: ca_file is for https:// endpoints, not {:?}",
                    p.endpoint
                );
            }
        }
        Ok(Config {
            profiles: known.profiles,
            default_profile: known.default_profile,
            raw,
        })
    }

    /// The endpoint to use: `url_override` (the `--endpoint` flag), else
    /// `$SANDSCOPE_ENDPOINT`, else the named or default profile. `None` means
    /// no server is configured. A named profile that does not exist is an
    /// error.
    pub fn endpoint(
        &self,
        profile: Option<&str>,
        url_override: Option<&str>,
    ) -> anyhow::Result<Option<Endpoint>> {
        let env_url = env_nonempty(ENDPOINT_ENV);
        self.endpoint_with(profile, url_override, env_url.as_deref())
    }

    fn endpoint_with(
        &self,
        profile: Option<&str>,
        url_override: Option<&str>,
        env_url: Option<&str>,
    ) -> anyhow::Result<Option<Endpoint>> {
        let chosen = match profile.or(self.default_profile.as_deref()) {
            Some(name) => Some(self.profiles.get(name).with_context(|| {
                let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
                if known.is_empty() {
                    format!("no profile named {name:?}: the config file defines none")
                } else {
                    format!("no profile named {name:?} (known: {})", known.join(", "))
                }
            })?),
            None => None,
        };
        let url = url_override
            .filter(|u| !u.is_empty())
            .or(env_url)
            .map(str::to_string)
            .or_else(|| chosen.map(|p| p.endpoint.clone()));
        let Some(url) = url else {
            return Ok(None);
        };
        let api_key = match chosen {
            Some(p) => p.resolve_api_key(),
            None => env_nonempty(DEFAULT_API_KEY_ENV),
        };
        let ca_file = chosen.and_then(|p| p.ca_file.clone());
        Ok(Some(Endpoint::new(url, api_key).with_ca_file(ca_file)))
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "sandscope")
}

/// `<config dir>/config.toml`, when the home directory is known.
pub fn default_config_path() -> Option<PathBuf> {
    dirs().map(|d| d.config_dir().join("config.toml"))
}

/// Where log files go: `$SANDSCOPE_LOG_DIR`, else the user's state (or local
/// data) directory, else the temp directory.
pub fn log_dir() -> PathBuf {
    if let Some(d) = env_nonempty(LOG_DIR_ENV) {
        return PathBuf::from(d);
    }
    match dirs() {
        Some(d) => d
            .state_dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| d.data_local_dir().join("logs")),
        None => std::env::temp_dir().join("sandscope-logs"),
    }
}

/// Where the TUI saves transcripts by default: `transcripts` in the
/// user's state (or local data) directory, else in the temp directory.
pub fn transcript_dir() -> PathBuf {
    match dirs() {
        Some(d) => d
            .state_dir()
            .unwrap_or_else(|| d.data_local_dir())
            .join("transcripts"),
        None => std::env::temp_dir().join("sandscope-transcripts"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
default_profile = "remote"

[profiles.remote]
endpoint = "https://sandbox.example.com"
api_key = "k1"

[profiles.local]
endpoint = "http://127.0.0.1:7391"
api_key_env = "SANDSCOPE_TEST_UNSET_VARIABLE"

[ui]
theme = "dark"
"#;

    fn cfg() -> Config {
        match Config::parse(SAMPLE) {
            Ok(c) => c,
            Err(e) => panic!("sample must parse: {e:#}"),
        }
    }

    #[test]
    fn parses_profiles_and_keeps_other_tables() {
        let c = cfg();
        assert_eq!(c.profiles.len(), 2);
        assert_eq!(c.default_profile.as_deref(), Some("remote"));
        assert!(c.raw.get("ui").is_some());
    }

    #[test]
    fn resolution_order() {
        let c = cfg();
        // Flag beats env beats profile; the profile's key is still used.
        let e = c
            .endpoint_with(None, Some("http://flag:1"), Some("http://env:2"))
            .ok()
            .flatten();
        assert_eq!(
            e.map(|e| (e.url, e.api_key)),
            Some(("http://flag:1".into(), Some("k1".into())))
        );
        let e = c
            .endpoint_with(None, None, Some("http://env:2"))
            .ok()
            .flatten();
        assert_eq!(e.map(|e| e.url), Some("http://env:2".into()));
        let e = c.endpoint_with(None, None, None).ok().flatten();
        assert_eq!(e.map(|e| e.url), Some("https://sandbox.example.com".into()));
        let e = c.endpoint_with(Some("local"), None, None).ok().flatten();
        assert_eq!(
            e.map(|e| (e.url, e.api_key)),
            Some(("http://127.0.0.1:7391".into(), None))
        );
    }

    #[test]
    fn nothing_configured_means_embedded() {
        let c = Config::default();
        assert_eq!(c.endpoint_with(None, None, None).ok(), Some(None));
    }

    #[test]
    fn unknown_profile_is_an_error() {
        let msg = match cfg().endpoint_with(Some("nope"), None, None) {
            Ok(e) => panic!("expected an error, got {e:?}"),
            Err(e) => e.to_string(),
        };
        assert!(
            msg.contains("\"nope\"") && msg.contains("known: local, remote"),
            "{msg}"
        );
    }

    #[test]
    fn bad_files_are_explained() {
        let e = Config::parse("default_profile = \"x\"")
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("\"x\""));
        let e = Config::parse("[profiles.a]\nendpoint = \"ftp://x\"")
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("http://"));
        let e = Config::parse("[profiles.a]\nendpont = \"http://x\"")
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("endpont"));
        let e = Config::parse("[profiles.a]\nendpoint = \"http://x\"\nca_file = \"ca.pem\"")
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("ca_file is for https://"));
        assert!(Config::parse("[profiles.a]\nendpoint = \"unix:/run/s.sock\"").is_ok());
        assert!(Config::parse("not toml =").is_err());
    }

    #[test]
    fn load_names_the_file() {
        let dir = std::env::temp_dir().join(format!("sandscope-cfg-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("bad.toml");
        let _ = std::fs::write(&path, "[profiles.a]\nendpoint = 3\n");
        let msg = Config::load(Some(&path))
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(msg.contains("bad.toml"), "{msg}");
        let good = dir.join("good.toml");
        let _ = std::fs::write(
            &good,
            "[profiles.a]\nendpoint = \"https://h\"\nca_file = \"certs/ca.pem\"\n",
        );
        let ca = Config::load(Some(&good))
            .ok()
            .and_then(|c| c.profiles.get("a").and_then(|p| p.ca_file.clone()));
        assert_eq!(ca, Some(dir.join("certs/ca.pem")));
        let missing = dir.join("missing.toml");
        assert!(Config::load(Some(&missing)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
