//! The stand-in's HTTP surface.
//!
//! Admin API (<https://shopify.dev/docs/api/usage/response-codes>):
//! - `POST /admin/api/2026-01/graphql.json`: answers the client's four documents
//!   (`RunBulkQuery`, `PollBulkOperation`, `CancelBulkOperation`, `Shop`), recognised by
//!   their root fields. No `X-Shopify-Access-Token` → 401; another API version → 404. Every
//!   answer carries `extensions.cost`; a request the bucket cannot pay answers 200 with a
//!   `THROTTLED` error (<https://shopify.dev/docs/api/usage/limits>).
//! - `GET /shopify-bulk/<n>.jsonl?expires=&sig=`: a result file, as a signed Cloud Storage
//!   URL serves it: `Range: bytes=a-b`, `bytes=a-`, `bytes=-n` → 206 with `Content-Range`;
//!   unsatisfiable → 416; past `expires` → 403 `ExpiredToken` (XML error body); a wrong
//!   signature → 403 `SignatureDoesNotMatch`.
//!
//! Control API (JSON, for tests and local runs):
//! - `GET /_standin/shopify/truth`: [`Truth`] of the current store;
//! - `POST /_standin/shopify/store` with a [`StoreSpec`] (fields optional): a new store; answers its truth;
//! - `POST /_standin/shopify/mutate` with a [`MutationSpec`]: answers `changed_orders`,
//!   `edited_orders`, `cancelled_orders`, `refunded_orders`, `deleted_orders`,
//!   `deleted_products` (GIDs), `updated_at` and `truth`;
//! - `GET|POST /_standin/shopify/faults`: `{fault: count}` arms one-shot faults (see [`Fault`]);
//!   answers `{"armed":{…},"fired":{…}}`;
//! - `GET /_standin/shopify/requests`: request counters and faults fired;
//! - `GET|POST /_standin/shopify/settings`: [`Settings`].

use super::bulk::{self, operation_gid, operation_number_of, OperationPlan, MAX_RUNNING_OPERATIONS};
use super::calendar::format_timestamp;
use super::export::{ExportKind, SearchFilter};
use super::faults::Fault;
use super::generator::{gid, order_id, product_id, MutationSpec, Store, StoreSpec, Truth};
use super::{lock, Settings, ShopifyStandin, API_VERSION, MYSHOPIFY_DOMAIN, SHOP_GID, SHOP_NAME};
use crate::access::now_seconds;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::SeekFrom;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

type Shared = Arc<ShopifyStandin>;

pub fn router(standin: Shared) -> Router {
    Router::new()
        .route("/admin/api/{version}/graphql.json", post(graphql))
        .route("/shopify-bulk/{file}", get(download))
        .route("/_standin/shopify/truth", get(truth))
        .route("/_standin/shopify/store", post(reset_store))
        .route("/_standin/shopify/mutate", post(mutate))
        .route("/_standin/shopify/faults", get(faults).post(arm_faults))
        .route("/_standin/shopify/requests", get(requests))
        .route("/_standin/shopify/settings", get(settings).post(set_settings))
        .with_state(standin)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn control_error(status: StatusCode, message: impl Into<String>) -> Response {
    let code = if status.is_server_error() {
        "internal"
    } else {
        "bad_request"
    };
    json_response(status, json!({ "error": { "code": code, "message": message.into() } }))
}

/// The documents the client sends, by root field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Document {
    RunBulkQuery,
    PollBulkOperation,
    CancelBulkOperation,
    Shop,
}

impl Document {
    fn identify(query: &str) -> Option<Self> {
        let squeezed: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
        if squeezed.contains("bulkOperationRunQuery") {
            Some(Self::RunBulkQuery)
        } else if squeezed.contains("bulkOperationCancel") {
            Some(Self::CancelBulkOperation)
        } else if squeezed.contains("node(") && squeezed.contains("BulkOperation") {
            Some(Self::PollBulkOperation)
        } else if squeezed.contains("shop {") || squeezed.contains("shop{") {
            Some(Self::Shop)
        } else {
            None
        }
    }

    /// Requested cost: a mutation 10, a query of one object 1.
    fn cost(self) -> u32 {
        match self {
            Self::RunBulkQuery | Self::CancelBulkOperation => 10,
            Self::PollBulkOperation | Self::Shop => 1,
        }
    }
}

fn graphql_error(message: &str, code: &str) -> Value {
    json!({ "message": message, "extensions": { "code": code } })
}

async fn graphql(State(s): State<Shared>, Path(version): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if version != API_VERSION {
        return json_response(StatusCode::NOT_FOUND, json!({ "errors": "Not Found" }));
    }
    if headers
        .get("x-shopify-access-token")
        .is_none_or(|v| v.as_bytes().is_empty())
    {
        s.count("graphql_unauthorized", 1);
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({ "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)" }),
        );
    }
    s.count("graphql_requests", 1);
    {
        let mut faults = lock(&s.faults);
        if faults.take(Fault::Http429) {
            drop(faults);
            s.count("graphql_429", 1);
            let mut response = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({ "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service." }),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        if faults.take(Fault::Http5xx) {
            let fired = faults.fired(Fault::Http5xx);
            drop(faults);
            s.count("graphql_5xx", 1);
            let (status, text) = if fired % 2 == 1 {
                (StatusCode::BAD_GATEWAY, "502 Bad Gateway")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable")
            };
            return (status, [(header::CONTENT_TYPE, "text/plain")], text).into_response();
        }
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({ "errors": { "query": "Required parameter missing or invalid" } }),
            )
        }
    };
    let query = request["query"].as_str().unwrap_or("");
    let variables = &request["variables"];
    let Some(document) = Document::identify(query) else {
        return json_response(
            StatusCode::OK,
            json!({ "errors": [graphql_error("The Shopify stand-in answers only RunBulkQuery, PollBulkOperation, CancelBulkOperation and Shop", "UNSUPPORTED_BY_STANDIN")] }),
        );
    };
    let cost = document.cost();
    let now = Instant::now();
    let throttle_fault = lock(&s.faults).take(Fault::Throttle);
    let cost_extension = {
        let mut bucket = lock(&s.bucket);
        if throttle_fault || !bucket.try_spend(f64::from(cost), now) {
            let extension = bucket.cost_extension(cost, None, now);
            drop(bucket);
            s.count("graphql_throttled", 1);
            return json_response(
                StatusCode::OK,
                json!({
                    "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/limits" } }],
                    "extensions": { "cost": extension },
                }),
            );
        }
        bucket.cost_extension(cost, Some(cost), now)
    };
    let answer = match document {
        Document::RunBulkQuery => run_bulk_query(&s, variables),
        Document::PollBulkOperation => poll_bulk_operation(&s, variables),
        Document::CancelBulkOperation => cancel_bulk_operation(&s, variables),
        Document::Shop => {
            s.count("shop_queries", 1);
            let store = s.store();
            let scopes: Vec<Value> = s
                .settings()
                .access_scopes
                .iter()
                .map(|handle| json!({ "handle": handle }))
                .collect();
            // https://shopify.dev/docs/api/admin-graphql/2026-01/objects/Shop and
            // https://shopify.dev/docs/api/admin-graphql/2026-01/objects/AppInstallation
            Ok(json!({
                "shop": {
                    "id": SHOP_GID, "name": SHOP_NAME, "myshopifyDomain": MYSHOPIFY_DOMAIN,
                    "ianaTimezone": store.time_zone().name(), "currencyCode": super::export::CURRENCY,
                },
                "currentAppInstallation": { "accessScopes": scopes },
            }))
        }
    };
    let body = match answer {
        Ok(data) => json!({ "data": data, "extensions": { "cost": cost_extension } }),
        Err(error) => json!({ "errors": [error], "extensions": { "cost": cost_extension } }),
    };
    json_response(StatusCode::OK, body)
}

fn run_user_error(s: &ShopifyStandin, field: Option<&str>, message: &str, code: &str) -> Result<Value, Value> {
    s.count("bulk_run_user_errors", 1);
    Ok(json!({ "bulkOperationRunQuery": {
        "bulkOperation": null,
        "userErrors": [{ "field": field.map(|f| vec![f]), "message": message, "code": code }],
    } }))
}

/// The root field and search filter of a bulk query such as
/// `{ orders(query: "updated_at:>'…'") { edges { node { … } } } }`.
fn parse_bulk_query(text: &str) -> Result<(ExportKind, String), String> {
    let after_brace = text
        .split_once('{')
        .map(|(_, rest)| rest.trim_start())
        .ok_or("the bulk query has no selection set")?;
    let root_len = after_brace
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(after_brace.len());
    let root = &after_brace[..root_len];
    let kind = ExportKind::from_root_field(root)
        .ok_or_else(|| format!("the stand-in exports products and orders, not {root:?}"))?;
    let rest = after_brace[root_len..].trim_start();
    let Some(arguments) = rest.strip_prefix('(') else {
        return Ok((kind, String::new()));
    };
    let Some(position) = arguments.find("query:") else {
        return Ok((kind, String::new()));
    };
    let literal = arguments[position + "query:".len()..]
        .trim_start()
        .strip_prefix('"')
        .ok_or("the query argument is not a string")?;
    let mut filter = String::new();
    let mut chars = literal.chars();
    loop {
        match chars.next().ok_or("unterminated string in the query argument")? {
            '"' => break,
            '\\' => match chars.next().ok_or("unterminated escape")? {
                'n' => filter.push('\n'),
                't' => filter.push('\t'),
                other => filter.push(other),
            },
            other => filter.push(other),
        }
    }
    Ok((kind, filter))
}

fn run_bulk_query(s: &Shared, variables: &Value) -> Result<Value, Value> {
    let Some(query) = variables["query"].as_str() else {
        return Err(graphql_error(
            "Variable $query of type String! was provided invalid value",
            "INVALID_VARIABLE",
        ));
    };
    {
        let mut faults = lock(&s.faults);
        if faults.take(Fault::OperationInProgress) {
            drop(faults);
            return run_user_error(
                s,
                None,
                "A bulk query operation for this app and shop is already in progress.",
                "OPERATION_IN_PROGRESS",
            );
        }
        if faults.take(Fault::LimitReached) {
            drop(faults);
            return run_user_error(
                s,
                None,
                "Bulk operations limit reached. Please try again later.",
                "LIMIT_REACHED",
            );
        }
    }
    let store = s.store();
    let (kind, filter) = match parse_bulk_query(query)
        .and_then(|(kind, text)| SearchFilter::parse(&text, store.time_zone()).map(|f| (kind, f)))
    {
        Ok(parsed) => parsed,
        Err(message) => return run_user_error(s, Some("query"), &message, "INVALID"),
    };
    let mut operations = lock(&s.operations);
    if operations.running() >= MAX_RUNNING_OPERATIONS {
        drop(operations);
        return run_user_error(
            s,
            None,
            &format!("A maximum of {MAX_RUNNING_OPERATIONS} bulk query operations can run at the same time. Bulk operations limit reached. Please try again later."),
            "LIMIT_REACHED",
        );
    }
    let plan = OperationPlan::from_faults(&mut lock(&s.faults));
    let operation = operations.create(kind, plan, now_seconds());
    let number = operation.number;
    let task = operation.task.clone();
    operations.prune();
    drop(operations);
    s.count("bulk_runs", 1);
    let path = s.result_path(number);
    tokio::task::spawn_blocking(move || bulk::run_export(&store, kind, &filter, path, plan, &task, now_seconds));
    Ok(json!({ "bulkOperationRunQuery": {
        "bulkOperation": { "id": operation_gid(number), "status": "CREATED" },
        "userErrors": [],
    } }))
}

fn poll_bulk_operation(s: &Shared, variables: &Value) -> Result<Value, Value> {
    s.count("bulk_polls", 1);
    let settings = s.settings();
    let number = variables["id"].as_str().and_then(operation_number_of);
    let mut operations = lock(&s.operations);
    let Some(operation) = number.and_then(|n| operations.get_mut(n)) else {
        return Ok(json!({ "node": null }));
    };
    let node = operation.poll(
        settings.running_polls,
        now_seconds(),
        settings.url_validity_seconds,
        &s.signer,
        &mut lock(&s.faults),
    );
    Ok(json!({ "node": node }))
}

fn cancel_bulk_operation(s: &Shared, variables: &Value) -> Result<Value, Value> {
    s.count("bulk_cancels", 1);
    let id = variables["id"].as_str().unwrap_or("");
    let mut operations = lock(&s.operations);
    let Some(operation) = operation_number_of(id).and_then(|n| operations.get_mut(n)) else {
        return Ok(json!({ "bulkOperationCancel": {
            "bulkOperation": null,
            "userErrors": [{ "field": ["id"], "message": "Bulk operation does not exist" }],
        } }));
    };
    let answer = match operation.cancel() {
        Ok(status) => json!({ "bulkOperation": { "id": id, "status": status }, "userErrors": [] }),
        Err(status) => json!({
            "bulkOperation": { "id": id, "status": status },
            "userErrors": [{ "field": null, "message": format!("A bulk operation cannot be canceled when it is {}", status.to_ascii_lowercase()) }],
        }),
    };
    Ok(json!({ "bulkOperationCancel": answer }))
}

/// A Cloud Storage XML error, as a signed URL answers it.
fn storage_error(status: StatusCode, code: &str, message: &str, details: Option<String>) -> Response {
    let details = details.map(|d| format!("<Details>{d}</Details>")).unwrap_or_default();
    let body = format!(
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message>{details}</Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml; charset=UTF-8")], body).into_response()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ByteRange {
    Whole,
    /// Inclusive first and last byte.
    Part(u64, u64),
    Unsatisfiable,
}

/// A single `bytes=` range (RFC 9110 §14.1.2); anything else is ignored and the whole
/// file is sent, which the RFC allows.
fn parse_range(header: Option<&str>, total: u64) -> ByteRange {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return ByteRange::Whole;
    };
    if spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return ByteRange::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return match last.parse::<u64>() {
            Ok(0) => ByteRange::Unsatisfiable,
            Ok(_) if total == 0 => ByteRange::Unsatisfiable,
            Ok(n) => ByteRange::Part(total.saturating_sub(n), total - 1),
            Err(_) => ByteRange::Whole,
        };
    }
    let Ok(first) = first.parse::<u64>() else {
        return ByteRange::Whole;
    };
    let last = if last.is_empty() {
        u64::MAX
    } else {
        match last.parse::<u64>() {
            Ok(l) if l >= first => l,
            _ => return ByteRange::Whole,
        }
    };
    if first >= total {
        ByteRange::Unsatisfiable
    } else {
        ByteRange::Part(first, last.min(total - 1))
    }
}

async fn download(
    State(s): State<Shared>,
    Path(file): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    s.count("downloads", 1);
    let not_found = || {
        storage_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            None,
        )
    };
    let Some(number) = file.strip_suffix(".jsonl").and_then(|n| n.parse::<u64>().ok()) else {
        return not_found();
    };
    let expires = query.get("expires").and_then(|e| e.parse::<i64>().ok());
    let (Some(expires), Some(signature)) = (expires, query.get("sig")) else {
        s.count("download_403", 1);
        return storage_error(StatusCode::FORBIDDEN, "AccessDenied", "Access denied.", None);
    };
    if !s.signer.verify(number, expires, signature) {
        s.count("download_403", 1);
        return storage_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
            None,
        );
    }
    if now_seconds() > expires {
        s.count("download_403", 1);
        return storage_error(
            StatusCode::FORBIDDEN,
            "ExpiredToken",
            "The provided token has expired.",
            Some(format!("Request signature expired at: {}", format_timestamp(expires))),
        );
    }
    let Some((path, total)) = lock(&s.operations).get(number).and_then(|o| o.servable()) else {
        return not_found();
    };
    if lock(&s.faults).take(Fault::Download5xx) {
        s.count("download_5xx", 1);
        return storage_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "We encountered an internal error. Please try again.",
            None,
        );
    }
    let range = parse_range(headers.get(header::RANGE).and_then(|v| v.to_str().ok()), total);
    let (status, first, length) = match range {
        ByteRange::Whole => (StatusCode::OK, 0, total),
        ByteRange::Part(first, last) => (StatusCode::PARTIAL_CONTENT, first, last - first + 1),
        ByteRange::Unsatisfiable => {
            s.count("download_416", 1);
            let mut response = storage_error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The requested range cannot be satisfied.",
                None,
            );
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{total}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return response;
        }
    };
    let mut handle = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(_) => return not_found(),
    };
    if first > 0 && handle.seek(SeekFrom::Start(first)).await.is_err() {
        return not_found();
    }
    if status == StatusCode::PARTIAL_CONTENT {
        s.count("download_ranges", 1);
    }
    s.count("bytes_served", length);
    let body = Body::from_stream(ReaderStream::with_capacity(handle.take(length), 64 * 1024));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jsonl"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {first}-{}/{total}", first + length - 1)) {
            h.insert(header::CONTENT_RANGE, value);
        }
    }
    response
}

/// The truth of the current store, computed once per store state.
async fn current_truth(s: &Shared) -> Result<Arc<Truth>, String> {
    let store = {
        let slot = lock(&s.store);
        if let Some(truth) = &slot.truth {
            return Ok(truth.clone());
        }
        slot.store.clone()
    };
    let computed = tokio::task::spawn_blocking({
        let store = store.clone();
        move || store.truth()
    })
    .await
    .map_err(|e| format!("truth: {e}"))?;
    let truth = Arc::new(computed);
    let mut slot = lock(&s.store);
    if Arc::ptr_eq(&slot.store, &store) {
        slot.truth = Some(truth.clone());
    }
    Ok(truth)
}

async fn truth(State(s): State<Shared>) -> Response {
    match current_truth(&s).await {
        Ok(truth) => Json(truth.as_ref().clone()).into_response(),
        Err(message) => control_error(StatusCode::INTERNAL_SERVER_ERROR, message),
    }
}

/// An optional JSON body: empty means `{}`.
fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    let text = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        &body[..]
    };
    serde_json::from_slice(text).map_err(|e| e.to_string())
}

async fn reset_store(State(s): State<Shared>, body: Bytes) -> Response {
    let spec: StoreSpec = match parse_body(&body) {
        Ok(spec) => spec,
        Err(message) => return control_error(StatusCode::BAD_REQUEST, message),
    };
    let _control = s.control.lock().await;
    let built = tokio::task::spawn_blocking(move || {
        let store = Store::new(spec).map_err(|e| e.to_string())?;
        if store.ends_at() > now_seconds() {
            return Err(format!(
                "the history must end in the past (it ends {}): mutations stamp orders with the current time",
                format_timestamp(store.ends_at())
            ));
        }
        let truth = store.truth();
        Ok((store, truth))
    })
    .await;
    match built {
        Ok(Ok((store, truth))) => {
            let truth = Arc::new(truth);
            *lock(&s.store) = super::StoreSlot {
                store: Arc::new(store),
                truth: Some(truth.clone()),
            };
            Json(truth.as_ref().clone()).into_response()
        }
        Ok(Err(message)) => control_error(StatusCode::BAD_REQUEST, message),
        Err(e) => control_error(StatusCode::INTERNAL_SERVER_ERROR, format!("store: {e}")),
    }
}

async fn mutate(State(s): State<Shared>, body: Bytes) -> Response {
    let spec: MutationSpec = match parse_body(&body) {
        Ok(spec) => spec,
        Err(message) => return control_error(StatusCode::BAD_REQUEST, message),
    };
    let _control = s.control.lock().await;
    let mut store = s.store().as_ref().clone();
    let done = tokio::task::spawn_blocking(move || {
        let outcome = store.mutate(&spec, now_seconds());
        let truth = store.truth();
        (store, outcome, truth)
    })
    .await;
    let Ok((store, outcome, truth)) = done else {
        return control_error(StatusCode::INTERNAL_SERVER_ERROR, "mutate: the worker stopped");
    };
    let truth = Arc::new(truth);
    *lock(&s.store) = super::StoreSlot {
        store: Arc::new(store),
        truth: Some(truth.clone()),
    };
    let orders = |numbers: &[u64]| -> Vec<String> { numbers.iter().map(|n| gid("Order", order_id(*n))).collect() };
    Json(json!({
        "changed_orders": orders(&outcome.changed_orders),
        "edited_orders": orders(&outcome.edited_orders),
        "cancelled_orders": orders(&outcome.cancelled_orders),
        "refunded_orders": orders(&outcome.refunded_orders),
        "deleted_orders": orders(&outcome.deleted_orders),
        "deleted_products": outcome.deleted_products.iter().map(|p| gid("Product", product_id(*p))).collect::<Vec<_>>(),
        "updated_at": format_timestamp(outcome.updated_at),
        "truth": truth.as_ref(),
    }))
    .into_response()
}

async fn faults(State(s): State<Shared>) -> Json<Value> {
    Json(lock(&s.faults).to_json())
}

async fn arm_faults(State(s): State<Shared>, body: Bytes) -> Response {
    let body: Value = match parse_body(&body) {
        Ok(v) => v,
        Err(message) => return control_error(StatusCode::BAD_REQUEST, message),
    };
    let mut faults = lock(&s.faults);
    match faults.arm_from_json(&body) {
        Ok(()) => Json(faults.to_json()).into_response(),
        Err(message) => control_error(StatusCode::BAD_REQUEST, message),
    }
}

async fn requests(State(s): State<Shared>) -> Json<Value> {
    let mut counters = lock(&s.counters).to_json();
    counters["faults_fired"] = lock(&s.faults).to_json()["fired"].clone();
    counters["bulk_operations_running"] = json!(lock(&s.operations).running());
    Json(counters)
}

async fn settings(State(s): State<Shared>) -> Json<Settings> {
    Json(s.settings())
}

async fn set_settings(State(s): State<Shared>, body: Bytes) -> Response {
    // Fields not given keep their current value.
    let mut current = serde_json::to_value(s.settings()).unwrap_or(Value::Null);
    let update: Value = match parse_body(&body) {
        Ok(v) => v,
        Err(message) => return control_error(StatusCode::BAD_REQUEST, message),
    };
    if let (Some(current), Some(update)) = (current.as_object_mut(), update.as_object()) {
        for (k, v) in update {
            current.insert(k.clone(), v.clone());
        }
    }
    let settings: Settings = match serde_json::from_value(current) {
        Ok(settings) => settings,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if settings.maximum_available <= 0.0 || settings.restore_rate <= 0.0 {
        return control_error(
            StatusCode::BAD_REQUEST,
            "maximum_available and restore_rate must be positive",
        );
    }
    s.set_settings(settings.clone());
    Json(settings).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shopify_documents as docs;

    /// The client's documents, copied from `crates/shopify/src/documents.rs` (this crate does
    /// not depend on the client); the integration tests drive the real ones over HTTP.
    mod shopify_documents {
        pub const RUN: &str =
            "mutation RunBulkQuery($query: String!) {\n  bulkOperationRunQuery(query: $query, groupObjects: false) {";
        pub const POLL: &str = "query PollBulkOperation($id: ID!) {\n  node(id: $id) {\n    ... on BulkOperation {";
        pub const CANCEL: &str = "mutation CancelBulkOperation($id: ID!) {\n  bulkOperationCancel(id: $id) {";
        pub const SHOP: &str = "query Shop {\n  shop { id name myshopifyDomain ianaTimezone currencyCode }\n  currentAppInstallation { accessScopes { handle } }\n}";
    }

    #[test]
    fn documents_are_recognised_by_root_field() {
        assert_eq!(Document::identify(docs::RUN), Some(Document::RunBulkQuery));
        assert_eq!(Document::identify(docs::POLL), Some(Document::PollBulkOperation));
        assert_eq!(Document::identify(docs::CANCEL), Some(Document::CancelBulkOperation));
        assert_eq!(Document::identify(docs::SHOP), Some(Document::Shop));
        assert_eq!(
            Document::identify("{ products(first: 1) { edges { node { id } } } }"),
            None
        );
    }

    #[test]
    fn bulk_queries_give_root_and_filter() {
        let q = "{\n  orders(query: \"updated_at:>'2026-12-01T00:00:00Z'\") {\n    edges { node { id } }\n  }\n}";
        assert_eq!(
            parse_bulk_query(q),
            Ok((ExportKind::Orders, "updated_at:>'2026-12-01T00:00:00Z'".to_owned()))
        );
        let q = "{ products(query: \"a \\\"b\\\"\") { edges { node { id } } } }";
        assert_eq!(parse_bulk_query(q), Ok((ExportKind::Catalog, "a \"b\"".to_owned())));
        assert_eq!(
            parse_bulk_query("{ products { edges { node { id } } } }"),
            Ok((ExportKind::Catalog, String::new()))
        );
        assert!(parse_bulk_query("{ customers { edges { node { id } } } }").is_err());
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range(None, 100), ByteRange::Whole);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), ByteRange::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=90-"), 100), ByteRange::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=90-500"), 100), ByteRange::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), ByteRange::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=100-"), 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-1"), 100), ByteRange::Whole);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), ByteRange::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 100), ByteRange::Whole);
    }
}
