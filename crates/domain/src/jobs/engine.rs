//! One delivered queue message → recorded step runs → an explicit ack or retry.
//!
//! Invariants:
//! - every message ends in [`Disposition::Ack`] or [`Disposition::Retry`]; the engine never
//!   returns an error into the runtime;
//! - a message that cannot run (malformed, unknown execution, no registered handler) is
//!   recorded as a failed execution, never dropped;
//! - a step whose row reads `succeeded` is never run again, so redelivery is harmless;
//! - one delivery at a time holds an execution's lease (a column, not a lock).

use super::procedures::{Registry, StepContext};
use super::repo;
use super::{backoff_seconds, JobEnvelope, QUEUE_PROBE};
use crate::platform::{Bindings, JobQueue};
use serde_json::{json, Map, Value};
use tokio_postgres::Client;
use uuid::Uuid;

/// A delivery that finds the lease taken comes back after at most this long.
pub const LEASE_RECHECK_MAX_SECONDS: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    Ack,
    Retry { delay_seconds: u32 },
}

#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    pub lease_seconds: i64,
    pub backoff_base_seconds: u32,
    pub backoff_cap_seconds: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            lease_seconds: 300,
            backoff_base_seconds: 2,
            backoff_cap_seconds: 300,
        }
    }
}

impl EngineConfig {
    fn retry(&self, attempt: u32) -> Disposition {
        Disposition::Retry {
            delay_seconds: backoff_seconds(attempt.max(1), self.backoff_base_seconds, self.backoff_cap_seconds),
        }
    }
}

fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => format!("{e:?}"),
    }
}

/// Processes one message body from `INGEST_QUEUE`. A failed step backs off by the
/// execution's attempt count; a database error outside any step by the base delay (the
/// runtime's own attempt count is not exposed to the Worker).
pub async fn process_message<B: Bindings + 'static>(
    db: &Client,
    bindings: &B,
    registry: &Registry<B>,
    config: &EngineConfig,
    body: &Value,
) -> Disposition {
    match run(db, bindings, registry, config, body).await {
        Ok(disposition) => disposition,
        Err(e) => {
            // Postgres unreachable or a statement failed outside a step: nothing was lost,
            // the message comes back after backoff.
            tracing::error!(error = %db_message(&e), "job engine database error; retrying");
            config.retry(1)
        }
    }
}

async fn run<B: Bindings + 'static>(
    db: &Client,
    bindings: &B,
    registry: &Registry<B>,
    config: &EngineConfig,
    body: &Value,
) -> Result<Disposition, tokio_postgres::Error> {
    let envelope: JobEnvelope = match serde_json::from_value(body.clone()) {
        Ok(envelope) => envelope,
        Err(e) => {
            let id = Uuid::now_v7();
            tracing::error!(execution_id = %id, error = %e, "malformed queue message recorded as failed");
            repo::record_unrunnable(
                db,
                id,
                "MALFORMED_MESSAGE",
                &json!({ "body": body }),
                "malformed_message",
                &format!("the queue message is not a job envelope: {e}"),
            )
            .await?;
            return Ok(Disposition::Ack);
        }
    };
    if envelope.job_type == QUEUE_PROBE {
        return Ok(Disposition::Ack);
    }
    let id = envelope.execution_id;

    let Some(execution) = repo::record_delivery(db, id).await? else {
        tracing::error!(execution_id = %id, job_type = %envelope.job_type, "message for an unknown execution recorded as failed");
        repo::record_unrunnable(
            db,
            id,
            &envelope.job_type,
            &json!({}),
            "execution_not_found",
            "the queue message names an execution that was never recorded",
        )
        .await?;
        return Ok(Disposition::Ack);
    };
    if execution.status().is_some_and(|s| s.is_terminal()) {
        tracing::info!(execution_id = %id, status = %execution.status, "redelivered message for a finished execution acknowledged");
        return Ok(Disposition::Ack);
    }

    let Some(procedure) = registry.get(&execution.job_type) else {
        tracing::error!(execution_id = %id, job_type = %execution.job_type, "no handler registered");
        repo::mark_failed(
            db,
            id,
            Some("handler_not_registered"),
            Some(&format!("no handler is registered for job type {}", execution.job_type)),
        )
        .await?;
        return Ok(Disposition::Ack);
    };

    let token = Uuid::new_v4();
    let Some(execution) = repo::acquire_lease(db, id, token, config.lease_seconds).await? else {
        // Either it finished meanwhile or another delivery is running it.
        if let Some(current) = repo::get_execution(db, id).await? {
            if current.status().is_some_and(|s| s.is_terminal()) {
                return Ok(Disposition::Ack);
            }
        }
        let remaining = repo::lease_remaining_seconds(db, id).await?;
        tracing::info!(execution_id = %id, remaining, "execution leased by another delivery; retrying later");
        // Look again when the lease runs out, or sooner: the holder may finish first.
        return Ok(Disposition::Retry {
            delay_seconds: u32::try_from(remaining.clamp(1, LEASE_RECHECK_MAX_SECONDS)).unwrap_or(1),
        });
    };
    tracing::info!(execution_id = %id, job_type = %execution.job_type, attempt = execution.attempts, "execution leased");

    let mut counters = Map::new();
    for (index, name) in procedure.steps().iter().enumerate() {
        let ordinal = i32::try_from(index).unwrap_or(i32::MAX);
        let Some(step) = repo::begin_step(db, id, ordinal, name).await? else {
            continue; // finished by an earlier delivery
        };
        let cx = StepContext {
            db,
            bindings,
            execution: &execution,
            step: &step,
        };
        match procedure.run_step(name, cx).await {
            Ok(outcome) => {
                if let Some(delay_seconds) = outcome.continue_after {
                    repo::progress_step(db, id, ordinal, &outcome.counters).await?;
                    repo::release_to_continue(db, id, token).await?;
                    if let Err(e) = bindings
                        .queue()
                        .send(
                            &JobEnvelope {
                                job_type: execution.job_type.clone(),
                                execution_id: id,
                            },
                            delay_seconds,
                        )
                        .await
                    {
                        // Not lost: this message comes back and the step continues from its checkpoint.
                        tracing::warn!(execution_id = %id, step = name, error = %e, "could not enqueue the continuation; retrying this message");
                        return Ok(Disposition::Retry {
                            delay_seconds: delay_seconds.max(1),
                        });
                    }
                    tracing::info!(execution_id = %id, step = name, delay_seconds, "step continues in a later message");
                    return Ok(Disposition::Ack);
                }
                repo::finish_step(db, id, ordinal, &outcome.counters, &outcome.output).await?;
                counters.insert((*name).to_owned(), outcome.counters);
            }
            Err(error) if error.fatal => {
                tracing::error!(execution_id = %id, step = name, code = %error.code, message = %error.message, "step failed for good");
                repo::fail_step(db, id, ordinal, &error.code, &error.message).await?;
                repo::mark_failed(
                    db,
                    id,
                    Some(&error.code),
                    Some(&format!("step {name}: {}", error.message)),
                )
                .await?;
                return Ok(Disposition::Ack);
            }
            Err(error) => {
                tracing::warn!(execution_id = %id, step = name, code = %error.code, message = %error.message, "step failed; retrying with backoff");
                repo::fail_step(db, id, ordinal, &error.code, &error.message).await?;
                let failures =
                    repo::mark_retrying(db, id, token, &error.code, &format!("step {name}: {}", error.message))
                        .await?
                        .unwrap_or(1);
                return Ok(config.retry(u32::try_from(failures).unwrap_or(1)));
            }
        }
    }
    // Counters of steps finished by earlier deliveries come from their rows.
    for step in repo::list_steps(db, id).await? {
        counters.entry(step.name).or_insert(step.counters);
    }
    repo::mark_succeeded(db, id, token, &Value::Object(counters)).await?;
    tracing::info!(execution_id = %id, "execution succeeded");
    Ok(Disposition::Ack)
}

/// A message the runtime gave up on (retries exhausted) arrives from the dead-letter queue:
/// the execution is marked failed, keeping the last attempt's error.
pub async fn process_dead_letter(db: &Client, body: &Value) -> Disposition {
    let envelope: JobEnvelope = match serde_json::from_value(body.clone()) {
        Ok(envelope) => envelope,
        Err(e) => {
            tracing::error!(error = %e, "malformed dead-lettered message");
            let recorded = repo::record_unrunnable(
                db,
                Uuid::now_v7(),
                "MALFORMED_MESSAGE",
                &json!({ "body": body }),
                "malformed_message",
                &format!("a dead-lettered queue message is not a job envelope: {e}"),
            )
            .await;
            return match recorded {
                Ok(()) => Disposition::Ack,
                Err(_) => Disposition::Retry { delay_seconds: 10 },
            };
        }
    };
    if envelope.job_type == QUEUE_PROBE {
        return Disposition::Ack;
    }
    match repo::mark_failed(db, envelope.execution_id, None, None).await {
        Ok(updated) => {
            tracing::error!(
                execution_id = %envelope.execution_id,
                marked = updated.is_some(),
                "retries exhausted; execution dead-lettered"
            );
            Disposition::Ack
        }
        Err(e) => {
            tracing::error!(error = %db_message(&e), "could not mark a dead-lettered execution failed; retrying");
            Disposition::Retry { delay_seconds: 10 }
        }
    }
}
