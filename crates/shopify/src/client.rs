//! Admin GraphQL requests with cost-based throttling and capped retries.
//!
//! Followed: <https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits>
//! (`extensions.cost.throttleStatus` with `currentlyAvailable` and `restoreRate`; a throttled
//! request answers 200 with an error whose `extensions.code` is `THROTTLED`) and
//! <https://shopify.dev/docs/api/usage/response-codes> (429 with `Retry-After`, 5xx).
//! Authentication: the `X-Shopify-Access-Token` header
//! (<https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens>).

use crate::body::Body;
use serde_json::{json, Value};
use std::future::Future;

/// What a transport returns: status, `Retry-After` seconds if sent, body bytes.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub retry_after_seconds: Option<f64>,
    pub body: Vec<u8>,
}

/// What a download (`GET`) returns: the status and the body, left where the runtime holds
/// it (see [`Body`]).
#[derive(Clone, Debug)]
pub struct Download {
    pub status: u16,
    pub body: Body,
}

/// The HTTP underneath (reqwest natively, the Workers fetch API in a Worker) and a way to
/// wait (tokio natively, a Workers timer in a Worker).
pub trait Transport {
    fn post_json(
        &self,
        url: &str,
        access_token: &str,
        body: String,
    ) -> impl Future<Output = Result<HttpResponse, String>>;
    /// `GET url`, with `Range: bytes=start-end` (inclusive) when given: how bulk results
    /// are downloaded in bounded pieces.
    fn get(&self, url: &str, range: Option<(u64, u64)>) -> impl Future<Output = Result<Download, String>>;
    fn sleep_ms(&self, ms: u64) -> impl Future<Output = ()>;
}

#[derive(Clone, Debug)]
pub struct ShopConfig {
    /// `https://<shop>.myshopify.com` (or the local stand-in's address).
    pub base_url: String,
    pub access_token: String,
    pub api_version: String,
}

impl ShopConfig {
    pub fn graphql_url(&self) -> String {
        format!(
            "{}/admin/api/{}/graphql.json",
            self.base_url.trim_end_matches('/'),
            self.api_version
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphQlError {
    pub message: String,
    pub code: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct UserError {
    #[serde(default)]
    pub field: Option<Vec<String>>,
    pub message: String,
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShopifyError {
    #[error("Shopify answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("could not reach Shopify: {0}")]
    Transport(String),
    #[error("GraphQL errors: {}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    GraphQl(Vec<GraphQlError>),
    #[error("user errors: {}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    UserErrors(Vec<UserError>),
    #[error("still throttled after {0} attempts")]
    Throttled(u32),
    #[error("unexpected response: {0}")]
    Decode(String),
}

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_ms: u64,
    pub cap_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_ms: 500,
            cap_ms: 30_000,
        }
    }
}

impl RetryPolicy {
    fn backoff_ms(&self, attempt: u32) -> u64 {
        self.base_ms.saturating_mul(1 << attempt.min(20)).min(self.cap_ms)
    }
}

/// How long to wait before a throttled request can afford its cost again.
pub fn throttle_wait_ms(extensions: &Value) -> u64 {
    let cost = &extensions["cost"];
    let requested = cost["requestedQueryCost"].as_f64().unwrap_or(0.0);
    let status = &cost["throttleStatus"];
    let available = status["currentlyAvailable"].as_f64().unwrap_or(0.0);
    let restore = status["restoreRate"].as_f64().filter(|r| *r > 0.0).unwrap_or(50.0);
    let seconds = ((requested - available).max(0.0) / restore).max(1.0);
    (seconds * 1000.0).ceil() as u64
}

pub struct AdminClient<T> {
    transport: T,
    config: ShopConfig,
    policy: RetryPolicy,
}

impl<T: Transport> AdminClient<T> {
    pub fn new(transport: T, config: ShopConfig, policy: RetryPolicy) -> Self {
        Self {
            transport,
            config,
            policy,
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Runs a document; returns `data`. Throttling waits by restore rate; 429, 5xx and
    /// network errors retry with capped backoff; GraphQL errors come back typed.
    pub async fn execute(&self, document: &str, variables: Value) -> Result<Value, ShopifyError> {
        let body = json!({ "query": document, "variables": variables }).to_string();
        let url = self.config.graphql_url();
        let mut throttled = 0;
        for attempt in 0..self.policy.max_attempts {
            let last = attempt + 1 == self.policy.max_attempts;
            let response = match self
                .transport
                .post_json(&url, &self.config.access_token, body.clone())
                .await
            {
                Ok(r) => r,
                Err(_) if !last => {
                    self.transport.sleep_ms(self.policy.backoff_ms(attempt)).await;
                    continue;
                }
                Err(e) => return Err(ShopifyError::Transport(e)),
            };
            let text = String::from_utf8_lossy(&response.body).into_owned();
            if response.status == 429 || response.status >= 500 {
                if last {
                    return Err(ShopifyError::Http {
                        status: response.status,
                        body: text,
                    });
                }
                let wait = match response.retry_after_seconds {
                    Some(s) if response.status == 429 => (s * 1000.0).ceil() as u64,
                    _ => self.policy.backoff_ms(attempt),
                };
                throttled += u32::from(response.status == 429);
                self.transport.sleep_ms(wait).await;
                continue;
            }
            if response.status != 200 {
                return Err(ShopifyError::Http {
                    status: response.status,
                    body: text,
                });
            }
            let value: Value = serde_json::from_str(&text).map_err(|e| ShopifyError::Decode(format!("{e}: {text}")))?;
            let errors: Vec<GraphQlError> = value["errors"]
                .as_array()
                .map(|errors| {
                    errors
                        .iter()
                        .map(|e| GraphQlError {
                            message: e["message"].as_str().unwrap_or("").to_owned(),
                            code: e["extensions"]["code"].as_str().map(str::to_owned),
                        })
                        .collect()
                })
                .unwrap_or_default();
            if errors.iter().any(|e| e.code.as_deref() == Some("THROTTLED")) {
                throttled += 1;
                if last {
                    return Err(ShopifyError::Throttled(throttled));
                }
                self.transport.sleep_ms(throttle_wait_ms(&value["extensions"])).await;
                continue;
            }
            if !errors.is_empty() {
                return Err(ShopifyError::GraphQl(errors));
            }
            return Ok(value["data"].clone());
        }
        Err(ShopifyError::Throttled(throttled))
    }

    /// Runs a mutation whose payload at `data.<field>` carries `userErrors`; any user error
    /// becomes [`ShopifyError::UserErrors`].
    pub async fn mutate(&self, document: &str, variables: Value, field: &str) -> Result<Value, ShopifyError> {
        let data = self.execute(document, variables).await?;
        let payload = data[field].clone();
        let user_errors: Vec<UserError> = serde_json::from_value(payload["userErrors"].clone()).unwrap_or_default();
        if !user_errors.is_empty() {
            return Err(ShopifyError::UserErrors(user_errors));
        }
        Ok(payload)
    }
}

impl<T: Transport> Transport for &T {
    fn post_json(
        &self,
        url: &str,
        access_token: &str,
        body: String,
    ) -> impl Future<Output = Result<HttpResponse, String>> {
        (**self).post_json(url, access_token, body)
    }
    fn get(&self, url: &str, range: Option<(u64, u64)>) -> impl Future<Output = Result<Download, String>> {
        (**self).get(url, range)
    }
    fn sleep_ms(&self, ms: u64) -> impl Future<Output = ()> {
        (**self).sleep_ms(ms)
    }
}
