//! The one retry policy, and the one loop that applies it.
//!
//! Every operation is retried at exactly one level: a request (its answer and body read and
//! checked as one unit) by the registry client, or a whole streamed copy (which cannot be
//! replayed request by request) by the copy engine, whose inner requests are single attempts.
//! An error that already went through its own retries (`tries > 1`) is final for every level
//! above it, so attempts never multiply and the count an error reports is the attempts made.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::error::Error;

/// How failed operations are retried.
///
/// Transient failures (connection errors other than certificate refusals, `408`, `429`, `500`,
/// `502`, `503`, `504`, and bytes that do not match their digest) are retried; every other
/// failure is final. The wait doubles from `base_delay` up to `max_delay`, with jitter; a
/// `Retry-After` the registry sends (seconds or an HTTP date) is honoured up to `max_delay`.
/// No retry starts once `budget` has passed since the first attempt. With the defaults, a
/// registry that refuses every connection fails after 6 attempts in 4 to 8 seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; `1` means no retry. Default 6.
    pub max_tries: u32,
    /// The first wait. Default 250 ms.
    pub base_delay: Duration,
    /// The longest single wait. Default 30 s.
    pub max_delay: Duration,
    /// The longest time an operation keeps retrying, from its first attempt. Default 5 min.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_tries: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            budget: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The default policy with `tries` attempts in all (at least one).
    pub fn with_tries(tries: u32) -> Self {
        Self {
            max_tries: tries.max(1),
            ..Self::default()
        }
    }

    /// A single attempt: for requests inside an operation that is retried as a whole.
    pub(crate) fn once() -> Self {
        Self::with_tries(1)
    }

    /// The wait after failed attempt number `attempt` (1-based), given the registry's
    /// `Retry-After` if it sent one.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        // Jitter in [exp/2, exp]: spreads the retries of many parallel transfers apart.
        let half = exp / 2;
        half + Duration::from_nanos(rand::random_range(0..=half.as_nanos().max(1) as u64))
    }
}

/// HTTP statuses worth another try: the one definition of a transient status.
pub(crate) fn transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
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

/// A retry about to happen, for progress displays.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryNotice {
    /// The operation (`get manifest`, `copy blob`, ...).
    pub op: &'static str,
    /// The image, blob or registry involved.
    pub target: String,
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// Attempts allowed in all.
    pub max_tries: u32,
    /// The wait before the next attempt.
    pub delay: Duration,
    /// Why the attempt failed.
    pub reason: String,
}

/// Told of every retry (a callback the embedding program sets, e.g. to print a warning).
#[derive(Clone)]
pub struct RetryHook(Arc<dyn Fn(&RetryNotice) + Send + Sync>);

impl RetryHook {
    /// Wraps a callback.
    pub fn new(f: impl Fn(&RetryNotice) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    pub(crate) fn notify(&self, notice: &RetryNotice) {
        (self.0)(notice)
    }
}

impl fmt::Debug for RetryHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RetryHook")
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the policy is spent. The error
/// returned carries the number of attempts made.
pub(crate) async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    hook: Option<&RetryHook>,
    op: &'static str,
    target: &str,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let start = Instant::now();
    let mut n = 0u32;
    loop {
        n += 1;
        let e = match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !e.is_transient() {
            // Final, or already retried at its own level (it carries its own count).
            return Err(if n > 1 { e.with_tries(n) } else { e });
        }
        let delay = policy.delay(n, e.retry_after());
        if n >= policy.max_tries || start.elapsed() + delay > policy.budget {
            return Err(e.with_tries(n));
        }
        if let Some(h) = hook {
            h.notify(&RetryNotice {
                op,
                target: target.to_string(),
                attempt: n,
                max_tries: policy.max_tries,
                delay,
                reason: crate::error::ErrorChain(&e).to_string(),
            });
        }
        tracing::debug!(op, target, attempt = n, delay_ms = delay.as_millis() as u64, error = %e, "retrying");
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

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
            budget: Duration::from_secs(60),
        };
        for (attempt, lo, hi) in [(1, 50, 100), (2, 100, 200), (3, 200, 400), (9, 500, 1000)] {
            let d = p.delay(attempt, None).as_millis();
            assert!(
                (lo..=hi).contains(&d),
                "attempt {attempt}: {d}ms not in {lo}..={hi}"
            );
        }
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(7))),
            Duration::from_secs(1),
            "Retry-After capped at max_delay"
        );
        assert_eq!(p.delay(5, Some(Duration::ZERO)), Duration::ZERO);
    }

    #[test]
    fn statuses() {
        let transient: Vec<u16> = (100..600).filter(|s| transient_status(*s)).collect();
        assert_eq!(transient, [408, 429, 500, 502, 503, 504]);
    }

    fn refused(tries: u32) -> Error {
        Error::Connection {
            op: "get manifest",
            target: "r/x:1".into(),
            tries,
            detail: "connection refused".into(),
            cert: None,
        }
    }

    fn fast(tries: u32) -> RetryPolicy {
        RetryPolicy {
            max_tries: tries,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            budget: Duration::from_secs(10),
        }
    }

    /// The count in the final error is the number of attempts, every retry is announced, and
    /// an error already retried at its own level is not retried again.
    #[tokio::test]
    async fn honest_counts_and_notices() {
        let calls = AtomicU32::new(0);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let hook = RetryHook::new(move |n| s2.lock().unwrap().push(n.attempt));
        let err = run(&fast(4), Some(&hook), "get manifest", "r/x:1", || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(refused(1)) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(*seen.lock().unwrap(), [1, 2, 3]);
        assert!(
            err.to_string().contains("connection failed after 4 tries"),
            "{err}"
        );

        // Already retried below: one attempt here, its own count kept.
        calls.store(0, Ordering::SeqCst);
        let err = run(&fast(4), None, "copy blob", "b", || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(refused(6)) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(err.to_string().contains("after 6 tries"), "{err}");

        // Success after a failure.
        calls.store(0, Ordering::SeqCst);
        let v = run(&fast(4), None, "get manifest", "r/x:1", || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { if n == 0 { Err(refused(1)) } else { Ok(7) } }
        })
        .await
        .unwrap();
        assert_eq!(v, 7);
    }

    /// A final error is returned at once, with a count of one.
    #[tokio::test]
    async fn final_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let err = run(&fast(4), None, "get manifest", "r/x:1", || {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err::<(), _>(Error::Registry {
                    op: "get manifest",
                    target: "r/x:1".into(),
                    status: 401,
                    code: None,
                    message: None,
                    tries: 1,
                    auth_entry: None,
                    retry_after: None,
                })
            }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(err.to_string().contains("(after 1 try)"), "{err}");
    }

    /// No retry starts past the budget.
    #[tokio::test]
    async fn budget_stops_retries() {
        let calls = AtomicU32::new(0);
        let p = RetryPolicy {
            max_tries: 100,
            base_delay: Duration::from_millis(40),
            max_delay: Duration::from_millis(40),
            budget: Duration::from_millis(100),
        };
        let _ = run(&p, None, "get manifest", "r/x:1", || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(refused(1)) }
        })
        .await;
        let n = calls.load(Ordering::SeqCst);
        assert!((2..=6).contains(&n), "{n} attempts");
    }
}
