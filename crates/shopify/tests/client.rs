//! The client against a scripted transport (Shopify cannot be reached from here): each
//! answer follows the documented shapes; waits are recorded, not slept.
#![allow(clippy::unwrap_used)] // test helpers: a panic is how a test reports failure

use serde_json::{json, Value};
use shopify::client::{AdminClient, Download, HttpResponse, RetryPolicy, ShopConfig, ShopifyError, Transport};
use std::cell::RefCell;
use std::collections::VecDeque;

#[derive(Default)]
struct Scripted {
    answers: RefCell<VecDeque<Result<HttpResponse, String>>>,
    requests: RefCell<Vec<(String, String, Value)>>,
    sleeps: RefCell<Vec<u64>>,
}

impl Transport for Scripted {
    async fn post_json(&self, url: &str, token: &str, body: String) -> Result<HttpResponse, String> {
        self.requests
            .borrow_mut()
            .push((url.to_owned(), token.to_owned(), serde_json::from_str(&body).unwrap()));
        self.answers.borrow_mut().pop_front().expect("an answer is scripted")
    }
    async fn get(&self, _url: &str, _range: Option<(u64, u64)>) -> Result<Download, String> {
        Err("downloads are not scripted here".into())
    }
    async fn sleep_ms(&self, ms: u64) {
        self.sleeps.borrow_mut().push(ms);
    }
}

fn ok(status: u16, body: Value) -> Result<HttpResponse, String> {
    Ok(HttpResponse {
        status,
        retry_after_seconds: None,
        body: body.to_string().into_bytes(),
    })
}

fn client(answers: Vec<Result<HttpResponse, String>>) -> AdminClient<Scripted> {
    let transport = Scripted {
        answers: RefCell::new(answers.into()),
        ..Default::default()
    };
    let config = ShopConfig {
        base_url: "https://merch.myshopify.com/".into(),
        access_token: "shpat_test".into(),
        api_version: shopify::ADMIN_API_VERSION.into(),
    };
    AdminClient::new(transport, config, RetryPolicy::default())
}

fn throttled() -> Value {
    json!({
        "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/limits" } }],
        "extensions": { "cost": { "requestedQueryCost": 502, "actualQueryCost": null,
            "throttleStatus": { "maximumAvailable": 2000.0, "currentlyAvailable": 2, "restoreRate": 100.0 } } }
    })
}

#[tokio::test]
async fn a_throttled_answer_waits_by_restore_rate_then_retries() {
    let c = client(vec![
        ok(200, throttled()),
        ok(200, json!({ "data": { "shop": { "id": "gid://shopify/Shop/1" } } })),
    ]);
    let data = c.execute(shopify::documents::SHOP, json!({})).await.unwrap();
    assert_eq!(data["shop"]["id"], "gid://shopify/Shop/1");
    assert_eq!(
        *c.transport().sleeps.borrow(),
        vec![5000],
        "(502 - 2) / 100 per second = 5 s"
    );
    let requests = c.transport().requests.borrow();
    assert_eq!(
        requests[0].0,
        "https://merch.myshopify.com/admin/api/2026-01/graphql.json"
    );
    assert_eq!(requests[0].1, "shpat_test");
    assert_eq!(requests.len(), 2);
}

#[tokio::test]
async fn http_429_honours_retry_after_and_5xx_backs_off() {
    let too_many = Ok(HttpResponse {
        status: 429,
        retry_after_seconds: Some(2.0),
        body: b"Too Many Requests".to_vec(),
    });
    let c = client(vec![
        too_many,
        ok(503, json!({})),
        Err("connection reset".into()),
        ok(200, json!({ "data": { "ok": true } })),
    ]);
    assert_eq!(c.execute("query { shop { id } }", json!({})).await.unwrap()["ok"], true);
    assert_eq!(*c.transport().sleeps.borrow(), vec![2000, 1000, 2000]);
}

#[tokio::test]
async fn retries_are_capped() {
    let c = client((0..6).map(|_| ok(502, json!({}))).collect());
    let err = c.execute("query { shop { id } }", json!({})).await.unwrap_err();
    assert_eq!(
        err,
        ShopifyError::Http {
            status: 502,
            body: "{}".into()
        }
    );
    assert_eq!(c.transport().requests.borrow().len(), 6);
}

#[tokio::test]
async fn graphql_and_user_errors_are_typed() {
    let c = client(vec![ok(
        200,
        json!({ "errors": [{ "message": "Field 'nope' doesn't exist", "extensions": { "code": "undefinedField" } }] }),
    )]);
    match c.execute("query { nope }", json!({})).await.unwrap_err() {
        ShopifyError::GraphQl(errors) => assert_eq!(errors[0].code.as_deref(), Some("undefinedField")),
        other => panic!("{other:?}"),
    }
    let c = client(vec![ok(
        200,
        json!({ "data": { "bulkOperationRunQuery": { "bulkOperation": null, "userErrors": [
            { "field": null, "message": "A bulk query operation for this app and shop is already in progress", "code": "OPERATION_IN_PROGRESS" }
        ] } } }),
    )]);
    let err = c
        .mutate(
            shopify::documents::RUN_BULK_QUERY,
            json!({ "query": "{ shop { id } }" }),
            "bulkOperationRunQuery",
        )
        .await
        .unwrap_err();
    match err {
        ShopifyError::UserErrors(errors) => assert_eq!(errors[0].code.as_deref(), Some("OPERATION_IN_PROGRESS")),
        other => panic!("{other:?}"),
    }
}
