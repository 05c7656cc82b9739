//! Message dispatch: every message of a batch is handed to the engine (or, from the
//! dead-letter queue, to the dead-letter path) and then explicitly acked or retried.
//! Nothing is ever returned as an error into the runtime.

use crate::settings::{engine_config, DEAD_LETTER_QUEUE};
use domain::jobs::engine::{self, Disposition};
use platform::{env_string, WorkerBindings};
use worker::{event, Context, Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder};

fn retry_options(delay_seconds: u32) -> worker::QueueRetryOptions {
    QueueRetryOptionsBuilder::new()
        .with_delay_seconds(delay_seconds)
        .build()
}

#[event(queue)]
async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> worker::Result<()> {
    let config = engine_config(|name| env_string(&env, name));
    let dead_letter = batch.queue() == DEAD_LETTER_QUEUE;
    let db = match platform::db::connect(&env).await {
        Ok(db) => db,
        Err(e) => {
            tracing::error!(error = %e, queue = %batch.queue(), "database unreachable; retrying the whole batch");
            batch.retry_all_with_options(&retry_options(config.backoff_base_seconds));
            return Ok(());
        }
    };
    let bindings = match WorkerBindings::from_env(&env) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "bindings missing; retrying the whole batch");
            batch.retry_all_with_options(&retry_options(config.backoff_cap_seconds));
            db.close().await;
            return Ok(());
        }
    };
    let registry = crate::settings::registry(|name| env_string(&env, name));
    for message in batch.raw_iter() {
        // A body that is not JSON-shaped reaches the engine as null and is recorded as malformed.
        let body: serde_json::Value = serde_wasm_bindgen::from_value(message.body()).unwrap_or(serde_json::Value::Null);
        let disposition = if dead_letter {
            engine::process_dead_letter(&db.client, &body).await
        } else {
            engine::process_message(&db.client, &bindings, &registry, &config, &body).await
        };
        match disposition {
            Disposition::Ack => message.ack(),
            Disposition::Retry { delay_seconds } => message.retry_with_options(&retry_options(delay_seconds)),
        }
    }
    db.close().await;
    Ok(())
}
