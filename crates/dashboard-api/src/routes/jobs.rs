//! ProcedureExecutions: list, detail, start, re-dispatch.

use crate::openapi::schemas::{
    Dispatched, ErrorBody, ExecutionDetail, ExecutionListQuery, ExecutionPage, JobStarted, StartJob,
};
use crate::{ApiError, Backend};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use domain::jobs::repo::{self, ExecutionFilter};
use domain::jobs::start::{start_execution, StartError, StartRequest, Started};
use domain::jobs::{ExecutionStatus, JobEnvelope, JobType, Trigger};
use domain::platform::{Bindings, JobQueue};
use domain::Principal;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;
pub const MAX_OFFSET: i64 = 100_000;

fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_query",
                format!("{name} must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z"),
            )
        })
}

fn parse_int(name: &str, value: &str, min: i64, max: i64) -> Result<i64, ApiError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("{name} must be an integer from {min} to {max}"),
            )
        })
}

/// Parses the list filter at the edge; unknown parameters are refused, not ignored.
pub fn parse_filter(query: &HashMap<String, String>) -> Result<ExecutionFilter, ApiError> {
    let mut filter = ExecutionFilter {
        limit: DEFAULT_LIMIT,
        ..Default::default()
    };
    for (key, value) in query {
        match key.as_str() {
            "job_type" => {
                let valid = !value.is_empty()
                    && value.len() <= 64
                    && value.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
                if !valid {
                    return Err(ApiError::bad_request(
                        "invalid_query",
                        "job_type must be an upper-case job type name",
                    ));
                }
                filter.job_type = Some(value.clone());
            }
            "status" => {
                filter.status = Some(ExecutionStatus::parse(value).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_query",
                        "status must be one of queued, running, retrying, succeeded, failed",
                    )
                })?);
            }
            "created_after" => filter.created_after = Some(parse_time(key, value)?),
            "created_before" => filter.created_before = Some(parse_time(key, value)?),
            "limit" => filter.limit = parse_int(key, value, 1, MAX_LIMIT)?,
            "offset" => filter.offset = parse_int(key, value, 0, MAX_OFFSET)?,
            other => {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("unknown query parameter {other}"),
                ));
            }
        }
    }
    Ok(filter)
}

/// Executions, newest first, filtered.
#[utoipa::path(
    get,
    path = "/api/jobs",
    operation_id = "list_jobs",
    tag = "jobs",
    params(ExecutionListQuery),
    security(("access_assertion" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "a page of executions", body = ExecutionPage),
        (status = 400, description = "a malformed or unknown query parameter", body = ErrorBody),
        (status = 401, description = "no valid Access token", body = ErrorBody),
    )
)]
pub async fn list<B: Backend>(
    State(backend): State<Arc<B>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<repo::ExecutionPage>, ApiError> {
    let filter = parse_filter(&query)?;
    let db = backend.db().await?;
    Ok(Json(repo::list_executions(db.as_ref(), &filter).await?))
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::bad_request("invalid_id", "the execution id must be a UUID"))
}

/// An execution with its recorded steps.
#[utoipa::path(
    get,
    path = "/api/jobs/{id}",
    operation_id = "get_job",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "the execution id")),
    security(("access_assertion" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "the execution and its steps", body = ExecutionDetail),
        (status = 400, description = "the id is not a UUID", body = ErrorBody),
        (status = 401, description = "no valid Access token", body = ErrorBody),
        (status = 404, description = "no such execution", body = ErrorBody),
    )
)]
pub async fn detail<B: Backend>(
    State(backend): State<Arc<B>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    let db = backend.db().await?;
    let execution = repo::get_execution(db.as_ref(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no execution {id}")))?;
    let steps = repo::list_steps(db.as_ref(), id).await?;
    Ok(Json(json!({ "execution": execution, "steps": steps })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    job_type: String,
    #[serde(default)]
    params: Option<serde_json::Value>,
}

/// Starts a job: records a queued execution and enqueues it.
#[utoipa::path(
    post,
    path = "/api/jobs",
    operation_id = "start_job",
    tag = "jobs",
    request_body = StartJob,
    security(("access_assertion" = []), ("access_cookie" = [])),
    responses(
        (status = 202, description = "queued; `Location` names the execution", body = JobStarted),
        (status = 400, description = "a malformed body or an unknown job type", body = ErrorBody),
        (status = 401, description = "no valid Access token", body = ErrorBody),
        (status = 403, description = "a cookie-authenticated request from another site", body = ErrorBody),
        (status = 503, description = "the queue refused the message", body = ErrorBody),
    )
)]
pub async fn start<B: Backend>(
    State(backend): State<Arc<B>>,
    Extension(principal): Extension<Principal>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: StartBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_body",
            format!("expected {{\"job_type\": \"...\", \"params\": {{...}}}}: {e}"),
        )
    })?;
    let job_type = JobType::parse(&body.job_type).ok_or_else(|| {
        let known: Vec<&str> = JobType::ALL.iter().map(|t| t.as_str()).collect();
        ApiError::bad_request(
            "unknown_job_type",
            format!("job_type must be one of {}", known.join(", ")),
        )
    })?;
    let params = body.params.unwrap_or_else(|| json!({}));
    if !params.is_object() {
        return Err(ApiError::bad_request("invalid_body", "params must be a JSON object"));
    }
    let trigger = match principal {
        Principal::Service { .. } => Trigger::Api,
        _ => Trigger::User,
    };
    let db = backend.db().await?;
    let queue = backend.bindings()?.queue();
    let request = StartRequest {
        job_type,
        trigger,
        principal: &principal,
        params: &params,
        dedupe_key: None,
    };
    let execution = match start_execution(db.as_ref(), queue, request).await {
        Ok(Started::New(execution) | Started::Duplicate(execution)) => execution,
        Err(StartError::Enqueue { execution_id, source }) => {
            return Err(ApiError::unavailable(
                "enqueue_failed",
                format!("execution {execution_id}: {source}"),
            ));
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    tracing::info!(execution_id = %execution.id, job_type = %job_type, "execution started");
    let location = format!("/api/jobs/{}", execution.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location.clone())],
        Json(json!({
            "execution_id": execution.id,
            "job_type": execution.job_type,
            "status": execution.status,
            "href": location,
        })),
    )
        .into_response())
}

/// Sends an execution's envelope again (ops use it to nudge a stuck execution). Harmless
/// on a finished one: the engine acknowledges it without effects.
#[utoipa::path(
    post,
    path = "/api/jobs/{id}/dispatch",
    operation_id = "dispatch_job",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "the execution id")),
    security(("access_assertion" = []), ("access_cookie" = [])),
    responses(
        (status = 202, description = "sent again", body = Dispatched),
        (status = 400, description = "the id is not a UUID", body = ErrorBody),
        (status = 401, description = "no valid Access token", body = ErrorBody),
        (status = 403, description = "a cookie-authenticated request from another site", body = ErrorBody),
        (status = 404, description = "no such execution", body = ErrorBody),
        (status = 503, description = "the queue refused the message", body = ErrorBody),
    )
)]
pub async fn dispatch<B: Backend>(
    State(backend): State<Arc<B>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let db = backend.db().await?;
    let execution = repo::get_execution(db.as_ref(), id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no execution {id}")))?;
    let envelope = JobEnvelope {
        job_type: execution.job_type.clone(),
        execution_id: id,
    };
    backend
        .bindings()?
        .queue()
        .send(&envelope, 0)
        .await
        .map_err(|e| ApiError::unavailable("enqueue_failed", e))?;
    tracing::info!(execution_id = %id, by = principal.id(), "execution re-dispatched");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "execution_id": id, "status": execution.status, "dispatched": true })),
    )
        .into_response())
}
