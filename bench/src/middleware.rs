//! Middleware: the request-ID layer's cost per request over a bare axum
//! router, from the middleware crate's own benchmark.
//!
//! `middleware/benches/overhead.rs` calls each router in process (no socket,
//! no runtime) and ends with an interleaved run: every variant in turn, 101
//! rounds of 5,000 requests, best and median round per variant, beside the
//! bare router measured in the same rounds. This runs it with `cargo bench`
//! (its criterion part first, as `cargo bench` does) and reads those lines,
//! so the figure in the table is exactly what that benchmark printed.

use std::process::Command;

use wakeline_e2e::workspace_root;

/// One variant of the interleaved run: best and median round, ns per request.
#[derive(Debug, Clone, Default)]
pub struct Variant {
    pub name: String,
    pub best_us: f64,
    pub median_us: f64,
}

#[derive(Debug, Clone, Default)]
pub struct MiddlewareFigures {
    pub variants: Vec<Variant>,
}

/// The bare router's name and the one the row is about.
pub const BARE: &str = "bare axum router";
pub const LINES_ON: &str = "wakeline RequestIdLayer, JSON request lines on";

impl MiddlewareFigures {
    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name == name)
    }
}

/// Runs the benchmark (`quick`: its `--test` mode, one round of 10 requests:
/// a smoke run, not a measurement) and parses its side-by-side lines.
pub fn run(quick: bool) -> MiddlewareFigures {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut args = vec!["bench", "-p", "wakeline-middleware", "--bench", "overhead"];
    if quick {
        args.extend(["--", "--test"]);
    }
    println!("\nmiddleware: cargo {}", args.join(" "));
    let output = Command::new(cargo)
        .args(&args)
        .current_dir(workspace_root())
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run cargo bench for the middleware");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo bench -p wakeline-middleware failed: {}\n{text}",
        output.status
    );
    let figures = parse(&text);
    for line in text.lines().skip_while(|l| !l.starts_with("side by side")) {
        println!("{line}");
    }
    figures
}

/// Reads the lines `  <name>  best 1.234 µs  … | median 1.345 µs  …`.
fn parse(text: &str) -> MiddlewareFigures {
    let number_after = |line: &str, key: &str| -> Option<f64> {
        let (_, rest) = line.split_once(key)?;
        rest.split_whitespace().next()?.parse().ok()
    };
    let variants = text
        .lines()
        .skip_while(|l| !l.starts_with("side by side"))
        .filter_map(|line| {
            let (name, _) = line.split_once(" best ")?;
            Some(Variant {
                name: name.trim().to_string(),
                best_us: number_after(line, " best ")?,
                median_us: number_after(line, "| median ")?,
            })
        })
        .collect();
    MiddlewareFigures { variants }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_by_side_lines_are_read() {
        let text = "per request/bare axum router  time: [1.0 µs 1.1 µs 1.2 µs]\n\
            side by side (101 interleaved rounds of 5000 requests each):\n  \
            bare axum router                               best  0.712 µs  ratio vs bare: 1.00x  overhead: +0.000 µs   | median  0.801 µs  ratio vs bare: 1.00x  overhead: +0.000 µs\n  \
            wakeline RequestIdLayer, JSON request lines on best  1.912 µs  ratio vs bare: 2.69x  overhead: +1.200 µs   | median  2.001 µs  ratio vs bare: 2.50x  overhead: +1.200 µs\n";
        let f = parse(text);
        assert_eq!(f.variants.len(), 2);
        let on = f.variant(LINES_ON).expect("parsed");
        assert_eq!((on.best_us, on.median_us), (1.912, 2.001));
        assert_eq!(f.variant(BARE).map(|v| v.best_us), Some(0.712));
    }
}
