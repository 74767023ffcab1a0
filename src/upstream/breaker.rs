//! A circuit breaker for one upstream product, per process: after `threshold` consecutive
//! failed calls it opens and every call fails at once for `cooldown`; then it lets one call
//! through as a probe (half-open): a probe that succeeds closes it, one that fails opens it
//! for another `cooldown`. While the probe is out, other calls still fail at once.
//!
//! A call takes a [`Ticket`] with [`Breaker::admit`] and settles it with
//! [`Ticket::success`] or [`Ticket::failure`]; a probe's ticket dropped unsettled (its
//! request was cancelled) lets the next call probe instead.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Calls go through; `failures` in a row so far.
    Closed { failures: u32 },
    /// Calls fail at once until `until`.
    Open { until: Instant },
    /// One call may probe; `probing` while it is out.
    HalfOpen { probing: bool },
}

/// The breaker of one upstream product.
#[derive(Debug)]
pub struct Breaker {
    product: &'static str,
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

impl Breaker {
    /// A closed breaker that opens after `threshold` (at least 1) consecutive failures and
    /// stays open for `cooldown`.
    pub fn new(product: &'static str, threshold: u32, cooldown: Duration) -> Self {
        Breaker {
            product,
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves a valid state: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A ticket for one call, or `None` when the call must fail at once (open, or a probe
    /// is already out).
    pub fn admit(&self) -> Option<Ticket<'_>> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Some(Ticket::new(self, false)),
            State::Open { until } if Instant::now() < until => None,
            State::Open { .. } | State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                tracing::info!(product = self.product, "circuit half-open: one probe call");
                Some(Ticket::new(self, true))
            }
            State::HalfOpen { probing: true } => None,
        }
    }

    /// Whether calls fail at once now (for health reports).
    pub fn is_open(&self) -> bool {
        match *self.lock() {
            State::Closed { .. } | State::HalfOpen { probing: false } => false,
            State::Open { until } => Instant::now() < until,
            State::HalfOpen { probing: true } => true,
        }
    }

    fn settle(&self, probe: bool, ok: bool) {
        let mut state = self.lock();
        let next = match (*state, ok) {
            (_, true) => State::Closed { failures: 0 },
            // A call admitted while closed that ends after the circuit opened changes nothing.
            (State::Open { until }, false) => State::Open { until },
            (State::HalfOpen { .. }, false) if probe => self.open(),
            (State::HalfOpen { probing }, false) => State::HalfOpen { probing },
            (State::Closed { failures }, false) => {
                let failures = failures.saturating_add(1);
                if failures >= self.threshold {
                    self.open()
                } else {
                    State::Closed { failures }
                }
            }
        };
        *state = next;
    }

    fn open(&self) -> State {
        tracing::warn!(
            product = self.product,
            cooldown_ms = u64::try_from(self.cooldown.as_millis()).unwrap_or(u64::MAX),
            "circuit open: calls fail at once until the cool-down ends"
        );
        State::Open {
            until: Instant::now() + self.cooldown,
        }
    }

    fn abandon_probe(&self) {
        let mut state = self.lock();
        if *state == (State::HalfOpen { probing: true }) {
            *state = State::HalfOpen { probing: false };
        }
    }
}

/// Permission for one call; settle it with its outcome.
#[derive(Debug)]
pub struct Ticket<'a> {
    breaker: &'a Breaker,
    probe: bool,
    settled: bool,
}

impl<'a> Ticket<'a> {
    fn new(breaker: &'a Breaker, probe: bool) -> Self {
        Ticket {
            breaker,
            probe,
            settled: false,
        }
    }

    /// Whether this call is the half-open probe (which makes one attempt only).
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The product answered: the circuit closes (or stays closed).
    pub fn success(mut self) {
        self.settled = true;
        self.breaker.settle(self.probe, true);
    }

    /// The call failed in a way that says the product is unwell.
    pub fn failure(mut self) {
        self.settled = true;
        self.breaker.settle(self.probe, false);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.breaker.abandon_probe();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Admits a call (which must be let through) and settles it.
    fn call(breaker: &Breaker, ok: bool) {
        let ticket = breaker.admit();
        assert!(ticket.is_some(), "the call was refused");
        if let Some(ticket) = ticket {
            if ok {
                ticket.success()
            } else {
                ticket.failure()
            }
        }
    }

    #[test]
    fn opens_after_the_threshold_and_probes_once_after_the_cooldown() {
        let breaker = Breaker::new("Test", 2, Duration::from_millis(30));
        call(&breaker, false);
        assert!(!breaker.is_open());
        call(&breaker, false);
        assert!(breaker.is_open());
        assert!(breaker.admit().is_none());
        std::thread::sleep(Duration::from_millis(40));
        let probe = breaker.admit();
        assert!(probe.as_ref().is_some_and(Ticket::is_probe));
        assert!(breaker.admit().is_none(), "one probe at a time");
        if let Some(probe) = probe {
            probe.failure();
        }
        assert!(breaker.admit().is_none(), "a failed probe opens it again");
        std::thread::sleep(Duration::from_millis(40));
        call(&breaker, true);
        assert!(!breaker.is_open());
        assert!(breaker.admit().is_some_and(|t| !t.is_probe()));
    }

    #[test]
    fn a_success_resets_the_count_and_an_abandoned_probe_frees_the_slot() {
        let breaker = Breaker::new("Test", 2, Duration::from_millis(10));
        call(&breaker, false);
        call(&breaker, true);
        call(&breaker, false);
        assert!(!breaker.is_open());
        call(&breaker, false);
        std::thread::sleep(Duration::from_millis(20));
        drop(breaker.admit());
        assert!(breaker.admit().is_some_and(|t| t.is_probe()));
    }
}
