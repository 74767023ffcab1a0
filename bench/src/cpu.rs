//! CPU time from `/proc`: the server's, this benchmark's, and the whole machine's, so that
//! each run shows where the two cores went (and whether something else was running).

use std::time::{Duration, Instant};

/// Linux reports process and machine times in USER_HZ ticks, 100 per second on every
/// mainstream architecture.
const TICK: Duration = Duration::from_millis(10);

/// User + system time of process `pid` (`None`: this process), all threads.
pub fn process_time(pid: Option<u32>) -> Duration {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let rest = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
    TICK * u32::try_from(ticks).unwrap_or(u32::MAX)
}

/// Busy time of all cores together (everything but idle and I/O wait).
pub fn machine_busy() -> Duration {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return Duration::ZERO;
    };
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: u64 = values
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| *v)
        .sum();
    TICK * u32::try_from(busy).unwrap_or(u32::MAX)
}

/// A CPU measurement in progress.
pub struct Meter {
    pid: u32,
    server: Duration,
    client: Duration,
    machine: Duration,
    started: Instant,
}

/// Where the CPU went during a measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// The server process.
    pub server: Duration,
    /// This benchmark (the load generator).
    pub client: Duration,
    /// Everything else: the database, the kernel's share not charged to us, other processes.
    pub other: Duration,
    /// Wall time.
    pub wall: Duration,
}

impl Meter {
    /// Starts measuring, with `pid` as the server.
    pub fn start(pid: u32) -> Meter {
        Meter {
            pid,
            server: process_time(Some(pid)),
            client: process_time(None),
            machine: machine_busy(),
            started: Instant::now(),
        }
    }

    /// What was used since [`Meter::start`].
    pub fn stop(&self) -> Usage {
        let server = process_time(Some(self.pid)).saturating_sub(self.server);
        let client = process_time(None).saturating_sub(self.client);
        let machine = machine_busy().saturating_sub(self.machine);
        Usage {
            server,
            client,
            other: machine.saturating_sub(server + client),
            wall: self.started.elapsed(),
        }
    }
}

impl Usage {
    /// `server / client / other` as shares of the machine's capacity (all cores).
    pub fn split(&self) -> String {
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        let capacity = self.wall.as_secs_f64() * cores;
        let pct = |d: Duration| d.as_secs_f64() / capacity.max(1e-9) * 100.0;
        format!(
            "{:.0} / {:.0} / {:.0} %",
            pct(self.server),
            pct(self.client),
            pct(self.other)
        )
    }

    /// Server CPU per operation.
    pub fn server_per(&self, operations: u64) -> Duration {
        self.server / u32::try_from(operations.max(1)).unwrap_or(u32::MAX)
    }
}

/// The share of the machine (0–100 %) busy during `window`, measured now.
pub async fn machine_load(window: Duration) -> f64 {
    let before = machine_busy();
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let busy = machine_busy().saturating_sub(before);
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    busy.as_secs_f64() / (started.elapsed().as_secs_f64() * cores) * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_cpu_time() {
        let mut x = 0u64;
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(process_time(None) > Duration::ZERO);
        assert!(machine_busy() > Duration::ZERO);
    }
}
