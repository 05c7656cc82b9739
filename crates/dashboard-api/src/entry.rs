//! The Worker entry: reads `Env` into a [`WorkerBackend`], runs the router, closes the
//! database connection. The only module of this crate that touches `worker::`.

use crate::{app, ApiError, Backend};
use access::{AccessConfig, AccessError, ConfigError, KeyCache};
use domain::Principal;
use platform::{env_string, DbHandle, JwksFetcher, WorkerBindings, INGEST};
use std::future::Future;
use std::sync::{Arc, LazyLock};
use tokio_postgres::Client;
use tower_service::Service;
use worker::send::{SendFuture, SendWrapper};
use worker::{event, Context, Env, HttpRequest, ScheduleContext, ScheduledEvent};

/// The JWKS cache lives as long as the isolate, across requests.
static ACCESS_KEYS: LazyLock<KeyCache> = LazyLock::new(KeyCache::default);

struct WorkerBackend {
    env: SendWrapper<Env>,
    access: Result<AccessConfig, ConfigError>,
    bindings: Result<WorkerBindings, String>,
    db: futures::lock::Mutex<Option<SendWrapper<DbHandle>>>,
}

impl WorkerBackend {
    fn new(env: Env) -> Self {
        let access = AccessConfig::new(
            env_string(&env, "ACCESS_TEAM_DOMAIN").as_deref(),
            env_string(&env, "ACCESS_AUD").as_deref(),
        );
        let bindings = WorkerBindings::from_env(&env).map_err(|e| e.to_string());
        Self {
            env: SendWrapper::new(env),
            access,
            bindings,
            db: futures::lock::Mutex::new(None),
        }
    }

    async fn close(&self) {
        if let Some(handle) = self.db.lock().await.take() {
            handle.0.close().await;
        }
    }
}

impl Backend for WorkerBackend {
    type Bindings = WorkerBindings;

    fn access_config(&self) -> Result<&AccessConfig, &ConfigError> {
        self.access.as_ref()
    }

    fn authenticate(&self, assertion: Option<String>) -> impl Future<Output = Result<Principal, AccessError>> + Send {
        SendFuture::new(async move {
            let config = self
                .access
                .as_ref()
                .map_err(|e| AccessError::KeysUnavailable(e.to_string()))?;
            let now_ms = js_sys::Date::now() as i64;
            ACCESS_KEYS
                .verify(config, assertion.as_deref(), &JwksFetcher, now_ms)
                .await
        })
    }

    fn db(&self) -> impl Future<Output = Result<Arc<Client>, ApiError>> + Send {
        SendFuture::new(async move {
            let mut slot = self.db.lock().await;
            if let Some(handle) = slot.as_ref() {
                return Ok(handle.client.clone());
            }
            let handle = platform::db::connect(&self.env)
                .await
                .map_err(|e| ApiError::unavailable("database_unavailable", e))?;
            let client = handle.client.clone();
            *slot = Some(SendWrapper::new(handle));
            Ok(client)
        })
    }

    fn bindings(&self) -> Result<&WorkerBindings, ApiError> {
        self.bindings.as_ref().map_err(ApiError::internal)
    }

    fn ingest_health(&self) -> impl Future<Output = Result<serde_json::Value, String>> + Send {
        SendFuture::new(async move {
            let service = self.env.service(INGEST).map_err(|e| format!("{INGEST} binding: {e}"))?;
            let response = service
                .fetch("http://ingest/health", None)
                .await
                .map_err(|e| format!("{INGEST} fetch: {e}"))?;
            let mut response = worker::Response::try_from(response).map_err(|e| e.to_string())?;
            let text = response.text().await.map_err(|e| e.to_string())?;
            serde_json::from_str(&text).map_err(|e| format!("ingest /health is not JSON ({e}): {text}"))
        })
    }
}

#[event(start)]
fn start() {
    platform::logging::init();
}

#[event(fetch)]
async fn fetch(req: HttpRequest, env: Env, _ctx: Context) -> worker::Result<http::Response<axum::body::Body>> {
    let backend = Arc::new(WorkerBackend::new(env));
    let response = app(backend.clone()).call(req).await?;
    backend.close().await;
    Ok(response)
}

/// Local development only: `wrangler dev --test-scheduled` delivers `/__scheduled` (and
/// `/cdn-cgi/handler/scheduled`) to the first Worker given, which is this one. The event
/// is handed, unchanged, to the ingest Worker's own `scheduled()` handler through the
/// `INGEST` service binding (compatibility flag `service_binding_extra_handlers`). In
/// production this Worker has no cron triggers, so this never runs.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    use wasm_bindgen::JsValue;
    let forward = async {
        let service = env.service(INGEST).map_err(|e| JsValue::from_str(&e.to_string()))?;
        let target: &JsValue = service.as_ref();
        let method: js_sys::Function = js_sys::Reflect::get(target, &JsValue::from_str("scheduled"))?.into();
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"cron".into(), &JsValue::from_str(&event.cron()))?;
        js_sys::Reflect::set(
            &options,
            &"scheduledTime".into(),
            &js_sys::Date::new(&JsValue::from_f64(event.schedule())),
        )?;
        let promise: js_sys::Promise = method.call1(target, &options)?.into();
        wasm_bindgen_futures::JsFuture::from(promise).await
    };
    match forward.await {
        Ok(outcome) => tracing::info!(cron = %event.cron(), outcome = ?outcome, "scheduled event forwarded to ingest"),
        Err(e) => tracing::error!(cron = %event.cron(), error = ?e, "could not forward scheduled event to ingest"),
    }
}
