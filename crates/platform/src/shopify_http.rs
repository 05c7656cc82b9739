//! The Shopify client's transport inside a Worker: the Workers fetch API, and a Workers
//! timer for throttle waits.

use shopify::body::Body;
use shopify::client::{Download, HttpResponse, Transport};
use std::time::Duration;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit};

pub struct FetchTransport;

async fn fetch(url: &str, init: &RequestInit) -> Result<worker::Response, String> {
    let request = Request::new_with_init(url, init).map_err(|e| e.to_string())?;
    Fetch::Request(request).send().await.map_err(|e| e.to_string())
}

async fn send(url: &str, init: &RequestInit) -> Result<HttpResponse, String> {
    let mut response = fetch(url, init).await?;
    let retry_after_seconds = response
        .headers()
        .get("Retry-After")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<f64>().ok());
    Ok(HttpResponse {
        status: response.status_code(),
        retry_after_seconds,
        body: response.bytes().await.map_err(|e| e.to_string())?,
    })
}

impl Transport for FetchTransport {
    async fn post_json(&self, url: &str, access_token: &str, body: String) -> Result<HttpResponse, String> {
        let headers = Headers::new();
        headers
            .set("Content-Type", "application/json")
            .map_err(|e| e.to_string())?;
        headers
            .set("X-Shopify-Access-Token", access_token)
            .map_err(|e| e.to_string())?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(JsValue::from_str(&body)));
        send(url, &init).await
    }

    /// The body is read as an `ArrayBuffer` and stays in JavaScript memory (see
    /// [`shopify::body`]): a part is 8 MiB, and only slices of it enter wasm memory.
    async fn get(&self, url: &str, range: Option<(u64, u64)>) -> Result<Download, String> {
        let headers = Headers::new();
        if let Some((start, end)) = range {
            headers
                .set("Range", &format!("bytes={start}-{end}"))
                .map_err(|e| e.to_string())?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Get).with_headers(headers);
        let response: worker::web_sys::Response = fetch(url, &init).await?.into();
        let status = response.status();
        let promise = response.array_buffer().map_err(|e| format!("{e:?}"))?;
        let buffer = JsFuture::from(promise).await.map_err(|e| format!("{e:?}"))?;
        Ok(Download {
            status,
            body: Body::from_uint8_array(js_sys::Uint8Array::new(&buffer)),
        })
    }

    async fn sleep_ms(&self, ms: u64) {
        Delay::from(Duration::from_millis(ms)).await;
    }
}
