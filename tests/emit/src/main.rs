//! `emit`: the one program the end-to-end tests run inside their containers.
//!
//! Test images are made `FROM scratch` with no registry, so there is no shell to
//! script `echo`/`printf`; instead this static binary executes its arguments in
//! order as steps and writes exactly the bytes a test wants to see in the logs:
//!
//! - `out:TEXT` / `err:TEXT`: one line on stdout / stderr
//! - `size:STREAM:N`: one line of exactly N bytes (`S<N>:` then `0123456789`…), then `\n`
//! - `count:STREAM:PREFIX:FROM:TO:MICROS`: lines `PREFIX<i>` for i in FROM..=TO
//!   (TO = 0: forever), sleeping MICROS between lines
//! - `rate:STREAM:PREFIX:FROM:TO:PER_SEC`: the same lines at a steady PER_SEC, each
//!   due at `start + n / PER_SEC` (a late line is written at once, so oversleeping
//!   does not lower the rate, as it does with `count`'s pauses)
//! - `stamp:STREAM:PREFIX`: one line `PREFIX<ns since epoch>` (tells runs apart)
//! - `hex:STREAM:BYTES`: raw bytes given as hex pairs (`ff fe 0a`), for invalid
//!   UTF-8 and lines without a newline
//! - `fill:STREAM:N:TEXT`: TEXT repeated to exactly N bytes, with no newline
//!   (written 64 KiB at a time), for lines longer than any limit
//! - `json:STREAM:deep:N` / `json:STREAM:keys:N`: one JSON line, an array nested
//!   N deep / an object with N keys (`{"msg":…,"k0":0,"k1":1,…}`)
//! - `sleep:MS`, `stay` (sleep forever)
//!
//! Every write is flushed: stdout is a pipe, and a test waiting for a line must not
//! wait for a buffer to fill. Standard library only, so the binary stays tiny.

use std::io::{self, Write};
use std::process::ExitCode;
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn main() -> ExitCode {
    for step in std::env::args().skip(1) {
        if let Err(err) = run(&step) {
            let _ = writeln!(io::stderr(), "emit: step {step:?}: {err}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// Writes `bytes` to the named stream and flushes it.
fn write(stream: &str, bytes: &[u8]) -> Result<(), String> {
    let result = match stream {
        "out" => {
            let mut out = io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush())
        }
        "err" => {
            let mut err = io::stderr().lock();
            err.write_all(bytes).and_then(|()| err.flush())
        }
        other => return Err(format!("expected stream out or err, found {other:?}")),
    };
    result.map_err(|e| format!("write failed: {e}"))
}

fn number<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("expected a number for {what}, found {text:?}"))
}

fn run(step: &str) -> Result<(), String> {
    let (kind, rest) = step.split_once(':').unwrap_or((step, ""));
    match kind {
        "out" | "err" => write(kind, format!("{rest}\n").as_bytes()),
        "size" => {
            let (stream, n) = rest.split_once(':').ok_or("expected size:STREAM:N")?;
            write(stream, &sized_line(number("N", n)?))
        }
        "count" => {
            let (stream, prefix, from, to, micros) = numbered(rest, "MICROS")?;
            let mut i = from;
            while to == 0 || i <= to {
                write(stream, format!("{prefix}{i}\n").as_bytes())?;
                if micros > 0 {
                    sleep(Duration::from_micros(micros));
                }
                i += 1;
            }
            Ok(())
        }
        "rate" => {
            let (stream, prefix, from, to, per_sec) = numbered(rest, "PER_SEC")?;
            if per_sec == 0 {
                return Err("PER_SEC must be at least 1".into());
            }
            let start = Instant::now();
            let mut i = from;
            while to == 0 || i <= to {
                let offset_ns = u128::from(i - from) * 1_000_000_000 / u128::from(per_sec);
                let due =
                    start + Duration::from_nanos(u64::try_from(offset_ns).unwrap_or(u64::MAX));
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    sleep(wait);
                }
                write(stream, format!("{prefix}{i}\n").as_bytes())?;
                i += 1;
            }
            Ok(())
        }
        "stamp" => {
            let (stream, prefix) = rest.split_once(':').ok_or("expected stamp:STREAM:PREFIX")?;
            let ns = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|e| format!("clock before 1970: {e}"))?
                .as_nanos();
            write(stream, format!("{prefix}{ns}\n").as_bytes())
        }
        "hex" => {
            let (stream, hex) = rest.split_once(':').ok_or("expected hex:STREAM:BYTES")?;
            let bytes = hex
                .split_whitespace()
                .map(|pair| {
                    u8::from_str_radix(pair, 16)
                        .map_err(|_| format!("expected a hex byte, found {pair:?}"))
                })
                .collect::<Result<Vec<u8>, String>>()?;
            write(stream, &bytes)
        }
        "fill" => {
            let mut parts = rest.splitn(3, ':');
            let (Some(stream), Some(n), Some(text)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err("expected fill:STREAM:N:TEXT".into());
            };
            if text.is_empty() {
                return Err("fill needs a non-empty TEXT".into());
            }
            let mut left: usize = number("N", n)?;
            let chunk: Vec<u8> = text.bytes().cycle().take(64 * 1024).collect();
            let mut offset = 0;
            while left > 0 {
                let n = left.min(chunk.len() - offset);
                write(stream, &chunk[offset..offset + n])?;
                // Keep the pattern continuous across chunks.
                offset = (offset + n) % text.len();
                left -= n;
            }
            Ok(())
        }
        "json" => {
            let mut parts = rest.splitn(3, ':');
            let (Some(stream), Some(shape), Some(n)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err("expected json:STREAM:deep|keys:N".into());
            };
            let n: usize = number("N", n)?;
            let line = match shape {
                "deep" => format!(
                    "{{\"msg\":\"deep {n}\",\"x\":{}0{}}}\n",
                    "[".repeat(n),
                    "]".repeat(n)
                ),
                "keys" => {
                    let mut line = format!("{{\"msg\":\"keys {n}\"");
                    for i in 0..n {
                        line.push_str(&format!(",\"k{i}\":{i}"));
                    }
                    line.push_str("}\n");
                    line
                }
                other => return Err(format!("expected deep or keys, found {other:?}")),
            };
            write(stream, line.as_bytes())
        }
        "sleep" => {
            sleep(Duration::from_millis(number("MS", rest)?));
            Ok(())
        }
        "stay" => loop {
            sleep(Duration::from_secs(3600));
        },
        other => Err(format!(
            "expected out, err, size, count, rate, stamp, hex, fill, json, sleep or stay, found {other:?}"
        )),
    }
}

/// `STREAM:PREFIX:FROM:TO:LAST` of the `count` and `rate` steps. The prefix may
/// itself contain ':', so the numbers are taken from the right.
fn numbered<'a>(spec: &'a str, last: &str) -> Result<(&'a str, &'a str, u64, u64, u64), String> {
    let usage = || format!("expected STREAM:PREFIX:FROM:TO:{last}");
    let (stream, spec) = spec.split_once(':').ok_or_else(usage)?;
    let mut parts = spec.rsplitn(4, ':');
    let value: u64 = number(last, parts.next().unwrap_or(""))?;
    let to: u64 = number("TO", parts.next().unwrap_or(""))?;
    let from: u64 = number("FROM", parts.next().unwrap_or(""))?;
    let prefix = parts.next().ok_or_else(usage)?;
    Ok((stream, prefix, from, to, value))
}

/// A line of exactly `n` bytes plus `\n`: a marker saying its own length, then a
/// repeated digit pattern, so a cut or a lost fragment is visible in the record.
fn sized_line(n: usize) -> Vec<u8> {
    let mut line = format!("S{n}:").into_bytes();
    line.truncate(n);
    let pattern = b"0123456789";
    while line.len() < n {
        line.push(pattern[line.len() % pattern.len()]);
    }
    line.push(b'\n');
    line
}
