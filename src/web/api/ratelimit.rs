//! The per-token request rate (`settings.api.rate_per_minute`), as a GCRA from governor.
//!
//! One HTTP request is one unit, a batch included: the limit protects the service from
//! request floods, while a batch's load on the issuers is bounded separately by its
//! size (1000) and `batch_concurrency`. Counting batch items instead would make a
//! 1000-item batch impossible under the default 600 a minute.

use std::num::NonZeroU32;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Shared by every worker: one bucket per API token id.
pub struct TokenLimiter {
    limiter: DefaultKeyedRateLimiter<i32>,
}

impl TokenLimiter {
    /// `per_minute` requests a minute, all of them available at once after a quiet minute.
    pub fn new(per_minute: u32) -> Self {
        let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(rate)),
        }
    }

    /// Takes one unit for the token, or says after how many whole seconds to retry.
    pub fn check(&self, token_id: i32) -> Result<(), u64> {
        self.limiter.check_key(&token_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            // Round up: a client that waits exactly Retry-After must then succeed.
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_token_has_its_own_bucket() {
        let l = TokenLimiter::new(3);
        for _ in 0..3 {
            assert!(l.check(1).is_ok());
        }
        let retry = l.check(1).unwrap_err();
        assert!((1..=20).contains(&retry), "{retry}");
        assert!(l.check(2).is_ok());
    }
}
