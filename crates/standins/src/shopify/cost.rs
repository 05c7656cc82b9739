//! Query cost and the leaky bucket behind `extensions.cost`.
//!
//! Followed: <https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits>.
//! A shop's bucket holds 2000 points (Advanced plan rates differ; the stand-in uses one
//! size) and refills at 100 points a second. A request whose requested cost exceeds what is
//! available is not run: it answers 200 with a `THROTTLED` error and costs nothing.
//! `bulkOperationRunQuery` costs 10 (a mutation), a poll or the shop query 1.

use serde_json::{json, Value};
use std::time::Instant;

pub const DEFAULT_MAXIMUM_AVAILABLE: f64 = 2000.0;
pub const DEFAULT_RESTORE_RATE: f64 = 100.0;

#[derive(Debug, Clone)]
pub struct LeakyBucket {
    maximum: f64,
    restore_rate: f64,
    available: f64,
    at: Instant,
}

impl LeakyBucket {
    pub fn new(maximum: f64, restore_rate: f64) -> Self {
        Self {
            maximum,
            restore_rate,
            available: maximum,
            at: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.available = (self.available + elapsed * self.restore_rate).min(self.maximum);
        self.at = now;
    }

    /// Spends `cost` if available; `false` (nothing spent) when the request is throttled.
    pub fn try_spend(&mut self, cost: f64, now: Instant) -> bool {
        self.refill(now);
        if cost > self.available {
            return false;
        }
        self.available -= cost;
        true
    }

    pub fn available(&mut self, now: Instant) -> f64 {
        self.refill(now);
        self.available
    }

    /// `extensions.cost`; `actual` is `None` for a throttled request.
    pub fn cost_extension(&mut self, requested: u32, actual: Option<u32>, now: Instant) -> Value {
        let available = self.available(now);
        json!({
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.maximum,
                "currentlyAvailable": available.floor(),
                "restoreRate": self.restore_rate,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_bucket_drains_and_restores_at_its_rate() {
        let start = Instant::now();
        let mut bucket = LeakyBucket::new(20.0, 10.0);
        bucket.at = start;
        assert!(bucket.try_spend(10.0, start));
        assert!(bucket.try_spend(10.0, start));
        assert!(!bucket.try_spend(1.0, start), "empty");
        assert!(!bucket.try_spend(10.0, start + Duration::from_millis(500)), "5 back");
        assert!(bucket.try_spend(10.0, start + Duration::from_millis(1000)), "10 back");
        assert_eq!(bucket.available(start + Duration::from_secs(60)), 20.0, "capped");
    }
}
