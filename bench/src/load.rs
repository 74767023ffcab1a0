//! The closed-loop load generator: `concurrency` tasks, each sending its next request as
//! soon as the previous one is answered, for a warm-up and then a measured window.
//! Every response body is validated; only validated responses count as successes.

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::report;

/// One request's outcome.
pub struct Sample {
    /// Time from sending to having the whole body (validation excluded).
    pub latency: Duration,
    /// `Err` with a reason when the body is not the expected success.
    pub result: Result<(), String>,
}

/// A kind of request to repeat.
pub trait Workload: Send + Sync + 'static {
    /// Sends request number `seq` of task `worker` and validates the answer.
    fn call(&self, worker: usize, seq: u64) -> impl Future<Output = Sample> + Send;
}

/// How hard and how long.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Requests in flight.
    pub concurrency: usize,
    /// Unmeasured time before the window.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
}

impl Spec {
    /// `64 × 10 s`.
    pub fn describe(&self) -> String {
        format!(
            "{} conc. × {} s",
            self.concurrency,
            self.duration.as_secs_f64()
        )
    }
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Validated responses completed within the window.
    pub ok: u64,
    /// Failed responses completed within the window.
    pub errors: u64,
    /// Validated responses at any time, warm-up included (for checking side effects).
    pub ok_total: u64,
    /// Every request sent, warm-up included (for statements per request).
    pub sent: u64,
    /// Latencies of the window's successes, sorted.
    pub latencies: Vec<Duration>,
    /// The window's length.
    pub window: Duration,
    /// A few distinct error reasons.
    pub error_examples: Vec<String>,
}

impl Outcome {
    /// Successes per second.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile (0..=1) of the successes' latencies.
    pub fn quantile(&self, q: f64) -> Duration {
        quantile(&self.latencies, q)
    }

    /// The reasons of failures, for a note.
    pub fn error_summary(&self) -> String {
        self.error_examples.join("; ")
    }
}

/// The `q` quantile of sorted `values` (nearest rank).
pub fn quantile(values: &[Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

struct TaskResult {
    ok: u64,
    ok_total: u64,
    errors: u64,
    sent: u64,
    latencies: Vec<Duration>,
    error_examples: Vec<String>,
}

/// Runs `workload` as `spec` says.
pub async fn run<W: Workload>(workload: Arc<W>, spec: Spec) -> Outcome {
    let start = Instant::now();
    let window_start = start + spec.warmup;
    let end = window_start + spec.duration;
    let mut handles = Vec::with_capacity(spec.concurrency);
    for worker in 0..spec.concurrency {
        let workload = workload.clone();
        handles.push(tokio::spawn(async move {
            let mut result = TaskResult {
                ok: 0,
                ok_total: 0,
                errors: 0,
                sent: 0,
                latencies: Vec::with_capacity(4096),
                error_examples: Vec::new(),
            };
            let mut seq = 0u64;
            while Instant::now() < end {
                let sample = workload.call(worker, seq).await;
                seq += 1;
                result.sent += 1;
                if sample.result.is_ok() {
                    result.ok_total += 1;
                }
                let done = Instant::now();
                if done < window_start || done > end {
                    continue;
                }
                match sample.result {
                    Ok(()) => {
                        result.ok += 1;
                        result.latencies.push(sample.latency);
                    }
                    Err(reason) => {
                        result.errors += 1;
                        let reason = report::one_line(&reason, 160);
                        if result.error_examples.len() < 3
                            && !result.error_examples.contains(&reason)
                        {
                            result.error_examples.push(reason);
                        }
                    }
                }
            }
            result
        }));
    }
    let mut outcome = Outcome {
        window: spec.duration,
        ..Outcome::default()
    };
    for handle in handles {
        let Ok(result) = handle.await else {
            outcome.errors += 1;
            continue;
        };
        outcome.ok += result.ok;
        outcome.ok_total += result.ok_total;
        outcome.errors += result.errors;
        outcome.sent += result.sent;
        outcome.latencies.extend(result.latencies);
        for reason in result.error_examples {
            if outcome.error_examples.len() < 3 && !outcome.error_examples.contains(&reason) {
                outcome.error_examples.push(reason);
            }
        }
    }
    outcome.latencies.sort_unstable();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&values, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&values, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&values, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }

    struct Echo;

    impl Workload for Echo {
        async fn call(&self, _worker: usize, seq: u64) -> Sample {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Sample {
                latency: Duration::from_millis(2),
                result: if seq.is_multiple_of(2) {
                    Ok(())
                } else {
                    Err("odd".into())
                },
            }
        }
    }

    #[tokio::test]
    async fn counts_successes_and_failures_in_the_window() {
        let spec = Spec {
            concurrency: 4,
            warmup: Duration::from_millis(20),
            duration: Duration::from_millis(100),
        };
        let outcome = run(Arc::new(Echo), spec).await;
        assert!(outcome.ok > 0);
        assert!(outcome.errors > 0);
        assert!(outcome.sent >= outcome.ok + outcome.errors);
        assert_eq!(outcome.error_examples, vec!["odd".to_owned()]);
    }
}
