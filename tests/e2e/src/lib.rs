//! Support for the end-to-end tests. `scripts/test` starts the stack (stand-ins and both
//! Workers under `wrangler dev`, on a fresh database) and passes its addresses:
//!
//! - `E2E_API_URL` — the dashboard Worker (first config of the one `wrangler dev`);
//! - `E2E_STANDINS_URL` — the local stand-ins (Access team domain);
//! - `E2E_STANDINS_STATE` — the stand-ins' state folder (the Access signing key);
//! - `E2E_DATABASE_URL` — the database the Workers reach through Hyperdrive.
//!
//! Without them the tests fail with a message saying how to run them; they never skip.

use serde_json::Value;
use standins::access::AccessStandin;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const AUD: &str = "local-dev-dashboard-aud";

pub struct Stack {
    pub api: String,
    pub standins: String,
    pub access: AccessStandin,
    pub database_url: String,
    pub http: reqwest::Client,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the end-to-end tests through scripts/test, which starts the Workers")
    })
}

pub fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let standins = env("E2E_STANDINS_URL");
        let key = std::path::Path::new(&env("E2E_STANDINS_STATE")).join("access-signing-key.pem");
        assert!(
            key.exists(),
            "{} is missing: the stand-ins did not start",
            key.display()
        );
        Stack {
            api: env("E2E_API_URL"),
            access: AccessStandin::load_or_create(&key, &standins, AUD).expect("load the Access stand-in key"),
            standins,
            database_url: env("E2E_DATABASE_URL"),
            // No pooled connections: each #[tokio::test] has its own runtime, and a pooled
            // connection dies with the runtime that opened it.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
        }
    })
}

impl Stack {
    pub fn user_token(&self) -> String {
        self.access
            .sign_claims(
                &self.access.user_claims("analyst@example.com", 3600),
                standins::access::KID,
            )
            .expect("sign")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    pub async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = self
            .http
            .get(self.url(path))
            .header("cf-access-jwt-assertion", self.user_token())
            .send()
            .await
            .expect("GET");
        read(response).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = self
            .http
            .post(self.url(path))
            .header("cf-access-jwt-assertion", self.user_token())
            .json(body)
            .send()
            .await
            .expect("POST");
        read(response).await
    }

    pub async fn db(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.database_url, tokio_postgres::NoTls)
            .await
            .expect("connect to the e2e database");
        tokio::spawn(connection);
        client
    }

    /// Polls `GET /api/jobs/{id}` until `done` holds for it, or fails after `limit`.
    pub async fn wait_for_execution(&self, id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let (status, _, body) = self.get(&format!("/api/jobs/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "execution {id} did not reach the expected state in {limit:?}: {body:#}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Polls until the execution has succeeded or failed.
    pub async fn wait_until_finished(&self, id: &str, limit: Duration) -> Value {
        self.wait_for_execution(id, limit, |b| matches!(status_of(b), "succeeded" | "failed"))
            .await
    }

    /// `POST` to a stand-in control endpoint; returns the JSON answer.
    pub async fn standin(&self, path: &str, body: &Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.standins))
            .json(body)
            .send()
            .await
            .expect("stand-in control request");
        let (status, _, value) = read(response).await;
        assert_eq!(status, 200, "{path}: {value}");
        value
    }

    /// Starts a job through the API and returns its execution id.
    pub async fn start_job(&self, job_type: &str, params: Value) -> String {
        let (status, headers, body) = self
            .post(
                "/api/jobs",
                &serde_json::json!({ "job_type": job_type, "params": params }),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        let id = body["execution_id"].as_str().expect("execution_id").to_owned();
        assert_eq!(headers["location"].to_str().unwrap_or(""), format!("/api/jobs/{id}"));
        id
    }
}

pub async fn read(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text}"));
    (status, headers, body)
}

pub fn status_of(body: &Value) -> &str {
    body["execution"]["status"].as_str().unwrap_or("")
}

/// Asserts the structured error shape and that its request id is the response header's.
pub fn assert_error(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
    want_status: u16,
    want_code: &str,
) {
    assert_eq!(status, want_status, "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], want_code, "{body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    let header_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id header");
    assert_eq!(error["request_id"], header_id, "{body}");
}
