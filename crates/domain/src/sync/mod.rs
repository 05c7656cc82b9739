//! `PROCEDURE_EXECUTION_INITIATE`: the Shopify bulk sync of catalog and orders.
//!
//! Steps (each recorded): `initiate` (shop, mode, one bulk export per resource) → `poll`
//! (re-enqueued with a delay while Shopify works; never sleeps) → `download_parse_upsert`
//! (HTTP Range parts of the result file, parsed and written set-based; every part
//! commits its rows and its checkpoint in one transaction, and a message handles a few
//! parts then continues in the next message) → `reconcile` (Shopify's counts = lines
//! parsed = rows in Postgres, or the execution fails loudly; what vanished is marked) →
//! `archive` (the raw JSONL parts, uploaded to R2 as they were read, completed as one
//! multipart object).
//!
//! Followed: <https://shopify.dev/docs/api/usage/bulk-operations/queries> (run, poll by id,
//! statuses, `partialDataUrl`, URL expiry, JSONL with `__parentId`, `groupObjects`),
//! <https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/bulkOperationRunQuery>
//! (`OPERATION_IN_PROGRESS`, `LIMIT_REACHED` user errors) and
//! <https://shopify.dev/docs/api/usage/search-syntax> (`updated_at:>=` filters).

pub mod runs;

use crate::jobs::procedures::{Procedure, StepContext, StepError, StepOutcome};
use crate::jobs::repo;
use crate::jobs::JobType;
use crate::platform::{Bindings, KvStore, ObjectStore};
use crate::store::{self, rows::ChunkRows, write::write_chunk};
use chrono::{DateTime, Duration, Utc};
use futures::future::LocalBoxFuture;
use runs::{BulkRun, Ready, RESOURCES};
use serde_json::{json, Map, Value};
use shopify::body::Body;
use shopify::bulk::{next_step, BulkNext, BulkOperation};
use shopify::client::{AdminClient, RetryPolicy, ShopConfig, ShopifyError, Transport};
use shopify::documents::{self, bulk_query};
use shopify::jsonl::{BulkRecord, JsonlReader};
use tokio_postgres::Client;

pub const STEPS: &[&str] = &["initiate", "poll", "download_parse_upsert", "reconcile", "archive"];

/// A resource's export is restarted at most this often within one execution.
pub const MAX_OPERATION_ATTEMPTS: i32 = 5;

#[derive(Clone, Debug)]
pub struct SyncSettings {
    pub shop: ShopConfig,
    /// Download part size: every part but the last is exactly this long, so parts are also
    /// the archive's equal multipart parts (R2 needs ≥ 5 MiB).
    pub part_bytes: u64,
    /// Parts handled per queue message before continuing in the next one.
    pub parts_per_message: u32,
    pub poll_seconds: u32,
    pub lookback_minutes: i64,
    /// Honour `params.fault` (test stacks only).
    pub faults_enabled: bool,
    pub retry: RetryPolicy,
}

pub const DEFAULT_PART_BYTES: u64 = 8 * 1024 * 1024;

/// The step error of an injected lost connection (its transaction is left open, never committed).
const CONNECTION_LOST: &str = "connection_lost";

const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
const MAX_PART_BYTES: u64 = 64 * 1024 * 1024;

/// A downloaded part is parsed this much at a time.
const FEED_BYTES: usize = 256 * 1024;

impl SyncSettings {
    /// From the Worker's variables: `SHOPIFY_SHOP_URL`, `SHOPIFY_ACCESS_TOKEN` (a secret),
    /// optional `SHOPIFY_API_VERSION`, `SHOPIFY_SYNC_PART_BYTES`, `SHOPIFY_SYNC_PARTS_PER_MESSAGE`,
    /// `SHOPIFY_POLL_SECONDS`, `SHOPIFY_SYNC_LOOKBACK_MINUTES`, `SHOPIFY_SYNC_FAULTS`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let base_url = var("SHOPIFY_SHOP_URL").ok_or("SHOPIFY_SHOP_URL is not set")?;
        let access_token = var("SHOPIFY_ACCESS_TOKEN").ok_or("SHOPIFY_ACCESS_TOKEN is not set")?;
        let number = |name: &str, default: u64| -> Result<u64, String> {
            match var(name) {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|_| format!("{name} must be a whole number")),
            }
        };
        Ok(Self {
            shop: ShopConfig {
                base_url,
                access_token,
                api_version: var("SHOPIFY_API_VERSION").unwrap_or_else(|| shopify::ADMIN_API_VERSION.to_owned()),
            },
            part_bytes: {
                let bytes = number("SHOPIFY_SYNC_PART_BYTES", DEFAULT_PART_BYTES)?;
                // Each part becomes an R2 multipart part: R2 wants at least 5 MiB for every
                // part but the last (https://developers.cloudflare.com/r2/objects/multipart-objects/);
                // a part also sits whole in the Worker's memory (128 MB), hence the ceiling.
                if !(MIN_PART_BYTES..=MAX_PART_BYTES).contains(&bytes) {
                    return Err(format!(
                        "SHOPIFY_SYNC_PART_BYTES must be between {MIN_PART_BYTES} (5 MiB, R2's smallest multipart part) and {MAX_PART_BYTES} (64 MiB), not {bytes}"
                    ));
                }
                bytes
            },
            parts_per_message: u32::try_from(number("SHOPIFY_SYNC_PARTS_PER_MESSAGE", 8)?.max(1)).unwrap_or(8),
            poll_seconds: u32::try_from(number("SHOPIFY_POLL_SECONDS", 5)?).unwrap_or(5),
            lookback_minutes: i64::try_from(number("SHOPIFY_SYNC_LOOKBACK_MINUTES", 60)?).unwrap_or(60),
            faults_enabled: var("SHOPIFY_SYNC_FAULTS").is_some_and(|v| v == "1"),
            retry: RetryPolicy::default(),
        })
    }
}

pub struct ShopifySync<T> {
    transport: T,
    settings: Result<SyncSettings, String>,
}

impl<T: Transport> ShopifySync<T> {
    pub fn new(transport: T, settings: Result<SyncSettings, String>) -> Self {
        Self { transport, settings }
    }
}

fn shopify_error(e: ShopifyError) -> StepError {
    match &e {
        ShopifyError::GraphQl(errors) if errors.iter().any(|e| e.code.as_deref() == Some("ACCESS_DENIED")) => {
            StepError::fatal("shopify_access_denied", format!("Shopify refused the request: {e}"))
        }
        ShopifyError::Http { status: 401 | 403, .. } => {
            StepError::fatal("shopify_unauthorized", format!("Shopify refused the access token: {e}"))
        }
        _ => StepError::new("shopify_error", e.to_string()),
    }
}

fn db_error(e: tokio_postgres::Error) -> StepError {
    StepError::from(e)
}

async fn begin(db: &Client) -> Result<(), StepError> {
    db.batch_execute("BEGIN").await.map_err(db_error)
}

async fn commit(db: &Client) -> Result<(), StepError> {
    db.batch_execute("COMMIT").await.map_err(db_error)
}

async fn rollback(db: &Client) {
    if let Err(e) = db.batch_execute("ROLLBACK").await {
        tracing::warn!(error = %e, "rollback failed");
    }
}

/// The Worker's linear memory, as the peak-memory counter (linear memory only grows).
fn wasm_memory_bytes() -> Option<u64> {
    #[cfg(target_arch = "wasm32")]
    {
        Some(core::arch::wasm32::memory_size(0) as u64 * 65536)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        None
    }
}

enum Started {
    Running,
    /// `OPERATION_IN_PROGRESS` / `LIMIT_REACHED`: try again after the poll delay.
    Busy(String),
}

impl<T: Transport> ShopifySync<T> {
    fn settings(&self) -> Result<&SyncSettings, StepError> {
        self.settings
            .as_ref()
            .map_err(|e| StepError::fatal("shopify_not_configured", e.clone()))
    }

    fn client(&self) -> Result<AdminClient<&T>, StepError> {
        let s = self.settings()?;
        Ok(AdminClient::new(&self.transport, s.shop.clone(), s.retry))
    }

    async fn start_operation(&self, db: &Client, run: &BulkRun) -> Result<Started, StepError> {
        if run.operation_attempts >= MAX_OPERATION_ATTEMPTS {
            return Err(StepError::new(
                "bulk_operation_attempts_exhausted",
                format!(
                    "the {} export was started {} times without completing",
                    run.resource, run.operation_attempts
                ),
            ));
        }
        let template = match run.resource.as_str() {
            "catalog" => documents::CATALOG_BULK_QUERY,
            _ => documents::ORDERS_BULK_QUERY,
        };
        let query = bulk_query(template, &run.search_filter);
        let client = self.client()?;
        match client
            .mutate(
                documents::RUN_BULK_QUERY,
                json!({ "query": query }),
                "bulkOperationRunQuery",
            )
            .await
        {
            Ok(payload) => {
                let id = payload["bulkOperation"]["id"]
                    .as_str()
                    .ok_or_else(|| StepError::new("shopify_error", "bulkOperationRunQuery returned no operation id"))?;
                runs::operation_started(db, run.execution_id, &run.resource, id)
                    .await
                    .map_err(db_error)?;
                tracing::info!(resource = %run.resource, operation = id, "bulk export started");
                Ok(Started::Running)
            }
            Err(ShopifyError::UserErrors(errors))
                if errors
                    .iter()
                    .all(|e| matches!(e.code.as_deref(), Some("OPERATION_IN_PROGRESS") | Some("LIMIT_REACHED"))) =>
            {
                let why = errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ");
                tracing::info!(resource = %run.resource, why = %why, "Shopify is busy with other bulk operations; waiting");
                Ok(Started::Busy(why))
            }
            Err(ShopifyError::UserErrors(errors)) => Err(StepError::fatal(
                "bulk_query_rejected",
                errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "),
            )),
            Err(e) => Err(shopify_error(e)),
        }
    }

    async fn poll_operation(&self, id: &str) -> Result<(BulkOperation, Option<DateTime<Utc>>), StepError> {
        let client = self.client()?;
        let data = client
            .execute(documents::POLL_BULK_OPERATION, json!({ "id": id }))
            .await
            .map_err(shopify_error)?;
        let node = data["node"].clone();
        let created_at = node["createdAt"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc));
        let op: BulkOperation = serde_json::from_value(node)
            .map_err(|e| StepError::new("shopify_error", format!("bulk operation {id} could not be read: {e}")))?;
        Ok((op, created_at))
    }

    /// Starts pending exports and polls running ones. Returns true when every export is
    /// ready to download (or downloaded).
    async fn advance<B: Bindings>(&self, cx: &StepContext<'_, B>) -> Result<bool, StepError> {
        let mut ready = true;
        for run in runs::runs(cx.db, cx.execution.id).await.map_err(db_error)? {
            match run.phase.as_str() {
                "pending" => {
                    ready = false;
                    self.start_operation(cx.db, &run).await?;
                }
                "running" => {
                    let id = run.operation_id.clone().unwrap_or_default();
                    let (op, created_at) = self.poll_operation(&id).await?;
                    match next_step(&op) {
                        BulkNext::PollAgain => ready = false,
                        BulkNext::Download(url) => {
                            let archive = match &url {
                                Some(_) => {
                                    let key = format!(
                                        "shopify/{}/{}/{}-{}.jsonl",
                                        run.shop_id,
                                        run.execution_id,
                                        run.resource,
                                        id.rsplit('/').next().unwrap_or("op")
                                    );
                                    let upload = cx.bindings.objects().create_multipart(&key).await.map_err(|e| {
                                        StepError::new("archive_failed", format!("could not start the R2 upload: {e}"))
                                    })?;
                                    Some((key, upload))
                                }
                                None => None,
                            };
                            runs::operation_ready(
                                cx.db,
                                run.execution_id,
                                &run.resource,
                                &Ready {
                                    url: url.as_deref(),
                                    partial: false,
                                    object_count: op.object_count.map(|n| n as i64),
                                    root_object_count: op.root_object_count.map(|n| n as i64),
                                    file_size: op.file_size.map(|n| n as i64),
                                    created_at,
                                    archive_key: archive.as_ref().map(|(k, _)| k.as_str()),
                                    archive_upload_id: archive.as_ref().map(|(_, u)| u.as_str()),
                                },
                            )
                            .await
                            .map_err(db_error)?;
                        }
                        BulkNext::DownloadPartialThenRetry(url) => {
                            tracing::warn!(resource = %run.resource, operation = %id, "bulk export failed with partial data; ingesting it, then exporting again");
                            runs::operation_ready(
                                cx.db,
                                run.execution_id,
                                &run.resource,
                                &Ready {
                                    url: Some(&url),
                                    partial: true,
                                    object_count: None,
                                    root_object_count: None,
                                    file_size: None,
                                    created_at,
                                    archive_key: None,
                                    archive_upload_id: None,
                                },
                            )
                            .await
                            .map_err(db_error)?;
                        }
                        BulkNext::Retry(why) => {
                            ready = false;
                            tracing::warn!(resource = %run.resource, why = %why, "bulk export must be run again");
                            runs::operation_restart(cx.db, run.execution_id, &run.resource)
                                .await
                                .map_err(db_error)?;
                        }
                        BulkNext::Fail(why) => return Err(StepError::fatal("shopify_access_denied", why)),
                    }
                }
                _ => {}
            }
        }
        Ok(ready)
    }

    async fn initiate<B: Bindings>(&self, cx: &StepContext<'_, B>) -> Result<StepOutcome, StepError> {
        let settings = self.settings()?;
        let requested = match cx.execution.params.get("mode") {
            None | Some(Value::Null) => None,
            Some(Value::String(m)) if m == "full" || m == "incremental" => Some(m.clone()),
            Some(other) => {
                return Err(StepError::fatal(
                    "invalid_params",
                    format!("params.mode must be \"full\" or \"incremental\", not {other}"),
                ))
            }
        };
        if let Some(earlier) = runs::earlier_sync_in_flight(cx.db, cx.execution.id)
            .await
            .map_err(db_error)?
        {
            tracing::info!(%earlier, "another sync is in flight; this one waits for it");
            return Ok(StepOutcome::continue_after(
                settings.poll_seconds,
                json!({ "waiting_for_execution": earlier }),
            ));
        }
        let client = self.client()?;
        let data = client
            .execute(documents::SHOP, json!({}))
            .await
            .map_err(shopify_error)?;
        // Before any export: a token without a required scope fails the day loudly, naming
        // the scope. (Without `read_all_orders` Shopify would export only 60 days of orders
        // and count only those: reconcile could not tell.)
        let granted: Vec<&str> = data["currentAppInstallation"]["accessScopes"]
            .as_array()
            .map(|scopes| scopes.iter().filter_map(|s| s["handle"].as_str()).collect())
            .unwrap_or_default();
        let missing = shopify::bulk::missing_scopes(granted.iter().copied());
        if !missing.is_empty() {
            return Err(StepError::fatal(
                "shopify_missing_scopes",
                format!(
                    "the Shopify access token lacks the access scope(s) {}; the sync needs {} \
                     (without read_all_orders Shopify returns only the last 60 days of orders). \
                     Grant them to the app and run the sync again",
                    missing.join(", "),
                    shopify::bulk::REQUIRED_SCOPES.join(", ")
                ),
            ));
        }
        let shop = &data["shop"];
        let field = |name: &str| shop[name].as_str().unwrap_or_default().to_owned();
        let shop_id = store::upsert_shop(
            cx.db,
            &field("id"),
            &field("myshopifyDomain"),
            &field("name"),
            &field("ianaTimezone"),
            &field("currencyCode"),
        )
        .await
        .map_err(db_error)?;
        let mut modes = Map::new();
        for resource in RESOURCES {
            let watermark = runs::watermark(cx.db, shop_id, resource).await.map_err(db_error)?;
            // Incremental needs a watermark; without one (first run) the export is full.
            let (mode, filter) = match (requested.as_deref(), watermark) {
                (Some("full"), _) | (_, None) => ("full", String::new()),
                (_, Some(w)) => {
                    let since = w - Duration::minutes(settings.lookback_minutes);
                    (
                        "incremental",
                        format!("updated_at:>='{}'", since.format("%Y-%m-%dT%H:%M:%SZ")),
                    )
                }
            };
            runs::create_run(cx.db, cx.execution.id, resource, shop_id, mode, &filter)
                .await
                .map_err(db_error)?;
            modes.insert(resource.to_owned(), json!({ "mode": mode, "filter": filter }));
        }
        let mut busy = None;
        for run in runs::runs(cx.db, cx.execution.id).await.map_err(db_error)? {
            if run.phase == "pending" {
                if let Started::Busy(why) = self.start_operation(cx.db, &run).await? {
                    busy = Some(why);
                }
            }
        }
        let mut counters = json!({ "shop_id": shop_id, "exports": modes });
        if let Some(earlier) = cx.step.counters.get("waiting_for_execution") {
            counters["waited_for_execution"] = earlier.clone();
        }
        Ok(match busy {
            Some(why) => {
                StepOutcome::continue_after(settings.poll_seconds, json!({ "shop_id": shop_id, "waiting": why }))
            }
            None => StepOutcome::done(counters, Value::Null),
        })
    }

    async fn poll<B: Bindings>(&self, cx: &StepContext<'_, B>) -> Result<StepOutcome, StepError> {
        let settings = self.settings()?;
        let polls = cx.step.counters["polls"].as_u64().unwrap_or(0) + 1;
        if self.advance(cx).await? {
            Ok(StepOutcome::done(json!({ "polls": polls }), Value::Null))
        } else {
            Ok(StepOutcome::continue_after(
                settings.poll_seconds,
                json!({ "polls": polls }),
            ))
        }
    }

    /// Downloads, parses and writes parts of the result files, up to `parts_per_message`.
    ///
    /// Parts go one after the other: a part's rows and checkpoint commit before the next
    /// part is fetched. The run state is read once per message and carried along. A part's
    /// bytes stay in JavaScript memory in a Worker ([`Body`]); only slices of it and its
    /// rows are in wasm memory. (Parsing the next part while one is written was tried, when
    /// whole parts were still copied into wasm memory: with two parts' rows in memory the
    /// peak wasm memory rose from about 34 to 52–56 MiB, too near the 64 MiB budget; it was
    /// not faster either in the runs made, though those ran on a hot-reloaded `wrangler dev`,
    /// so that comparison is not clean.)
    async fn download<B: Bindings>(&self, cx: &StepContext<'_, B>) -> Result<StepOutcome, StepError> {
        let settings = self.settings()?;
        let mut peak_memory = cx.step.counters["wasm_memory_bytes"].as_u64().unwrap_or(0);
        let mut all = runs::runs(cx.db, cx.execution.id).await.map_err(db_error)?;
        for _ in 0..settings.parts_per_message {
            let Some(run) = all.iter().find(|r| r.phase != "downloaded").cloned() else {
                return Ok(StepOutcome::done(progress(&all, peak_memory), Value::Null));
            };
            if run.phase != "downloading" {
                // A restarted export (partial data, expired result): wait for it here.
                let delay = if self.advance(cx).await? {
                    0
                } else {
                    settings.poll_seconds
                };
                return Ok(StepOutcome::continue_after(delay, progress(&all, peak_memory)));
            }
            let parsed = match self.fetch_part(settings, &run).await? {
                Fetched::Part(part) => part,
                Fetched::Expired => {
                    self.refresh_expired(cx, &run).await?;
                    return Ok(StepOutcome::continue_after(0, progress(&all, peak_memory)));
                }
            };
            let (updated, result) = self.write_part(cx, parsed, &run, &all, &mut peak_memory).await?;
            if let Some(slot) = all.iter_mut().find(|r| r.resource == updated.resource) {
                *slot = updated;
            }
            if let PartResult::Later(delay) = result {
                let all = runs::runs(cx.db, cx.execution.id).await.map_err(db_error)?;
                return Ok(StepOutcome::continue_after(delay, progress(&all, peak_memory)));
            }
        }
        if all.iter().all(|r| r.phase == "downloaded") {
            return Ok(StepOutcome::done(progress(&all, peak_memory), Value::Null));
        }
        Ok(StepOutcome::continue_after(0, progress(&all, peak_memory)))
    }

    /// Downloads the run's next part and parses it into rows (no database work).
    async fn fetch_part(&self, settings: &SyncSettings, run: &BulkRun) -> Result<Fetched, StepError> {
        let part_bytes = settings.part_bytes;
        let part = u64::try_from(run.next_part).unwrap_or(0);
        let start = part * part_bytes;
        let url = run.url.clone().unwrap_or_default();
        let file_size = run.file_size.and_then(|s| u64::try_from(s).ok());
        let body = if file_size.is_some_and(|size| start >= size) {
            Body::default()
        } else {
            let response = self
                .transport
                .get(&url, Some((start, start + part_bytes - 1)))
                .await
                .map_err(|e| StepError::new("download_failed", format!("{} part {part}: {e}", run.resource)))?;
            match response.status {
                206 => response.body,
                // A server that ignores Range sends everything: keep this part's slice.
                200 => response.body.slice(
                    usize::try_from(start).unwrap_or(usize::MAX),
                    usize::try_from(start + part_bytes).unwrap_or(usize::MAX),
                ),
                416 => Body::default(),
                400 | 403 | 410 => return Ok(Fetched::Expired),
                status => {
                    return Err(StepError::new(
                        "download_failed",
                        format!("{} part {part}: the result URL answered HTTP {status}", run.resource),
                    ))
                }
            }
        };
        let last = (body.len() as u64) < part_bytes || file_size.is_some_and(|size| start + body.len() as u64 >= size);

        // The unfinished line of the previous part comes first. The part is fed in small
        // slices, copied one at a time out of the body (which in a Worker stays in JavaScript
        // memory), and each slice's records become rows at once, so parsed JSON never piles
        // up: wasm memory holds a slice and the part's rows, whatever the file's size.
        let base = start - run.carry.len() as u64;
        let mut reader = JsonlReader::starting_at(base, u64::try_from(run.lines).unwrap_or(0));
        let bad_line =
            |e: shopify::jsonl::JsonlError| StepError::fatal("bad_jsonl", format!("{} export, {e}", run.resource));
        let mut rows = ChunkRows::default();
        let (mut root_lines, mut lines, mut consumed) = (0_i64, 0_i64, base);
        let mut take = |records: Vec<BulkRecord>| -> Result<(), StepError> {
            for record in &records {
                rows.add(record)
                    .map_err(|e| StepError::fatal("bad_record", format!("{} export: {e}", run.resource)))?;
                root_lines += i64::from(record.parent_id.is_none());
                lines += 1;
                consumed = record.end_offset;
            }
            Ok(())
        };
        for slice in run.carry.chunks(FEED_BYTES) {
            take(reader.feed(slice).map_err(bad_line)?)?;
        }
        let mut slice = Vec::with_capacity(FEED_BYTES.min(body.len()));
        for from in (0..body.len()).step_by(FEED_BYTES) {
            slice.clear();
            body.append_to(from, from + FEED_BYTES, &mut slice);
            take(reader.feed(&slice).map_err(bad_line)?)?;
        }
        drop(slice);
        if last {
            take(reader.finish().map_err(bad_line)?.into_iter().collect())?;
        } else {
            drop(reader);
        }
        let carry: Vec<u8> = if last {
            Vec::new()
        } else if consumed >= start {
            body.slice(usize::try_from(consumed - start).unwrap_or(0), body.len())
                .to_vec()
        } else {
            // No line ended in this part (a line longer than a part): carry all of it.
            let mut all = run.carry.clone();
            body.append_to(0, body.len(), &mut all);
            all
        };
        Ok(Fetched::Part(Box::new(ParsedPart {
            part,
            body,
            last,
            rows,
            root_lines,
            lines,
            carry,
        })))
    }

    /// Writes a parsed part: its rows, its archive part and its checkpoint, in one
    /// transaction. Returns the run as checkpointed.
    async fn write_part<B: Bindings>(
        &self,
        cx: &StepContext<'_, B>,
        parsed: Box<ParsedPart>,
        run: &BulkRun,
        all: &[BulkRun],
        peak_memory: &mut u64,
    ) -> Result<(BulkRun, PartResult), StepError> {
        let ParsedPart {
            part,
            body,
            last,
            mut rows,
            root_lines,
            lines,
            carry,
        } = *parsed;
        self.maybe_lose_a_row(cx, run, part, &mut rows);
        let mut lines_by_type = run.lines_by_type.as_object().cloned().unwrap_or_default();
        for (typename, n) in &rows.lines_by_type {
            let before = lines_by_type.get(typename).and_then(Value::as_u64).unwrap_or(0);
            lines_by_type.insert(typename.clone(), json!(before + n));
        }
        let lines_by_type = Value::Object(lines_by_type);
        let body_len = body.len() as i64;
        // The raw part goes to the archive while its rows are written (both are I/O); the
        // checkpoint that counts it commits only after both.
        let number =
            u16::try_from(part + 1).map_err(|_| StepError::fatal("archive_failed", "more than 65535 archive parts"))?;
        // Not archived (a partial export, an empty part): the body is dropped here.
        let archive = match (&run.archive_key, &run.archive_upload_id, body) {
            (Some(key), Some(upload), body) if !body.is_empty() => Some((key, upload, body)),
            _ => None,
        };
        let upload = async {
            match archive {
                Some((key, upload, bytes)) => cx
                    .bindings
                    .objects()
                    .upload_part(key, upload, number, bytes)
                    .await
                    .map(Some)
                    .map_err(|e| StepError::new("archive_failed", e.to_string())),
                None => Ok(None),
            }
        };
        // BEGIN and the chunk's first statements go out together (polled in this order: see
        // `crate::pg`), so the part costs two round trips to write (see `write_chunk`).
        let write = async {
            let (began, written) =
                futures::join!(begin(cx.db), write_chunk(cx.db, run.shop_id, run.execution_id, &rows));
            began?;
            written.map_err(db_error)
        };
        let (uploaded, written) = futures::join!(upload, write);
        drop(rows);
        let (etag, written) = match (uploaded, written) {
            (Ok(etag), Ok(written)) => (etag, written),
            (Err(e), _) | (_, Err(e)) => {
                rollback(cx.db).await;
                return Err(e);
            }
        };
        let mut archive_parts = run.archive_parts.clone();
        if let Some(etag) = etag {
            let mut list: Vec<Value> = archive_parts
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p["number"].as_u64() != Some(u64::from(number)))
                .collect();
            list.push(json!({ "number": number, "etag": etag }));
            archive_parts = Value::Array(list);
        }
        if let Err(e) = self.maybe_fault(cx, run, part).await {
            if e.code != CONNECTION_LOST {
                rollback(cx.db).await;
            }
            return Err(e);
        }
        let downloaded = last && !run.partial;
        let updated = BulkRun {
            next_part: run.next_part + 1,
            carry,
            lines: run.lines + lines,
            root_lines: run.root_lines + root_lines,
            lines_by_type,
            rows_written: run.rows_written + written.rows_written as i64,
            rows_changed: run.rows_changed + written.rows_changed as i64,
            bytes_read: run.bytes_read + body_len,
            archive_parts,
            phase: if downloaded {
                "downloaded".into()
            } else {
                run.phase.clone()
            },
            ..run.clone()
        };
        if let Some(m) = wasm_memory_bytes() {
            *peak_memory = (*peak_memory).max(m);
        }
        let counters = progress(
            all.iter()
                .map(|r| if r.resource == run.resource { &updated } else { r }),
            *peak_memory,
        );
        // The checkpoint, the published counters and COMMIT: one more round trip. A failed
        // statement aborts the transaction, and Postgres answers the COMMIT with a rollback.
        let saved = futures::join!(
            runs::checkpoint(cx.db, &updated),
            repo::progress_step(cx.db, run.execution_id, cx.step.ordinal, &counters),
            commit(cx.db),
        );
        if let Err(e) = saved.0.and(saved.1) {
            rollback(cx.db).await;
            return Err(db_error(e));
        }
        saved.2?;
        tracing::info!(
            resource = %run.resource,
            part,
            rows = written.rows_written,
            bytes = body_len,
            wasm_memory_mib = wasm_memory_bytes().unwrap_or(0) / 1_048_576,
            "part committed"
        );
        if last && run.partial {
            // The partial data is in; now export everything again (writes are idempotent).
            runs::operation_restart(cx.db, run.execution_id, &run.resource)
                .await
                .map_err(db_error)?;
            return Ok((updated, PartResult::Later(0)));
        }
        Ok((updated, PartResult::Next))
    }

    /// The signed result URL expired: ask for the operation again (Shopify signs a fresh
    /// URL on every query); if the result itself expired, export again.
    async fn refresh_expired<B: Bindings>(&self, cx: &StepContext<'_, B>, run: &BulkRun) -> Result<(), StepError> {
        let id = run.operation_id.clone().unwrap_or_default();
        let (op, _) = self.poll_operation(&id).await?;
        let fresh = if run.partial {
            op.partial_data_url.clone()
        } else {
            op.url.clone()
        };
        match fresh {
            Some(url) if Some(&url) != run.url.as_ref() => {
                tracing::info!(resource = %run.resource, "result URL expired; continuing with a fresh one");
                runs::refresh_url(cx.db, run.execution_id, &run.resource, &url)
                    .await
                    .map_err(db_error)?;
            }
            _ => {
                tracing::warn!(resource = %run.resource, status = ?op.status, "bulk result is no longer available; exporting again");
                runs::operation_restart(cx.db, run.execution_id, &run.resource)
                    .await
                    .map_err(db_error)?;
            }
        }
        Ok(())
    }

    /// Test stacks only (`SHOPIFY_SYNC_FAULTS=1`): a crash in the middle of a part's
    /// transaction, once per (execution, resource, part). `params.fault` names the part:
    /// - `kill_connection_at_part`: Postgres kills this run's connection
    ///   (`pg_terminate_backend`; native runs only — under `wrangler dev` the local
    ///   Hyperdrive proxy does not survive a server-side reset);
    /// - `drop_connection_at_part`: the Worker loses its connection as a dying Worker does:
    ///   nothing more is committed (the open transaction is never committed; the engine's
    ///   own bookkeeping lands in it and is lost too), the queue handler closes the socket,
    ///   Postgres rolls back, and the message comes back once the lease has run out.
    ///   (A Rust panic would be the literal crash, but under `wrangler dev` a panicking queue
    ///   consumer never settles its batch and the local queue stalls.)
    async fn maybe_fault<B: Bindings>(
        &self,
        cx: &StepContext<'_, B>,
        run: &BulkRun,
        part: u64,
    ) -> Result<(), StepError> {
        let Ok(settings) = self.settings() else { return Ok(()) };
        let fault = &cx.execution.params["fault"];
        let kill_connection = fault["kill_connection_at_part"].as_u64() == Some(part);
        let drop_connection = fault["drop_connection_at_part"].as_u64() == Some(part);
        if !settings.faults_enabled
            || !(kill_connection || drop_connection)
            || fault["resource"].as_str().unwrap_or("orders") != run.resource
        {
            return Ok(());
        }
        let key = format!("sync-fault:{}:{}:{part}", run.execution_id, run.resource);
        let kv = cx.bindings.kv();
        if kv.get(&key).await.ok().flatten().is_some() {
            return Ok(());
        }
        kv.put(&key, "fired", 3600)
            .await
            .map_err(|e| StepError::new("fault_injection", e.to_string()))?;
        if drop_connection {
            tracing::warn!(resource = %run.resource, part, "fault injection: the connection is lost mid-upsert");
            return Err(StepError::new(
                CONNECTION_LOST,
                "fault injection: the connection was lost mid-upsert",
            ));
        }
        tracing::warn!(resource = %run.resource, part, "fault injection: killing this Postgres connection mid-upsert");
        cx.db
            .batch_execute("SELECT pg_terminate_backend(pg_backend_pid())")
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Test stacks only (`SHOPIFY_SYNC_FAULTS=1`): `params.fault.lose_line_item_at_part`
    /// drops one parsed line item before the part is written, a write that silently loses a
    /// row. Reconcile must catch it (lines parsed vs rows in Postgres).
    fn maybe_lose_a_row<B: Bindings>(&self, cx: &StepContext<'_, B>, run: &BulkRun, part: u64, rows: &mut ChunkRows) {
        let fault = &cx.execution.params["fault"];
        if self.settings().is_ok_and(|s| s.faults_enabled)
            && fault["lose_line_item_at_part"].as_u64() == Some(part)
            && run.resource == "orders"
            && !rows.line_items.gid.is_empty()
        {
            tracing::warn!(part, "fault injection: a parsed line item is not written");
            rows.line_items.lose_last();
        }
    }

    async fn reconcile<B: Bindings>(&self, cx: &StepContext<'_, B>) -> Result<StepOutcome, StepError> {
        let all = runs::runs(cx.db, cx.execution.id).await.map_err(db_error)?;
        let mut report = Map::new();
        let mut problems = Vec::new();
        store::analyze_for_reconcile(cx.db).await.map_err(db_error)?;
        begin(cx.db).await?;
        let result: Result<(), StepError> = async {
            for run in &all {
                let mut checks = Map::new();
                let expected_objects = run.object_count.unwrap_or(0);
                let expected_roots = run.root_object_count.unwrap_or(0);
                if expected_objects != run.lines {
                    problems.push(format!(
                        "{}: Shopify reported {expected_objects} objects, {} lines were parsed",
                        run.resource, run.lines
                    ));
                }
                if expected_roots != run.root_lines {
                    problems.push(format!(
                        "{}: Shopify reported {expected_roots} root objects, {} root lines were parsed",
                        run.resource, run.root_lines
                    ));
                }
                let vanished =
                    store::mark_vanished(cx.db, run.shop_id, run.execution_id, &run.resource, run.mode == "full")
                        .await
                        .map_err(db_error)?;
                let rows = store::rows_for_run(cx.db, run.shop_id, run.execution_id, &run.resource)
                    .await
                    .map_err(db_error)?;
                for (typename, in_db) in &rows {
                    let parsed = run.lines_by_type[typename].as_i64().unwrap_or(0);
                    if parsed != *in_db {
                        problems.push(format!(
                            "{}: {parsed} {typename} lines were parsed but {in_db} rows stand for them in Postgres",
                            run.resource
                        ));
                    }
                }
                checks.insert("object_count".into(), json!(run.object_count));
                checks.insert("root_object_count".into(), json!(run.root_object_count));
                checks.insert("lines".into(), json!(run.lines));
                checks.insert("root_lines".into(), json!(run.root_lines));
                checks.insert("lines_by_type".into(), run.lines_by_type.clone());
                checks.insert("rows_in_postgres".into(), json!(rows));
                checks.insert("vanished".into(), json!(vanished));
                checks.insert("rows_changed".into(), json!(run.rows_changed));
                report.insert(run.resource.clone(), Value::Object(checks));
                if let Some(at) = run.operation_created_at {
                    runs::set_watermark(cx.db, run.shop_id, &run.resource, at, run.execution_id)
                        .await
                        .map_err(db_error)?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            rollback(cx.db).await;
            return Err(e);
        }
        if !problems.is_empty() {
            rollback(cx.db).await;
            store::forget_seen(cx.db, cx.execution.id).await.map_err(db_error)?;
            return Err(StepError::fatal("reconcile_mismatch", problems.join("; ")));
        }
        store::forget_seen(cx.db, cx.execution.id).await.map_err(db_error)?;
        commit(cx.db).await?;
        Ok(StepOutcome::done(Value::Object(report), Value::Null))
    }

    async fn archive<B: Bindings>(&self, cx: &StepContext<'_, B>) -> Result<StepOutcome, StepError> {
        let all = runs::runs(cx.db, cx.execution.id).await.map_err(db_error)?;
        let mut objects = Vec::new();
        let mut bytes = 0_i64;
        for run in &all {
            let (Some(key), Some(upload)) = (&run.archive_key, &run.archive_upload_id) else {
                continue;
            };
            let mut parts: Vec<(u16, String)> = run
                .archive_parts
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    Some((
                        u16::try_from(p["number"].as_u64()?).ok()?,
                        p["etag"].as_str()?.to_owned(),
                    ))
                })
                .collect();
            if parts.is_empty() {
                continue;
            }
            parts.sort();
            let size = cx
                .bindings
                .objects()
                .complete_multipart(key, upload, parts)
                .await
                .map_err(|e| StepError::new("archive_failed", e.to_string()))?;
            // The object is the export's file, whole: R2's size of it is the file's size.
            let size = i64::try_from(size).unwrap_or(i64::MAX);
            if let Some(expected) = run.file_size.filter(|&expected| expected != size) {
                return Err(StepError::fatal(
                    "archive_incomplete",
                    format!(
                        "{key} holds {size} bytes; the {} export's file has {expected}",
                        run.resource
                    ),
                ));
            }
            bytes += size;
            objects.push(key.clone());
        }
        Ok(StepOutcome::done(
            json!({ "objects": objects.len(), "bytes": bytes }),
            json!({ "keys": objects }),
        ))
    }
}

enum PartResult {
    Next,
    Later(u32),
}

enum Fetched {
    Part(Box<ParsedPart>),
    /// The result URL answered 400/403/410: signed URLs expire.
    Expired,
}

/// A part downloaded and parsed, not yet written.
struct ParsedPart {
    part: u64,
    body: Body,
    last: bool,
    rows: ChunkRows,
    root_lines: i64,
    lines: i64,
    /// The unfinished last line, carried into the next part.
    carry: Vec<u8>,
}

/// Live counters of the download step: per resource and in total.
fn progress<'a>(all: impl IntoIterator<Item = &'a BulkRun>, peak_memory: u64) -> Value {
    let mut out = Map::new();
    let (mut bytes, mut total, mut lines, mut rows, mut changed) = (0, 0, 0, 0, 0);
    for r in all {
        bytes += r.bytes_read;
        total += r.file_size.unwrap_or(0);
        lines += r.lines;
        rows += r.rows_written;
        changed += r.rows_changed;
        out.insert(
            r.resource.clone(),
            json!({
                "phase": r.phase, "partial": r.partial, "bytes_read": r.bytes_read, "bytes_total": r.file_size,
                "lines": r.lines, "rows_written": r.rows_written, "rows_changed": r.rows_changed,
                "parts": r.next_part,
            }),
        );
    }
    out.insert("bytes_read".into(), json!(bytes));
    out.insert("bytes_total".into(), json!(total));
    out.insert("lines".into(), json!(lines));
    out.insert("rows_written".into(), json!(rows));
    out.insert("rows_changed".into(), json!(changed));
    if peak_memory > 0 {
        out.insert("wasm_memory_bytes".into(), json!(peak_memory));
    }
    Value::Object(out)
}

impl<B: Bindings, T: Transport> Procedure<B> for ShopifySync<T> {
    fn job_type(&self) -> JobType {
        JobType::ProcedureExecutionInitiate
    }

    fn steps(&self) -> &'static [&'static str] {
        STEPS
    }

    fn run_step<'a>(
        &'a self,
        step: &'a str,
        cx: StepContext<'a, B>,
    ) -> LocalBoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async move {
            match step {
                "initiate" => self.initiate(&cx).await,
                "poll" => self.poll(&cx).await,
                "download_parse_upsert" => self.download(&cx).await,
                "reconcile" => self.reconcile(&cx).await,
                "archive" => self.archive(&cx).await,
                other => Err(StepError::fatal("unknown_step", other.to_owned())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(part_bytes: Option<&str>) -> Result<SyncSettings, String> {
        SyncSettings::from_vars(|name| match name {
            "SHOPIFY_SHOP_URL" => Some("https://example.myshopify.com".to_owned()),
            "SHOPIFY_ACCESS_TOKEN" => Some("shpat_x".to_owned()),
            "SHOPIFY_SYNC_PART_BYTES" => part_bytes.map(str::to_owned),
            _ => None,
        })
    }

    #[test]
    fn part_sizes_are_ones_r2_multipart_accepts() {
        assert_eq!(settings(None).map(|s| s.part_bytes), Ok(DEFAULT_PART_BYTES));
        assert_eq!(settings(Some("5242880")).map(|s| s.part_bytes), Ok(5 * 1024 * 1024));
        for refused in ["1048576", "5242879", "67108865"] {
            let error = settings(Some(refused)).map(|s| s.part_bytes).unwrap_err();
            assert!(error.contains("5 MiB, R2's smallest multipart part"), "{error}");
        }
        assert!(settings(Some("8MiB")).is_err());
    }
}
