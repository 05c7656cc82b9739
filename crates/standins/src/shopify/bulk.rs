//! Bulk operations: their lifecycle as polls see it, and the export each runs in the
//! background, streamed to a file under `<state-dir>/shopify/`.
//!
//! Followed: <https://shopify.dev/docs/api/usage/bulk-operations/queries> (statuses
//! `CREATED` → `RUNNING` → `COMPLETED`/`FAILED`, `CANCELING` → `CANCELED`; up to five bulk
//! query operations at a time per shop from API 2026-01; `partialDataUrl` after a failure;
//! result URLs valid for a week) and
//! <https://shopify.dev/docs/api/admin-graphql/2026-01/objects/BulkOperation> (`objectCount`,
//! `rootObjectCount`, `fileSize` are `UnsignedInt64`, sent as strings; `completedAt` is set
//! only on success).
//!
//! An operation counts as running until a poll has reported its end, so what a client sees
//! and the limit agree. It reports `RUNNING` until its file is written and at least
//! `running_polls` polls have answered `RUNNING`. An operation no one polls stays as it is.

use super::calendar::format_timestamp;
use super::export::{export, ExportKind, ExportOptions, ExportProgress, ExportStats, SearchFilter};
use super::faults::{Fault, Faults};
use super::generator::Store;
use super::{lock, UrlSigner};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Bulk query operations one shop may run at once (API 2026-01 and later).
pub const MAX_RUNNING_OPERATIONS: usize = 5;
/// Result files kept on disk; older operations report `EXPIRED`.
pub const KEPT_RESULT_FILES: usize = 32;

pub fn operation_gid(number: u64) -> String {
    format!("gid://shopify/BulkOperation/{number}")
}

pub fn operation_number_of(gid: &str) -> Option<u64> {
    gid.strip_prefix("gid://shopify/BulkOperation/")?.parse().ok()
}

/// How an operation will end, decided by the faults armed when it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlannedFailure {
    InternalServerError,
    AccessDenied,
    TimeoutPartial,
}

impl PlannedFailure {
    fn error_code(self) -> &'static str {
        match self {
            PlannedFailure::InternalServerError => "INTERNAL_SERVER_ERROR",
            PlannedFailure::AccessDenied => "ACCESS_DENIED",
            PlannedFailure::TimeoutPartial => "TIMEOUT",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OperationPlan {
    pub failure: Option<PlannedFailure>,
    pub drop_line: bool,
}

impl OperationPlan {
    /// Takes the bulk faults that apply to a new operation.
    pub fn from_faults(faults: &mut Faults) -> Self {
        let failure = if faults.take(Fault::BulkAccessDenied) {
            Some(PlannedFailure::AccessDenied)
        } else if faults.take(Fault::BulkFailed) {
            Some(PlannedFailure::InternalServerError)
        } else if faults.take(Fault::BulkTimeoutPartial) {
            Some(PlannedFailure::TimeoutPartial)
        } else {
            None
        };
        let writes_file = !matches!(
            failure,
            Some(PlannedFailure::AccessDenied | PlannedFailure::InternalServerError)
        );
        Self {
            failure,
            drop_line: writes_file && faults.take(Fault::DropLine),
        }
    }
}

/// The first part of a result file served as partial data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partial {
    pub bytes: u64,
    pub objects: u64,
    pub roots: u64,
}

/// What the background export produced.
#[derive(Clone, Debug)]
pub struct Produced {
    pub stats: ExportStats,
    /// `None` when the plan writes no file.
    pub path: Option<PathBuf>,
    pub finished_at: i64,
    pub partial: Option<Partial>,
}

/// Shared by an operation and the thread writing its file.
#[derive(Debug, Default)]
pub struct ExportTask {
    pub progress: ExportProgress,
    pub cancel: AtomicBool,
    pub outcome: Mutex<Option<Result<Produced, String>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Terminal {
    Completed,
    Failed(PlannedFailure),
    Canceled,
    /// Its file was removed to bound disk use.
    Expired,
}

#[derive(Debug)]
pub struct BulkOperation {
    pub number: u64,
    pub kind: ExportKind,
    pub created_at: i64,
    pub plan: OperationPlan,
    pub task: Arc<ExportTask>,
    running_answers: u32,
    cancel_requested: bool,
    terminal: Option<Terminal>,
    expire_next_url: bool,
}

impl BulkOperation {
    pub fn is_running(&self) -> bool {
        self.terminal.is_none()
    }

    fn outcome(&self) -> Option<Result<Produced, String>> {
        lock(&self.task.outcome).clone()
    }

    /// Asks the export to stop; the status is `CANCELING` until a poll sees it stopped.
    /// `Err` with the current status when the operation already ended.
    pub fn cancel(&mut self) -> Result<&'static str, &'static str> {
        if let Some(terminal) = self.terminal {
            return Err(status_name(terminal));
        }
        self.cancel_requested = true;
        self.task.cancel.store(true, Ordering::Relaxed);
        Ok("CANCELING")
    }

    /// Answers a poll (the `BulkOperation` fields the client selects), moving the status
    /// on as described in the module docs.
    pub fn poll(
        &mut self,
        running_polls: u32,
        now: i64,
        url_validity: i64,
        signer: &UrlSigner,
        faults: &mut Faults,
    ) -> Value {
        let outcome = self.outcome();
        if self.terminal.is_none() {
            match (&outcome, self.cancel_requested) {
                (None, true) => return self.in_progress("CANCELING"),
                (Some(_), true) => {
                    self.terminal = Some(Terminal::Canceled);
                    remove_file(outcome.as_ref());
                }
                (Some(result), false) if self.running_answers >= running_polls => {
                    self.terminal = Some(match (result, self.plan.failure) {
                        (Err(_), _) => Terminal::Failed(PlannedFailure::InternalServerError),
                        (Ok(_), Some(failure)) => Terminal::Failed(failure),
                        (Ok(_), None) => {
                            self.expire_next_url = faults.take(Fault::ExpireUrl);
                            Terminal::Completed
                        }
                    });
                }
                _ => {
                    self.running_answers += 1;
                    return self.in_progress("RUNNING");
                }
            }
        }
        let terminal = self.terminal.unwrap_or(Terminal::Canceled);
        let produced = outcome.and_then(Result::ok);
        let expired = std::mem::take(&mut self.expire_next_url);
        let number = self.number;
        let url = |objects: u64| {
            if objects == 0 {
                return Value::Null;
            }
            let expires = if expired { now - 60 } else { now + url_validity };
            Value::String(signer.url(number, expires))
        };
        let mut node = self.base(status_name(terminal));
        match (terminal, produced) {
            (Terminal::Completed, Some(p)) => {
                node["completedAt"] = json!(format_timestamp(p.finished_at));
                node["objectCount"] = json!(p.stats.object_count.to_string());
                node["rootObjectCount"] = json!(p.stats.root_object_count.to_string());
                node["fileSize"] = json!(p.stats.bytes_written.to_string());
                node["url"] = url(p.stats.lines_written);
            }
            (Terminal::Failed(failure), produced) => {
                node["errorCode"] = json!(failure.error_code());
                if let Some(partial) = produced.and_then(|p| p.partial) {
                    node["objectCount"] = json!(partial.objects.to_string());
                    node["rootObjectCount"] = json!(partial.roots.to_string());
                    node["fileSize"] = json!(partial.bytes.to_string());
                    node["partialDataUrl"] = url(partial.objects);
                }
            }
            (Terminal::Canceled, _) => {
                node["objectCount"] = json!(self.task.progress.objects.load(Ordering::Relaxed).to_string());
                node["rootObjectCount"] = json!(self.task.progress.roots.load(Ordering::Relaxed).to_string());
            }
            (Terminal::Expired, Some(p)) => {
                node["completedAt"] = json!(format_timestamp(p.finished_at));
                node["objectCount"] = json!(p.stats.object_count.to_string());
                node["rootObjectCount"] = json!(p.stats.root_object_count.to_string());
            }
            _ => {}
        }
        node
    }

    fn base(&self, status: &str) -> Value {
        json!({
            "id": operation_gid(self.number),
            "status": status,
            "errorCode": null,
            "createdAt": format_timestamp(self.created_at),
            "completedAt": null,
            "objectCount": "0",
            "rootObjectCount": "0",
            "fileSize": null,
            "url": null,
            "partialDataUrl": null,
        })
    }

    fn in_progress(&self, status: &str) -> Value {
        let mut node = self.base(status);
        node["objectCount"] = json!(self.task.progress.objects.load(Ordering::Relaxed).to_string());
        node["rootObjectCount"] = json!(self.task.progress.roots.load(Ordering::Relaxed).to_string());
        node
    }

    /// The file and the length of it a signed URL serves: the whole file once `COMPLETED`
    /// was reported, its first part after a `TIMEOUT` with partial data.
    pub fn servable(&self) -> Option<(PathBuf, u64)> {
        let produced = self.outcome()?.ok()?;
        let path = produced.path?;
        match self.terminal? {
            Terminal::Completed => Some((path, produced.stats.bytes_written)),
            Terminal::Failed(PlannedFailure::TimeoutPartial) => Some((path, produced.partial?.bytes)),
            _ => None,
        }
    }
}

fn status_name(terminal: Terminal) -> &'static str {
    match terminal {
        Terminal::Completed => "COMPLETED",
        Terminal::Failed(_) => "FAILED",
        Terminal::Canceled => "CANCELED",
        Terminal::Expired => "EXPIRED",
    }
}

fn remove_file(outcome: Option<&Result<Produced, String>>) {
    if let Some(Ok(Produced { path: Some(path), .. })) = outcome {
        let _ = std::fs::remove_file(path);
    }
}

/// Every bulk operation of the shop since start.
#[derive(Debug, Default)]
pub struct Operations {
    operations: BTreeMap<u64, BulkOperation>,
    last_number: u64,
}

impl Operations {
    pub fn running(&self) -> usize {
        self.operations.values().filter(|o| o.is_running()).count()
    }

    pub fn get_mut(&mut self, number: u64) -> Option<&mut BulkOperation> {
        self.operations.get_mut(&number)
    }

    pub fn get(&self, number: u64) -> Option<&BulkOperation> {
        self.operations.get(&number)
    }

    /// Registers a new operation (status `CREATED`) and returns it.
    pub fn create(&mut self, kind: ExportKind, plan: OperationPlan, now: i64) -> &mut BulkOperation {
        self.last_number += 1;
        let number = self.last_number;
        self.operations.entry(number).or_insert(BulkOperation {
            number,
            kind,
            created_at: now,
            plan,
            task: Arc::new(ExportTask::default()),
            running_answers: 0,
            cancel_requested: false,
            terminal: None,
            expire_next_url: false,
        })
    }

    /// Removes the files of ended operations older than the newest [`KEPT_RESULT_FILES`];
    /// they report `EXPIRED` from then on.
    pub fn prune(&mut self) {
        let keep_from = self.last_number.saturating_sub(KEPT_RESULT_FILES as u64);
        for operation in self.operations.range_mut(..=keep_from).map(|(_, o)| o) {
            if matches!(
                operation.terminal,
                Some(Terminal::Completed | Terminal::Failed(PlannedFailure::TimeoutPartial))
            ) {
                remove_file(operation.outcome().as_ref());
                operation.terminal = Some(Terminal::Expired);
            }
        }
    }
}

/// Runs an operation's export to `path` (blocking; call it on a blocking thread) and
/// records the outcome in `task`.
pub fn run_export(
    store: &Store,
    kind: ExportKind,
    filter: &SearchFilter,
    path: PathBuf,
    plan: OperationPlan,
    task: &ExportTask,
    now: impl Fn() -> i64,
) {
    let result =
        write_result(store, kind, filter, &path, plan, task, &now).map_err(|e| format!("{}: {e}", path.display()));
    *lock(&task.outcome) = Some(result);
}

fn write_result(
    store: &Store,
    kind: ExportKind,
    filter: &SearchFilter,
    path: &PathBuf,
    plan: OperationPlan,
    task: &ExportTask,
    now: &dyn Fn() -> i64,
) -> io::Result<Produced> {
    if matches!(
        plan.failure,
        Some(PlannedFailure::AccessDenied | PlannedFailure::InternalServerError)
    ) {
        return Ok(Produced {
            stats: ExportStats::default(),
            path: None,
            finished_at: now(),
            partial: None,
        });
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let options = ExportOptions {
        drop_one_child_line: plan.drop_line,
        progress: Some(&task.progress),
        cancel: Some(&task.cancel),
    };
    let stats = export(store, kind, filter, &mut out, &options)?;
    out.into_inner().map_err(io::IntoInnerError::into_error)?;
    let partial = match plan.failure {
        Some(PlannedFailure::TimeoutPartial) => Some(partial_prefix(path, (stats.lines_written / 2).max(1))?),
        _ => None,
    };
    Ok(Produced {
        stats,
        path: Some(path.clone()),
        finished_at: now(),
        partial,
    })
}

/// The first `lines` lines of a result file: their length and how many are roots.
fn partial_prefix(path: &PathBuf, lines: u64) -> io::Result<Partial> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut line = Vec::new();
    let mut partial = Partial {
        bytes: 0,
        objects: 0,
        roots: 0,
    };
    while partial.objects < lines {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        partial.bytes += read as u64;
        partial.objects += 1;
        if !line.windows(12).any(|w| w == b"\"__parentId\"") {
            partial.roots += 1;
        }
    }
    Ok(partial)
}
