//! Cloudflare Access: the application token is verified by the `access` crate and becomes
//! the request's [`Principal`] extension.
//!
//! Where the token comes from: the `Cf-Access-Jwt-Assertion` header (Access adds it to
//! every request it lets through), else the `CF_Authorization` cookie (the browser's Access
//! session; Cloudflare documents validating either). Both are verified identically. A
//! request authenticated by the cookie alone that changes something (not GET/HEAD/OPTIONS)
//! must come from the same site (`Sec-Fetch-Site`, else `Origin` against `Host`): a cookie
//! rides along with cross-site requests, a header does not.
//!
//! A refused request (401) carries `x-access-login-url`: where a browser signs in to this
//! Access application (`<team>/cdn-cgi/access/login/<host>?kid=<aud>`; the SPA appends
//! `&redirect_url=`). Locally the Access stand-in serves that page and sets the cookie.

use crate::{ApiError, Backend};
use access::{AccessConfig, AccessError};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub const ASSERTION_HEADER: &str = "cf-access-jwt-assertion";
pub const COOKIE_NAME: &str = "CF_Authorization";
pub const LOGIN_URL_HEADER: &str = "x-access-login-url";

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

/// Where the token was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    Header,
    Cookie,
}

/// The header's value, else the `CF_Authorization` cookie's (every `Cookie` header is read).
pub fn find_token(headers: &HeaderMap) -> Option<(String, TokenSource)> {
    if let Some(value) = headers.get(ASSERTION_HEADER).and_then(|v| v.to_str().ok()) {
        return Some((value.to_owned(), TokenSource::Header));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| (value.trim_matches('"').to_owned(), TokenSource::Cookie))
}

/// `true` when the browser says the request comes from this site. Without `Sec-Fetch-Site`
/// (older browsers), the `Origin` header must name the `Host` or be absent.
fn same_site(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match (text(header::ORIGIN.as_str()), text(header::HOST.as_str())) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

/// The Access sign-in page of this application, for the host the request was sent to.
pub fn login_url(config: &AccessConfig, headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok())?;
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    let kid_ok = config.audience.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    (host_ok && kid_ok).then(|| {
        format!(
            "{}/cdn-cgi/access/login/{host}?kid={}",
            config.team_domain, config.audience
        )
    })
}

fn unauthorized(error: &AccessError, config: Option<&AccessConfig>, headers: &HeaderMap) -> Response {
    let message = match error {
        AccessError::MissingToken => "no Cf-Access-Jwt-Assertion header or CF_Authorization cookie was sent".to_owned(),
        other => other.to_string(),
    };
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, error.code(), message).into_response();
    if let Some(url) = config.and_then(|c| login_url(c, headers)) {
        if let Ok(value) = HeaderValue::from_str(&url) {
            response.headers_mut().insert(LOGIN_URL_HEADER, value);
        }
    }
    response
}

pub async fn require_principal<B: Backend>(
    State(backend): State<Arc<B>>,
    mut request: Request,
    next: Next,
) -> Response {
    let found = find_token(request.headers());
    let source = found.as_ref().map(|(_, s)| *s);
    match backend.authenticate(found.map(|(token, _)| token)).await {
        Ok(principal) => {
            let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
            if source == Some(TokenSource::Cookie) && !safe && !same_site(request.headers()) {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    "cross_site_request",
                    "a request authenticated by the Access cookie must come from this site",
                )
                .into_response();
            }
            tracing::debug!(
                principal_kind = principal.kind(),
                principal = principal.id(),
                source = ?source,
                "authenticated"
            );
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) if e.is_client_error() => unauthorized(&e, backend.access_config().ok(), request.headers()),
        Err(e) => ApiError::unavailable(e.code(), e).into_response(),
    }
}
