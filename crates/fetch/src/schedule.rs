//! When to poll a feed next: miniflux-style adaptive intervals with back-off.

use chrono::{DateTime, Duration, Utc};

/// Bounds of the poll interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleConfig {
    /// Shortest interval between polls of one feed.
    pub min_interval: Duration,
    /// Longest interval (also the cap of error back-off).
    pub max_interval: Duration,
    /// First back-off after an error; doubled per consecutive error.
    pub error_backoff: Duration,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            min_interval: Duration::minutes(15),
            max_interval: Duration::hours(24),
            error_backoff: Duration::minutes(5),
        }
    }
}

/// The next poll of a feed.
///
/// - After `errors` consecutive failures: `error_backoff × 2^(errors−1)` plus up to 20 %
///   jitter (so feeds that failed together do not retry together), capped at
///   `max_interval`; a server's `Retry-After` wins when it is longer.
/// - After a success: the feed's own rhythm, the mean gap between its recent items
///   (`item_times`, any order), clamped to `[min_interval, max_interval]`; a feed with
///   fewer than two dated items is polled every hour.
///
/// `jitter_seed` makes the jitter reproducible (use a hash of the feed URL).
pub fn next_check(
    now: DateTime<Utc>,
    errors: u32,
    retry_after: Option<std::time::Duration>,
    item_times: &[DateTime<Utc>],
    jitter_seed: u64,
    cfg: &ScheduleConfig,
) -> DateTime<Utc> {
    if errors > 0 {
        let base = cfg.error_backoff * 2i32.saturating_pow(errors.saturating_sub(1).min(20));
        let base = base.min(cfg.max_interval);
        let jitter = base.num_milliseconds() as f64 * 0.2 * ((jitter_seed % 1000) as f64 / 1000.0);
        let mut wait = (base + Duration::milliseconds(jitter as i64)).min(cfg.max_interval);
        if let Some(ra) = retry_after.and_then(|d| Duration::from_std(d).ok()) {
            wait = wait.max(ra);
        }
        return now + wait;
    }
    let mut times: Vec<DateTime<Utc>> = item_times.iter().copied().filter(|t| *t <= now).collect();
    times.sort();
    let interval = if times.len() >= 2 {
        let span = times[times.len() - 1] - times[0];
        span / (times.len() as i32 - 1)
    } else {
        Duration::hours(1)
    };
    let mut wait = interval.clamp(cfg.min_interval, cfg.max_interval);
    if let Some(ra) = retry_after.and_then(|d| Duration::from_std(d).ok()) {
        wait = wait.max(ra);
    }
    now + wait
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T00:00:00Z").unwrap().with_timezone(&Utc) + Duration::hours(h)
    }

    #[test]
    fn busy_feeds_are_polled_often_quiet_ones_rarely() {
        let cfg = ScheduleConfig::default();
        let now = t(48);
        let busy: Vec<_> = (0..20).map(|i| now - Duration::minutes(5 * i)).collect();
        assert_eq!(next_check(now, 0, None, &busy, 1, &cfg) - now, Duration::minutes(15), "clamped to the minimum");
        let hourly: Vec<_> = (0..10).map(|i| now - Duration::hours(2 * i)).collect();
        assert_eq!(next_check(now, 0, None, &hourly, 1, &cfg) - now, Duration::hours(2));
        let quiet = [t(0), now - Duration::hours(1)];
        assert_eq!(next_check(now, 0, None, &quiet, 1, &cfg) - now, Duration::hours(24), "clamped to the maximum");
        assert_eq!(next_check(now, 0, None, &[], 1, &cfg) - now, Duration::hours(1));
    }

    #[test]
    fn errors_back_off_exponentially_with_bounded_jitter_and_retry_after_wins() {
        let cfg = ScheduleConfig::default();
        let now = t(0);
        for seed in [0u64, 499, 999] {
            let w1 = next_check(now, 1, None, &[], seed, &cfg) - now;
            let w3 = next_check(now, 3, None, &[], seed, &cfg) - now;
            assert!(w1 >= Duration::minutes(5) && w1 < Duration::minutes(6), "{w1}");
            assert!(w3 >= Duration::minutes(20) && w3 < Duration::minutes(24), "{w3}");
            assert_eq!(next_check(now, 30, None, &[], seed, &cfg) - now, Duration::hours(24));
        }
        let ra = std::time::Duration::from_secs(3 * 3600);
        assert_eq!(next_check(now, 1, Some(ra), &[], 0, &cfg) - now, Duration::hours(3));
    }
}
