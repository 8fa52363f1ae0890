//! The command line: every flag also an environment variable, every value
//! checked before anything starts, so a mistake is one clear line and a
//! non-zero exit rather than a surprise later.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Collects the logs of every Docker container on this host, indexes them,
/// and serves live tail, search and request traces on a local web port.
#[derive(Debug, Clone, Parser)]
#[command(name = "wakeline", version, about, long_about = None, args_override_self = true)]
pub struct Config {
    /// Directory holding the index and its checkpoints (created if missing).
    #[arg(long, env = "WAKELINE_DATA_DIR", default_value = "wakeline-data")]
    pub data_dir: PathBuf,

    /// Address to serve the API and UI on. Loopback by default; anything else
    /// needs --auth-token, or --allow-open.
    #[arg(long, env = "WAKELINE_LISTEN", default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,

    /// Accept listening beyond loopback without --auth-token: anyone who can
    /// reach the port reads every log. For a collector in a container whose
    /// port is published on the host's loopback only (the image sets it).
    #[arg(long, env = "WAKELINE_ALLOW_OPEN", action = clap::ArgAction::SetTrue)]
    pub allow_open: bool,

    /// Require this token on every route but /healthz, as
    /// `Authorization: Bearer <token>` or the UI's login cookie.
    #[arg(long, env = "WAKELINE_AUTH_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub auth_token: Option<String>,

    /// Read the token from this file (a secrets manager's mount), once at
    /// start; a trailing newline is ignored. Not together with --auth-token.
    #[arg(long, env = "WAKELINE_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,

    /// Mask values that look like secrets (`Authorization: Bearer …`,
    /// `password=…`, API keys, JWTs, private keys) with [REDACTED] before a
    /// line is indexed or sent live.
    #[arg(long, env = "WAKELINE_REDACT", action = clap::ArgAction::SetTrue)]
    pub redact: bool,

    /// Docker engine to follow: unix:///path/to/docker.sock or tcp://host:port.
    #[arg(
        long,
        env = "DOCKER_HOST",
        default_value = "unix:///var/run/docker.sock"
    )]
    pub docker_host: String,

    /// Longest line kept whole; longer lines are cut and flagged `truncated`.
    /// Bytes, or with a unit: 64KiB, 1MiB.
    #[arg(long, env = "WAKELINE_MAX_LINE_BYTES", default_value = "1MiB", value_parser = parse_size)]
    pub max_line_bytes: usize,

    /// How often the index commits (and records become searchable): 1s, 250ms.
    #[arg(long, env = "WAKELINE_COMMIT_INTERVAL", default_value = "1s", value_parser = parse_interval)]
    pub commit_interval: Duration,

    /// Read `json-file` logs straight from disk when the files are readable
    /// (`auto`: much cheaper for the engine), or always through the Docker
    /// API (`api`).
    #[arg(long, env = "WAKELINE_LOG_FILES", default_value = "auto", value_enum)]
    pub log_files: LogFiles,

    /// Join the lines of a stack trace (Python, Java, Go, Node, Rust, .NET)
    /// into one record (`auto`), or keep every line its own record (`off`).
    #[arg(long, env = "WAKELINE_MULTILINE", default_value = "auto", value_enum)]
    pub multiline: Multiline,

    /// Delete records older than this (7d, 12h, 90m); `forever` keeps
    /// them whatever their age.
    #[arg(long, env = "WAKELINE_RETENTION", default_value = "7d", value_parser = parse_age)]
    pub retention: Age,

    /// Keep the data dir under this size, the oldest records deleted first
    /// (500MiB, 20GiB); `auto`: a tenth of its filesystem, at most 4GiB (as
    /// journald does); `unlimited`.
    #[arg(long, env = "WAKELINE_MAX_DISK", default_value = "auto", value_parser = parse_disk)]
    pub max_disk: DiskLimit,

    /// Extra origins allowed to open the live WebSocket (comma-separated, e.g.
    /// https://logs.example.com). The collector's own host is always allowed.
    #[arg(long, env = "WAKELINE_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
}

impl Config {
    /// Reads `--auth-token-file` into `auth_token`, checked as `--auth-token`
    /// is. `Err` is one sentence: both given, unreadable, empty or not a token.
    pub fn read_token_file(&mut self) -> Result<(), String> {
        let Some(path) = &self.auth_token_file else {
            return Ok(());
        };
        if self.auth_token.is_some() {
            return Err(
                "expected --auth-token or --auth-token-file, found both (also check \
                 WAKELINE_AUTH_TOKEN and WAKELINE_AUTH_TOKEN_FILE)"
                    .into(),
            );
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --auth-token-file {}: {e}", path.display()))?;
        let line = text.strip_suffix('\n').unwrap_or(&text);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let token = parse_token(line)
            .map_err(|e| format!("invalid token in --auth-token-file {}: {e}", path.display()))?;
        self.auth_token = Some(token);
        Ok(())
    }

    /// What the collector warns about at every start: listening beyond
    /// loopback with no token (accepted by --allow-open).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.listen.ip().is_loopback() && self.auth_token.is_none() {
            warnings.push(format!(
                "--allow-open: listening on {} without --auth-token; anyone who can reach \
                 this port reads every log",
                self.listen
            ));
        }
        warnings
    }

    /// Checks what no single flag can: listening beyond loopback needs a
    /// token, or the explicit acceptance of the risk. `Err` is one sentence.
    pub fn check(&self) -> Result<(), String> {
        if !self.listen.ip().is_loopback() && self.auth_token.is_none() && !self.allow_open {
            return Err(format!(
                "refusing to listen on {} without --auth-token: anyone who can reach it would \
                 read every log; set --auth-token (WAKELINE_AUTH_TOKEN), or --allow-open \
                 (WAKELINE_ALLOW_OPEN=true) if only trusted peers can reach that address",
                self.listen
            ));
        }
        Ok(())
    }
}

/// How container logs are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFiles {
    /// From the `json-file` log on disk when readable, else through the API.
    Auto,
    /// Always through the Docker API.
    Api,
}

/// An age limit; `None`: forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Age(pub Option<Duration>);

/// The size the data dir is kept under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskLimit {
    /// A tenth of the data dir's filesystem, at most 4 GiB.
    Auto,
    Bytes(u64),
    Unlimited,
}

impl DiskLimit {
    /// Most bytes `auto` takes.
    pub const AUTO_CAP: u64 = 4 << 30;

    /// The limit in bytes for a data dir in `dir` (created by then).
    pub fn resolve(&self, dir: &std::path::Path) -> Option<u64> {
        match self {
            DiskLimit::Auto => fs4::total_space(dir)
                .ok()
                .map(|total| (total / 10).min(Self::AUTO_CAP)),
            DiskLimit::Bytes(n) => Some(*n),
            DiskLimit::Unlimited => None,
        }
    }
}

fn parse_age(text: &str) -> Result<Age, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("forever") {
        return Ok(Age(None));
    }
    let age = humantime::parse_duration(t)
        .map_err(|e| format!("expected an age such as 7d, 12h or forever ({e})"))?;
    if age < Duration::from_secs(1) {
        return Err(format!("expected at least 1s (or forever), found {text:?}"));
    }
    Ok(Age(Some(age)))
}

/// `auto`, `unlimited`, or a size with a unit up to TiB (powers of two).
fn parse_disk(text: &str) -> Result<DiskLimit, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" => return Ok(DiskLimit::Auto),
        "unlimited" | "none" => return Ok(DiskLimit::Unlimited),
        _ => {}
    }
    let bytes = size_bytes(text, 40, "auto, unlimited or a size such as 20GiB")?;
    if bytes < 1 << 20 {
        return Err(format!("expected at least 1MiB, found {text:?}"));
    }
    Ok(DiskLimit::Bytes(bytes))
}

/// A number of bytes with an optional unit, powers of two from B up to the
/// unit of `max_shift` (20: MiB, 40: TiB); `what` names the expected input.
fn size_bytes(text: &str, max_shift: u32, what: &str) -> Result<u64, String> {
    const UNITS: [(&[&str], u32, &str); 5] = [
        (&["", "b"], 0, "B"),
        (&["k", "kb", "kib"], 10, "KiB"),
        (&["m", "mb", "mib"], 20, "MiB"),
        (&["g", "gb", "gib"], 30, "GiB"),
        (&["t", "tb", "tib"], 40, "TiB"),
    ];
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("expected {what}, found {text:?}"))?;
    let units = UNITS.iter().filter(|(_, shift, _)| *shift <= max_shift);
    let spelled = unit.trim().to_ascii_lowercase();
    let Some((_, shift, _)) = units
        .clone()
        .find(|(names, _, _)| names.contains(&spelled.as_str()))
    else {
        let names: Vec<&str> = units.map(|(_, _, name)| *name).collect();
        let (last, first) = names.split_last().unwrap_or((&"B", &[]));
        return Err(format!(
            "expected a size unit of {} or {last}, found {unit:?}",
            first.join(", ")
        ));
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Whether continuation lines are joined into the record they belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Multiline {
    /// Stack traces and their continuation lines become one record.
    Auto,
    /// Every line is its own record.
    Off,
}

fn parse_token(text: &str) -> Result<String, String> {
    let token = text.trim();
    if token.is_empty() {
        return Err("expected a non-empty token".into());
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err("expected printable ASCII without spaces".into());
    }
    Ok(token.to_owned())
}

/// `1048576`, `64KiB`, `1MiB`, `1MB` (units are powers of two).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let bytes = size_bytes(text, 20, "a size such as 1MiB or 65536")?;
    if !(1024..=64 << 20).contains(&bytes) {
        return Err(format!("expected between 1KiB and 64MiB, found {text:?}"));
    }
    usize::try_from(bytes).map_err(|_| format!("{text:?} is too large"))
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(text.trim())
        .map_err(|e| format!("expected a duration such as 1s or 250ms ({e})"))?;
    if interval < Duration::from_millis(10) || interval > Duration::from_secs(300) {
        return Err(format!("expected between 10ms and 5m, found {text:?}"));
    }
    Ok(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_loopback_needs_a_token_or_allow_open() {
        let parse = |args: &[&str]| {
            Config::try_parse_from(std::iter::once("wakeline").chain(args.iter().copied())).unwrap()
        };
        assert!(parse(&[]).check().is_ok());
        assert!(parse(&["--listen", "[::1]:7070"]).check().is_ok());
        let open = parse(&["--listen", "0.0.0.0:7070"]).check();
        assert!(open.is_err_and(|e| e.contains("--allow-open")));
        assert!(
            parse(&["--listen", "0.0.0.0:7070", "--auth-token", "t"])
                .check()
                .is_ok()
        );
        assert!(
            parse(&["--listen", "0.0.0.0:7070", "--allow-open"])
                .check()
                .is_ok()
        );
    }

    #[test]
    fn the_token_file_is_read_trimmed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path.to_str().unwrap().to_owned()
        };
        let read = |args: &[&str]| {
            let mut config =
                Config::try_parse_from(std::iter::once("wakeline").chain(args.iter().copied()))
                    .unwrap();
            config.read_token_file().map(|()| config.auth_token)
        };
        let good = file("good", "s3cret\n");
        assert_eq!(
            read(&["--auth-token-file", &good]),
            Ok(Some("s3cret".into()))
        );
        let crlf = file("crlf", "s3cret\r\n");
        assert_eq!(
            read(&["--auth-token-file", &crlf]),
            Ok(Some("s3cret".into()))
        );
        let empty = file("empty", "\n");
        let err = read(&["--auth-token-file", &empty]).unwrap_err();
        assert!(err.contains("non-empty"), "{err}");
        let spaced = file("spaced", "two words\n");
        assert!(
            read(&["--auth-token-file", &spaced])
                .unwrap_err()
                .contains("printable")
        );
        let missing = dir.path().join("missing");
        let err = read(&["--auth-token-file", missing.to_str().unwrap()]).unwrap_err();
        assert!(
            err.contains("cannot read") && err.contains("missing"),
            "{err}"
        );
        let both = read(&["--auth-token", "t", "--auth-token-file", &good]).unwrap_err();
        assert!(both.contains("found both"), "{both}");
        assert_eq!(read(&["--auth-token", "t"]), Ok(Some("t".into())));
    }

    #[test]
    fn allow_open_is_warned_about_whenever_it_is_in_effect() {
        let parse = |args: &[&str]| {
            Config::try_parse_from(std::iter::once("wakeline").chain(args.iter().copied())).unwrap()
        };
        let open = parse(&["--listen", "0.0.0.0:7070", "--allow-open"]).warnings();
        assert_eq!(open.len(), 1);
        assert!(open[0].contains("--allow-open") && open[0].contains("0.0.0.0:7070"));
        assert!(parse(&[]).warnings().is_empty());
        assert!(
            parse(&["--allow-open"]).warnings().is_empty(),
            "loopback: nothing open"
        );
        let token = parse(&[
            "--listen",
            "0.0.0.0:7070",
            "--allow-open",
            "--auth-token",
            "t",
        ]);
        assert!(token.warnings().is_empty());
    }

    #[test]
    fn defaults_match_the_design() {
        let config = Config::try_parse_from(["wakeline"]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:7070");
        assert_eq!(config.max_line_bytes, 1 << 20);
        assert_eq!(config.commit_interval, Duration::from_secs(1));
    }

    #[test]
    fn retention_and_disk_limits_parse() {
        let config = Config::try_parse_from(["wakeline"]).unwrap();
        assert_eq!(config.retention, Age(Some(Duration::from_secs(7 * 86_400))));
        assert_eq!(config.max_disk, DiskLimit::Auto);
        assert_eq!(parse_age("forever"), Ok(Age(None)));
        assert_eq!(parse_age("90m"), Ok(Age(Some(Duration::from_secs(5400)))));
        assert!(parse_age("0s").is_err());
        assert!(parse_age("soon").is_err());
        assert_eq!(parse_disk("20GiB"), Ok(DiskLimit::Bytes(20 << 30)));
        assert_eq!(parse_disk("unlimited"), Ok(DiskLimit::Unlimited));
        assert!(parse_disk("10k").is_err(), "below 1MiB");
        assert!(parse_disk("99999999999TiB").is_err());
        assert!(parse_disk("lots").is_err());
        assert_eq!(
            parse_disk("5PiB"),
            Err("expected a size unit of B, KiB, MiB, GiB or TiB, found \"PiB\"".into())
        );
        assert_eq!(
            parse_size("5GiB"),
            Err("expected a size unit of B, KiB or MiB, found \"GiB\"".into())
        );
        let dir = std::env::temp_dir();
        let auto = DiskLimit::Auto.resolve(&dir).unwrap();
        assert!(auto > 0 && auto <= DiskLimit::AUTO_CAP);
        assert_eq!(DiskLimit::Unlimited.resolve(&dir), None);
    }

    #[test]
    fn sizes_and_intervals_are_checked() {
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert!(parse_size("1").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("forever").is_err());
        assert!(Config::try_parse_from(["wakeline", "--listen", "nowhere"]).is_err());
        assert!(Config::try_parse_from(["wakeline", "--auth-token", " "]).is_err());
    }
}
