//! Shared domain of both Workers: ontology-typed models (Principal, ProcedureExecution,
//! EngineeredSystem health), their SQL repositories and the ProcedureExecution engine.
//!
//! Nothing here touches `worker::`: Cloudflare bindings are reached through the traits in
//! [`platform`], implemented for real bindings by the `platform` crate and for native tests
//! by [`platform::memory`].

pub mod clock;
pub mod cron;
pub mod health;
pub mod jobs;
pub mod pg;
pub mod platform;
pub mod principal;
pub mod store;
pub mod sync;

pub use principal::Principal;
