//! Cron → ProcedureExecution, per the design's cron table, at most once per
//! (schedule, scheduled time).

use chrono::{TimeZone, Utc};
use domain::cron::{dedupe_key, job_for_schedule};
use domain::jobs::repo;
use domain::jobs::start::{start_execution, StartRequest, Started};
use domain::jobs::Trigger;
use domain::platform::Bindings;
use domain::Principal;
use platform::WorkerBindings;
use serde_json::json;
use worker::{event, Env, ScheduleContext, ScheduledEvent};

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let cron = event.cron();
    let scheduled_time = Utc
        .timestamp_millis_opt(event.schedule() as i64)
        .single()
        .unwrap_or_else(Utc::now);
    let db = match platform::db::connect(&env).await {
        Ok(db) => db,
        Err(e) => {
            // The runtime records the failed invocation; nothing else can be written.
            tracing::error!(cron = %cron, error = %e, "cron fired but the database is unreachable");
            return;
        }
    };
    let key = dedupe_key(&cron, scheduled_time);
    let params = json!({ "cron": cron, "scheduled_time": scheduled_time });
    match job_for_schedule(&cron) {
        Err(unknown) => {
            tracing::error!(cron = %cron, "{unknown}");
            let id = uuid_for(&key);
            if let Err(e) = repo::record_unrunnable(
                db.client.as_ref(),
                id,
                "UNSCHEDULED_CRON",
                &params,
                "unknown_schedule",
                &unknown.to_string(),
            )
            .await
            {
                tracing::error!(error = ?e, "could not record the unknown schedule");
            }
        }
        Ok(job_type) => match WorkerBindings::from_env(&env) {
            Err(e) => tracing::error!(cron = %cron, error = %e, "bindings missing"),
            Ok(bindings) => {
                let principal = Principal::System { name: "cron".into() };
                let request = StartRequest {
                    job_type,
                    trigger: Trigger::Cron,
                    principal: &principal,
                    params: &params,
                    dedupe_key: Some(&key),
                };
                match start_execution(db.client.as_ref(), bindings.queue(), request).await {
                    Ok(Started::New(e)) => {
                        tracing::info!(cron = %cron, execution_id = %e.id, job_type = %job_type, "cron enqueued")
                    }
                    Ok(Started::Duplicate(e)) => {
                        tracing::info!(cron = %cron, execution_id = %e.id, key = %key, "cron already enqueued for this time")
                    }
                    Err(e) => tracing::error!(cron = %cron, error = %e, "cron could not start its execution"),
                }
            }
        },
    }
    db.close().await;
}

/// A stable id for an unknown schedule's record, so a repeated firing records it once.
fn uuid_for(key: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, key.as_bytes())
}
