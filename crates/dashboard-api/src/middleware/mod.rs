//! The design's middleware: `request_id` (trace correlation), `error_handler` (structured
//! errors) and `cf_access` (JWT → Principal).

pub mod cf_access;
pub mod error_handler;
pub mod request_id;
