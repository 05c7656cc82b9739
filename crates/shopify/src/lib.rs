//! Shopify Admin GraphQL, the parts the bulk sync stands on. Pure Rust over a small
//! [`client::Transport`] trait, so it builds natively and for wasm32 alike.
//!
//! - [`documents`]: every GraphQL document sent, validated in the tests against the real
//!   Admin API schema (`../shared/shopify/admin-2026-01.graphql`);
//! - [`client`]: requests with cost-based throttling and capped retries;
//! - [`bulk`]: the bulk-operation lifecycle as decisions;
//! - [`body`]: a downloaded body, left in JavaScript memory inside a Worker;
//! - [`jsonl`]: the bulk result file, streamed line by line with bounded memory;
//! - `native` (not on wasm32): a reqwest + tokio transport for native tools and tests.

pub mod body;
pub mod bulk;
pub mod client;
pub mod documents;
pub mod jsonl;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;

/// The Admin API version every request is pinned to.
pub const ADMIN_API_VERSION: &str = "2026-01";
