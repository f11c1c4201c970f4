//! The write rate limit: each caller's admin writes per minute (a GCRA limiter keyed by the
//! caller's name), checked before a writer is handed out. The server's own writes (a
//! release plan's steps) are not limited.

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use prometheus::IntCounter;

use super::ChangeError;

/// How many writes each caller may make per minute.
pub struct WriteLimit {
    limiter: DefaultKeyedRateLimiter<String>,
    /// Writes refused for their rate (`switchyard_rate_limited_total`).
    refused: IntCounter,
}

impl WriteLimit {
    /// `per_minute` writes per caller (at least one); each refusal counts in `refused`.
    pub fn new(per_minute: u32, refused: IntCounter) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        WriteLimit {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            refused,
        }
    }

    /// Admits one write by `actor`, or says in how many seconds to retry.
    pub fn admit(&self, actor: &str) -> Result<(), ChangeError> {
        // The limiter's keys are owned; a name is short.
        self.limiter
            .check_key(&actor.to_owned())
            .map_err(|not_until| {
                self.refused.inc();
                let clock = governor::clock::DefaultClock::default();
                let wait = not_until.wait_time_from(governor::clock::Clock::now(&clock));
                ChangeError::RateLimited {
                    retry_after_secs: wait.as_secs().max(1),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_past_its_rate_is_refused_and_counted_and_others_are_not() {
        let refused = IntCounter::new("t", "t").unwrap();
        let limit = WriteLimit::new(2, refused.clone());
        assert!(limit.admit("a").is_ok());
        assert!(limit.admit("a").is_ok());
        assert!(matches!(
            limit.admit("a"),
            Err(ChangeError::RateLimited { retry_after_secs }) if retry_after_secs >= 1
        ));
        assert_eq!(refused.get(), 1);
        assert!(limit.admit("b").is_ok(), "each caller has its own rate");
    }
}
