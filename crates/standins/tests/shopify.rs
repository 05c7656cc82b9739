//! The Shopify stand-in over real HTTP: the router bound on 127.0.0.1:0, driven with
//! reqwest and with the `shopify` crate's own client, documents and JSONL reader.
#![allow(clippy::unwrap_used)] // test helpers: a panic is how a test reports failure

use serde_json::{json, Value};
use shopify::documents::{
    bulk_query, CANCEL_BULK_OPERATION, CATALOG_BULK_QUERY, ORDERS_BULK_QUERY, POLL_BULK_OPERATION, RUN_BULK_QUERY, SHOP,
};
use standins::shopify::export::{export, ExportKind, ExportOptions, SearchFilter};
use standins::shopify::generator::{Store, StoreSpec, Truth};
use standins::shopify::ShopifyStandin;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "shpat_standin_test";

struct Harness {
    base: String,
    http: reqwest::Client,
    standin: Arc<ShopifyStandin>,
    dir: PathBuf,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spec(orders: u64, seed: u64) -> StoreSpec {
    StoreSpec {
        seed,
        orders,
        ..Default::default()
    }
}

async fn start(spec: StoreSpec) -> Harness {
    let dir = std::env::temp_dir().join(format!("standins-shopify-{}", uuid::Uuid::new_v4().simple()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let standin = Arc::new(ShopifyStandin::new(&dir, &base, spec).unwrap());
    let app = standins::shopify::router(standin.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Harness {
        base,
        http: reqwest::Client::new(),
        standin,
        dir,
    }
}

impl Harness {
    fn graphql_url(&self) -> String {
        format!("{}/admin/api/2026-01/graphql.json", self.base)
    }

    /// Any GraphQL request: status, `Retry-After`, body.
    async fn graphql_raw(&self, document: &str, variables: Value) -> (u16, Option<String>, Value) {
        let response = self
            .http
            .post(self.graphql_url())
            .header("X-Shopify-Access-Token", TOKEN)
            .json(&json!({ "query": document, "variables": variables }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, retry_after, body)
    }

    /// A GraphQL request that must succeed: its `data`.
    async fn graphql(&self, document: &str, variables: Value) -> Value {
        let (status, _, body) = self.graphql_raw(document, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }

    async fn run(&self, template: &str, filter: &str) -> Value {
        self.graphql(RUN_BULK_QUERY, json!({ "query": bulk_query(template, filter) }))
            .await["bulkOperationRunQuery"]
            .clone()
    }

    /// Starts a bulk operation that must be accepted; its id.
    async fn run_ok(&self, template: &str, filter: &str) -> String {
        let payload = self.run(template, filter).await;
        assert_eq!(payload["userErrors"], json!([]), "{payload}");
        assert_eq!(payload["bulkOperation"]["status"], "CREATED");
        payload["bulkOperation"]["id"].as_str().unwrap().to_owned()
    }

    async fn poll(&self, id: &str) -> Value {
        self.graphql(POLL_BULK_OPERATION, json!({ "id": id })).await["node"].clone()
    }

    /// Polls until the operation ends; every earlier answer is `RUNNING`/`CREATED`/`CANCELING`.
    async fn finish(&self, id: &str) -> Value {
        // A generous deadline: exports run on a thread of an unoptimised build, beside the
        // other tests of this file.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            let node = self.poll(id).await;
            match node["status"].as_str().unwrap() {
                "RUNNING" | "CREATED" | "CANCELING" => tokio::time::sleep(Duration::from_millis(10)).await,
                _ => return node,
            }
        }
        panic!("bulk operation {id} did not finish within 60 s");
    }

    async fn export_file(&self, template: &str, filter: &str) -> (Value, Vec<u8>) {
        let id = self.run_ok(template, filter).await;
        let node = self.finish(&id).await;
        assert_eq!(node["status"], "COMPLETED", "{node}");
        let bytes = match node["url"].as_str() {
            Some(url) => self.get(url, None).await.2,
            None => Vec::new(),
        };
        (node, bytes)
    }

    async fn get(&self, url: &str, range: Option<&str>) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut request = self.http.get(url);
        if let Some(range) = range {
            request = request.header("Range", range);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    }

    async fn control(&self, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/_standin/shopify/{path}", self.base);
        let request = match body {
            Some(body) => self.http.post(url).json(&body),
            None => self.http.get(url),
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        response.json().await.unwrap()
    }

    async fn truth(&self) -> Truth {
        serde_json::from_value(self.control("truth", None).await).unwrap()
    }
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn kind(line: &Value) -> &str {
    let id = line["id"].as_str().unwrap();
    id.strip_prefix("gid://shopify/").unwrap().split('/').next().unwrap()
}

/// "24.00" → 2400, refusing anything but two decimals.
fn cents(amount: &Value) -> i64 {
    let text = amount.as_str().unwrap_or_else(|| panic!("money is a string: {amount}"));
    let (units, decimals) = text.split_once('.').unwrap();
    assert_eq!(decimals.len(), 2, "{text}");
    units.parse::<i64>().unwrap() * 100 + decimals.parse::<i64>().unwrap()
}

fn shop_money(set: &Value) -> i64 {
    cents(&set["shopMoney"]["amount"])
}

/// The truth recomputed from the files alone.
fn recompute(catalog: &[Value], orders: &[Value]) -> Truth {
    let mut t = Truth::default();
    let mut collections = HashSet::new();
    for line in catalog {
        match kind(line) {
            "Product" => t.products += 1,
            "ProductVariant" => t.variants += 1,
            "Collection" => {
                t.collection_memberships += 1;
                collections.insert(line["id"].as_str().unwrap().to_owned());
            }
            other => panic!("unexpected {other} in the catalog"),
        }
    }
    t.collections = collections.len() as u64;
    t.catalog_objects = catalog.len() as u64;
    for line in orders {
        match kind(line) {
            "Order" => {
                t.orders += 1;
                t.orders_cancelled += u64::from(!line["cancelledAt"].is_null());
                t.order_total_cents += shop_money(&line["currentTotalPriceSet"]);
                t.order_tax_cents += shop_money(&line["totalTaxSet"]);
                t.order_discount_cents += shop_money(&line["totalDiscountsSet"]);
                for refund in line["refunds"].as_array().unwrap() {
                    t.refunds += 1;
                    for edge in refund["refundLineItems"]["edges"].as_array().unwrap() {
                        t.refund_line_items += 1;
                        t.refund_quantity += edge["node"]["quantity"].as_u64().unwrap();
                        t.refund_subtotal_cents += shop_money(&edge["node"]["subtotalSet"]);
                    }
                }
            }
            "LineItem" => {
                t.line_items += 1;
                t.line_item_quantity += line["quantity"].as_u64().unwrap();
                for allocation in line["discountAllocations"].as_array().unwrap() {
                    t.discount_allocations += 1;
                    t.discount_allocated_cents += shop_money(&allocation["allocatedAmountSet"]);
                }
                for tax in line["taxLines"].as_array().unwrap() {
                    t.tax_lines += 1;
                    t.tax_cents += shop_money(&tax["priceSet"]);
                }
            }
            other => panic!("unexpected {other} in the orders"),
        }
    }
    t.orders_objects = orders.len() as u64;
    t
}

/// True when some child line comes before its parent's line.
fn a_child_precedes_its_parent(lines: &[Value]) -> bool {
    let mut seen = HashSet::new();
    for line in lines {
        if let Some(parent) = line["__parentId"].as_str() {
            if !seen.contains(parent) {
                return true;
            }
        }
        seen.insert(line["id"].as_str().unwrap().to_owned());
    }
    false
}

fn check_counts(node: &Value, bytes: &[u8], lines: &[Value]) {
    assert_eq!(node["objectCount"], json!(lines.len().to_string()));
    let roots = lines.iter().filter(|l| l.get("__parentId").is_none()).count();
    assert_eq!(node["rootObjectCount"], json!(roots.to_string()));
    assert_eq!(node["fileSize"], json!(bytes.len().to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_exports_hold_exactly_the_truth_in_shuffled_order() {
    let h = start(spec(500, 11)).await;
    let id = h.run_ok(CATALOG_BULK_QUERY, "").await;
    assert_eq!(h.poll(&id).await["status"], "RUNNING", "one RUNNING poll by default");
    let catalog_node = h.finish(&id).await;
    assert_eq!(catalog_node["status"], "COMPLETED");
    let catalog_bytes = h.get(catalog_node["url"].as_str().unwrap(), None).await.2;
    let (orders_node, orders_bytes) = h.export_file(ORDERS_BULK_QUERY, "").await;
    for node in [&catalog_node, &orders_node] {
        assert!(node["errorCode"].is_null() && node["partialDataUrl"].is_null());
        assert!(node["createdAt"].as_str().unwrap().ends_with('Z'));
        assert!(node["completedAt"].as_str().unwrap().ends_with('Z'));
    }
    let catalog = lines(&catalog_bytes);
    let orders = lines(&orders_bytes);
    check_counts(&catalog_node, &catalog_bytes, &catalog);
    check_counts(&orders_node, &orders_bytes, &orders);

    let truth = h.truth().await;
    assert_eq!(recompute(&catalog, &orders), truth);
    assert_eq!(truth.orders, 500);
    assert_eq!(truth.products, 200);
    assert!(truth.refunds > 0 && truth.orders_cancelled > 0 && truth.discount_allocations > 0);
    assert!(a_child_precedes_its_parent(&catalog), "groupObjects: false");
    assert!(a_child_precedes_its_parent(&orders), "groupObjects: false");

    // Shapes: no __typename; children point at parents that exist; refunds come after
    // their order and refund that order's line items within their quantities.
    let ids: HashSet<&str> = catalog
        .iter()
        .chain(&orders)
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    let mut line_quantity: HashMap<&str, (&str, u64)> = HashMap::new();
    for line in catalog.iter().chain(&orders) {
        assert!(line.get("__typename").is_none());
        if let Some(parent) = line["__parentId"].as_str() {
            assert!(ids.contains(parent), "{parent}");
        }
        if kind(line) == "LineItem" {
            let id = line["id"].as_str().unwrap();
            line_quantity.insert(
                id,
                (line["__parentId"].as_str().unwrap(), line["quantity"].as_u64().unwrap()),
            );
            if let Some(variant) = line["variant"]["id"].as_str() {
                assert!(ids.contains(variant), "{variant} is in the catalog");
                assert!(ids.contains(line["product"]["id"].as_str().unwrap()));
            }
            for tax in line["taxLines"].as_array().unwrap() {
                assert!(tax["rate"].is_f64() && tax["title"].is_string());
            }
        }
    }
    let mut refunded: HashMap<&str, u64> = HashMap::new();
    for order in orders.iter().filter(|l| kind(l) == "Order") {
        let order_id = order["id"].as_str().unwrap();
        let number: u64 = order["name"].as_str().unwrap().trim_start_matches('#').parse().unwrap();
        assert!((1001..=1500).contains(&number));
        let created = order["createdAt"].as_str().unwrap();
        assert!(created < order["updatedAt"].as_str().unwrap() || created == order["updatedAt"].as_str().unwrap());
        for refund in order["refunds"].as_array().unwrap() {
            assert!(
                refund["createdAt"].as_str().unwrap() > created,
                "a refund follows its order"
            );
            for edge in refund["refundLineItems"]["edges"].as_array().unwrap() {
                let line_id = edge["node"]["lineItem"]["id"].as_str().unwrap();
                let (parent, _) = line_quantity[line_id];
                assert_eq!(parent, order_id, "a refund refunds its own order's lines");
                *refunded.entry(line_id).or_default() += edge["node"]["quantity"].as_u64().unwrap();
            }
        }
    }
    for (line, quantity) in refunded {
        assert!(quantity <= line_quantity[line].1, "{line}");
    }

    // The client's own reader takes every line.
    let mut reader = shopify::jsonl::JsonlReader::starting_at(0, 0);
    let mut records = 0;
    for chunk in orders_bytes.chunks(7919) {
        records += reader.feed(chunk).unwrap().len();
    }
    records += reader.finish().unwrap().into_iter().count();
    assert_eq!(records, orders.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_bytes() {
    let a = start(spec(400, 5)).await;
    let b = start(spec(400, 5)).await;
    let c = start(spec(400, 6)).await;
    let (_, first) = a.export_file(ORDERS_BULK_QUERY, "").await;
    let (_, again) = a.export_file(ORDERS_BULK_QUERY, "").await;
    let (_, other_process) = b.export_file(ORDERS_BULK_QUERY, "").await;
    let (_, other_seed) = c.export_file(ORDERS_BULK_QUERY, "").await;
    assert_eq!(first, again);
    assert_eq!(first, other_process);
    assert_ne!(first, other_seed);
    let (_, catalog_a) = a.export_file(CATALOG_BULK_QUERY, "").await;
    let (_, catalog_b) = b.export_file(CATALOG_BULK_QUERY, "").await;
    assert_eq!(catalog_a, catalog_b);

    // The library writes the very same bytes.
    let store = Store::new(spec(400, 5)).unwrap();
    let mut library = Vec::new();
    export(
        &store,
        ExportKind::Orders,
        &SearchFilter::default(),
        &mut library,
        &ExportOptions::default(),
    )
    .unwrap();
    assert_eq!(library, first);
}

#[test]
fn the_generator_streams_50k_orders_matching_its_truth() {
    struct Counting(u64, u64);
    impl std::io::Write for Counting {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            self.1 += buf.iter().filter(|b| **b == b'\n').count() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let store = Store::new(spec(50_000, 3)).unwrap();
    let started = Instant::now();
    let mut sink = Counting(0, 0);
    let stats = export(
        &store,
        ExportKind::Orders,
        &SearchFilter::default(),
        &mut sink,
        &ExportOptions::default(),
    )
    .unwrap();
    let elapsed = started.elapsed();
    let truth = store.truth();
    assert_eq!(stats.root_object_count, 50_000);
    assert_eq!(stats.object_count, truth.orders_objects);
    assert_eq!(sink.1, truth.orders_objects);
    assert_eq!(sink.0, stats.bytes_written);
    println!(
        "50k orders: {} lines, {} MB in {elapsed:?} ({:.0} orders/s, unoptimised build)",
        sink.1,
        sink.0 / 1_000_000,
        50_000.0 / elapsed.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_urls_serve_ranges_and_expire() {
    let h = start(spec(300, 2)).await;
    let (node, whole) = h.export_file(ORDERS_BULK_QUERY, "").await;
    let url = node["url"].as_str().unwrap().to_owned();
    let total = whole.len();

    let (status, headers, body) = h.get(&url, None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(body.len(), total);

    let (status, headers, body) = h.get(&url, Some("bytes=100-199")).await;
    assert_eq!(status, 206);
    assert_eq!(headers["content-range"], format!("bytes 100-199/{total}").as_str());
    assert_eq!(body, whole[100..200]);

    let (status, headers, body) = h.get(&url, Some(&format!("bytes={}-", total - 10))).await;
    assert_eq!(status, 206);
    assert_eq!(
        headers["content-range"],
        format!("bytes {}-{}/{total}", total - 10, total - 1).as_str()
    );
    assert_eq!(body, whole[total - 10..]);

    let (status, _, body) = h.get(&url, Some("bytes=-5")).await;
    assert_eq!((status, body.as_slice()), (206, &whole[total - 5..]));

    let (status, headers, _) = h.get(&url, Some(&format!("bytes={total}-"))).await;
    assert_eq!(status, 416);
    assert_eq!(headers["content-range"], format!("bytes */{total}").as_str());

    // Pieces of 4 KiB put back together are the file.
    let mut rebuilt = Vec::new();
    let mut offset = 0;
    while offset < total {
        let last = (offset + 4095).min(total - 1);
        let (status, _, piece) = h.get(&url, Some(&format!("bytes={offset}-{last}"))).await;
        assert_eq!(status, 206);
        rebuilt.extend(piece);
        offset = last + 1;
    }
    assert_eq!(rebuilt, whole);

    // A tampered signature and an expired URL are refused as Cloud Storage refuses them.
    // The last character is changed to one it is not (appending "0" would be a no-op when
    // the signature already ends in "0").
    let last = if url.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{last}", &url[..url.len() - 1]);
    assert_ne!(tampered, url);
    let (status, _, body) = h.get(&tampered, None).await;
    assert_eq!(status, 403);
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("<Code>SignatureDoesNotMatch</Code>"));

    h.control("faults", Some(json!({ "expire_url": 1 }))).await;
    let id = h.run_ok(ORDERS_BULK_QUERY, "").await;
    let node = h.finish(&id).await;
    let (status, headers, body) = h.get(node["url"].as_str().unwrap(), None).await;
    assert_eq!(status, 403);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/xml"));
    let body = String::from_utf8(body).unwrap();
    assert!(body.contains("<Error><Code>ExpiredToken</Code>"), "{body}");
    let fresh = h.poll(&id).await;
    assert_eq!(fresh["status"], "COMPLETED");
    assert_ne!(fresh["url"], node["url"]);
    let (status, _, body) = h.get(fresh["url"].as_str().unwrap(), None).await;
    assert_eq!((status, body), (200, whole.clone()));
    let fired = h.control("requests", None).await;
    assert_eq!(fired["faults_fired"]["expire_url"], 1);
    assert_eq!(fired["download_403"], 2);
    assert_eq!(fired["download_416"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_faults_fire_exactly_as_often_as_armed() {
    let h = start(spec(50, 1)).await;
    let armed = h
        .control("faults", Some(json!({ "http_429": 2, "http_5xx": 2, "throttle": 2 })))
        .await;
    assert_eq!(armed["armed"]["http_429"], 2);
    let mut seen = Vec::new();
    for _ in 0..7 {
        let (status, retry_after, body) = h.graphql_raw(SHOP, json!({})).await;
        let code = body["errors"][0]["extensions"]["code"].as_str().map(str::to_owned);
        seen.push((status, retry_after, code));
    }
    let throttled = Some("THROTTLED".to_owned());
    assert_eq!(
        seen,
        vec![
            (429, Some("1".to_owned()), None),
            (429, Some("1".to_owned()), None),
            (502, None, None),
            (503, None, None),
            (200, None, throttled.clone()),
            (200, None, throttled),
            (200, None, None),
        ]
    );
    let counters = h.control("requests", None).await;
    assert_eq!(counters["graphql_429"], 2);
    assert_eq!(counters["graphql_5xx"], 2);
    assert_eq!(counters["graphql_throttled"], 2);
    assert_eq!(counters["faults_fired"]["throttle"], 2);
    let faults = h.control("faults", None).await;
    assert!(faults["armed"].as_object().unwrap().values().all(|v| v == 0));

    // The real client rides through one of each.
    h.control("faults", Some(json!({ "http_429": 1, "http_5xx": 1, "throttle": 1 })))
        .await;
    let client = shopify::client::AdminClient::new(
        shopify::native::ReqwestTransport::new(),
        shopify::client::ShopConfig {
            base_url: h.base.clone(),
            access_token: TOKEN.into(),
            api_version: shopify::ADMIN_API_VERSION.into(),
        },
        shopify::client::RetryPolicy {
            max_attempts: 6,
            base_ms: 10,
            cap_ms: 50,
        },
    );
    let data = client.execute(SHOP, json!({})).await.unwrap();
    assert_eq!(data["shop"]["myshopifyDomain"], "merch-standin.myshopify.com");
    let counters = h.control("requests", None).await;
    assert_eq!(counters["faults_fired"]["http_429"], 3);
    assert_eq!(counters["faults_fired"]["http_5xx"], 3);
    assert_eq!(counters["faults_fired"]["throttle"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_faults_fire_exactly_as_often_as_armed() {
    let h = start(spec(300, 4)).await;
    let (_, complete) = h.export_file(ORDERS_BULK_QUERY, "").await;

    h.control(
        "faults",
        Some(json!({ "bulk_failed": 1, "bulk_access_denied": 1, "bulk_timeout_partial": 1 })),
    )
    .await;
    let denied = h.finish(&h.run_ok(ORDERS_BULK_QUERY, "").await).await;
    assert_eq!(
        (&denied["status"], &denied["errorCode"]),
        (&json!("FAILED"), &json!("ACCESS_DENIED"))
    );
    let failed = h.finish(&h.run_ok(ORDERS_BULK_QUERY, "").await).await;
    assert_eq!(
        (&failed["status"], &failed["errorCode"]),
        (&json!("FAILED"), &json!("INTERNAL_SERVER_ERROR"))
    );
    assert!(failed["partialDataUrl"].is_null() && failed["url"].is_null());
    let timeout = h.finish(&h.run_ok(ORDERS_BULK_QUERY, "").await).await;
    assert_eq!(
        (&timeout["status"], &timeout["errorCode"]),
        (&json!("FAILED"), &json!("TIMEOUT"))
    );
    assert!(timeout["url"].is_null());
    let partial = h.get(timeout["partialDataUrl"].as_str().unwrap(), None).await.2;
    let partial_lines = lines(&partial).len();
    let all_lines = lines(&complete).len();
    assert_eq!(partial_lines, all_lines / 2);
    assert_eq!(timeout["objectCount"], json!(partial_lines.to_string()));
    assert_eq!(
        partial,
        complete[..partial.len()],
        "partial data is the file's beginning"
    );
    let after = h.finish(&h.run_ok(ORDERS_BULK_QUERY, "").await).await;
    assert_eq!(after["status"], "COMPLETED", "each fired once");

    h.control("faults", Some(json!({ "drop_line": 1 }))).await;
    let (node, dropped) = h.export_file(ORDERS_BULK_QUERY, "").await;
    let dropped_lines = lines(&dropped);
    assert_eq!(node["objectCount"], json!(all_lines.to_string()), "still counted");
    assert_eq!(dropped_lines.len(), all_lines - 1);
    let kept: HashSet<String> = dropped_lines.iter().map(|l| l["id"].to_string()).collect();
    let missing: Vec<Value> = lines(&complete)
        .into_iter()
        .filter(|l| !kept.contains(&l["id"].to_string()))
        .collect();
    assert_eq!(missing.len(), 1);
    assert!(
        missing[0].get("__parentId").is_some(),
        "a child line is the one left out"
    );
    let (_, again) = h.export_file(ORDERS_BULK_QUERY, "").await;
    assert_eq!(again, complete);

    h.control(
        "faults",
        Some(json!({ "operation_in_progress": 1, "limit_reached": 1 })),
    )
    .await;
    let first = h.run(ORDERS_BULK_QUERY, "").await;
    assert_eq!(first["userErrors"][0]["code"], "OPERATION_IN_PROGRESS");
    assert!(first["bulkOperation"].is_null());
    let second = h.run(ORDERS_BULK_QUERY, "").await;
    assert_eq!(second["userErrors"][0]["code"], "LIMIT_REACHED");
    h.run_ok(ORDERS_BULK_QUERY, "").await;

    let node = h.finish(&h.run_ok(ORDERS_BULK_QUERY, "").await).await;
    let url = node["url"].as_str().unwrap();
    h.control("faults", Some(json!({ "download_5xx": 2 }))).await;
    assert_eq!(h.get(url, Some("bytes=0-99")).await.0, 503);
    assert_eq!(h.get(url, Some("bytes=0-99")).await.0, 503);
    assert_eq!(h.get(url, Some("bytes=0-99")).await.0, 206);

    let counters = h.control("requests", None).await;
    for fault in [
        "bulk_failed",
        "bulk_access_denied",
        "bulk_timeout_partial",
        "drop_line",
        "operation_in_progress",
        "limit_reached",
    ] {
        assert_eq!(counters["faults_fired"][fault], 1, "{fault}");
    }
    assert_eq!(counters["faults_fired"]["download_5xx"], 2);
    assert_eq!(counters["download_5xx"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixth_concurrent_operation_reaches_the_limit() {
    let h = start(spec(100, 1)).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(h.run_ok(ORDERS_BULK_QUERY, "").await);
    }
    let sixth = h.run(CATALOG_BULK_QUERY, "").await;
    assert!(sixth["bulkOperation"].is_null());
    assert_eq!(sixth["userErrors"][0]["code"], "LIMIT_REACHED");
    assert!(sixth["userErrors"][0]["field"].is_null());
    assert_eq!(h.control("requests", None).await["bulk_operations_running"], 5);
    h.finish(&ids[0]).await;
    h.run_ok(CATALOG_BULK_QUERY, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cost_bucket_drains_and_restores() {
    let h = start(spec(50, 1)).await;
    let answer = h.graphql_raw(SHOP, json!({})).await.2;
    let cost = &answer["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 1);
    assert_eq!(cost["throttleStatus"]["maximumAvailable"], 2000.0);
    assert_eq!(cost["throttleStatus"]["restoreRate"], 100.0);
    let run = h
        .graphql_raw(RUN_BULK_QUERY, json!({ "query": bulk_query(ORDERS_BULK_QUERY, "") }))
        .await
        .2;
    assert_eq!(run["extensions"]["cost"]["requestedQueryCost"], 10);
    assert_eq!(run["extensions"]["cost"]["actualQueryCost"], 10);

    h.control(
        "settings",
        Some(json!({ "maximum_available": 30.0, "restore_rate": 10.0 })),
    )
    .await;
    let mut answers = 0;
    let throttled = loop {
        let (status, _, body) = h.graphql_raw(SHOP, json!({})).await;
        assert_eq!(status, 200);
        answers += 1;
        assert!(answers < 200, "never throttled");
        if body.get("errors").is_some() {
            break body;
        }
    };
    assert!(answers >= 30, "a full bucket pays 30 queries first ({answers})");
    assert_eq!(throttled["errors"][0]["message"], "Throttled");
    assert_eq!(throttled["errors"][0]["extensions"]["code"], "THROTTLED");
    assert_eq!(
        throttled["errors"][0]["extensions"]["documentation"],
        "https://shopify.dev/api/usage/limits"
    );
    let status = &throttled["extensions"]["cost"];
    assert!(status["actualQueryCost"].is_null());
    assert!(status["throttleStatus"]["currentlyAvailable"].as_f64().unwrap() < 1.0);
    assert_eq!(status["throttleStatus"]["maximumAvailable"], 30.0);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let restored = h.graphql_raw(SHOP, json!({})).await.2;
    assert!(restored.get("errors").is_none(), "{restored}");
    let available = restored["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
        .as_f64()
        .unwrap();
    assert!((9.0..=30.0).contains(&available), "{available}");
    assert!(h.control("requests", None).await["graphql_throttled"].as_u64().unwrap() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_change_the_truth_and_filters_select_only_changed_orders() {
    let h = start(spec(500, 8)).await;
    let (_, before_bytes) = h.export_file(ORDERS_BULK_QUERY, "").await;
    let before_lines = lines(&before_bytes);
    let before = h.truth().await;

    let mutated = h
        .control(
            "mutate",
            Some(json!({ "orders": 5, "cancel": 3, "refund": 4, "delete_orders": 2, "delete_products": 1, "seed": 7 })),
        )
        .await;
    let changed: HashSet<String> = mutated["changed_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(changed.len(), 12);
    let deleted: HashSet<&str> = mutated["deleted_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(deleted.len(), 2);
    let deleted_product = mutated["deleted_products"][0].as_str().unwrap().to_owned();
    let after = h.truth().await;
    assert_eq!(serde_json::to_value(&after).unwrap(), mutated["truth"]);

    // What the deleted orders held, read from the export made before.
    let gone = recompute(
        &[],
        &before_lines
            .iter()
            .filter(|l| {
                deleted.contains(l["id"].as_str().unwrap())
                    || l["__parentId"].as_str().is_some_and(|p| deleted.contains(p))
            })
            .cloned()
            .collect::<Vec<_>>(),
    );
    assert_eq!(after.orders, before.orders - 2);
    assert_eq!(
        after.orders_cancelled,
        before.orders_cancelled + 3 - gone.orders_cancelled
    );
    assert_eq!(after.refunds, before.refunds + 4 - gone.refunds);
    assert_eq!(after.refund_quantity, before.refund_quantity + 4 - gone.refund_quantity);
    assert_eq!(
        after.line_item_quantity,
        before.line_item_quantity + 5 - gone.line_item_quantity,
        "an edit adds one unit"
    );
    assert_eq!(after.products, before.products - 1);

    // Full exports after the mutation hold exactly the new truth.
    let (_, catalog_bytes) = h.export_file(CATALOG_BULK_QUERY, "").await;
    let (_, orders_bytes) = h.export_file(ORDERS_BULK_QUERY, "").await;
    let catalog = lines(&catalog_bytes);
    let orders = lines(&orders_bytes);
    assert_eq!(recompute(&catalog, &orders), after);
    assert!(!catalog.iter().any(|l| l["id"] == deleted_product.as_str()));
    assert!(!orders.iter().any(|l| deleted.contains(l["id"].as_str().unwrap())));
    let product_refs = orders
        .iter()
        .filter(|l| l["product"]["id"] == deleted_product.as_str())
        .count();
    assert_eq!(product_refs, 0, "lines of a deleted product name no product");

    // A watermark in real time selects exactly the changed orders and their line items.
    let stamp = mutated["updated_at"].as_str().unwrap();
    let watermark = chrono::DateTime::parse_from_rfc3339(stamp).unwrap() - chrono::Duration::seconds(1);
    let watermark = watermark.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for filter in [format!("updated_at:>'{watermark}'"), format!("updated_at:>='{stamp}'")] {
        let (node, bytes) = h.export_file(ORDERS_BULK_QUERY, &filter).await;
        let selected = lines(&bytes);
        let roots: HashSet<String> = selected
            .iter()
            .filter(|l| kind(l) == "Order")
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(roots, changed, "{filter}");
        assert_eq!(node["rootObjectCount"], json!("12"));
        for line in &selected {
            match kind(line) {
                "Order" => assert_eq!(line["updatedAt"], stamp),
                _ => assert!(changed.contains(line["__parentId"].as_str().unwrap())),
            }
        }
        let line_items = orders
            .iter()
            .filter(|l| l["__parentId"].as_str().is_some_and(|p| changed.contains(p)))
            .count();
        assert_eq!(selected.len(), 12 + line_items, "line items come along");
    }
    // No product changed after the watermark: an empty, completed export with no URL.
    let (node, bytes) = h
        .export_file(CATALOG_BULK_QUERY, &format!("updated_at:>'{watermark}'"))
        .await;
    assert_eq!(
        (node["objectCount"].clone(), node["url"].clone(), bytes.len()),
        (json!("0"), Value::Null, 0)
    );

    // A reset gives a fresh store and answers its truth.
    let reset = h
        .control("store", Some(json!({ "seed": 9, "orders": 120, "products": 40 })))
        .await;
    let truth = h.truth().await;
    assert_eq!(serde_json::to_value(&truth).unwrap(), reset);
    assert_eq!((truth.orders, truth.products), (120, 40));
    assert_eq!(
        truth,
        Store::new(StoreSpec {
            seed: 9,
            orders: 120,
            products: 40,
            ..Default::default()
        })
        .unwrap()
        .truth()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_goes_through_canceling_to_canceled() {
    let h = start(spec(200, 1)).await;
    let id = h.run_ok(ORDERS_BULK_QUERY, "").await;
    let cancel = h.graphql(CANCEL_BULK_OPERATION, json!({ "id": id })).await;
    assert_eq!(cancel["bulkOperationCancel"]["bulkOperation"]["status"], "CANCELING");
    assert_eq!(cancel["bulkOperationCancel"]["userErrors"], json!([]));
    let node = h.finish(&id).await;
    assert_eq!(node["status"], "CANCELED");
    assert!(node["url"].is_null());
    let again = h.graphql(CANCEL_BULK_OPERATION, json!({ "id": id })).await;
    assert_eq!(
        again["bulkOperationCancel"]["userErrors"][0]["message"],
        "A bulk operation cannot be canceled when it is canceled"
    );
    let unknown = h
        .graphql(
            CANCEL_BULK_OPERATION,
            json!({ "id": "gid://shopify/BulkOperation/999" }),
        )
        .await;
    assert_eq!(unknown["bulkOperationCancel"]["userErrors"][0]["field"], json!(["id"]));
    assert_eq!(h.poll("gid://shopify/BulkOperation/999").await, Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_versions_and_the_shop() {
    let h = start(spec(10, 1)).await;
    let response = h
        .http
        .post(h.graphql_url())
        .json(&json!({ "query": SHOP }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)" })
    );
    let response = h
        .http
        .post(format!("{}/admin/api/2025-01/graphql.json", h.base))
        .header("X-Shopify-Access-Token", TOKEN)
        .json(&json!({ "query": SHOP }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let shop = h.graphql(SHOP, json!({})).await;
    assert_eq!(
        shop,
        json!({
            "shop": {
                "id": "gid://shopify/Shop/1", "name": "Merch Stand-in", "myshopifyDomain": "merch-standin.myshopify.com",
                "ianaTimezone": "America/New_York", "currencyCode": "USD",
            },
            "currentAppInstallation": { "accessScopes": [
                { "handle": "read_products" }, { "handle": "read_orders" },
                { "handle": "read_all_orders" }, { "handle": "read_customers" },
            ] },
        })
    );
    let (status, _, body) = h
        .graphql_raw("{ customers(first: 1) { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(status, 200);
    assert!(body["errors"].is_array());
    let invalid = h.run("{ customers { edges { node { id } } } }", "").await;
    assert_eq!(invalid["userErrors"][0]["code"], "INVALID");
    assert_eq!(h.standin.counter("graphql_unauthorized"), 1);

    // Control bodies are checked: a misspelt field or a future history is refused.
    for body in [
        json!({ "shufle": false }),
        json!({ "start": "2999-01-01" }),
        json!({ "timezone": "Mars/Olympus_Mons" }),
    ] {
        let response = h
            .http
            .post(format!("{}/_standin/shopify/store", h.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{body}");
        let error = response.json::<Value>().await.unwrap();
        assert_eq!(error["error"]["code"], "bad_request");
    }
    let response = h
        .http
        .post(format!("{}/_standin/shopify/faults", h.base))
        .json(&json!({ "meteor_strike": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_crate_runs_a_whole_export_against_the_stand_in() {
    use shopify::client::{AdminClient, RetryPolicy, ShopConfig, Transport};
    let h = start(spec(300, 12)).await;
    let client = AdminClient::new(
        shopify::native::ReqwestTransport::new(),
        ShopConfig {
            base_url: h.base.clone(),
            access_token: TOKEN.into(),
            api_version: shopify::ADMIN_API_VERSION.into(),
        },
        RetryPolicy::default(),
    );
    let payload = client
        .mutate(
            RUN_BULK_QUERY,
            json!({ "query": bulk_query(ORDERS_BULK_QUERY, "") }),
            "bulkOperationRunQuery",
        )
        .await
        .unwrap();
    let id = payload["bulkOperation"]["id"].as_str().unwrap().to_owned();
    let operation = loop {
        let data = client.execute(POLL_BULK_OPERATION, json!({ "id": id })).await.unwrap();
        let operation: shopify::bulk::BulkOperation = serde_json::from_value(data["node"].clone()).unwrap();
        match shopify::bulk::next_step(&operation) {
            shopify::bulk::BulkNext::PollAgain => tokio::time::sleep(Duration::from_millis(10)).await,
            _ => break operation,
        }
    };
    let url = operation.url.clone().unwrap();
    let size = operation.file_size.unwrap();
    let mut reader = shopify::jsonl::JsonlReader::starting_at(0, 0);
    let mut records = Vec::new();
    let mut offset = 0;
    while offset < size {
        let last = (offset + 64 * 1024 - 1).min(size - 1);
        let response = client.transport().get(&url, Some((offset, last))).await.unwrap();
        assert_eq!(response.status, 206);
        records.extend(reader.feed(&response.body.to_vec()).unwrap());
        offset = last + 1;
    }
    records.extend(reader.finish().unwrap());
    assert_eq!(records.len() as u64, operation.object_count.unwrap());
    let roots = records.iter().filter(|r| r.parent_id.is_none()).count() as u64;
    assert_eq!(roots, operation.root_object_count.unwrap());
    assert_eq!(h.truth().await.orders_objects, records.len() as u64);
}

/// `cargo test -p standins --test shopify -- --ignored --nocapture` (about 1.6 GB on disk,
/// removed afterwards; faster with `--release`).
#[test]
#[ignore = "writes a 1.6 GB file"]
fn a_million_orders_stream_to_a_file() {
    use std::io::{BufRead, BufReader, BufWriter};
    let dir = std::env::temp_dir().join(format!("standins-million-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("orders.jsonl");
    let store = Store::new(spec(1_000_000, 1)).unwrap();
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
    let stats = export(
        &store,
        ExportKind::Orders,
        &SearchFilter::default(),
        &mut out,
        &ExportOptions::default(),
    )
    .unwrap();
    drop(out);
    let written = started.elapsed();
    let truth = store.truth();
    let size = std::fs::metadata(&path).unwrap().len();
    let lines = BufReader::new(std::fs::File::open(&path).unwrap()).split(b'\n').count() as u64;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(stats.root_object_count, 1_000_000);
    assert_eq!(stats.object_count, truth.orders_objects);
    assert_eq!((lines, size), (truth.orders_objects, stats.bytes_written));
    println!(
        "1M orders: {lines} lines, {} MB in {written:?} ({:.0} orders/s)",
        size / 1_000_000,
        1e6 / written.as_secs_f64()
    );
}
