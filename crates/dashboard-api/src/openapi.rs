//! The OpenAPI document of the HTTP surface, generated from the route annotations
//! (`#[utoipa::path]` on each handler) and the response schemas below.
//!
//! Served at `GET /api/openapi.json` (behind Access like every route but `/api/health`),
//! dumped by `cargo xtask openapi` into `client/openapi.json`, from which the SPA's
//! TypeScript types (`client/src/api/schema.d.ts`) are generated; the test command fails
//! when either drifts. To document a new route: annotate its handler with
//! `#[utoipa::path(...)]`, derive `ToSchema` on its request/response types (here, or in the
//! route module), list the handler in [`ApiDoc`]'s `paths(...)`, then run
//! `cd client && npm run gen:api`.
//!
//! The domain crate's types do not derive `ToSchema` (the domain stays free of HTTP
//! concerns), so [`schemas`] holds their wire shapes; a unit test serializes the real
//! domain values and checks them against these schemas, property by property.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The security scheme names used in `security(...)` of every protected route.
pub const ASSERTION_SCHEME: &str = "access_assertion";
pub const COOKIE_SCHEME: &str = "access_cookie";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Merch dashboard API",
        license(name = "UNLICENSED"),
        description = "The dashboard API Worker. Every route but `GET /api/health` needs a Cloudflare Access \
                       application token, in the `Cf-Access-Jwt-Assertion` header or the `CF_Authorization` \
                       cookie. Errors are `{\"error\":{\"code\",\"message\",\"request_id\"}}`; the \
                       `x-request-id` response header carries the same id."
    ),
    paths(
        crate::routes::health::health,
        crate::routes::health::details,
        crate::routes::me::me,
        crate::routes::jobs::list,
        crate::routes::jobs::detail,
        crate::routes::jobs::start,
        crate::routes::jobs::dispatch,
        crate::routes::orders::list,
        crate::routes::orders::detail,
        crate::openapi::document_route,
    ),
    modifiers(&AccessSecurity),
    tags(
        (name = "health", description = "EngineeredSystem health"),
        (name = "session", description = "who is signed in"),
        (name = "jobs", description = "ProcedureExecutions: background job runs and their steps"),
        (name = "orders", description = "Commercial Transaction Records: order lookup"),
        (name = "meta", description = "this document"),
    )
)]
pub struct ApiDoc;

struct AccessSecurity;

impl Modify for AccessSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            ASSERTION_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Cf-Access-Jwt-Assertion",
                "the Cloudflare Access application token (set by Access in front of the Worker)",
            ))),
        );
        components.add_security_scheme(
            COOKIE_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "CF_Authorization",
                "the Access session cookie; used when the header is absent (browsers)",
            ))),
        );
    }
}

/// The document as pretty JSON with a trailing newline (what `client/openapi.json` holds).
pub fn document_json() -> String {
    let mut json = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    json.push('\n');
    json
}

/// `GET /api/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    security(("access_assertion" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "the OpenAPI 3.1 document", content_type = "application/json"),
        (status = 401, description = "no valid Access token", body = schemas::ErrorBody),
    )
)]
pub async fn document_route() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document_json())
}

/// Wire shapes of the responses (and of the domain types they carry).
pub mod schemas {
    use chrono::{DateTime, Utc};
    use serde::Serialize;
    #[allow(unused_imports)] // named by the schema attributes
    use std::collections::HashMap;
    use utoipa::{IntoParams, ToSchema};
    use uuid::Uuid;

    /// Every 4xx/5xx answer (but the public health check's 503).
    #[derive(Serialize, ToSchema)]
    pub struct ErrorBody {
        pub error: ErrorDetail,
    }

    #[derive(Serialize, ToSchema)]
    pub struct ErrorDetail {
        /// Machine-readable, e.g. `unauthenticated`, `invalid_query`, `not_found`.
        pub code: String,
        pub message: String,
        /// Same as the `x-request-id` response header.
        pub request_id: String,
    }

    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum HealthVerdict {
        Ok,
        Degraded,
    }

    /// `GET /api/health`.
    #[derive(Serialize, ToSchema)]
    pub struct HealthStatus {
        pub status: HealthVerdict,
    }

    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum ProbeStatus {
        Ok,
        Down,
    }

    /// One EngineeredSystem's probe (`domain::health::ProbeReport`).
    #[derive(Serialize, ToSchema)]
    pub struct ProbeReport {
        /// `postgres`, `r2`, `kv`, `queue` or `ingest_worker`.
        pub system: String,
        pub status: ProbeStatus,
        pub latency_ms: f64,
        /// What was observed, or `{"error": "..."}` when down.
        #[schema(value_type = HashMap<String, serde_json::Value>)]
        pub detail: serde_json::Value,
    }

    /// `GET /api/health/details`.
    #[derive(Serialize, ToSchema)]
    pub struct HealthDetails {
        pub status: HealthVerdict,
        pub checked_at: DateTime<Utc>,
        pub systems: Vec<ProbeReport>,
    }

    /// The Agent behind a request (`domain::Principal`).
    #[derive(Serialize, ToSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Principal {
        User { email: String, subject: String },
        Service { common_name: String },
        System { name: String },
    }

    // The jobs types are the domain's own, described through its `openapi` feature.
    pub use domain::jobs::repo::{Execution, ExecutionPage, StepExecution};
    pub use domain::jobs::ExecutionStatus;

    /// `GET /api/jobs/{id}`.
    #[derive(Serialize, ToSchema)]
    pub struct ExecutionDetail {
        pub execution: Execution,
        pub steps: Vec<StepExecution>,
    }

    /// `POST /api/jobs` body.
    #[derive(Serialize, ToSchema)]
    pub struct StartJob {
        /// `PROCEDURE_EXECUTION_INITIATE` (Shopify sync; params `{"mode":"full"|"incremental"}`),
        /// `MEASUREMENT_DATASET_REFRESH`, `ICE_HEALTH_CHECK`, `SYSTEM_SELF_CHECK`, `ENGINE_DRILL`.
        pub job_type: String,
        #[schema(value_type = Option<HashMap<String, serde_json::Value>>)]
        pub params: Option<serde_json::Value>,
    }

    /// `POST /api/jobs` answer (202).
    #[derive(Serialize, ToSchema)]
    pub struct JobStarted {
        pub execution_id: Uuid,
        pub job_type: String,
        pub status: ExecutionStatus,
        /// `/api/jobs/{execution_id}`.
        pub href: String,
    }

    /// `POST /api/jobs/{id}/dispatch` answer (202).
    #[derive(Serialize, ToSchema)]
    pub struct Dispatched {
        pub execution_id: Uuid,
        pub status: ExecutionStatus,
        pub dispatched: bool,
    }

    /// `GET /api/jobs` query; unknown parameters are refused.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    #[allow(dead_code)] // documentation only: the handler parses the query itself
    pub struct ExecutionListQuery {
        /// An upper-case job type, e.g. `SYSTEM_SELF_CHECK`.
        pub job_type: Option<String>,
        pub status: Option<ExecutionStatus>,
        /// RFC 3339, inclusive.
        pub created_after: Option<DateTime<Utc>>,
        /// RFC 3339, exclusive.
        pub created_before: Option<DateTime<Utc>>,
        /// 1..=200, default 50.
        #[param(minimum = 1, maximum = 200)]
        pub limit: Option<i64>,
        /// 0..=100000, default 0.
        #[param(minimum = 0, maximum = 100000)]
        pub offset: Option<i64>,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::{json, Value};
    use std::collections::BTreeSet;

    fn schema(name: &str) -> Value {
        let doc: Value = serde_json::from_str(&document_json()).unwrap();
        doc["components"]["schemas"][name].clone()
    }

    fn properties(schema: &Value) -> BTreeSet<String> {
        schema["properties"].as_object().unwrap().keys().cloned().collect()
    }

    fn keys(value: &Value) -> BTreeSet<String> {
        value.as_object().unwrap().keys().cloned().collect()
    }

    fn sample_execution() -> domain::jobs::repo::Execution {
        let now = chrono::Utc::now();
        domain::jobs::repo::Execution {
            id: uuid::Uuid::nil(),
            job_type: "SYSTEM_SELF_CHECK".into(),
            trigger: "user".into(),
            principal_kind: "user".into(),
            principal_id: "a@example.com".into(),
            dedupe_key: None,
            params: json!({}),
            status: "queued".into(),
            attempts: 0,
            deliveries: 0,
            counters: json!({}),
            error_code: None,
            error_message: None,
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
        }
    }

    /// The wire shapes here must be exactly the domain types' serializations.
    #[test]
    fn schemas_match_the_domain_serializations() {
        let execution = serde_json::to_value(sample_execution()).unwrap();
        assert_eq!(properties(&schema("Execution")), keys(&execution));
        let step = domain::jobs::repo::StepExecution {
            ordinal: 1,
            name: "probe".into(),
            status: "running".into(),
            attempts: 1,
            counters: json!({}),
            output: None,
            error_code: None,
            error_message: None,
            started_at: chrono::Utc::now(),
            finished_at: None,
        };
        assert_eq!(
            properties(&schema("StepExecution")),
            keys(&serde_json::to_value(step).unwrap())
        );
        let page = domain::jobs::repo::ExecutionPage {
            items: vec![],
            total: 0,
            limit: 50,
            offset: 0,
        };
        assert_eq!(
            properties(&schema("ExecutionPage")),
            keys(&serde_json::to_value(page).unwrap())
        );
        let report = domain::health::report("kv", chrono::Utc::now(), Ok(json!({})));
        assert_eq!(
            properties(&schema("ProbeReport")),
            keys(&serde_json::to_value(report).unwrap())
        );
        let statuses: BTreeSet<String> = schema("ExecutionStatus")["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let domain_statuses: BTreeSet<String> = domain::jobs::ExecutionStatus::ALL
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        assert_eq!(statuses, domain_statuses);
    }

    #[test]
    fn principal_variants_match_the_domain() {
        let variants = schema("Principal")["oneOf"].as_array().unwrap().clone();
        let samples = [
            domain::Principal::User {
                email: "a@example.com".into(),
                subject: "s".into(),
            },
            domain::Principal::Service {
                common_name: "bot".into(),
            },
            domain::Principal::System { name: "cron".into() },
        ];
        assert_eq!(variants.len(), samples.len());
        for sample in samples {
            let value = serde_json::to_value(&sample).unwrap();
            let matching = variants
                .iter()
                .find(|v| v["properties"]["kind"]["enum"][0] == value["kind"])
                .unwrap_or_else(|| panic!("no schema variant for {value}"));
            assert_eq!(properties(matching), keys(&value), "{value}");
        }
    }

    #[test]
    fn every_protected_operation_names_both_access_schemes() {
        let doc: Value = serde_json::from_str(&document_json()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let security = &operation["security"];
                if path == "/api/health" {
                    assert!(security.is_null(), "{method} {path} is public");
                } else {
                    assert_eq!(
                        security,
                        &json!([{ ASSERTION_SCHEME: [] }, { COOKIE_SCHEME: [] }]),
                        "{method} {path}"
                    );
                }
            }
        }
    }
}
