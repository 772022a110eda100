//! Every numeric and duration flag of every subcommand: a bad value is a
//! usage error (exit 2) that names the flag, never a panic, and an extreme
//! but valid value gets past parsing without one.
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sandscope");

/// Runs the binary; one that parsed `serve` by mistake would serve for
/// ever, so the run is bounded.
fn sandscope(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("home");
    let mut child = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("SANDSCOPE_DATA_DIR", home.path().join("data"))
        .env("SANDSCOPE_LOG_DIR", home.path().join("logs"))
        .env("SANDSCOPE_TOKEN", "t")
        // Nothing listens there: commands that get past parsing fail fast.
        .args(["--endpoint", "http://127.0.0.1:9"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sandscope runs");
    let until = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("{args:?} still runs: it got past parsing");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

/// (flag, the arguments around it with `{}` for the value)
const FLAGS: &[(&str, &[&str])] = &[
    (
        "--timeout",
        &["exec", "-s", "x", "--timeout={}", "--", "true"],
    ),
    ("--max-lifetime", &["create", "--max-lifetime={}"]),
    ("--grace", &["stop", "x", "--grace={}"]),
    ("--tail", &["logs", "x", "--tail={}"]),
    (
        "--retention",
        &["serve", "--listen", "127.0.0.1:0", "--retention={}"],
    ),
];

const BAD: &[&str] = &[
    "99999999999999999999",
    "-1",
    "NaN",
    "inf",
    "1e300",
    "",
    "abc",
];

fn with(args: &[&str], value: &str) -> Vec<String> {
    args.iter().map(|a| a.replace("{}", value)).collect()
}

#[test]
fn bad_values_are_usage_errors() {
    for (flag, args) in FLAGS {
        for value in BAD
            .iter()
            .chain(if *flag == "--grace" || *flag == "--tail" {
                &[][..]
            } else {
                &["0"][..]
            })
        {
            let argv = with(args, value);
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let out = sandscope(&argv);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{argv:?}: {err}");
            assert!(
                err.contains("invalid value") && err.contains(flag),
                "{argv:?}: {err}"
            );
            assert!(!err.contains("panicked"), "{argv:?}: {err}");
        }
    }
}

#[test]
fn values_past_what_the_protocol_carries_are_refused() {
    for (flag, value) in [
        ("--max-lifetime", "2147483648"),
        ("--grace", "2147483648"),
        ("--tail", "2147483648"),
        ("--timeout", "1000000001"),
        ("--retention", "11575d"),
    ] {
        let args = FLAGS.iter().find(|(f, _)| *f == flag).unwrap().1;
        let argv = with(args, value);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = sandscope(&argv);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {err}");
        assert!(err.contains(flag), "{argv:?}: {err}");
    }
}

#[test]
fn the_largest_values_get_past_parsing() {
    for argv in [
        &["exec", "-s", "x", "--timeout=1000000000", "--", "true"][..],
        &["exec", "-s", "x", "--timeout=0.001", "--", "true"],
        &["create", "--max-lifetime=2147483647"],
        &["stop", "x", "--grace=2147483647"],
        &["logs", "x", "--tail=2147483647"],
    ] {
        let out = sandscope(argv);
        let err = String::from_utf8_lossy(&out.stderr);
        // Parsed: what fails is reaching the server.
        assert!(!err.contains("invalid value"), "{argv:?}: {err}");
        assert!(err.contains("127.0.0.1:9"), "{argv:?}: {err}");
        assert!(
            !matches!(out.status.code(), Some(2) | Some(101)),
            "{argv:?}: {err}"
        );
    }
}
