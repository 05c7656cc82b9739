//! The native transport (reqwest and tokio): used by the benchmark and native tests. The
//! Worker uses the Workers fetch API instead (`platform::shopify_http`).

use crate::client::{Download, HttpResponse, Transport};
use reqwest::header::{HeaderValue, CONTENT_TYPE, RANGE, RETRY_AFTER};

#[derive(Clone, Default)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    pub fn new() -> Self {
        Self::default()
    }
}

async fn collect(response: reqwest::Response) -> Result<HttpResponse, String> {
    let status = response.status().as_u16();
    let retry_after_seconds = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let body = response.bytes().await.map_err(|e| e.to_string())?.to_vec();
    Ok(HttpResponse {
        status,
        retry_after_seconds,
        body,
    })
}

impl Transport for ReqwestTransport {
    async fn post_json(&self, url: &str, access_token: &str, body: String) -> Result<HttpResponse, String> {
        let response = self
            .client
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("X-Shopify-Access-Token", access_token)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        collect(response).await
    }

    async fn get(&self, url: &str, range: Option<(u64, u64)>) -> Result<Download, String> {
        let mut request = self.client.get(url);
        if let Some((start, end)) = range {
            request = request.header(RANGE, format!("bytes={start}-{end}"));
        }
        let response = collect(request.send().await.map_err(|e| e.to_string())?).await?;
        Ok(Download {
            status: response.status,
            body: response.body.into(),
        })
    }

    async fn sleep_ms(&self, ms: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}
