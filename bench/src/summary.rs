//! The summary: issue 19's table of goals, filled with this run's figures.
//!
//! Each benchmark prints its own detailed table as it goes; this gathers the
//! figure that answers each row of the issue, beside the baseline it was
//! measured against in the same run and the goal, and prints them at the end
//! as one Markdown table (to paste into `bench/README.md`). A row whose
//! benchmark did not run says so instead of showing an old figure.

/// One row: what is measured, this run's figure, its baseline, the goal.
#[derive(Debug, Clone)]
pub struct Row {
    pub measure: String,
    pub figure: String,
    pub baseline: String,
    pub goal: &'static str,
}

/// The rows gathered so far, in the order of measures.
#[derive(Debug, Default)]
pub struct Summary {
    rows: Vec<Row>,
}

impl Summary {
    pub fn add(
        &mut self,
        measure: impl Into<String>,
        figure: impl Into<String>,
        baseline: impl Into<String>,
        goal: &'static str,
    ) {
        self.rows.push(Row {
            measure: measure.into(),
            figure: figure.into(),
            baseline: baseline.into(),
            goal,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as Markdown; `|` inside a cell is escaped.
    pub fn to_markdown(&self) -> String {
        let cell = |text: &str| text.replace('|', "\\|");
        let mut out =
            String::from("| measure | this run | baseline, same run | goal |\n|---|---|---|---|\n");
        for row in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&row.measure),
                cell(&row.figure),
                cell(&row.baseline),
                cell(row.goal)
            ));
        }
        out
    }
}

/// Goals, as issue 19 states them.
pub mod goal {
    pub const INGEST: &str = "≥ 1.5× `docker logs` to /dev/null";
    pub const INGEST_CPU: &str = "≤ 5 CPU-µs per line";
    pub const STEADY_CPU: &str = "≤ 10 CPU-µs per line; ≤ half of dockerd's CPU";
    pub const IDLE: &str = "< 30 MB RSS";
    pub const PEAK: &str = "< 150 MB RSS";
    pub const AFTER: &str = "back near idle";
    pub const INDEX: &str = "≤ 0.4 bytes per log byte";
    pub const LIVE: &str = "p99 < 50 ms, 3 runs out of 3";
    pub const SEARCH_REQUEST: &str = "p50 < 1 ms, p99 < 5 ms (at 10 M lines)";
    pub const SEARCH_TERM: &str = "p99 < 20 ms (at 10 M lines)";
    pub const HISTOGRAM: &str = "< 100 ms (at 10 M lines)";
    pub const REPORT_ONLY: &str = "– (reported, no goal)";
    pub const MANY_RSS: &str = "< 60 MB RSS";
    pub const MANY_CPU: &str = "< 1% of a core at rest";
    pub const MIDDLEWARE: &str = "≤ 1 µs over bare axum";
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_a_markdown_table_with_pipes_escaped() {
        let mut summary = Summary::default();
        assert!(summary.is_empty());
        summary.add("index", "0.28", "log text", goal::INDEX);
        summary.add(
            "search",
            "1 ms",
            "`docker logs | grep`: 6 s",
            goal::SEARCH_TERM,
        );
        let table = summary.to_markdown();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[2],
            "| index | 0.28 | log text | ≤ 0.4 bytes per log byte |"
        );
        assert!(lines[3].contains("`docker logs \\| grep`"));
    }
}
