//! Wall-clock time that works both natively and inside a Worker (chrono's `wasmbind`
//! reads `Date.now()`; `std::time::Instant` panics on wasm32-unknown-unknown).

use chrono::{DateTime, Utc};

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Milliseconds elapsed since `start`, for latency figures.
pub fn elapsed_ms(start: DateTime<Utc>) -> f64 {
    (now() - start).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}
