//! The ingest Worker (ProcedureExecution engine): `queue.rs` dispatches messages by
//! `job_type` to the engine, `scheduled.rs` turns the design's crons into executions, and
//! `fetch` answers `/health` for the dashboard's service-binding probe.
//!
//! The procedures themselves live in `domain::jobs::procedures` (native, tested on real
//! Postgres); this crate is the Worker glue plus settings.

pub mod settings;

#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
mod queue;
#[cfg(target_arch = "wasm32")]
mod scheduled;
