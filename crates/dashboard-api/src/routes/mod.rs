//! Routes by resource, as in the design's `routes/` folder.

pub mod health;
pub mod jobs;
pub mod me;
pub mod orders;

use crate::{ApiError, Backend};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// Served without a principal: only the minimal health check.
pub fn public<B: Backend>() -> Router<Arc<B>> {
    Router::new().route("/api/health", get(health::health::<B>))
}

/// Everything that requires a valid Access assertion.
pub fn protected<B: Backend>() -> Router<Arc<B>> {
    Router::new()
        .route("/api/health/details", get(health::details::<B>))
        .route("/api/me", get(me::me))
        .route("/api/jobs", get(jobs::list::<B>).post(jobs::start::<B>))
        .route("/api/jobs/{id}", get(jobs::detail::<B>))
        .route("/api/jobs/{id}/dispatch", post(jobs::dispatch::<B>))
        .route("/api/orders", get(orders::list::<B>))
        .route("/api/orders/{id}", get(orders::detail::<B>))
        .route("/api/openapi.json", get(crate::openapi::document_route))
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}
