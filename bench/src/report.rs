//! The printed result: machine facts, one markdown table per section, and notes.

use std::{fmt::Write as _, time::Duration};

/// The main table's section name.
pub const RESULTS: &str = "Results";
/// The settings sweep's section name.
pub const SWEEP: &str = "Settings sweep (read path, onegraph)";

/// One line of a result table. Every column is text so that scenarios with different
/// measures share one table; `—` marks a column that does not apply.
#[derive(Debug, Clone)]
pub struct Row {
    /// The table the row belongs to.
    pub section: &'static str,
    /// Scenario name (`read`, `write`, …).
    pub scenario: String,
    /// `SQLite` or `PostgreSQL`.
    pub backend: String,
    /// `onegraph`, `baseline`, or a configuration.
    pub server: String,
    /// What load was applied (concurrency and time, or subscribers).
    pub load: String,
    /// Successful (validated) operations.
    pub ok: String,
    /// Failed operations (transport errors, error bodies, wrong shapes).
    pub errors: String,
    /// Operations per second.
    pub throughput: String,
    /// Median latency.
    pub p50: String,
    /// 99th percentile latency.
    pub p99: String,
    /// Peak resident memory of the server process (VmHWM).
    pub peak_rss: String,
    /// SQL statements per request.
    pub statements: String,
    /// Server CPU time per operation.
    pub cpu_per_op: String,
    /// Machine CPU split: server / client / other, as shares of all cores.
    pub cpu_split: String,
    /// The target and whether it is met, or a remark.
    pub verdict: String,
}

impl Row {
    /// A row with every measure `—`.
    pub fn new(
        section: &'static str,
        scenario: &str,
        backend: impl Into<String>,
        server: impl Into<String>,
    ) -> Self {
        let dash = || "—".to_owned();
        Row {
            section,
            scenario: scenario.to_owned(),
            backend: backend.into(),
            server: server.into(),
            load: dash(),
            ok: dash(),
            errors: dash(),
            throughput: dash(),
            p50: dash(),
            p99: dash(),
            peak_rss: dash(),
            statements: dash(),
            cpu_per_op: dash(),
            cpu_split: dash(),
            verdict: dash(),
        }
    }

    /// A row saying the scenario could not run.
    pub fn failed(scenario: &str, backend: &str, message: &str) -> Self {
        let mut row = Row::new(RESULTS, scenario, backend, "—");
        row.verdict = format!("**FAILED**: {}", one_line(message, 300));
        row
    }

    fn cells(&self) -> [&str; 14] {
        [
            &self.scenario,
            &self.backend,
            &self.server,
            &self.load,
            &self.ok,
            &self.errors,
            &self.throughput,
            &self.p50,
            &self.p99,
            &self.peak_rss,
            &self.statements,
            &self.cpu_per_op,
            &self.cpu_split,
            &self.verdict,
        ]
    }
}

const HEADER: [&str; 14] = [
    "Scenario",
    "Backend",
    "Server",
    "Load",
    "OK",
    "Errors",
    "Throughput",
    "p50",
    "p99",
    "Peak RSS",
    "SQL/request",
    "Server CPU/req",
    "CPU server/client/other",
    "Target / remark",
];

/// The whole report.
#[derive(Debug, Default)]
pub struct Report {
    /// Facts about the machine and software, as (name, value).
    pub machine: Vec<(String, String)>,
    /// Every row, printed grouped by section in first-seen order.
    pub rows: Vec<Row>,
    /// Notes printed under the tables.
    pub notes: Vec<String>,
}

impl Report {
    /// The report as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("### Machine\n\n| | |\n|---|---|\n");
        for (name, value) in &self.machine {
            let _ = writeln!(out, "| {name} | {} |", escape(value));
        }
        let mut sections: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !sections.contains(&row.section) {
                sections.push(row.section);
            }
        }
        for section in sections {
            let _ = write!(out, "\n### {section}\n\n| {} |\n|", HEADER.join(" | "));
            for _ in HEADER {
                out.push_str("---|");
            }
            out.push('\n');
            for row in self.rows.iter().filter(|r| r.section == section) {
                let cells: Vec<String> = row.cells().iter().map(|c| escape(c)).collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
        }
        if !self.notes.is_empty() {
            out.push_str("\n### Notes\n\n");
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}

fn escape(cell: &str) -> String {
    cell.replace('|', "\\|").replace('\n', " ")
}

/// The first line of `text`, at most `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let line: String = text
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        format!("{line}…")
    } else {
        line
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A latency for humans: µs below 1 ms, ms with two decimals below 100 ms.
pub fn latency(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 1000 {
        format!("{micros} µs")
    } else if micros < 100_000 {
        format!("{:.2} ms", micros as f64 / 1000.0)
    } else {
        format!("{:.0} ms", micros as f64 / 1000.0)
    }
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Operations per second.
pub fn rate(per_second: f64) -> String {
    format!("{} /s", thousands(per_second.round() as u64))
}

/// `✅` or `❌`.
pub fn mark(met: bool) -> &'static str {
    if met { "✅" } else { "❌" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(latency(Duration::from_micros(250)), "250 µs");
        assert_eq!(latency(Duration::from_micros(2500)), "2.50 ms");
        assert_eq!(one_line("a\nb", 10), "a b");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }

    #[test]
    fn tables_group_by_section() {
        let mut report = Report::default();
        report
            .rows
            .push(Row::new(RESULTS, "read", "SQLite", "onegraph"));
        report.rows.push(Row::new(SWEEP, "read", "SQLite", "x"));
        report
            .rows
            .push(Row::new(RESULTS, "write", "SQLite", "onegraph"));
        let md = report.markdown();
        let results = md.find("### Results").unwrap_or(usize::MAX);
        let sweep = md.find("### Settings sweep").unwrap_or(0);
        assert!(results < sweep);
        assert_eq!(md.matches("| write |").count(), 1);
    }
}
