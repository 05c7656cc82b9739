//! The router's middleware in-process (no server): request ids, the error shape, 5xx
//! hiding, and refusing to serve without Access configuration. Routes that need the real
//! bindings are covered end to end in `tests/e2e`.
#![allow(clippy::unwrap_used)] // test helpers: a panic is how a test reports failure

use access::{AccessConfig, AccessError, ConfigError};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use dashboard_api::{app, ApiError, Backend};
use domain::platform::memory::MemoryBindings;
use domain::Principal;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

struct TestBackend {
    access: Result<AccessConfig, ConfigError>,
    bindings: MemoryBindings,
    keys_down: bool,
}

impl TestBackend {
    fn configured() -> Self {
        Self {
            access: AccessConfig::new(Some("team.cloudflareaccess.com"), Some("aud")),
            bindings: MemoryBindings::default(),
            keys_down: false,
        }
    }
}

impl Backend for TestBackend {
    type Bindings = MemoryBindings;

    fn access_config(&self) -> Result<&AccessConfig, &ConfigError> {
        self.access.as_ref()
    }

    async fn authenticate(&self, assertion: Option<String>) -> Result<Principal, AccessError> {
        if self.keys_down {
            return Err(AccessError::KeysUnavailable("connection refused".into()));
        }
        match assertion.as_deref() {
            Some("good") => Ok(Principal::User {
                email: "a@example.com".into(),
                subject: "s".into(),
            }),
            Some(_) => Err(AccessError::BadSignature),
            None => Err(AccessError::MissingToken),
        }
    }

    async fn db(&self) -> Result<Arc<tokio_postgres::Client>, ApiError> {
        Err(ApiError::internal(
            "postgres: password authentication failed for user secret_admin",
        ))
    }

    fn bindings(&self) -> Result<&MemoryBindings, ApiError> {
        Ok(&self.bindings)
    }

    async fn ingest_health(&self) -> Result<Value, String> {
        Ok(serde_json::json!({ "status": "ok" }))
    }
}

async fn call(backend: TestBackend, request: Request<Body>) -> (StatusCode, String, Value) {
    let response = app(Arc::new(backend)).oneshot(request).await.unwrap();
    let status = response.status();
    let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, id, serde_json::from_slice(&bytes).unwrap())
}

fn get(path: &str) -> axum::http::request::Builder {
    Request::get(path)
}

#[tokio::test]
async fn without_access_configuration_every_request_is_refused() {
    for path in ["/api/health", "/api/me", "/api/jobs"] {
        let backend = TestBackend {
            access: AccessConfig::new(Some("team.cloudflareaccess.com"), None),
            ..TestBackend::configured()
        };
        let (status, id, body) = call(
            backend,
            get(path)
                .header("cf-access-jwt-assertion", "good")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(body["error"]["code"], "access_not_configured");
        assert_eq!(body["error"]["request_id"], id.as_str());
    }
}

#[tokio::test]
async fn request_ids_come_from_the_caller_then_cf_ray_then_are_generated() {
    let (_, id, _) = call(
        TestBackend::configured(),
        get("/api/me")
            .header("x-request-id", "abc-1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(id, "abc-1");
    let (_, id, body) = call(
        TestBackend::configured(),
        get("/api/me")
            .header("cf-ray", "8f00ray-LHR")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(id, "8f00ray-LHR");
    assert_eq!(body["error"]["request_id"], "8f00ray-LHR");
    let (_, id, _) = call(TestBackend::configured(), get("/api/me").body(Body::empty()).unwrap()).await;
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
}

#[tokio::test]
async fn server_errors_hide_their_cause() {
    let request = get("/api/jobs")
        .header("cf-access-jwt-assertion", "good")
        .body(Body::empty())
        .unwrap();
    let (status, id, body) = call(TestBackend::configured(), request).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"]["code"], "internal_error");
    assert_eq!(body["error"]["message"], "internal error");
    assert_eq!(body["error"]["request_id"], id.as_str());
    assert!(!body.to_string().contains("secret_admin"));
}

#[tokio::test]
async fn axum_rejections_take_the_same_shape() {
    let request = Request::post("/api/me")
        .header("cf-access-jwt-assertion", "good")
        .body(Body::empty())
        .unwrap();
    let (status, id, body) = call(TestBackend::configured(), request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
    assert_eq!(body["error"]["request_id"], id.as_str());
}

#[tokio::test]
async fn an_unreachable_key_endpoint_is_503_not_401() {
    let backend = TestBackend {
        keys_down: true,
        ..TestBackend::configured()
    };
    let (status, _, body) = call(
        backend,
        get("/api/me")
            .header("cf-access-jwt-assertion", "good")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "access_keys_unavailable");
}

#[tokio::test]
async fn public_health_reports_degraded_without_detail() {
    let (status, _, body) = call(
        TestBackend::configured(),
        get("/api/health").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, serde_json::json!({ "status": "degraded" }));
}

async fn call_with_headers(backend: TestBackend, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app(Arc::new(backend)).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn the_access_cookie_authenticates_when_the_header_is_absent() {
    for cookie in ["CF_Authorization=good", "theme=dark; CF_Authorization=good; other=1"] {
        let (status, _, body) = call(
            TestBackend::configured(),
            get("/api/me").header("cookie", cookie).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{cookie}");
        assert_eq!(body["email"], "a@example.com");
    }
    // Two Cookie headers (HTTP/2 may split them): every one is read.
    let (status, _, _) = call(
        TestBackend::configured(),
        get("/api/me")
            .header("cookie", "theme=dark")
            .header("cookie", "CF_Authorization=good")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_cookie_is_validated_like_the_header_and_the_header_wins() {
    let (status, headers, body) = call_with_headers(
        TestBackend::configured(),
        get("/api/me")
            .header("host", "dash.example.com")
            .header("cookie", "CF_Authorization=forged")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_token");
    assert_eq!(
        headers["x-access-login-url"],
        "https://team.cloudflareaccess.com/cdn-cgi/access/login/dash.example.com?kid=aud"
    );
    assert_eq!(headers["www-authenticate"], "Cf-Access-Jwt-Assertion");
    // A bad header is not rescued by a good cookie.
    let (status, _, _) = call(
        TestBackend::configured(),
        get("/api/me")
            .header("cf-access-jwt-assertion", "forged")
            .header("cookie", "CF_Authorization=good")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Another cookie of a similar name is not the Access cookie.
    let (status, _, body) = call(
        TestBackend::configured(),
        get("/api/me")
            .header("cookie", "XCF_Authorization=good")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "missing_token");
    assert!(body["error"]["message"].as_str().unwrap().contains("CF_Authorization"));
}

#[tokio::test]
async fn cookie_authenticated_changes_must_come_from_the_same_site() {
    let post = |cookie: bool, extra: &[(&str, &str)]| {
        let mut request = Request::post("/api/jobs")
            .header("host", "127.0.0.1:8787")
            .header("content-type", "application/json");
        request = if cookie {
            request.header("cookie", "CF_Authorization=good")
        } else {
            request.header("cf-access-jwt-assertion", "good")
        };
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        request.body(Body::from("not json")).unwrap()
    };
    type Case<'a> = (bool, &'a [(&'a str, &'a str)], StatusCode);
    let cases: [Case; 7] = [
        (true, &[("sec-fetch-site", "cross-site")], StatusCode::FORBIDDEN),
        (true, &[("sec-fetch-site", "same-site")], StatusCode::FORBIDDEN),
        (true, &[("origin", "https://evil.example")], StatusCode::FORBIDDEN),
        // Past the check, the body is refused: that is the handler speaking.
        (true, &[("sec-fetch-site", "same-origin")], StatusCode::BAD_REQUEST),
        (true, &[("origin", "http://127.0.0.1:8787")], StatusCode::BAD_REQUEST),
        (true, &[], StatusCode::BAD_REQUEST),
        // The header is never sent by a browser on its own: no site check.
        (false, &[("sec-fetch-site", "cross-site")], StatusCode::BAD_REQUEST),
    ];
    for (cookie, extra, expected) in cases {
        let (status, _, body) = call(TestBackend::configured(), post(cookie, extra)).await;
        assert_eq!(status, expected, "cookie={cookie} {extra:?}: {body}");
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(body["error"]["code"], "cross_site_request");
        }
    }
}

#[tokio::test]
async fn the_openapi_document_is_served_behind_access() {
    let (status, _, _) = call(
        TestBackend::configured(),
        get("/api/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = call(
        TestBackend::configured(),
        get("/api/openapi.json")
            .header("cookie", "CF_Authorization=good")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["openapi"], "3.1.0");
    assert_eq!(
        body,
        serde_json::from_str::<Value>(&dashboard_api::openapi::document_json()).unwrap()
    );
}

/// Every documented operation is routed (refused for want of a token, not 404/405).
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let doc: Value = serde_json::from_str(&dashboard_api::openapi::document_json()).unwrap();
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        for method in item.as_object().unwrap().keys() {
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .body(Body::empty())
                .unwrap();
            let (status, _, _) = call(TestBackend::configured(), request).await;
            let expected = if path == "/api/health" {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(status, expected, "{method} {path}");
            seen += 1;
        }
    }
    assert!(seen >= 8, "{seen} operations documented");
}
