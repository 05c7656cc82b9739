//! Engine settings read from the Worker's variables (strings), parsed at the edge.

use domain::jobs::engine::EngineConfig;

/// The dead-letter queue's name, as in `wrangler.ingest.toml`.
pub const DEAD_LETTER_QUEUE: &str = "ingest-jobs-dlq";

/// Reads `JOB_BACKOFF_BASE_SECONDS`, `JOB_BACKOFF_CAP_SECONDS` and `JOB_LEASE_SECONDS`
/// through `get`; anything absent or unparsable keeps its default.
pub fn engine_config(get: impl Fn(&str) -> Option<String>) -> EngineConfig {
    let defaults = EngineConfig::default();
    let num = |name: &str| get(name).and_then(|v| v.trim().parse::<u32>().ok()).filter(|n| *n > 0);
    EngineConfig {
        backoff_base_seconds: num("JOB_BACKOFF_BASE_SECONDS").unwrap_or(defaults.backoff_base_seconds),
        backoff_cap_seconds: num("JOB_BACKOFF_CAP_SECONDS").unwrap_or(defaults.backoff_cap_seconds),
        lease_seconds: num("JOB_LEASE_SECONDS")
            .map(i64::from)
            .unwrap_or(defaults.lease_seconds),
    }
}

/// Every procedure the ingest Worker runs: the domain's standard ones plus the Shopify
/// sync over the Workers fetch API.
#[cfg(target_arch = "wasm32")]
pub fn registry(get: impl Fn(&str) -> Option<String>) -> domain::jobs::procedures::Registry<platform::WorkerBindings> {
    use domain::sync::{ShopifySync, SyncSettings};
    domain::jobs::procedures::Registry::standard().with(ShopifySync::new(
        platform::shopify_http::FetchTransport,
        SyncSettings::from_vars(get),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn settings_fall_back_to_defaults() {
        let config = super::engine_config(|name| match name {
            "JOB_BACKOFF_BASE_SECONDS" => Some("1".into()),
            "JOB_BACKOFF_CAP_SECONDS" => Some("oops".into()),
            _ => None,
        });
        assert_eq!(config.backoff_base_seconds, 1);
        assert_eq!(config.backoff_cap_seconds, 300);
        assert_eq!(config.lease_seconds, 300);
    }
}
