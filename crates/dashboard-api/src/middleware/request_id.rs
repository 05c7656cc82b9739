//! Trace correlation: each request gets an id — the caller's `x-request-id`, else
//! Cloudflare's `cf-ray`, else a new UUIDv7 — echoed in the `x-request-id` response header,
//! carried by every error body, and recorded on the span every log line of the request
//! belongs to.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

fn acceptable(value: &str) -> bool {
    !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic())
}

pub fn choose(request: &Request) -> RequestId {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| acceptable(v))
            .map(str::to_owned)
    };
    RequestId(
        header(HEADER)
            .or_else(|| header("cf-ray"))
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
    )
}

pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = choose(&request);
    request.extensions_mut().insert(id.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id.0,
        method = %request.method(),
        path = %request.uri().path()
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| tracing::info!(status = response.status().as_u16(), "request finished"));
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}
