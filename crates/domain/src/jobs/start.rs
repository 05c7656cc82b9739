//! Starting an execution: record it, then enqueue its envelope. Used by `POST /api/jobs`
//! and by the cron handler, so both record and dedupe the same way.

use super::repo::{self, Execution, NewExecution};
use super::{JobEnvelope, JobType, Trigger};
use crate::platform::{BindingError, JobQueue};
use crate::Principal;
use uuid::Uuid;

#[derive(Debug)]
pub enum Started {
    /// Recorded and enqueued.
    New(Execution),
    /// The dedupe key was taken: this is the execution that holds it.
    Duplicate(Execution),
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0:?}")]
    Db(#[from] tokio_postgres::Error),
    #[error("dedupe key {0} is taken but no execution holds it")]
    DedupeHolderMissing(String),
    /// The execution is recorded as failed with `enqueue_failed`.
    #[error("enqueue failed for execution {execution_id}: {source}")]
    Enqueue { execution_id: Uuid, source: BindingError },
}

pub struct StartRequest<'a> {
    pub job_type: JobType,
    pub trigger: Trigger,
    pub principal: &'a Principal,
    pub params: &'a serde_json::Value,
    pub dedupe_key: Option<&'a str>,
}

pub async fn start_execution(
    db: &impl tokio_postgres::GenericClient,
    queue: &impl JobQueue,
    request: StartRequest<'_>,
) -> Result<Started, StartError> {
    let id = Uuid::now_v7();
    let new = NewExecution {
        id,
        job_type: request.job_type.as_str(),
        trigger: request.trigger,
        principal: request.principal,
        params: request.params,
        dedupe_key: request.dedupe_key,
    };
    let Some(execution) = repo::insert_execution(db, &new).await? else {
        let key = request.dedupe_key.unwrap_or_default();
        return match repo::get_execution_by_dedupe_key(db, key).await? {
            Some(existing) => Ok(Started::Duplicate(existing)),
            // Executions are never deleted, so the holder is there; say so if not.
            None => Err(StartError::DedupeHolderMissing(key.to_owned())),
        };
    };
    if let Err(source) = queue.send(&JobEnvelope::new(request.job_type, id), 0).await {
        repo::mark_failed(
            db,
            id,
            Some("enqueue_failed"),
            Some(&format!("could not enqueue: {source}")),
        )
        .await?;
        return Err(StartError::Enqueue {
            execution_id: id,
            source,
        });
    }
    Ok(Started::New(execution))
}
