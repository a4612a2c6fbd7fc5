//! Retry policy: exponential backoff with jitter, honouring `Retry-After`.

use std::time::{Duration, SystemTime};

/// How failed registry requests are retried.
///
/// Connection errors, `429 Too Many Requests` and `500`/`502`/`503`/`504` are retried; other
/// statuses are final. The wait doubles from `base_delay` up to `max_delay`, with jitter; a
/// `Retry-After` header (seconds or HTTP date) is honoured up to `max_delay`.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. Default 6.
    pub max_tries: u32,
    /// The first wait. Default 250 ms.
    pub base_delay: Duration,
    /// The longest single wait. Default 30 s.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_tries: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`, given the `Retry-After` header value if any.
    pub fn delay(&self, attempt: u32, retry_after: Option<&str>) -> Duration {
        if let Some(ra) = retry_after.and_then(|v| parse_retry_after(v, SystemTime::now())) {
            return ra.min(self.max_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        // Jitter in [exp/2, exp]: spreads retries of many parallel transfers apart.
        let half = exp / 2;
        half + Duration::from_nanos(rand::random_range(0..=half.as_nanos().max(1) as u64))
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Statuses worth another try.
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let table = [
            ("3", Some(Duration::from_secs(3))),
            (" 0 ", Some(Duration::ZERO)),
            (
                "Sun, 06 Nov 1994 08:49:39 GMT",
                Some(Duration::from_secs(2)),
            ),
            ("Sun, 06 Nov 1994 08:49:30 GMT", Some(Duration::ZERO)),
            ("soon", None),
        ];
        for (v, want) in table {
            assert_eq!(parse_retry_after(v, now), want, "{v}");
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        let p = RetryPolicy {
            max_tries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for (attempt, lo, hi) in [(1, 50, 100), (2, 100, 200), (3, 200, 400), (9, 500, 1000)] {
            let d = p.delay(attempt, None).as_millis();
            assert!(
                (lo..=hi).contains(&d),
                "attempt {attempt}: {d}ms not in {lo}..={hi}"
            );
        }
        assert_eq!(
            p.delay(1, Some("7")),
            Duration::from_secs(1),
            "Retry-After capped at max_delay"
        );
        assert_eq!(p.delay(5, Some("0")), Duration::ZERO);
    }
}
