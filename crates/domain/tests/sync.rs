//! The Shopify sync procedure natively: the engine on real Postgres, the Shopify stand-in
//! in-process over real HTTP, in-memory R2/KV/queue. Small parts, so every run spans many
//! queue messages, checkpoints and archive parts. (The same procedure runs as wasm under
//! `wrangler dev` in tests/e2e/tests/sync.rs.)
#![allow(clippy::unwrap_used)] // test helpers: a panic is how a test reports failure

use domain::jobs::engine::{process_message, Disposition, EngineConfig};
use domain::jobs::procedures::Registry;
use domain::jobs::repo;
use domain::jobs::start::{start_execution, StartRequest, Started};
use domain::jobs::{JobType, Trigger};
use domain::platform::memory::MemoryBindings;
use domain::platform::ObjectStore;
use domain::sync::{ShopifySync, SyncSettings};
use domain::Principal;
use serde_json::{json, Value};
use shopify::client::{RetryPolicy, ShopConfig};
use shopify::native::ReqwestTransport;
use standins::shopify::generator::StoreSpec;
use standins::shopify::ShopifyStandin;
use std::sync::Arc;
use std::time::Duration;
use test_db::TestDb;
use uuid::Uuid;

struct Harness {
    db: TestDb,
    bindings: MemoryBindings,
    registry: Registry<MemoryBindings>,
    standin: Arc<ShopifyStandin>,
    base: String,
    dir: std::path::PathBuf,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn harness(orders: u64, part_bytes: u64) -> Harness {
    let dir = std::env::temp_dir().join(format!("domain-sync-{}", Uuid::new_v4().simple()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let spec = StoreSpec {
        seed: 11,
        orders,
        products: 40,
        ..Default::default()
    };
    let standin = Arc::new(ShopifyStandin::new(&dir, &base, spec).unwrap());
    let app = standins::shopify::router(standin.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let settings = SyncSettings {
        shop: ShopConfig {
            base_url: base.clone(),
            access_token: "shpat_test".into(),
            api_version: shopify::ADMIN_API_VERSION.into(),
        },
        part_bytes,
        parts_per_message: 2,
        poll_seconds: 1,
        lookback_minutes: 60,
        faults_enabled: true,
        retry: RetryPolicy {
            max_attempts: 6,
            base_ms: 10,
            cap_ms: 50,
        },
    };
    let registry = Registry::standard().with(ShopifySync::new(ReqwestTransport::new(), Ok(settings)));
    Harness {
        db: TestDb::new().await.unwrap(),
        bindings: MemoryBindings::default(),
        registry,
        standin,
        base,
        dir,
    }
}

impl Harness {
    async fn start(&self, params: Value) -> Uuid {
        let principal = Principal::User {
            email: "analyst@example.com".into(),
            subject: "sub".into(),
        };
        match start_execution(
            &self.db.client,
            &self.bindings.queue,
            StartRequest {
                job_type: JobType::ProcedureExecutionInitiate,
                trigger: Trigger::User,
                principal: &principal,
                params: &params,
                dedupe_key: None,
            },
        )
        .await
        .unwrap()
        {
            Started::New(e) => e.id,
            Started::Duplicate(e) => panic!("duplicate {}", e.id),
        }
    }

    /// Plays the queue: delivers every enqueued message (continuations included) and the
    /// retries the engine asks for, until the execution finishes. A delay is honoured at
    /// a hundredth of its length, as the stand-in needs a moment to write its files.
    async fn run_until_finished(&self, id: Uuid) -> Value {
        self.run_until_finished_with(id, |_| {}).await
    }

    /// As [`Self::run_until_finished`], calling `after_each` after every delivery.
    async fn run_until_finished_with(&self, id: Uuid, after_each: impl Fn(&MemoryBindings)) -> Value {
        self.play(id, after_each, None).await
    }

    /// As [`Self::run_until_finished`], also returning the execution as the API reads it
    /// (execution and steps) after every delivery.
    async fn run_until_finished_recording(&self, id: Uuid) -> (Value, Vec<Value>) {
        let mut seen = Vec::new();
        let detail = self.play(id, |_| {}, Some(&mut seen)).await;
        (detail, seen)
    }

    async fn play(
        &self,
        id: Uuid,
        after_each: impl Fn(&MemoryBindings),
        mut snapshots: Option<&mut Vec<Value>>,
    ) -> Value {
        let config = EngineConfig {
            lease_seconds: 1,
            backoff_base_seconds: 1,
            backoff_cap_seconds: 1,
        };
        for _ in 0..2000 {
            // First in, first out, as a queue delivers.
            let next = {
                let mut queue = self.bindings.queue.0.lock().unwrap();
                (!queue.is_empty()).then(|| queue.remove(0))
            };
            let Some((envelope, delay)) = next else {
                let execution = repo::get_execution(&self.db.client, id).await.unwrap().unwrap();
                if execution.status().is_some_and(|s| s.is_terminal()) {
                    return self.detail(id).await;
                }
                panic!(
                    "the queue ran dry with the execution {}: {:?}",
                    execution.status, execution.error_message
                );
            };
            tokio::time::sleep(Duration::from_millis(u64::from(delay) * 10)).await;
            let body = serde_json::to_value(&envelope).unwrap();
            // A connection per delivery, as the Worker opens one per batch (a fault may kill it).
            let (client, connection) = tokio_postgres::connect(&self.db.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            match process_message(&client, &self.bindings, &self.registry, &config, &body).await {
                Disposition::Ack => {}
                Disposition::Retry { delay_seconds } => {
                    // The lease of a crashed delivery runs out before the retry takes it.
                    tokio::time::sleep(Duration::from_millis(1100)).await;
                    self.bindings.queue.0.lock().unwrap().push((envelope, delay_seconds));
                }
            }
            after_each(&self.bindings);
            if let Some(snapshots) = snapshots.as_deref_mut() {
                snapshots.push(self.detail(id).await);
            }
        }
        panic!("the execution did not finish within 2000 deliveries");
    }

    async fn detail(&self, id: Uuid) -> Value {
        let execution = repo::get_execution(&self.db.client, id).await.unwrap().unwrap();
        let steps = repo::list_steps(&self.db.client, id).await.unwrap();
        json!({ "execution": execution, "steps": steps })
    }

    async fn totals(&self) -> std::collections::BTreeMap<String, i64> {
        let shop = domain::store::primary_shop(&self.db.client).await.unwrap().unwrap();
        domain::store::totals(&self.db.client, shop.id).await.unwrap()
    }

    async fn assert_matches_truth(&self) {
        let truth = serde_json::to_value(self.standin.store().truth()).unwrap();
        let totals = self.totals().await;
        let mut compared = 0;
        for (key, ours) in &totals {
            if let Some(expected) = truth.get(key).and_then(Value::as_i64) {
                assert_eq!(*ours, expected, "{key}\n{totals:#?}\n{truth:#}");
                compared += 1;
            }
        }
        assert!(compared >= 15, "{truth:#}");
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        response.json().await.unwrap()
    }
}

fn step<'a>(detail: &'a Value, name: &str) -> &'a Value {
    detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

fn assert_succeeded(detail: &Value) {
    assert_eq!(detail["execution"]["status"], "succeeded", "{detail:#}");
}

#[tokio::test]
async fn a_full_sync_lands_the_store_in_many_checkpointed_parts_and_archives_it_whole() {
    let h = harness(300, 64 * 1024).await;
    let id = h.start(json!({ "mode": "full" })).await;
    let (detail, snapshots) = h.run_until_finished_recording(id).await;
    assert_succeeded(&detail);
    h.assert_matches_truth().await;

    // While it runs, the download step's counters grow, as `GET /api/jobs/{id}` shows them:
    // bytes read strictly between none and all, lines and rows written.
    let midway: Vec<&Value> = snapshots
        .iter()
        .filter(|d| d["execution"]["status"] == "running")
        .filter_map(|d| {
            d["steps"]
                .as_array()?
                .iter()
                .find(|s| s["name"] == "download_parse_upsert")
        })
        .filter(|s| s["status"] == "running")
        .map(|s| &s["counters"])
        .filter(|c| {
            let (read, total) = (
                c["bytes_read"].as_i64().unwrap_or(0),
                c["bytes_total"].as_i64().unwrap_or(0),
            );
            read > 0
                && read < total
                && c["rows_written"].as_i64().unwrap_or(0) > 0
                && c["lines"].as_i64().unwrap_or(0) > 0
        })
        .collect();
    assert!(midway.len() >= 2, "counters seen mid-run: {midway:#?}");
    let reads: Vec<i64> = midway.iter().map(|c| c["bytes_read"].as_i64().unwrap()).collect();
    assert!(reads.windows(2).all(|w| w[0] < w[1]), "bytes read only grow: {reads:?}");

    let download = &step(&detail, "download_parse_upsert")["counters"];
    assert!(download["orders"]["parts"].as_i64().unwrap() >= 5, "{download:#}");
    assert_eq!(download["bytes_read"], download["bytes_total"]);
    assert!(
        detail["execution"]["deliveries"].as_i64().unwrap() > 5,
        "continued across messages"
    );

    // The archive is byte for byte the file Shopify served, as one object per export.
    let archive = &step(&detail, "archive");
    assert_eq!(archive["counters"]["objects"], 2);
    let keys = archive["output"]["keys"].as_array().unwrap();
    let mut archived = 0;
    for key in keys {
        let bytes = h.bindings.objects.get(key.as_str().unwrap()).await.unwrap().unwrap();
        assert!(bytes.ends_with(b"\n") || bytes.is_empty());
        archived += bytes.len() as i64;
    }
    assert_eq!(archived, download["bytes_total"].as_i64().unwrap());

    // A second full sync changes nothing.
    let again = h.run_until_finished(h.start(json!({ "mode": "full" })).await).await;
    assert_succeeded(&again);
    let reconcile = &step(&again, "reconcile")["counters"];
    assert_eq!(reconcile["orders"]["rows_changed"], 0, "{reconcile:#}");
    assert_eq!(reconcile["catalog"]["rows_changed"], 0, "{reconcile:#}");
    h.assert_matches_truth().await;
}

#[tokio::test]
async fn a_crash_mid_upsert_resumes_from_the_checkpoint_and_incremental_picks_up_changes() {
    let h = harness(300, 64 * 1024).await;
    let downloads_before = h.standin.counter("downloads");
    let id = h
        .start(json!({
            "mode": "full",
            "fault": { "kill_connection_at_part": 2, "drop_connection_at_part": 4, "resource": "orders" }
        }))
        .await;
    let detail = h.run_until_finished(id).await;
    assert_succeeded(&detail);
    let download = step(&detail, "download_parse_upsert");
    // Exactly the two parts whose transactions died were downloaded again.
    let parts = download["counters"]["orders"]["parts"].as_u64().unwrap()
        + download["counters"]["catalog"]["parts"].as_u64().unwrap();
    assert_eq!(
        h.standin.counter("downloads") - downloads_before,
        parts + 2,
        "{detail:#}"
    );
    assert_eq!(detail["execution"]["error_code"], Value::Null);
    h.assert_matches_truth().await;

    let mutated = h
        .control(
            "/_standin/shopify/mutate",
            json!({ "orders": 7, "refund": 2, "seed": 3 }),
        )
        .await;
    let changed = mutated["changed_orders"].as_array().unwrap().len() as i64;
    let incremental = h.run_until_finished(h.start(json!({})).await).await;
    assert_succeeded(&incremental);
    let reconcile = &step(&incremental, "reconcile")["counters"];
    assert_eq!(
        reconcile["orders"]["lines_by_type"]["Order"].as_i64(),
        Some(changed),
        "{reconcile:#}"
    );
    h.assert_matches_truth().await;
}

#[tokio::test]
async fn an_archive_that_r2_holds_short_fails_the_execution() {
    let h = harness(200, 64 * 1024).await;
    // R2 keeps one byte less of the first uploaded part than it was given.
    let shortened = std::sync::atomic::AtomicBool::new(false);
    let detail = h
        .run_until_finished_with(h.start(json!({ "mode": "full" })).await, |bindings| {
            let mut uploads = bindings.objects.1 .0.lock().unwrap();
            if let Some(part) = uploads.values_mut().find_map(|parts| parts.get_mut(&1)) {
                if !shortened.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    part.pop();
                }
            }
        })
        .await;
    assert!(shortened.into_inner(), "a part was uploaded");
    assert_eq!(detail["execution"]["status"], "failed", "{detail:#}");
    assert_eq!(detail["execution"]["error_code"], "archive_incomplete", "{detail:#}");
    let message = detail["execution"]["error_message"].as_str().unwrap();
    assert!(message.contains("bytes; the "), "{message}");
}

#[tokio::test]
async fn a_dropped_line_fails_loudly_and_access_denied_fails_at_once() {
    let h = harness(200, 64 * 1024).await;
    h.control("/_standin/shopify/faults", json!({ "drop_line": 1 })).await;
    let detail = h.run_until_finished(h.start(json!({ "mode": "full" })).await).await;
    assert_eq!(detail["execution"]["status"], "failed", "{detail:#}");
    assert_eq!(detail["execution"]["error_code"], "reconcile_mismatch");

    h.control("/_standin/shopify/faults", json!({ "bulk_access_denied": 1 }))
        .await;
    let detail = h.run_until_finished(h.start(json!({ "mode": "full" })).await).await;
    assert_eq!(detail["execution"]["status"], "failed", "{detail:#}");
    assert_eq!(detail["execution"]["error_code"], "shopify_access_denied");
    assert!(detail["execution"]["error_message"].as_str().unwrap().contains("scope"));
}

#[tokio::test]
async fn a_token_without_read_all_orders_fails_before_any_export() {
    let h = harness(50, 64 * 1024).await;
    h.control(
        "/_standin/shopify/settings",
        json!({ "access_scopes": ["read_products", "write_orders", "read_customers"] }),
    )
    .await;
    let detail = h.run_until_finished(h.start(json!({ "mode": "full" })).await).await;
    assert_eq!(detail["execution"]["status"], "failed", "{detail:#}");
    assert_eq!(
        detail["execution"]["error_code"], "shopify_missing_scopes",
        "{detail:#}"
    );
    let message = detail["execution"]["error_message"].as_str().unwrap();
    // write_orders stands for read_orders; only read_all_orders is missing.
    assert!(
        message.contains("lacks the access scope(s) read_all_orders;"),
        "{message}"
    );
    assert_eq!(step(&detail, "initiate")["status"], "failed", "{detail:#}");
    let requests = reqwest::get(format!("{}/_standin/shopify/requests", h.base))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(requests["shop_queries"].as_u64().unwrap() >= 1, "{requests:#}");
    assert_eq!(requests["bulk_runs"].as_u64().unwrap_or(0), 0, "{requests:#}");

    // Granted, the same store syncs.
    h.control(
        "/_standin/shopify/settings",
        json!({ "access_scopes": ["read_products", "read_orders", "read_all_orders", "read_customers"] }),
    )
    .await;
    let detail = h.run_until_finished(h.start(json!({ "mode": "full" })).await).await;
    assert_succeeded(&detail);
    h.assert_matches_truth().await;
}

#[tokio::test]
async fn a_sync_started_while_another_runs_waits_for_it() {
    let h = harness(300, 64 * 1024).await;
    let first = h.start(json!({ "mode": "full" })).await;
    let second = h.start(json!({ "mode": "full" })).await;
    // Delivering the queue in order plays both; the second finishes last.
    let detail = h.run_until_finished(second).await;
    assert_succeeded(&detail);
    let earlier = h.detail(first).await;
    assert_succeeded(&earlier);
    let initiate = step(&detail, "initiate");
    assert_eq!(
        initiate["counters"]["waited_for_execution"],
        json!(first.to_string()),
        "{initiate:#}"
    );
    // The second export started only once the first had finished.
    let first_finished = earlier["execution"]["finished_at"].as_str().unwrap().to_owned();
    let second_initiated = initiate["finished_at"].as_str().unwrap().to_owned();
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
    assert!(
        parse(&second_initiated) >= parse(&first_finished),
        "second initiated at {second_initiated}, first finished at {first_finished}"
    );
    // The first did not wait for the second.
    assert!(step(&earlier, "initiate")["counters"]
        .get("waited_for_execution")
        .is_none());
    h.assert_matches_truth().await;
}

#[tokio::test]
async fn a_row_lost_between_parse_and_write_fails_at_reconcile() {
    // A fresh database: no earlier sync's row can stand in for the lost one.
    let h = harness(200, 64 * 1024).await;
    let detail = h
        .run_until_finished(
            h.start(json!({ "mode": "full", "fault": { "lose_line_item_at_part": 0 } }))
                .await,
        )
        .await;
    assert_eq!(detail["execution"]["status"], "failed", "{detail:#}");
    assert_eq!(detail["execution"]["error_code"], "reconcile_mismatch");
    let message = detail["execution"]["error_message"].as_str().unwrap();
    // Shopify's counts and the lines parsed agree; only the rows in Postgres fall short.
    assert!(
        message.contains("LineItem lines were parsed but") && message.contains("rows stand for them in Postgres"),
        "{message}"
    );
    assert!(!message.contains("objects,"), "{message}");
}
