//! Structured errors: every 4xx/5xx leaves as `{"error":{"code","message","request_id"}}`.
//! [`ApiError`]s ride in a response extension; axum's own plain-text rejections (unknown
//! route, wrong method, bad JSON) are rewritten into the same shape. A handler's deliberate
//! JSON answer with an error status passes unchanged. 5xx bodies say only "internal
//! error"; their cause is logged here, once.

use super::request_id::RequestId;
use crate::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

const MAX_REJECTION_BODY: usize = 4096;

pub fn body(status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
    let payload = json!({ "error": { "code": code, "message": message, "request_id": request_id } });
    let mut response = (status, axum::Json(payload)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        s if s.is_server_error() => "internal_error",
        _ => "request_failed",
    }
}

pub async fn render_errors(request: Request, next: Next) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let mut response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if let Some(error) = response.extensions_mut().remove::<ApiError>() {
        if status.is_server_error() {
            tracing::error!(
                code = error.code,
                cause = error.cause.as_deref().unwrap_or(""),
                "request failed"
            );
        } else {
            tracing::info!(code = error.code, message = %error.message, "request refused");
        }
        let mut rendered = body(status, error.code, &error.message, &request_id);
        // Headers the refusing code set (e.g. cf_access's x-access-login-url) survive.
        for (name, value) in response.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                rendered.headers_mut().insert(name.clone(), value.clone());
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            rendered.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Cf-Access-Jwt-Assertion"),
            );
        }
        return rendered;
    }
    // A handler's own JSON answer (e.g. health's 503 `{"status":"degraded"}`) stands as is.
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    // A rejection produced by axum itself: keep its text for 4xx, hide it for 5xx.
    let text = match axum::body::to_bytes(
        std::mem::replace(response.body_mut(), Body::empty()),
        MAX_REJECTION_BODY,
    )
    .await
    {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), cause = %text, "request failed");
        return body(status, code_for(status), "internal error", &request_id);
    }
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("request failed").to_owned()
    } else {
        text
    };
    body(status, code_for(status), &message, &request_id)
}
