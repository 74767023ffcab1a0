//! Facts about the machine a run happened on, and process memory from `/proc`.

use std::process::Command;

/// Resident memory of a process, from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Current resident set (VmRSS).
    pub rss_kib: u64,
    /// Peak resident set (VmHWM).
    pub peak_kib: u64,
}

/// The memory of process `pid` (`None`: `self`).
pub fn memory(pid: Option<u32>) -> Memory {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        peak_kib: field("VmHWM:"),
    }
}

/// The soft and hard open-file limits of this process.
pub fn open_file_limits() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| {
            let numbers: Vec<u64> = l
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            (
                numbers.first().copied().unwrap_or(0),
                numbers.get(1).copied().unwrap_or(0),
            )
        })
        .unwrap_or((0, 0))
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Machine and software facts as (name, value).
pub fn facts() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let logical = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let usable = std::thread::available_parallelism().map_or(0, usize::from);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let rustc = command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".into());
    let commit = command_line("git", &["rev-parse", "--short", "HEAD"]).map(|c| {
        let dirty = command_line("git", &["status", "--porcelain", "--untracked-files=no"])
            .is_some_and(|s| !s.is_empty());
        if dirty {
            format!("{c} (with uncommitted changes)")
        } else {
            c
        }
    });
    let (soft, hard) = open_file_limits();
    let mut facts = vec![
        (
            "Date".to_owned(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        ("CPU".to_owned(), model),
        (
            "Cores".to_owned(),
            format!("{logical} logical ({usable} usable by this process)"),
        ),
        (
            "Memory".to_owned(),
            format!("{:.1} GiB", mem_kib as f64 / 1024.0 / 1024.0),
        ),
        ("OS / kernel".to_owned(), format!("{os} / Linux {kernel}")),
        ("Rust".to_owned(), rustc),
        (
            "Open-file limit (bench; the servers inherit it)".to_owned(),
            format!("{soft} soft / {hard} hard"),
        ),
    ];
    if let Some(commit) = commit {
        facts.push(("onegraph commit".to_owned(), commit));
    }
    facts
}
