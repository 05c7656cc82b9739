//! The registry of procedures (job type → ordered steps) and the procedures this build has.

use super::repo::{Execution, StepExecution};
use super::JobType;
use crate::health::{self, ProbeReport, ProbeStatus};
use crate::platform::Bindings;
use futures::future::LocalBoxFuture;
use serde_json::{json, Value};
use tokio_postgres::{Client, GenericClient};
use uuid::Uuid;

/// What a step reached: counters (lines, rows, bytes…) and any output worth keeping.
/// With `continue_after` set the step is not finished: the engine keeps it running,
/// releases the lease and re-enqueues the execution after that many seconds (a poll
/// that waits, the next chunk of a download) instead of sleeping in the Worker.
#[derive(Debug, Default)]
pub struct StepOutcome {
    pub counters: Value,
    pub output: Value,
    pub continue_after: Option<u32>,
}

impl StepOutcome {
    pub fn done(counters: Value, output: Value) -> Self {
        Self {
            counters,
            output,
            continue_after: None,
        }
    }

    pub fn continue_after(delay_seconds: u32, counters: Value) -> Self {
        Self {
            counters,
            output: Value::Null,
            continue_after: Some(delay_seconds),
        }
    }
}

/// Why a step failed: a stable code and a message for people. A `fatal` error fails the
/// execution at once (a permission Shopify refuses, a reconcile mismatch); any other is
/// retried with backoff.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct StepError {
    pub code: String,
    pub message: String,
    pub fatal: bool,
}

impl StepError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            fatal: false,
        }
    }

    pub fn fatal(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            fatal: true,
            ..Self::new(code, message)
        }
    }
}

impl From<tokio_postgres::Error> for StepError {
    fn from(e: tokio_postgres::Error) -> Self {
        let message = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => format!("{e:?}"),
        };
        StepError::new("database_error", message)
    }
}

/// Everything a step may use.
pub struct StepContext<'a, B> {
    pub db: &'a Client,
    pub bindings: &'a B,
    pub execution: &'a Execution,
    /// The step's own row as begun (its `attempts` counts this run).
    pub step: &'a StepExecution,
}

pub trait Procedure<B: Bindings> {
    fn job_type(&self) -> JobType;
    fn steps(&self) -> &'static [&'static str];
    fn run_step<'a>(
        &'a self,
        step: &'a str,
        cx: StepContext<'a, B>,
    ) -> LocalBoxFuture<'a, Result<StepOutcome, StepError>>;
}

/// Job type → procedure. A type that is absent here is recorded as failed with
/// `handler_not_registered` by the engine.
pub struct Registry<B> {
    procedures: Vec<Box<dyn Procedure<B>>>,
}

impl<B: Bindings + 'static> Registry<B> {
    pub fn empty() -> Self {
        Self { procedures: Vec::new() }
    }

    /// Every procedure this build implements.
    pub fn standard() -> Self {
        Self::empty().with(SystemSelfCheck).with(EngineDrill)
    }

    pub fn with(mut self, procedure: impl Procedure<B> + 'static) -> Self {
        self.procedures.push(Box::new(procedure));
        self
    }

    pub fn get(&self, job_type: &str) -> Option<&dyn Procedure<B>> {
        self.procedures
            .iter()
            .find(|p| p.job_type().as_str() == job_type)
            .map(|p| p.as_ref())
    }

    pub fn registered(&self) -> Vec<JobType> {
        self.procedures.iter().map(|p| p.job_type()).collect()
    }
}

/// `SYSTEM_SELF_CHECK`: the probes of `GET /api/health/details`, each a recorded step.
pub struct SystemSelfCheck;

fn probe_outcome(report: ProbeReport) -> Result<StepOutcome, StepError> {
    match report.status {
        ProbeStatus::Ok => Ok(StepOutcome::done(
            json!({ "latency_ms": report.latency_ms }),
            serde_json::to_value(&report).unwrap_or(Value::Null),
        )),
        ProbeStatus::Down => Err(StepError::new(
            "probe_down",
            format!("{} is down: {}", report.system, report.detail),
        )),
    }
}

impl<B: Bindings> Procedure<B> for SystemSelfCheck {
    fn job_type(&self) -> JobType {
        JobType::SystemSelfCheck
    }

    fn steps(&self) -> &'static [&'static str] {
        &["postgres", "r2", "kv", "queue"]
    }

    fn run_step<'a>(
        &'a self,
        step: &'a str,
        cx: StepContext<'a, B>,
    ) -> LocalBoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async move {
            let report = match step {
                "postgres" => health::probe_postgres(cx.db).await,
                "r2" => health::probe_object_store(cx.bindings.objects()).await,
                "kv" => health::probe_kv(cx.bindings.kv()).await,
                "queue" => health::probe_queue(cx.bindings.queue()).await,
                other => return Err(StepError::new("unknown_step", format!("no step {other}"))),
            };
            probe_outcome(report)
        })
    }
}

/// Effect rows the drill wrote for an execution, per step, in step-name order.
pub async fn count_drill_effects(
    db: &impl GenericClient,
    execution_id: Uuid,
) -> Result<Vec<(String, i64)>, tokio_postgres::Error> {
    let rows = db
        .query(
            "SELECT step, count(*) FROM engine_drill_effect WHERE execution_id = $1 GROUP BY step ORDER BY step",
            &[&execution_id],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// `ENGINE_DRILL`: three steps that each write one effect row; params
/// `{"fail_step": "<name>", "fail_times": n}` make that step fail its first `n` runs.
/// Used to prove (and for ops to re-check) retries, backoff, dead-lettering and that a
/// finished step never runs twice.
pub struct EngineDrill;

impl<B: Bindings> Procedure<B> for EngineDrill {
    fn job_type(&self) -> JobType {
        JobType::EngineDrill
    }

    fn steps(&self) -> &'static [&'static str] {
        &["first", "second", "third"]
    }

    fn run_step<'a>(
        &'a self,
        step: &'a str,
        cx: StepContext<'a, B>,
    ) -> LocalBoxFuture<'a, Result<StepOutcome, StepError>> {
        Box::pin(async move {
            let params = &cx.execution.params;
            let fail_step = params.get("fail_step").and_then(Value::as_str);
            let fail_times = params.get("fail_times").and_then(Value::as_i64).unwrap_or(0);
            if fail_step == Some(step) && i64::from(cx.step.attempts) <= fail_times {
                return Err(StepError::new(
                    "drill_failure",
                    format!(
                        "step {step} failed on purpose (run {} of {fail_times} failing runs)",
                        cx.step.attempts
                    ),
                ));
            }
            cx.db
                .execute(
                    "INSERT INTO engine_drill_effect (execution_id, step) VALUES ($1, $2)",
                    &[&cx.execution.id, &step],
                )
                .await?;
            Ok(StepOutcome::done(
                json!({ "effects": 1 }),
                json!({ "step": step, "run": cx.step.attempts }),
            ))
        })
    }
}
