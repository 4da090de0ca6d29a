//! A token bucket: how often something may happen, with a burst.
//!
//! Pure: the caller passes the time, so the rule is tested without a clock.
//! It is kept in the GCRA form (one "theoretical arrival time" instead of a
//! token count and a refill time): the same admissions as a bucket that
//! holds `burst` tokens and gains `per_second` a second, in one `Instant`
//! per bucket and exact `Duration` arithmetic, no floating point.

use std::time::Duration;

use tokio::time::Instant;

/// How fast something may happen: `per_second` on average, with bursts of
/// up to `burst` at once (a bucket of `burst` tokens that refills at
/// `per_second` tokens a second).
///
/// ```
/// // 20 messages a second, 40 at once after a quiet moment.
/// let rate = rex::Rate::new(20, 40);
/// assert_eq!((rate.per_second(), rate.burst()), (20, 40));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    per_second: u32,
    burst: u32,
}

impl Rate {
    /// `per_second` on average, `burst` at once. Both are at least 1: a rate
    /// of zero would refuse everything forever (use a limit of sessions or
    /// the app's own rules for that).
    pub const fn new(per_second: u32, burst: u32) -> Rate {
        // `Ord::max` is not `const`.
        Rate {
            per_second: if per_second == 0 { 1 } else { per_second },
            burst: if burst == 0 { 1 } else { burst },
        }
    }

    /// No limit: every request is admitted. For benchmarks and trusted
    /// load generators, never for a room open to a network.
    pub fn unlimited() -> Rate {
        Rate {
            per_second: u32::MAX,
            burst: u32::MAX,
        }
    }

    /// The average rate, per second.
    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// How many may happen at once after a quiet moment.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    fn is_unlimited(&self) -> bool {
        self.per_second == u32::MAX
    }

    /// The time one token takes to come back.
    fn interval(&self) -> Duration {
        Duration::from_secs(1) / self.per_second
    }

    /// How far ahead of `now` the bucket may be booked: all but one token.
    fn tolerance(&self) -> Duration {
        self.interval().saturating_mul(self.burst - 1)
    }
}

/// One bucket's state: when it would be full again if nothing more came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bucket {
    /// The "theoretical arrival time": `now` or earlier means full.
    full_at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn new(now: Instant) -> Bucket {
        Bucket { full_at: now }
    }

    /// Takes one token at `now`, or says how long until one is there (and
    /// then changes nothing: a refused request costs no token).
    pub(crate) fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        if rate.is_unlimited() {
            return Ok(());
        }
        let start = self.full_at.max(now);
        let booked = start.saturating_duration_since(now);
        if booked > rate.tolerance() {
            return Err(booked - rate.tolerance());
        }
        self.full_at = start + rate.interval();
        Ok(())
    }

    /// Whether the bucket has refilled completely by `now`: then it is the
    /// same as a new one and may be forgotten.
    pub(crate) fn is_full(&self, now: Instant) -> bool {
        self.full_at <= now
    }
}

/// Whole seconds to tell a client to wait (`Retry-After`): rounded up, and
/// at least 1, so the client never retries before a token is back.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn takes(bucket: &mut Bucket, rate: Rate, now: Instant, n: u32) -> u32 {
        (0..n).filter(|_| bucket.take(rate, now).is_ok()).count() as u32
    }

    #[test]
    fn a_full_bucket_admits_the_burst_then_refuses() {
        let now = Instant::now();
        let rate = Rate::new(20, 40);
        let mut bucket = Bucket::new(now);
        assert_eq!(takes(&mut bucket, rate, now, 100), 40);
        let wait = bucket.take(rate, now).unwrap_err();
        assert_eq!(wait, Duration::from_millis(50), "one token's refill time");
    }

    #[test]
    fn tokens_come_back_at_the_rate() {
        let start = Instant::now();
        let rate = Rate::new(20, 40);
        let mut bucket = Bucket::new(start);
        takes(&mut bucket, rate, start, 40);
        // One second later, 20 more; not 21.
        let later = start + Duration::from_secs(1);
        assert_eq!(takes(&mut bucket, rate, later, 100), 20);
        // Sustained: one every 50 ms.
        for step in 1..=100 {
            let now = later + Duration::from_millis(50) * step;
            assert_eq!(bucket.take(rate, now), Ok(()), "step {step}");
            assert!(bucket.take(rate, now).is_err(), "step {step}");
        }
    }

    #[test]
    fn a_refusal_costs_no_token() {
        let start = Instant::now();
        let rate = Rate::new(1, 1);
        let mut bucket = Bucket::new(start);
        assert_eq!(bucket.take(rate, start), Ok(()));
        for _ in 0..1000 {
            assert!(bucket.take(rate, start).is_err());
        }
        assert_eq!(bucket.take(rate, start + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn a_quiet_bucket_refills_to_the_burst_only() {
        let start = Instant::now();
        let rate = Rate::new(5, 100);
        let mut bucket = Bucket::new(start);
        takes(&mut bucket, rate, start, 100);
        assert!(!bucket.is_full(start));
        let much_later = start + Duration::from_secs(3600);
        assert!(bucket.is_full(much_later));
        assert_eq!(takes(&mut bucket, rate, much_later, 1000), 100);
    }

    #[test]
    fn unlimited_admits_everything() {
        let now = Instant::now();
        let mut bucket = Bucket::new(now);
        assert_eq!(takes(&mut bucket, Rate::unlimited(), now, 100_000), 100_000);
        assert!(bucket.is_full(now));
    }

    #[test]
    fn zero_is_raised_to_one() {
        assert_eq!(Rate::new(0, 0), Rate::new(1, 1));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(50)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }
}
