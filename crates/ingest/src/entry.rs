//! Worker events: start (logging), fetch (`/health`). Queue and cron are in their modules.

use domain::health::{self, ProbeStatus};
use serde_json::json;
use worker::{event, Context, Env, Request, Response};

#[event(start)]
fn start() {
    platform::logging::init();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    if req.path() != "/health" {
        let body = json!({ "error": { "code": "not_found", "message": "the ingest Worker serves only /health", "request_id": "" } });
        return Ok(Response::from_json(&body)?.with_status(404));
    }
    let postgres = match platform::db::connect(&env).await {
        Ok(db) => {
            let report = health::probe_postgres(db.client.as_ref()).await;
            db.close().await;
            report
        }
        Err(e) => health::report("postgres", domain::clock::now(), Err(e.to_string())),
    };
    let registered: Vec<String> = crate::settings::registry(|name| platform::env_string(&env, name))
        .registered()
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    let status = if postgres.status == ProbeStatus::Ok {
        "ok"
    } else {
        "degraded"
    };
    Response::from_json(&json!({
        "status": status,
        "worker": "ingest",
        "postgres": postgres,
        "registered_job_types": registered,
    }))
}
