//! The dashboard API: an axum [`Router`] built by [`app`] over a [`Backend`].
//!
//! The router, middleware and handlers are plain Rust; only [`entry`] (wasm32) knows the
//! Workers runtime and implements [`Backend`] over `worker::Env`.

pub mod backend;
pub mod error;
pub mod middleware;
pub mod openapi;
pub mod routes;

#[cfg(target_arch = "wasm32")]
mod entry;

use axum::Router;
use std::sync::Arc;

pub use backend::Backend;
pub use error::ApiError;

/// The whole HTTP surface. Layer order (outermost first): request id → error handler →
/// Access check (everything but `GET /api/health`).
pub fn app<B: Backend>(backend: Arc<B>) -> Router {
    let protected = routes::protected::<B>().route_layer(axum::middleware::from_fn_with_state(
        backend.clone(),
        middleware::cf_access::require_principal::<B>,
    ));
    Router::new()
        .merge(routes::public::<B>())
        .merge(protected)
        .fallback(routes::not_found)
        .layer(axum::middleware::from_fn_with_state(
            backend.clone(),
            middleware::cf_access::require_configuration::<B>,
        ))
        .layer(axum::middleware::from_fn(middleware::error_handler::render_errors))
        .layer(axum::middleware::from_fn(middleware::request_id::assign_request_id))
        .with_state(backend)
}
