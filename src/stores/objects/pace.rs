//! Slowing down when S3 says so: a shared pace and a retry loop for throttled requests.
//!
//! S3 (and anything that speaks its API) answers overload with 503 SlowDown, 429, or a
//! throttling error code. Those are not failures of the run: every request of a store waits
//! for the shared [`Pace`] before it starts, a throttled answer doubles that delay for every
//! request in flight, and successes let it shrink again (additive-increase,
//! multiplicative-decrease in reverse: back off fast, recover gently). The throttled request
//! itself is retried with jittered exponential backoff. Other errors are returned at once;
//! the SDK's own retry policy has already handled transient network errors by then.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use rand::Rng;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How many times a throttled request is tried before the error is returned.
const MAX_ATTEMPTS: u32 = 16;
/// The longest pause between two requests that the pace imposes.
const MAX_DELAY_MS: u64 = 2_000;

/// A delay every request of a store waits for; grows on throttling, shrinks on success.
#[derive(Debug, Default)]
pub struct Pace {
    delay_ms: AtomicU64,
    /// Throttling answers seen so far, for the [`super::window::Window`]s that shrink on them.
    throttles: AtomicU64,
}

impl Pace {
    /// Waits for the current delay (nothing, while S3 is not throttling).
    pub async fn wait(&self) {
        let delay = self.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
    }

    pub(super) fn throttled(&self) {
        self.throttles.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .delay_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                Some((d * 2).clamp(20, MAX_DELAY_MS))
            });
    }

    /// How many throttling answers this pace has seen.
    pub(super) fn throttles(&self) -> u64 {
        self.throttles.load(Ordering::Relaxed)
    }

    fn succeeded(&self) {
        let _ = self
            .delay_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                Some(if d <= 8 { 0 } else { d - d / 8 })
            });
    }

    /// The current delay in milliseconds.
    #[cfg(test)]
    fn delay_ms(&self) -> u64 {
        self.delay_ms.load(Ordering::Relaxed)
    }

    /// Runs `op`, retrying while the answer is a throttling error.
    pub async fn run<T, E, F, Fut>(&self, mut op: F) -> Result<T, SdkError<E, HttpResponse>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata,
    {
        let mut attempt = 0;
        loop {
            self.wait().await;
            match op().await {
                Ok(value) => {
                    self.succeeded();
                    return Ok(value);
                }
                Err(err) if is_throttling(&err) && attempt + 1 < MAX_ATTEMPTS => {
                    self.throttled();
                    attempt += 1;
                    tracing::debug!(attempt, "S3 throttled a request; slowing down.");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// Whether an SDK error means "slow down" rather than "this failed".
pub fn is_throttling<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    if let Some(status) = err.raw_response().map(|r| r.status().as_u16()) {
        if status == 503 || status == 429 {
            return true;
        }
    }
    err.code().is_some_and(is_throttling_code)
}

/// Error codes S3 and S3-compatible servers use for overload, also inside a 200 response
/// to DeleteObjects (one code per key).
pub fn is_throttling_code(code: &str) -> bool {
    matches!(
        code,
        "SlowDown"
            | "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottled"
            | "RequestLimitExceeded"
            | "TooManyRequests"
            | "TooManyRequestsException"
            | "ServiceUnavailable"
            | "InternalError"
    )
}

/// Exponential backoff with full jitter: up to 50 ms × 2^attempt, capped at 5 s.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = 50u64.saturating_mul(1 << attempt.min(10)).min(5_000);
    Duration::from_millis(rand::thread_rng().gen_range(ceiling / 2..=ceiling))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_backs_off_on_throttling_and_recovers_on_success() {
        let pace = Pace::default();
        pace.throttled();
        pace.throttled();
        assert_eq!(pace.delay_ms(), 40);
        for _ in 0..100 {
            pace.succeeded();
        }
        assert_eq!(pace.delay_ms(), 0);
        for _ in 0..20 {
            pace.throttled();
        }
        assert_eq!(pace.delay_ms(), MAX_DELAY_MS);
    }
}
