//! One-shot faults armed through `POST /_standin/shopify/faults`, and the request counters
//! tests read back from `GET /_standin/shopify/requests` to see that each fired.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Every fault the stand-in can inject; each is armed with a count and fires that often.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// The next GraphQL requests answer 200 with a `THROTTLED` error.
    Throttle,
    /// The next GraphQL requests answer HTTP 429 with `Retry-After: 1`.
    Http429,
    /// The next GraphQL requests answer 502 and 503 in turn.
    Http5xx,
    /// The next result-file downloads answer 503.
    Download5xx,
    /// The next bulk operations end `FAILED` with `INTERNAL_SERVER_ERROR`, no partial data.
    BulkFailed,
    /// The next bulk operations end `FAILED` with `ACCESS_DENIED`.
    BulkAccessDenied,
    /// The next bulk operations end `FAILED` with `TIMEOUT`, `url: null` and a
    /// `partialDataUrl` holding about the first half of the lines.
    BulkTimeoutPartial,
    /// The next operations to complete report an already expired URL (the next poll of the
    /// same operation gets a fresh one).
    ExpireUrl,
    /// The next result files leave out one child line that `objectCount` still counts.
    DropLine,
    /// The next `bulkOperationRunQuery` calls answer the user error `OPERATION_IN_PROGRESS`.
    OperationInProgress,
    /// The next `bulkOperationRunQuery` calls answer the user error `LIMIT_REACHED`.
    LimitReached,
}

impl Fault {
    pub const ALL: [Fault; 11] = [
        Fault::Throttle,
        Fault::Http429,
        Fault::Http5xx,
        Fault::Download5xx,
        Fault::BulkFailed,
        Fault::BulkAccessDenied,
        Fault::BulkTimeoutPartial,
        Fault::ExpireUrl,
        Fault::DropLine,
        Fault::OperationInProgress,
        Fault::LimitReached,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::Http429 => "http_429",
            Fault::Http5xx => "http_5xx",
            Fault::Download5xx => "download_5xx",
            Fault::BulkFailed => "bulk_failed",
            Fault::BulkAccessDenied => "bulk_access_denied",
            Fault::BulkTimeoutPartial => "bulk_timeout_partial",
            Fault::ExpireUrl => "expire_url",
            Fault::DropLine => "drop_line",
            Fault::OperationInProgress => "operation_in_progress",
            Fault::LimitReached => "limit_reached",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Armed counts and how often each fault has fired since start.
#[derive(Debug, Default)]
pub struct Faults {
    armed: BTreeMap<Fault, u64>,
    fired: BTreeMap<Fault, u64>,
}

impl Faults {
    /// Arms `fault` to fire `times` more times (0 disarms).
    pub fn arm(&mut self, fault: Fault, times: u64) {
        if times == 0 {
            self.armed.remove(&fault);
        } else {
            self.armed.insert(fault, times);
        }
    }

    /// Arms every `name: count` of a JSON object; unknown names or non-integers are refused
    /// before anything is armed.
    pub fn arm_from_json(&mut self, body: &Value) -> Result<(), String> {
        let object = body
            .as_object()
            .ok_or("the body must be a JSON object of fault: count")?;
        let mut parsed = Vec::new();
        for (name, count) in object {
            let fault = Fault::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault {name:?}; known: {}", known.join(", "))
            })?;
            let times = count
                .as_u64()
                .ok_or_else(|| format!("{name}: the count must be a non-negative integer"))?;
            parsed.push((fault, times));
        }
        for (fault, times) in parsed {
            self.arm(fault, times);
        }
        Ok(())
    }

    /// Uses one firing of `fault` if armed.
    pub fn take(&mut self, fault: Fault) -> bool {
        let Some(left) = self.armed.get_mut(&fault) else {
            return false;
        };
        *left -= 1;
        if *left == 0 {
            self.armed.remove(&fault);
        }
        *self.fired.entry(fault).or_default() += 1;
        true
    }

    pub fn fired(&self, fault: Fault) -> u64 {
        self.fired.get(&fault).copied().unwrap_or(0)
    }

    /// `{"armed": {name: left, …}, "fired": {name: times, …}}` over every fault.
    pub fn to_json(&self) -> Value {
        let table = |map: &BTreeMap<Fault, u64>| {
            Value::Object(
                Fault::ALL
                    .iter()
                    .map(|f| (f.name().to_owned(), Value::from(map.get(f).copied().unwrap_or(0))))
                    .collect::<Map<_, _>>(),
            )
        };
        serde_json::json!({ "armed": table(&self.armed), "fired": table(&self.fired) })
    }
}

/// Named request counters; every name is present (0 until counted).
#[derive(Debug)]
pub struct Counters(BTreeMap<&'static str, u64>);

pub const COUNTER_NAMES: &[&str] = &[
    "graphql_requests",
    "graphql_unauthorized",
    "graphql_throttled",
    "graphql_429",
    "graphql_5xx",
    "bulk_runs",
    "bulk_run_user_errors",
    "bulk_polls",
    "bulk_cancels",
    "shop_queries",
    "downloads",
    "download_ranges",
    "download_5xx",
    "download_403",
    "download_416",
    "bytes_served",
];

impl Default for Counters {
    fn default() -> Self {
        Self(COUNTER_NAMES.iter().map(|n| (*n, 0)).collect())
    }
}

impl Counters {
    pub fn add(&mut self, name: &'static str, by: u64) {
        *self.0.entry(name).or_default() += by;
    }
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_fires_exactly_as_often_as_armed() {
        let mut faults = Faults::default();
        faults
            .arm_from_json(&serde_json::json!({"throttle": 2, "drop_line": 0}))
            .expect("known faults");
        assert!(faults.take(Fault::Throttle));
        assert!(faults.take(Fault::Throttle));
        assert!(!faults.take(Fault::Throttle));
        assert_eq!(faults.fired(Fault::Throttle), 2);
        assert!(!faults.take(Fault::DropLine));
        assert!(faults.arm_from_json(&serde_json::json!({"nope": 1})).is_err());
        assert!(faults.arm_from_json(&serde_json::json!({"throttle": -1})).is_err());
    }
}
