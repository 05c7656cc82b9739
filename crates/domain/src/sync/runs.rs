//! SQL for `shopify_bulk_run`: one bulk export per (execution, resource) with its
//! download checkpoint, and the incremental-sync watermarks.

use crate::pg::p;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

pub type DbError = tokio_postgres::Error;

pub const RESOURCES: [&str; 2] = ["catalog", "orders"];

#[derive(Clone, Debug)]
pub struct BulkRun {
    pub execution_id: Uuid,
    pub resource: String,
    pub shop_id: i32,
    pub mode: String,
    pub search_filter: String,
    pub phase: String,
    pub operation_id: Option<String>,
    pub operation_attempts: i32,
    pub operation_created_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
    pub partial: bool,
    pub object_count: Option<i64>,
    pub root_object_count: Option<i64>,
    pub file_size: Option<i64>,
    pub next_part: i32,
    pub carry: Vec<u8>,
    pub lines: i64,
    pub root_lines: i64,
    pub lines_by_type: Value,
    pub rows_written: i64,
    pub rows_changed: i64,
    pub bytes_read: i64,
    pub archive_key: Option<String>,
    pub archive_upload_id: Option<String>,
    pub archive_parts: Value,
}

const COLUMNS: &str = "execution_id, resource, shop_id, mode, search_filter, phase, operation_id, operation_attempts,
    operation_created_at, url, partial, object_count, root_object_count, file_size, next_part, carry, lines,
    root_lines, lines_by_type, rows_written, rows_changed, bytes_read, archive_key, archive_upload_id, archive_parts";

impl BulkRun {
    fn from_row(r: &Row) -> Self {
        Self {
            execution_id: r.get("execution_id"),
            resource: r.get("resource"),
            shop_id: r.get("shop_id"),
            mode: r.get("mode"),
            search_filter: r.get("search_filter"),
            phase: r.get("phase"),
            operation_id: r.get("operation_id"),
            operation_attempts: r.get("operation_attempts"),
            operation_created_at: r.get("operation_created_at"),
            url: r.get("url"),
            partial: r.get("partial"),
            object_count: r.get("object_count"),
            root_object_count: r.get("root_object_count"),
            file_size: r.get("file_size"),
            next_part: r.get("next_part"),
            carry: r.get("carry"),
            lines: r.get("lines"),
            root_lines: r.get("root_lines"),
            lines_by_type: r.get("lines_by_type"),
            rows_written: r.get("rows_written"),
            rows_changed: r.get("rows_changed"),
            bytes_read: r.get("bytes_read"),
            archive_key: r.get("archive_key"),
            archive_upload_id: r.get("archive_upload_id"),
            archive_parts: r.get("archive_parts"),
        }
    }
}

pub async fn create_run(
    db: &impl GenericClient,
    execution_id: Uuid,
    resource: &str,
    shop_id: i32,
    mode: &str,
    search_filter: &str,
) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO shopify_bulk_run (execution_id, resource, shop_id, mode, search_filter, phase)
         VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT DO NOTHING",
        &[&execution_id, &resource, &shop_id, &mode, &search_filter],
    )
    .await?;
    Ok(())
}

pub async fn runs(db: &impl GenericClient, execution_id: Uuid) -> Result<Vec<BulkRun>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM shopify_bulk_run WHERE execution_id = $1 ORDER BY resource");
    Ok(db
        .query_typed(&sql, &[p(&execution_id)])
        .await?
        .iter()
        .map(BulkRun::from_row)
        .collect())
}

/// A new bulk operation is running for the run; the download starts over.
pub async fn operation_started(
    db: &impl GenericClient,
    execution_id: Uuid,
    resource: &str,
    operation_id: &str,
) -> Result<(), DbError> {
    db.execute(
        "UPDATE shopify_bulk_run SET phase = 'running', operation_id = $3, operation_attempts = operation_attempts + 1,
             url = NULL, partial = false, object_count = NULL, root_object_count = NULL, file_size = NULL,
             next_part = 0, carry = '\\x'::bytea, lines = 0, root_lines = 0, lines_by_type = '{}'::jsonb,
             archive_key = NULL, archive_upload_id = NULL, archive_parts = '[]'::jsonb, updated_at = now()
         WHERE execution_id = $1 AND resource = $2",
        &[&execution_id, &resource, &operation_id],
    )
    .await?;
    Ok(())
}

/// Back to `pending`: a new operation must be started (canceled, expired, failed, or the
/// remainder after partial data).
pub async fn operation_restart(db: &impl GenericClient, execution_id: Uuid, resource: &str) -> Result<(), DbError> {
    db.execute(
        "UPDATE shopify_bulk_run SET phase = 'pending', updated_at = now() WHERE execution_id = $1 AND resource = $2",
        &[&execution_id, &resource],
    )
    .await?;
    Ok(())
}

pub struct Ready<'a> {
    pub url: Option<&'a str>,
    pub partial: bool,
    pub object_count: Option<i64>,
    pub root_object_count: Option<i64>,
    pub file_size: Option<i64>,
    pub created_at: Option<DateTime<Utc>>,
    pub archive_key: Option<&'a str>,
    pub archive_upload_id: Option<&'a str>,
}

/// The operation finished: download from `url` (or nothing to download).
pub async fn operation_ready(
    db: &impl GenericClient,
    execution_id: Uuid,
    resource: &str,
    ready: &Ready<'_>,
) -> Result<(), DbError> {
    let phase = if ready.url.is_some() {
        "downloading"
    } else {
        "downloaded"
    };
    db.execute(
        "UPDATE shopify_bulk_run SET phase = $3, url = $4, partial = $5, object_count = $6, root_object_count = $7,
             file_size = $8, operation_created_at = coalesce($9, operation_created_at), archive_key = $10,
             archive_upload_id = $11, updated_at = now()
         WHERE execution_id = $1 AND resource = $2",
        &[
            &execution_id,
            &resource,
            &phase,
            &ready.url,
            &ready.partial,
            &ready.object_count,
            &ready.root_object_count,
            &ready.file_size,
            &ready.created_at,
            &ready.archive_key,
            &ready.archive_upload_id,
        ],
    )
    .await?;
    Ok(())
}

/// A fresh signed URL for the same operation (the old one expired).
pub async fn refresh_url(
    db: &impl GenericClient,
    execution_id: Uuid,
    resource: &str,
    url: &str,
) -> Result<(), DbError> {
    db.execute(
        "UPDATE shopify_bulk_run SET url = $3, updated_at = now() WHERE execution_id = $1 AND resource = $2",
        &[&execution_id, &resource, &url],
    )
    .await?;
    Ok(())
}

/// Commits a part's progress as `run` now stands (next part, carried line, counters,
/// archive parts, phase); call it in the transaction that wrote the part's rows.
pub async fn checkpoint(db: &impl GenericClient, run: &BulkRun) -> Result<(), DbError> {
    db.execute_typed(
        "UPDATE shopify_bulk_run SET next_part = $3, carry = $4, lines = $5, root_lines = $6, lines_by_type = $7,
             rows_written = $8, rows_changed = $9, bytes_read = $10, archive_parts = $11, phase = $12, updated_at = now()
         WHERE execution_id = $1 AND resource = $2",
        &[
            p(&run.execution_id),
            p(&run.resource),
            p(&run.next_part),
            p(&run.carry),
            p(&run.lines),
            p(&run.root_lines),
            p(&run.lines_by_type),
            p(&run.rows_written),
            p(&run.rows_changed),
            p(&run.bytes_read),
            p(&run.archive_parts),
            p(&run.phase),
        ],
    )
    .await?;
    Ok(())
}

/// How long an unfinished execution that has not been touched still counts as in flight:
/// longer than the engine's longest retry backoff (600 s) and any poll delay, so a live
/// sync is never ignored, yet a sync whose message was lost for good blocks nobody forever.
const IN_FLIGHT_WINDOW_MINUTES: i32 = 30;

/// The earliest sync execution created before this one that has not finished, if any:
/// syncs run one at a time, in the order they were started, so two exports never
/// interleave their writes (an older file overwriting newer rows, two runs marking each
/// other's rows vanished). Ordered by (created_at, id), so no two syncs wait for each other.
pub async fn earlier_sync_in_flight(db: &impl GenericClient, execution_id: Uuid) -> Result<Option<Uuid>, DbError> {
    Ok(db
        .query_opt(
            "SELECT o.id FROM procedure_execution o
               JOIN procedure_execution me ON me.id = $1
              WHERE o.job_type = me.job_type
                AND o.id <> me.id
                AND o.status IN ('queued', 'running', 'retrying')
                AND (o.created_at, o.id) < (me.created_at, me.id)
                AND o.updated_at > now() - make_interval(mins => $2::int)
              ORDER BY o.created_at, o.id
              LIMIT 1",
            &[&execution_id, &IN_FLIGHT_WINDOW_MINUTES],
        )
        .await?
        .map(|r| r.get(0)))
}

pub async fn watermark(
    db: &impl GenericClient,
    shop_id: i32,
    resource: &str,
) -> Result<Option<DateTime<Utc>>, DbError> {
    Ok(db
        .query_opt(
            "SELECT watermark FROM shopify_sync_watermark WHERE shop_id = $1 AND resource = $2",
            &[&shop_id, &resource],
        )
        .await?
        .map(|r| r.get(0)))
}

pub async fn set_watermark(
    db: &impl GenericClient,
    shop_id: i32,
    resource: &str,
    watermark: DateTime<Utc>,
    execution_id: Uuid,
) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO shopify_sync_watermark (shop_id, resource, watermark, execution_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (shop_id, resource) DO UPDATE SET watermark = greatest(shopify_sync_watermark.watermark, excluded.watermark),
             execution_id = excluded.execution_id",
        &[&shop_id, &resource, &watermark, &execution_id],
    )
    .await?;
    Ok(())
}
