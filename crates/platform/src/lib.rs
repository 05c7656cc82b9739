//! Cloudflare bindings for both Workers, behind the domain's traits.
//!
//! Only this crate and the two Worker entry modules use `worker::`. Binding names are the
//! design's, as constants. Futures over JS values are single-threaded; they are wrapped in
//! [`worker::send::SendFuture`] so the axum router can hold them (a Worker isolate has one
//! thread, so nothing is ever sent across threads).
#![cfg(target_arch = "wasm32")]

pub mod bindings;
pub mod db;
pub mod logging;
pub mod shopify_http;

pub use bindings::{env_string, JwksFetcher, WorkerBindings, HYPERDRIVE, INGEST, INGEST_QUEUE, KV, R2_BUCKET};
pub use db::DbHandle;
