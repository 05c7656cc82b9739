//! What the router needs from its environment. The Worker entry implements it over
//! Cloudflare bindings; the futures are `Send` so axum can hold them.

use crate::ApiError;
use access::{AccessConfig, AccessError, ConfigError};
use domain::platform::Bindings;
use domain::Principal;
use std::future::Future;
use std::sync::Arc;
use tokio_postgres::Client;

pub trait Backend: Send + Sync + 'static {
    type Bindings: Bindings;

    /// The Access settings, or why they are missing (then nothing is served).
    fn access_config(&self) -> Result<&AccessConfig, &ConfigError>;

    /// Verifies a `Cf-Access-Jwt-Assertion` value.
    fn authenticate(&self, assertion: Option<String>) -> impl Future<Output = Result<Principal, AccessError>> + Send;

    /// A Postgres connection for this request (opened on first use).
    fn db(&self) -> impl Future<Output = Result<Arc<Client>, ApiError>> + Send;

    /// R2, KV and the queue producer.
    fn bindings(&self) -> Result<&Self::Bindings, ApiError>;

    /// The ingest Worker's own health, fetched through the `INGEST` service binding.
    fn ingest_health(&self) -> impl Future<Output = Result<serde_json::Value, String>> + Send;
}
