//! The per-token rate (`settings.api.rate_per_minute`), as a GCRA from governor.
//!
//! The unit is one lookup: a batch of N items takes N units, any other request one. A
//! request-per-request count let one token send a thousand lookups to the issuers for
//! every unit; counted in items, the limit bounds what one client can make the service
//! ask of a third party. A batch larger than the whole minute's quota can never pass
//! and is refused as such (422), not told to retry.

use std::num::NonZeroU32;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::adapters::db::{self, DbError, DbPool};
use crate::app::accounts::rate;

/// Shared by every worker: one bucket per API token id, in memory (one node) or in the
/// database (several nodes on PostgreSQL: [`shared`](Self::shared)).
pub struct TokenLimiter {
    limiter: DefaultKeyedRateLimiter<i32>,
    per_minute: u32,
    shared: Option<DbPool>,
}

/// Why units were not granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Over what is left of the quota: retry after this many whole seconds (≥ 1).
    Wait { seconds: u64, per_minute: u32 },
    /// More units than the quota ever holds at once: split the batch.
    TooMany { asked: u32, per_minute: u32 },
}

impl TokenLimiter {
    /// `per_minute` units a minute, all of them available at once after a quiet minute.
    pub fn new(per_minute: u32) -> Self {
        let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(rate)),
            per_minute: rate.get(),
            shared: None,
        }
    }

    /// As [`new`](Self::new), the buckets kept in the database `pool` reaches, so that
    /// every node of an installation takes from one quota per token.
    pub fn shared(per_minute: u32, pool: DbPool) -> Self {
        Self {
            shared: Some(pool),
            ..Self::new(per_minute)
        }
    }

    /// Takes `n` units for the token at once, or none, wherever the buckets are kept.
    pub async fn take(&self, token_id: i32, n: u32) -> Result<Result<(), Refusal>, DbError> {
        let Some(pool) = &self.shared else {
            return Ok(self.check_n(token_id, n));
        };
        let per_minute = self.per_minute;
        if n > per_minute {
            return Ok(Err(Refusal::TooMany {
                asked: n,
                per_minute,
            }));
        }
        let wait = db::run(pool, move |c| {
            rate::take(c, token_id, n, per_minute, db::now_utc()).map_err(DbError::from)
        })
        .await?;
        Ok(match wait {
            None => Ok(()),
            Some(wait) => {
                let micros = wait.num_microseconds().unwrap_or(i64::MAX).max(0) as u64;
                Err(Refusal::Wait {
                    // Round up: a client that waits exactly Retry-After must then succeed.
                    seconds: micros.div_ceil(1_000_000).max(1),
                    per_minute,
                })
            }
        })
    }

    /// The units a minute, as configured.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes one unit for the token.
    pub fn check(&self, token_id: i32) -> Result<(), Refusal> {
        self.check_n(token_id, 1)
    }

    /// Takes `n` units for the token at once, or none. `n == 0` always passes.
    pub fn check_n(&self, token_id: i32, n: u32) -> Result<(), Refusal> {
        let Some(units) = NonZeroU32::new(n) else {
            return Ok(());
        };
        match self.limiter.check_key_n(&token_id, units) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                // Round up: a client that waits exactly Retry-After must then succeed.
                Err(Refusal::Wait {
                    seconds: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
                    per_minute: self.per_minute,
                })
            }
            Err(_) => Err(Refusal::TooMany {
                asked: n,
                per_minute: self.per_minute,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(r: Result<(), Refusal>) -> u64 {
        match r {
            Err(Refusal::Wait { seconds, .. }) => seconds,
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    #[test]
    fn each_token_has_its_own_bucket() {
        let l = TokenLimiter::new(3);
        for _ in 0..3 {
            assert!(l.check(1).is_ok());
        }
        let retry = wait(l.check(1));
        assert!((1..=20).contains(&retry), "{retry}");
        assert!(l.check(2).is_ok());
    }

    #[test]
    fn a_batch_takes_one_unit_per_item() {
        let l = TokenLimiter::new(10);
        assert!(l.check_n(1, 7).is_ok());
        // Three left: four more is a wait, and takes nothing.
        wait(l.check_n(1, 4));
        assert!(l.check_n(1, 3).is_ok());
        wait(l.check(1));
        assert_eq!(
            l.check_n(2, 11),
            Err(Refusal::TooMany {
                asked: 11,
                per_minute: 10
            })
        );
    }
}
