//! Cloudflare Access: the `Cf-Access-Jwt-Assertion` header (never the cookie) is verified
//! by the `access` crate and becomes the request's [`Principal`] extension.

use crate::{ApiError, Backend};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub const ASSERTION_HEADER: &str = "cf-access-jwt-assertion";

/// Refuses every request, loudly, while the team domain or audience is not configured.
pub async fn require_configuration<B: Backend>(
    State(backend): State<Arc<B>>,
    request: Request,
    next: Next,
) -> Response {
    if let Err(missing) = backend.access_config() {
        return ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "access_not_configured",
            message: "this deployment is not configured for Cloudflare Access".into(),
            cause: Some(missing.to_string()),
        }
        .into_response();
    }
    next.run(request).await
}

pub async fn require_principal<B: Backend>(
    State(backend): State<Arc<B>>,
    mut request: Request,
    next: Next,
) -> Response {
    let assertion = request
        .headers()
        .get(ASSERTION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match backend.authenticate(assertion).await {
        Ok(principal) => {
            tracing::debug!(
                principal_kind = principal.kind(),
                principal = principal.id(),
                "authenticated"
            );
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) if e.is_client_error() => {
            ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string()).into_response()
        }
        Err(e) => ApiError::unavailable(e.code(), e).into_response(),
    }
}
