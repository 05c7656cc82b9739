//! EngineeredSystem health: `GET /api/health` (public, ok/degraded only) and
//! `GET /api/health/details` (each system with status and latency).

use crate::openapi::schemas::{ErrorBody, HealthDetails, HealthStatus};
use crate::{ApiError, Backend};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use domain::health::{self, ProbeReport, ProbeStatus};
use domain::platform::Bindings;
use serde_json::json;
use std::sync::Arc;

fn verdict(status: ProbeStatus) -> &'static str {
    match status {
        ProbeStatus::Ok => "ok",
        ProbeStatus::Down => "degraded",
    }
}

/// Public: a database round trip, and nothing about what failed.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "health",
    responses(
        (status = 200, description = "the database answers", body = HealthStatus),
        (status = 503, description = "the database does not answer", body = HealthStatus),
    )
)]
pub async fn health<B: Backend>(State(backend): State<Arc<B>>) -> impl IntoResponse {
    let ok = match backend.db().await {
        Ok(db) => db.simple_query("SELECT 1").await.is_ok(),
        Err(e) => {
            tracing::warn!(cause = e.cause.as_deref().unwrap_or(""), "health: database unreachable");
            false
        }
    };
    let status = if ok { ProbeStatus::Ok } else { ProbeStatus::Down };
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(json!({ "status": verdict(status) })))
}

async fn postgres<B: Backend>(backend: &B) -> ProbeReport {
    let start = domain::clock::now();
    match backend.db().await {
        Ok(db) => health::probe_postgres(db.as_ref()).await,
        Err(e) => health::report("postgres", start, Err(e.cause.unwrap_or(e.message))),
    }
}

async fn ingest<B: Backend>(backend: &B) -> ProbeReport {
    let start = domain::clock::now();
    let result = backend.ingest_health().await.and_then(|body| {
        if body.get("status").and_then(|s| s.as_str()) == Some("ok") {
            Ok(body)
        } else {
            Err(format!("ingest reports {body}"))
        }
    });
    health::report("ingest_worker", start, result)
}

/// Each EngineeredSystem (postgres, r2, kv, queue, ingest_worker) probed now, with status
/// and latency.
#[utoipa::path(
    get,
    path = "/api/health/details",
    operation_id = "health_details",
    tag = "health",
    security(("access_assertion" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "every probe's report (the verdict is in the body)", body = HealthDetails),
        (status = 401, description = "no valid Access token", body = ErrorBody),
    )
)]
pub async fn details<B: Backend>(State(backend): State<Arc<B>>) -> Result<Json<serde_json::Value>, ApiError> {
    let bindings = backend.bindings()?;
    let (pg, r2, kv, queue, ingest) = futures::join!(
        postgres(backend.as_ref()),
        health::probe_object_store(bindings.objects()),
        health::probe_kv(bindings.kv()),
        health::probe_queue(bindings.queue()),
        ingest(backend.as_ref()),
    );
    let systems = vec![pg, r2, kv, queue, ingest];
    let overall = health::overall(&systems);
    Ok(Json(json!({
        "status": verdict(overall),
        "checked_at": domain::clock::now(),
        "systems": systems,
    })))
}
