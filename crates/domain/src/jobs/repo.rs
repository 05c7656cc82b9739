//! SQL for executions and steps. Every function takes `&impl GenericClient` so it runs on a
//! Hyperdrive connection, a native connection or a test transaction alike.

use super::{ExecutionStatus, Trigger};
use crate::pg::p;
use crate::Principal;
use chrono::{DateTime, Utc};
use serde::Serialize;
#[cfg(feature = "openapi")]
#[allow(unused_imports)] // named by the schema attributes
use std::collections::HashMap;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

pub type DbError = tokio_postgres::Error;

/// A ProcedureExecution (`domain::jobs::repo::Execution`).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Execution {
    pub id: Uuid,
    pub job_type: String,
    /// `cron`, `user` or `api`.
    pub trigger: String,
    pub principal_kind: String,
    pub principal_id: String,
    pub dedupe_key: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, serde_json::Value>))]
    pub params: serde_json::Value,
    #[cfg_attr(feature = "openapi", schema(value_type = super::ExecutionStatus))]
    pub status: String,
    pub attempts: i32,
    pub deliveries: i32,
    /// Each finished step's counters, by step name.
    #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, serde_json::Value>))]
    pub counters: serde_json::Value,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl Execution {
    pub fn status(&self) -> Option<ExecutionStatus> {
        ExecutionStatus::parse(&self.status)
    }

    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            job_type: row.get("job_type"),
            trigger: row.get("trigger"),
            principal_kind: row.get("principal_kind"),
            principal_id: row.get("principal_id"),
            dedupe_key: row.get("dedupe_key"),
            params: row.get("params"),
            status: row.get("status"),
            attempts: row.get("attempts"),
            deliveries: row.get("deliveries"),
            counters: row.get("counters"),
            error_code: row.get("error_code"),
            error_message: row.get("error_message"),
            created_at: row.get("created_at"),
            started_at: row.get("started_at"),
            finished_at: row.get("finished_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

/// A recorded step (`domain::jobs::repo::StepExecution`).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepExecution {
    pub ordinal: i32,
    pub name: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    /// Progress while running and totals when done, e.g. `bytes_read` / `bytes_total`,
    /// `lines`, `rows`.
    #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, serde_json::Value>))]
    pub counters: serde_json::Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<HashMap<String, serde_json::Value>>))]
    pub output: Option<serde_json::Value>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl StepExecution {
    fn from_row(row: &Row) -> Self {
        Self {
            ordinal: row.get("ordinal"),
            name: row.get("name"),
            status: row.get("status"),
            attempts: row.get("attempts"),
            counters: row.get("counters"),
            output: row.get("output"),
            error_code: row.get("error_code"),
            error_message: row.get("error_message"),
            started_at: row.get("started_at"),
            finished_at: row.get("finished_at"),
        }
    }
}

const EXECUTION_COLUMNS: &str = "id, job_type, trigger, principal_kind, principal_id, dedupe_key, params, status, \
     attempts, deliveries, counters, error_code, error_message, created_at, started_at, finished_at, updated_at";

pub struct NewExecution<'a> {
    pub id: Uuid,
    pub job_type: &'a str,
    pub trigger: Trigger,
    pub principal: &'a Principal,
    pub params: &'a serde_json::Value,
    pub dedupe_key: Option<&'a str>,
}

/// Inserts a queued execution. Returns `None` when `dedupe_key` was already taken.
pub async fn insert_execution(db: &impl GenericClient, new: &NewExecution<'_>) -> Result<Option<Execution>, DbError> {
    let sql = format!(
        "INSERT INTO procedure_execution (id, job_type, trigger, principal_kind, principal_id, params, dedupe_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (dedupe_key) DO NOTHING
         RETURNING {EXECUTION_COLUMNS}"
    );
    let row = db
        .query_opt(
            &sql,
            &[
                &new.id,
                &new.job_type,
                &new.trigger.as_str(),
                &new.principal.kind(),
                &new.principal.id(),
                new.params,
                &new.dedupe_key,
            ],
        )
        .await?;
    Ok(row.as_ref().map(Execution::from_row))
}

pub async fn get_execution(db: &impl GenericClient, id: Uuid) -> Result<Option<Execution>, DbError> {
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM procedure_execution WHERE id = $1");
    Ok(db.query_opt(&sql, &[&id]).await?.as_ref().map(Execution::from_row))
}

pub async fn get_execution_by_dedupe_key(db: &impl GenericClient, key: &str) -> Result<Option<Execution>, DbError> {
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM procedure_execution WHERE dedupe_key = $1");
    Ok(db.query_opt(&sql, &[&key]).await?.as_ref().map(Execution::from_row))
}

#[derive(Clone, Debug, Default)]
pub struct ExecutionFilter {
    pub job_type: Option<String>,
    pub status: Option<ExecutionStatus>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

/// `GET /api/jobs` (`domain::jobs::repo::ExecutionPage`).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecutionPage {
    pub items: Vec<Execution>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

pub async fn list_executions(db: &impl GenericClient, filter: &ExecutionFilter) -> Result<ExecutionPage, DbError> {
    let status = filter.status.map(ExecutionStatus::as_str);
    let where_clause = "($1::text IS NULL OR job_type = $1)
         AND ($2::text IS NULL OR status = $2)
         AND ($3::timestamptz IS NULL OR created_at >= $3)
         AND ($4::timestamptz IS NULL OR created_at < $4)";
    let sql = format!(
        "SELECT {EXECUTION_COLUMNS}, count(*) OVER () AS total FROM procedure_execution
         WHERE {where_clause}
         ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6"
    );
    let rows = db
        .query(
            &sql,
            &[
                &filter.job_type,
                &status,
                &filter.created_after,
                &filter.created_before,
                &filter.limit,
                &filter.offset,
            ],
        )
        .await?;
    let total = match rows.first() {
        Some(row) => row.get("total"),
        // The page is past the end (or nothing matches): count without the window.
        None => {
            let sql = format!("SELECT count(*) FROM procedure_execution WHERE {where_clause}");
            db.query_one(
                &sql,
                &[&filter.job_type, &status, &filter.created_after, &filter.created_before],
            )
            .await?
            .get(0)
        }
    };
    Ok(ExecutionPage {
        items: rows.iter().map(Execution::from_row).collect(),
        total,
        limit: filter.limit,
        offset: filter.offset,
    })
}

pub async fn list_steps(db: &impl GenericClient, execution_id: Uuid) -> Result<Vec<StepExecution>, DbError> {
    let rows = db
        .query(
            "SELECT ordinal, name, status, attempts, counters, output, error_code, error_message, started_at, finished_at
             FROM procedure_step_execution WHERE execution_id = $1 ORDER BY ordinal",
            &[&execution_id],
        )
        .await?;
    Ok(rows.iter().map(StepExecution::from_row).collect())
}

/// Counts a received message for the execution; returns the execution as it now reads.
pub async fn record_delivery(db: &impl GenericClient, id: Uuid) -> Result<Option<Execution>, DbError> {
    let sql = format!(
        "UPDATE procedure_execution SET deliveries = deliveries + 1 WHERE id = $1 RETURNING {EXECUTION_COLUMNS}"
    );
    Ok(db.query_opt(&sql, &[&id]).await?.as_ref().map(Execution::from_row))
}

/// Takes the execution's lease when it is not finished and no live lease is held.
/// Returns the execution as leased, or `None` when another delivery holds it or it is finished.
pub async fn acquire_lease(
    db: &impl GenericClient,
    id: Uuid,
    token: Uuid,
    lease_seconds: i64,
) -> Result<Option<Execution>, DbError> {
    let sql = format!(
        "UPDATE procedure_execution
         SET lease_token = $2,
             lease_expires_at = now() + make_interval(secs => $3::bigint),
             status = 'running',
             attempts = attempts + 1,
             started_at = coalesce(started_at, now()),
             updated_at = now()
         WHERE id = $1
           AND status NOT IN ('succeeded', 'failed')
           AND (lease_expires_at IS NULL OR lease_expires_at < now())
         RETURNING {EXECUTION_COLUMNS}"
    );
    Ok(db
        .query_opt(&sql, &[&id, &token, &lease_seconds])
        .await?
        .as_ref()
        .map(Execution::from_row))
}

/// Seconds until a live lease on `id` expires (0 when none).
pub async fn lease_remaining_seconds(db: &impl GenericClient, id: Uuid) -> Result<i64, DbError> {
    let row = db
        .query_opt(
            "SELECT greatest(0, ceil(extract(epoch FROM lease_expires_at - now())))::bigint
             FROM procedure_execution WHERE id = $1 AND lease_expires_at IS NOT NULL",
            &[&id],
        )
        .await?;
    Ok(row.map(|r| r.get::<_, i64>(0)).unwrap_or(0))
}

/// Marks a step running (first run or a retry of a step that did not finish).
/// Returns `None` when the step already succeeded: a finished step never runs again.
pub async fn begin_step(
    db: &impl GenericClient,
    execution_id: Uuid,
    ordinal: i32,
    name: &str,
) -> Result<Option<StepExecution>, DbError> {
    let row = db
        .query_opt(
            "INSERT INTO procedure_step_execution (execution_id, ordinal, name, status, attempts)
             VALUES ($1, $2, $3, 'running', 1)
             ON CONFLICT (execution_id, ordinal) DO UPDATE
               SET status = 'running', attempts = procedure_step_execution.attempts + 1,
                   error_code = NULL, error_message = NULL, finished_at = NULL,
                   -- a step continuing in a later message keeps its start time
                   started_at = CASE WHEN procedure_step_execution.status = 'running'
                                     THEN procedure_step_execution.started_at ELSE now() END
               WHERE procedure_step_execution.status <> 'succeeded'
             RETURNING ordinal, name, status, attempts, counters, output, error_code, error_message, started_at, finished_at",
            &[&execution_id, &ordinal, &name],
        )
        .await?;
    Ok(row.as_ref().map(StepExecution::from_row))
}

pub async fn finish_step(
    db: &impl GenericClient,
    execution_id: Uuid,
    ordinal: i32,
    counters: &serde_json::Value,
    output: &serde_json::Value,
) -> Result<(), DbError> {
    db.execute(
        "UPDATE procedure_step_execution
         SET status = 'succeeded', counters = $3, output = $4, finished_at = now()
         WHERE execution_id = $1 AND ordinal = $2",
        &[&execution_id, &ordinal, counters, output],
    )
    .await?;
    Ok(())
}

pub async fn fail_step(
    db: &impl GenericClient,
    execution_id: Uuid,
    ordinal: i32,
    code: &str,
    message: &str,
) -> Result<(), DbError> {
    db.execute(
        "UPDATE procedure_step_execution
         SET status = 'failed', error_code = $3, error_message = $4, finished_at = now()
         WHERE execution_id = $1 AND ordinal = $2",
        &[&execution_id, &ordinal, &code, &message],
    )
    .await?;
    Ok(())
}

/// Finishes a leased execution successfully. Only the lease holder can.
pub async fn mark_succeeded(
    db: &impl GenericClient,
    id: Uuid,
    token: Uuid,
    counters: &serde_json::Value,
) -> Result<bool, DbError> {
    let n = db
        .execute(
            "UPDATE procedure_execution
             SET status = 'succeeded', counters = $3, error_code = NULL, error_message = NULL,
                 lease_token = NULL, lease_expires_at = NULL, finished_at = now(), updated_at = now()
             WHERE id = $1 AND lease_token = $2",
            &[&id, &token, counters],
        )
        .await?;
    Ok(n == 1)
}

/// Releases the lease after a failed attempt that will be retried, keeping the error.
/// Returns the execution's consecutive failures (the backoff grows with them), or `None`
/// when the lease was lost meanwhile.
pub async fn mark_retrying(
    db: &impl GenericClient,
    id: Uuid,
    token: Uuid,
    code: &str,
    message: &str,
) -> Result<Option<i32>, DbError> {
    let row = db
        .query_opt(
            "UPDATE procedure_execution
             SET status = 'retrying', error_code = $3, error_message = $4, failures = failures + 1,
                 lease_token = NULL, lease_expires_at = NULL, updated_at = now()
             WHERE id = $1 AND lease_token = $2
             RETURNING failures",
            &[&id, &token, &code, &message],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Releases the lease of an execution whose current step made progress and continues in
/// a later message (a poll that waits, the next chunk of a download). Progress clears the
/// consecutive-failure count and the last error.
pub async fn release_to_continue(db: &impl GenericClient, id: Uuid, token: Uuid) -> Result<bool, DbError> {
    let n = db
        .execute(
            "UPDATE procedure_execution
             SET status = 'running', failures = 0, error_code = NULL, error_message = NULL,
                 lease_token = NULL, lease_expires_at = NULL, updated_at = now()
             WHERE id = $1 AND lease_token = $2",
            &[&id, &token],
        )
        .await?;
    Ok(n == 1)
}

/// Publishes a running step's counters (lines, rows, bytes…) so they are visible while it runs.
pub async fn progress_step(
    db: &impl GenericClient,
    execution_id: Uuid,
    ordinal: i32,
    counters: &serde_json::Value,
) -> Result<(), DbError> {
    db.execute_typed(
        "UPDATE procedure_step_execution SET counters = $3
         WHERE execution_id = $1 AND ordinal = $2 AND status = 'running'",
        &[p(&execution_id), p(&ordinal), p(counters)],
    )
    .await?;
    Ok(())
}

/// Fails an unfinished execution for good. `code`/`message` replace the recorded error
/// only when given, so the dead-letter consumer can keep the last attempt's error.
pub async fn mark_failed(
    db: &impl GenericClient,
    id: Uuid,
    code: Option<&str>,
    message: Option<&str>,
) -> Result<Option<Execution>, DbError> {
    let sql = format!(
        "UPDATE procedure_execution
         SET status = 'failed',
             error_code = coalesce($2, error_code, 'retries_exhausted'),
             error_message = coalesce($3, error_message, 'retries exhausted before the execution finished'),
             lease_token = NULL, lease_expires_at = NULL, finished_at = now(), updated_at = now()
         WHERE id = $1 AND status NOT IN ('succeeded', 'failed')
         RETURNING {EXECUTION_COLUMNS}"
    );
    Ok(db
        .query_opt(&sql, &[&id, &code, &message])
        .await?
        .as_ref()
        .map(Execution::from_row))
}

/// Records a message that cannot run (unknown execution, malformed body) as a failed
/// execution so it is visible rather than dropped. Idempotent per id.
pub async fn record_unrunnable(
    db: &impl GenericClient,
    id: Uuid,
    job_type: &str,
    params: &serde_json::Value,
    code: &str,
    message: &str,
) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO procedure_execution
           (id, job_type, trigger, principal_kind, principal_id, params, status, error_code, error_message, finished_at)
         VALUES ($1, $2, 'api', 'system', 'ingest', $3, 'failed', $4, $5, now())
         ON CONFLICT (id) DO NOTHING",
        &[&id, &job_type, params, &code, &message],
    )
    .await?;
    Ok(())
}
