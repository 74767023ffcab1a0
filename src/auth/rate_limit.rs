//! A per-IP token bucket for the brute-force surfaces of CONTRACT section 1.
//!
//! Callers take a token before an attempt ([`RateLimiter::check`]) and give it back when the
//! attempt succeeded ([`RateLimiter::refund`]): failures are what is limited, and concurrent
//! attempts cannot all pass before the first one is charged.
//!
//! IPv4 addresses are keyed as they are, IPv6 addresses by their /64 (one subscriber's
//! network). Memory is bounded: at most [`MAX_TRACKED`] addresses are remembered. When the
//! table is full, buckets that have refilled completely (they carry no information) are
//! dropped, at most once per [`SWEEP_INTERVAL`]; while it is still full, new addresses share
//! one overflow bucket, so that spraying addresses neither grows memory nor buys fresh
//! attempts.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use crate::error::AppError;

/// How many addresses are remembered at most.
pub const MAX_TRACKED: usize = 100_000;
/// How often, at most, a full table is swept for refilled buckets.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The key an address is limited under: IPv6 by its /64, IPv4-mapped IPv6 as IPv4.
pub fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(Ipv6Addr::from(network))
        }
        v4 => v4,
    }
}

/// One address's allowance: tokens left at `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
struct Buckets {
    map: HashMap<IpAddr, Bucket>,
    /// Shared by new addresses while `map` is full.
    overflow: Bucket,
    last_sweep: Option<Instant>,
}

/// An in-memory per-IP limiter: `burst` attempts at once, refilled at `per_minute`.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    capacity: usize,
    buckets: Mutex<Buckets>,
}

impl RateLimiter {
    /// A limiter allowing `burst` attempts at once and `per_minute` sustained.
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self::with_capacity(burst, per_minute, MAX_TRACKED)
    }

    /// As [`RateLimiter::new`], remembering at most `capacity` addresses.
    pub fn with_capacity(burst: u32, per_minute: u32, capacity: usize) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            burst,
            per_second: f64::from(per_minute.max(1)) / 60.0,
            capacity: capacity.max(1),
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                overflow: Bucket {
                    tokens: burst,
                    at: Instant::now(),
                },
                last_sweep: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Buckets> {
        match self.buckets.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// `bucket` brought up to `now`.
    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.at = now;
    }

    /// The bucket of `key`, creating it when there is room; the shared overflow bucket when
    /// the table is full even after a sweep.
    fn bucket<'a>(&self, buckets: &'a mut Buckets, key: IpAddr, now: Instant) -> &'a mut Bucket {
        if !buckets.map.contains_key(&key) && buckets.map.len() >= self.capacity {
            let due = buckets
                .last_sweep
                .is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_INTERVAL);
            if due {
                buckets.last_sweep = Some(now);
                let (burst, rate) = (self.burst, self.per_second);
                buckets.map.retain(|_, b| {
                    b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
                });
                if buckets.map.len() >= self.capacity {
                    tracing::warn!(
                        tracked = buckets.map.len(),
                        "rate limiter table is full; new addresses share one bucket"
                    );
                }
            }
            if buckets.map.len() >= self.capacity {
                return &mut buckets.overflow;
            }
        }
        buckets.map.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        })
    }

    /// Takes one attempt for `ip`, or says how long to wait. Unknown addresses share one bucket.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), AppError> {
        let key = bucket_key(ip.unwrap_or(IpAddr::from([0, 0, 0, 0])));
        let now = Instant::now();
        let mut buckets = self.lock();
        let bucket = self.bucket(&mut buckets, key, now);
        self.refill(bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / self.per_second);
            Err(AppError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            })
        }
    }

    /// Gives back the attempt `check` took for `ip`, after it succeeded.
    pub fn refund(&self, ip: Option<IpAddr>) {
        let key = bucket_key(ip.unwrap_or(IpAddr::from([0, 0, 0, 0])));
        let now = Instant::now();
        let mut buckets = self.lock();
        let buckets = &mut *buckets;
        // An address not in the table was charged to the overflow bucket (or its bucket
        // was swept because it had refilled, when a refund changes nothing).
        let bucket = match buckets.map.get_mut(&key) {
            Some(bucket) => bucket,
            None => &mut buckets.overflow,
        };
        self.refill(bucket, now);
        bucket.tokens = (bucket.tokens + 1.0).min(self.burst);
    }

    /// How many addresses are remembered now.
    pub fn tracked(&self) -> usize {
        self.lock().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_per_address() {
        let limiter = RateLimiter::new(3, 1);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        for _ in 0..3 {
            assert!(limiter.check(a).is_ok());
        }
        match limiter.check(a) {
            Err(AppError::RateLimited { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        assert!(limiter.check(b).is_ok());
    }

    #[test]
    fn refunds_give_successes_back() {
        let limiter = RateLimiter::new(2, 1);
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..50 {
            assert!(limiter.check(a).is_ok());
            limiter.refund(a);
        }
        // Refunds never raise the allowance above the burst.
        limiter.refund(a);
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_err());
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        let limiter = RateLimiter::new(1, 1);
        let ip = |t: &str| t.parse::<IpAddr>().ok();
        assert!(limiter.check(ip("2001:db8:1:2::1")).is_ok());
        assert!(limiter.check(ip("2001:db8:1:2:ffff::9")).is_err());
        assert!(limiter.check(ip("2001:db8:1:3::1")).is_ok());
        // IPv4-mapped IPv6 is the IPv4 address.
        assert!(limiter.check(ip("192.0.2.1")).is_ok());
        assert!(limiter.check(ip("::ffff:192.0.2.1")).is_err());
    }

    #[test]
    fn the_table_never_grows_past_its_capacity() {
        let limiter = RateLimiter::with_capacity(2, 1, 100);
        for i in 0..1_000u32 {
            let ip = Some(IpAddr::from((0x0a00_0000 + i).to_be_bytes()));
            let _ = limiter.check(ip);
            assert!(limiter.tracked() <= 100);
        }
        // The sprayed addresses beyond the capacity shared one bucket, long exhausted.
        let fresh = Some(IpAddr::from([192, 0, 2, 99]));
        assert!(limiter.check(fresh).is_err());
        // Addresses already tracked keep their own buckets.
        let first = Some(IpAddr::from([10, 0, 0, 0]));
        assert!(limiter.check(first).is_ok());
    }
}
