//! The Shopify bulk sync end to end: the wasm ingest Worker under `wrangler dev` against
//! the Shopify stand-in, checked against the stand-in's own ground truth.
//!
//! The tests share the stand-in's one store, so they take turns (`TURN`).
#![allow(clippy::unwrap_used)]

use e2e::{stack, status_of, Stack};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

const SYNC: &str = "PROCEDURE_EXECUTION_INITIATE";
const LIMIT: Duration = Duration::from_secs(180);
/// ~2 download parts of 5 MiB for the orders export, so mid-download faults have room.
const ORDERS: u64 = 4000;

static TURN: Mutex<()> = Mutex::const_new(());

async fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().await
}

/// A new store in the stand-in and a new shop in Postgres (the stand-in reuses its GIDs
/// across stores, which no real shop does).
async fn reset_store(s: &Stack, seed: u64) -> Value {
    empty_store_tables(s).await;
    s.standin(
        "/_standin/shopify/store",
        &json!({ "seed": seed, "orders": ORDERS, "products": 120, "months": 18, "shuffle": true }),
    )
    .await
}

/// Postgres without any synced data, so the next sync proves it lands everything itself.
async fn empty_store_tables(s: &Stack) {
    s.db()
        .await
        .batch_execute(&format!("TRUNCATE {} CASCADE", domain::store::STORE_TABLES))
        .await
        .unwrap();
}

async fn arm(s: &Stack, faults: Value) {
    s.standin("/_standin/shopify/faults", &faults).await;
}

async fn armed(s: &Stack) -> Value {
    let response = s
        .http
        .get(format!("{}/_standin/shopify/faults", s.standins))
        .send()
        .await
        .unwrap();
    e2e::read(response).await.2
}

/// Result-file downloads the stand-in has served so far.
async fn downloads(s: &Stack) -> u64 {
    let response = s
        .http
        .get(format!("{}/_standin/shopify/requests", s.standins))
        .send()
        .await
        .unwrap();
    e2e::read(response).await.2["downloads"].as_u64().unwrap()
}

async fn run_sync(s: &Stack, params: Value) -> Value {
    let id = s.start_job(SYNC, params).await;
    s.wait_until_finished(&id, LIMIT).await
}

fn assert_succeeded(body: &Value) {
    assert_eq!(status_of(body), "succeeded", "{body:#}");
}

fn step<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {body:#}"))
}

/// Postgres counts and sums per table equal the stand-in's ground truth, key by key.
async fn assert_matches_truth(s: &Stack, truth: &Value) {
    let db = s.db().await;
    let shop = domain::store::primary_shop(&db).await.unwrap().expect("a synced shop");
    let totals = domain::store::totals(&db, shop.id).await.unwrap();
    let mut compared = 0;
    for (key, ours) in &totals {
        if let Some(expected) = truth.get(key).and_then(Value::as_i64) {
            assert_eq!(
                *ours, expected,
                "{key}: Postgres has {ours}, the store has {expected}\n{totals:#?}\n{truth:#}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 15, "the truth named too few of our totals: {truth:#}");
}

#[tokio::test]
async fn the_daily_cron_lands_the_store_then_a_second_full_sync_changes_nothing_then_incremental_picks_up_changes() {
    let _turn = turn().await;
    let s = stack();
    let truth = reset_store(s, 101).await;

    // The daily cron starts the sync.
    let response = s.http.get(s.url("/__scheduled?cron=0+6+*+*+*")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let db = s.db().await;
    let rows = db
        .query(
            "SELECT id::text FROM procedure_execution WHERE job_type = $1 AND trigger = 'cron' ORDER BY created_at DESC LIMIT 1",
            &[&SYNC],
        )
        .await
        .unwrap();
    let id: String = rows[0].get(0);
    let first = s.wait_until_finished(&id, LIMIT).await;
    assert_succeeded(&first);
    assert_matches_truth(s, &truth_of(&truth)).await;
    let reconcile = &step(&first, "reconcile")["counters"];
    assert_eq!(
        reconcile["orders"]["lines"].as_i64(),
        truth_i64(&truth, "orders_objects"),
        "{reconcile:#}"
    );
    let archive = &step(&first, "archive")["counters"];
    assert_eq!(archive["objects"], 2, "both exports archived: {archive:#}");
    let download = &step(&first, "download_parse_upsert")["counters"];
    assert_eq!(download["bytes_read"], download["bytes_total"], "{download:#}");
    // R2's own size of the completed objects (checked against the bytes read per export).
    assert_eq!(archive["bytes"], download["bytes_total"], "{archive:#} {download:#}");
    assert!(
        download["wasm_memory_bytes"].as_u64().unwrap() <= 64 * 1024 * 1024,
        "{download:#}"
    );

    // A second full sync finds nothing to change.
    let second = run_sync(s, json!({ "mode": "full" })).await;
    assert_succeeded(&second);
    let reconcile = &step(&second, "reconcile")["counters"];
    assert_eq!(reconcile["orders"]["rows_changed"], 0, "{reconcile:#}");
    assert_eq!(reconcile["catalog"]["rows_changed"], 0, "{reconcile:#}");
    assert_matches_truth(s, &truth_of(&truth)).await;

    // The store changes some orders; an incremental sync picks up exactly those.
    let mutated = s
        .standin(
            "/_standin/shopify/mutate",
            &json!({ "orders": 20, "cancel": 3, "refund": 5, "seed": 7 }),
        )
        .await;
    let changed = mutated["changed_orders"].as_array().unwrap().len() as i64;
    assert!(changed >= 20, "{mutated:#}");
    let third = run_sync(s, json!({ "mode": "incremental" })).await;
    assert_succeeded(&third);
    let reconcile = &step(&third, "reconcile")["counters"];
    assert_eq!(
        reconcile["orders"]["lines_by_type"]["Order"].as_i64(),
        Some(changed),
        "{reconcile:#}"
    );
    assert_eq!(
        reconcile["orders"]["rows_changed"].as_i64().map(|n| n > 0),
        Some(true),
        "{reconcile:#}"
    );
    assert_eq!(
        step(&third, "initiate")["counters"]["exports"]["orders"]["mode"],
        "incremental"
    );
    assert_matches_truth(s, &truth_of(&mutated)).await;
}

fn truth_of(v: &Value) -> Value {
    v.get("truth").cloned().unwrap_or_else(|| v.clone())
}

fn truth_i64(v: &Value, key: &str) -> Option<i64> {
    truth_of(v)[key].as_i64()
}

#[tokio::test]
async fn every_fault_ends_in_the_same_state_as_a_clean_run() {
    let _turn = turn().await;
    let s = stack();
    let truth = truth_of(&reset_store(s, 202).await);
    let cases = [
        ("throttling", json!({ "throttle": 3, "http_429": 2 })),
        ("5xx bursts", json!({ "http_5xx": 3, "download_5xx": 2 })),
        ("bulk FAILED", json!({ "bulk_failed": 1 })),
        ("TIMEOUT with partial data", json!({ "bulk_timeout_partial": 1 })),
        ("expired URL", json!({ "expire_url": 1 })),
        (
            "operations in progress",
            json!({ "operation_in_progress": 1, "limit_reached": 1 }),
        ),
    ];
    for (name, faults) in cases {
        // Each case starts from empty tables: what it ends with, its own sync wrote.
        empty_store_tables(s).await;
        let before = armed(s).await;
        arm(s, faults.clone()).await;
        let body = run_sync(s, json!({ "mode": "full" })).await;
        assert_eq!(status_of(&body), "succeeded", "{name}: {body:#}");
        let after = armed(s).await;
        for (fault, times) in faults.as_object().unwrap() {
            assert_eq!(after["armed"][fault], 0, "{name}: {fault} not used up: {after:#}");
            let fired = after["fired"][fault].as_u64().unwrap() - before["fired"][fault].as_u64().unwrap();
            assert_eq!(
                Some(fired),
                times.as_u64(),
                "{name}: {fault} fired {fired} times: {after:#}"
            );
        }
        assert_matches_truth(s, &truth).await;
    }

    // A crash mid-upsert: the ingest Worker loses its Postgres connection inside the second
    // part's transaction, committing nothing more; Postgres rolls the part back, the message
    // comes back after the lease runs out and the run resumes from its checkpoint:
    // exactly that one part is downloaded again (compared with a clean run's downloads).
    let clean = downloads(s).await;
    assert_succeeded(&run_sync(s, json!({ "mode": "full" })).await);
    let clean = downloads(s).await - clean;
    let before = downloads(s).await;
    let body = run_sync(
        s,
        json!({ "mode": "full", "fault": { "drop_connection_at_part": 1, "resource": "orders" } }),
    )
    .await;
    assert_succeeded(&body);
    assert_eq!(
        downloads(s).await - before,
        clean + 1,
        "one part downloaded again: {body:#}"
    );
    let download = step(&body, "download_parse_upsert");
    assert!(
        download["counters"]["orders"]["parts"].as_i64().unwrap() >= 2,
        "the orders export must span two parts for this test: {download:#}"
    );
    assert_matches_truth(s, &truth).await;

    // Orders and products that vanish from the store are marked deleted by a full sync.
    let mutated = s
        .standin(
            "/_standin/shopify/mutate",
            &json!({ "delete_orders": 2, "delete_products": 1, "seed": 9 }),
        )
        .await;
    let body = run_sync(s, json!({ "mode": "full" })).await;
    assert_succeeded(&body);
    let vanished = &step(&body, "reconcile")["counters"]["orders"]["vanished"];
    assert_eq!(vanished["shop_order"], 2, "{vanished:#}");
    assert_matches_truth(s, &truth_of(&mutated)).await;
}

#[tokio::test]
async fn a_dropped_line_fails_the_execution_at_reconcile() {
    let _turn = turn().await;
    let s = stack();
    reset_store(s, 303).await;
    arm(s, json!({ "drop_line": 1 })).await;
    let body = run_sync(s, json!({ "mode": "full" })).await;
    assert_eq!(status_of(&body), "failed", "{body:#}");
    assert_eq!(body["execution"]["error_code"], "reconcile_mismatch", "{body:#}");
    let message = body["execution"]["error_message"].as_str().unwrap();
    assert!(message.contains("lines were parsed"), "{message}");
    assert_eq!(step(&body, "reconcile")["status"], "failed");
    let steps = body["steps"].as_array().unwrap();
    assert!(
        !steps.iter().any(|s| s["name"] == "archive"),
        "archive never ran: {body:#}"
    );
}

#[tokio::test]
async fn orders_are_found_by_name_email_and_date_and_bad_queries_get_400() {
    let _turn = turn().await;
    let s = stack();
    let truth = truth_of(&reset_store(s, 404).await);
    assert_succeeded(&run_sync(s, json!({ "mode": "full" })).await);
    assert_matches_truth(s, &truth).await;

    let db = s.db().await;
    let row = db
        .query_one(
            "SELECT o.legacy_id, o.name, o.email, (o.processed_at AT TIME ZONE sh.iana_timezone)::date::text,
                    (SELECT count(*) FROM shop_order x WHERE x.email = o.email AND x.deleted_at IS NULL)
             FROM shop_order o JOIN shop sh ON sh.id = o.shop_id
             WHERE o.deleted_at IS NULL AND o.email IS NOT NULL
               AND EXISTS (SELECT 1 FROM refund r WHERE r.order_gid = o.gid)
             ORDER BY o.legacy_id LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (legacy_id, name, email, day, by_email): (i64, String, String, String, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));

    let (status, _, page) = s.get(&format!("/api/orders?name={}", name.replace('#', "%23"))).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["orders"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["orders"][0]["id"], legacy_id.to_string());

    // Email lookup is case-insensitive and pages through every order of the customer.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/orders?email={}&limit=1", email.to_uppercase());
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, _, page) = s.get(&path).await;
        assert_eq!(status, 200, "{page}");
        for o in page["orders"].as_array().unwrap() {
            assert_eq!(o["email"].as_str().unwrap().to_lowercase(), email.to_lowercase());
            seen.push(o["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len() as i64, by_email);
    assert!(seen.contains(&legacy_id.to_string()));

    let expected_that_day: i64 = db
        .query_one(
            "SELECT count(*) FROM shop_order o JOIN shop sh ON sh.id = o.shop_id
             WHERE o.deleted_at IS NULL AND (o.processed_at AT TIME ZONE sh.iana_timezone)::date = $1::text::date",
            &[&day],
        )
        .await
        .unwrap()
        .get(0);
    let (status, _, page) = s.get(&format!("/api/orders?from={day}&to={day}&limit=200")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page["orders"].as_array().unwrap().len() as i64,
        expected_that_day.min(200)
    );
    assert!(page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["id"].as_str() == Some(legacy_id.to_string().as_str())));

    let (status, _, detail) = s.get(&format!("/api/orders/{legacy_id}")).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["order"]["name"], name.as_str());
    let lines: i64 = db
        .query_one(
            "SELECT count(*) FROM order_line_item l JOIN shop_order o ON o.gid = l.order_gid WHERE o.legacy_id = $1",
            &[&legacy_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(detail["lines"].as_array().unwrap().len() as i64, lines);
    assert!(!detail["refunds"].as_array().unwrap().is_empty(), "{detail:#}");
    assert!(
        !detail["refunds"][0]["lines"].as_array().unwrap().is_empty(),
        "{detail:#}"
    );

    for (bad, code) in [
        ("/api/orders?email=not-an-email", "invalid_query"),
        ("/api/orders?from=2026-02-30&to=2026-03-01", "invalid_query"),
        ("/api/orders?from=yesterday&to=today", "invalid_query"),
        ("/api/orders?name=%231001&limit=100000", "invalid_query"),
        ("/api/orders", "invalid_query"),
        ("/api/orders?name=%231001&cursor=garbage", "invalid_query"),
        ("/api/orders/not-a-number", "invalid_id"),
    ] {
        let (status, headers, body) = s.get(bad).await;
        e2e::assert_error(status, &headers, &body, 400, code);
    }
    let (status, _, body) = s.get("/api/orders/999999999999").await;
    assert_eq!(status, 404, "{body}");
}
