//! End to end: the real wasm Workers under `wrangler dev`, Postgres through Hyperdrive,
//! R2, KV, the queue and the service binding, with tokens from the Access stand-in.
#![allow(clippy::unwrap_used)] // test helpers: a panic is how a test reports failure

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use domain::jobs::procedures::count_drill_effects;
use e2e::{assert_error, read, stack, status_of, AUD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use standins::access::{now_seconds, KID};
use std::time::Duration;

#[tokio::test]
async fn health_details_are_green_through_every_binding() {
    let s = stack();
    let (status, headers, body) = s.get("/api/health/details").await;
    assert_eq!(status, 200, "{body}");
    assert!(headers.contains_key("x-request-id"));
    assert_eq!(body["status"], "ok", "{body:#}");
    let systems: Vec<&str> = body["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["postgres", "r2", "kv", "queue", "ingest_worker"]);
    for system in body["systems"].as_array().unwrap() {
        assert_eq!(system["status"], "ok", "{system}");
        assert!(system["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{system}");
    }
    let postgres = &body["systems"][0]["detail"];
    assert_eq!(postgres["migration_version"], json!(dbmigrate::latest_version()));
    let ingest = &body["systems"][4]["detail"];
    assert_eq!(ingest["worker"], "ingest");
    assert_eq!(ingest["postgres"]["status"], "ok");
    assert!(ingest["registered_job_types"]
        .as_array()
        .unwrap()
        .contains(&json!("SYSTEM_SELF_CHECK")));
}

#[tokio::test]
async fn public_health_says_only_ok() {
    let s = stack();
    let (status, _, body) = read(s.http.get(s.url("/api/health")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "status": "ok" }));
}

fn claims() -> Value {
    let s = stack();
    s.access.user_claims("analyst@example.com", 600)
}

fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

fn signed(claims: &Value) -> String {
    stack().access.sign_claims(claims, KID).unwrap()
}

async fn me_with(token: Option<&str>, cookie: Option<&str>) -> (u16, reqwest::header::HeaderMap, Value) {
    let s = stack();
    let mut request = s.http.get(s.url("/api/me"));
    if let Some(token) = token {
        request = request.header("cf-access-jwt-assertion", token);
    }
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("CF_Authorization={cookie}"));
    }
    read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn every_bad_assertion_gets_401_with_a_json_error_and_request_id() {
    let s = stack();
    let now = now_seconds();
    let base = claims();
    let other_key = {
        // A key the team never published, under a kid it does not know.
        let dir = std::env::temp_dir().join(format!("e2e-other-key-{}", uuid::Uuid::new_v4()));
        standins::access::AccessStandin::load_or_create(&dir.join("k.pem"), &s.standins, AUD).unwrap()
    };
    let tampered = {
        let token = signed(&base);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(with(base.clone(), "email", json!("ceo@example.com")).to_string());
        parts.join(".")
    };
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": KID}).to_string()),
        URL_SAFE_NO_PAD.encode(base.to_string())
    );
    let hs256 = jsonwebtoken::encode(
        &Header {
            kid: Some(KID.into()),
            ..Header::new(Algorithm::HS256)
        },
        &base,
        &EncodingKey::from_secret(s.access.public_pem().unwrap().as_bytes()),
    )
    .unwrap();
    let cases: Vec<(&str, Option<String>, Option<String>, &str)> = vec![
        (
            "wrong aud",
            Some(signed(&with(base.clone(), "aud", json!(["wrong"])))),
            None,
            "invalid_token",
        ),
        (
            "aud of another app",
            Some(signed(&with(base.clone(), "aud", json!(["another-access-app-aud"])))),
            None,
            "invalid_token",
        ),
        (
            "wrong iss",
            Some(signed(&with(
                base.clone(),
                "iss",
                json!("https://other-team.cloudflareaccess.com"),
            ))),
            None,
            "invalid_token",
        ),
        (
            "expired",
            Some(signed(&with(base.clone(), "exp", json!(now - 120)))),
            None,
            "token_expired",
        ),
        (
            "nbf in the future",
            Some(signed(&with(base.clone(), "nbf", json!(now + 600)))),
            None,
            "invalid_token",
        ),
        ("alg none", Some(alg_none), None, "invalid_token"),
        ("HS256 signed with the public key", Some(hs256), None, "invalid_token"),
        (
            "unknown kid",
            Some(other_key.sign_claims(&base, "kid-nobody-published").unwrap()),
            None,
            "invalid_token",
        ),
        (
            "signed by another key under our kid",
            Some(other_key.sign_claims(&base, KID).unwrap()),
            None,
            "invalid_token",
        ),
        ("tampered signature", Some(tampered.clone()), None, "invalid_token"),
        // The CF_Authorization cookie is read when the header is absent, and checked the same way.
        ("tampered cookie without header", None, Some(tampered), "invalid_token"),
        ("missing token", None, None, "missing_token"),
    ];
    for (name, token, cookie, code) in cases {
        let (status, headers, body) = me_with(token.as_deref(), cookie.as_deref()).await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_error(status, &headers, &body, 401, code);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(!message.contains("panic") && !message.is_empty(), "{name}: {message}");
    }
}

#[tokio::test]
async fn valid_user_and_service_tokens_become_principals() {
    let s = stack();
    let (status, _, body) = me_with(Some(&signed(&claims())), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "user");
    assert_eq!(body["email"], "analyst@example.com");

    let service = s
        .access
        .sign_claims(&s.access.service_claims("reporting-bot", 600), KID)
        .unwrap();
    let (status, _, body) = me_with(Some(&service), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "kind": "service", "common_name": "reporting-bot" }));
}

#[tokio::test]
async fn request_ids_are_echoed_and_errors_are_structured() {
    let s = stack();
    let response = s
        .http
        .get(s.url("/api/jobs/not-a-uuid"))
        .header("cf-access-jwt-assertion", s.user_token())
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    let (status, headers, body) = read(response).await;
    assert_eq!(headers["x-request-id"], "trace-me-123");
    assert_error(status, &headers, &body, 400, "invalid_id");

    let (status, headers, body) = s.get("/api/nope").await;
    assert_error(status, &headers, &body, 404, "not_found");
    let (status, headers, body) = s.get(&format!("/api/jobs/{}", uuid::Uuid::new_v4())).await;
    assert_error(status, &headers, &body, 404, "not_found");
    for bad in [
        "status=bogus",
        "limit=100000",
        "limit=0",
        "created_after=yesterday",
        "colour=red",
    ] {
        let (status, headers, body) = s.get(&format!("/api/jobs?{bad}")).await;
        assert_error(status, &headers, &body, 400, "invalid_query");
    }
    let (status, headers, body) = s.post("/api/jobs", &json!({ "job_type": "MAKE_COFFEE" })).await;
    assert_error(status, &headers, &body, 400, "unknown_job_type");
    let (status, headers, body) = s.post("/api/jobs", &json!({ "type": "ENGINE_DRILL" })).await;
    assert_error(status, &headers, &body, 400, "invalid_body");
    let (status, headers, body) = s
        .post("/api/jobs", &json!({ "job_type": "ENGINE_DRILL", "params": [1] }))
        .await;
    assert_error(status, &headers, &body, 400, "invalid_body");
}

#[tokio::test]
async fn a_started_job_runs_through_the_queue_and_records_its_steps() {
    let s = stack();
    let id = s.start_job("SYSTEM_SELF_CHECK", json!({})).await;
    let body = s.wait_until_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(status_of(&body), "succeeded", "{body:#}");
    let execution = &body["execution"];
    assert_eq!(execution["trigger"], "user");
    assert_eq!(execution["principal_kind"], "user");
    assert_eq!(execution["principal_id"], "analyst@example.com");
    assert!(execution["finished_at"].is_string());
    let steps: Vec<(&str, &str)> = body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("postgres", "succeeded"),
            ("r2", "succeeded"),
            ("kv", "succeeded"),
            ("queue", "succeeded")
        ]
    );
    assert_eq!(
        body["steps"][0]["output"]["detail"]["migration_version"],
        json!(dbmigrate::latest_version())
    );

    // It is listed, and the filters find it.
    let (status, _, list) = s
        .get("/api/jobs?job_type=SYSTEM_SELF_CHECK&status=succeeded&limit=200")
        .await;
    assert_eq!(status, 200);
    assert!(list["items"].as_array().unwrap().iter().any(|e| e["id"] == id.as_str()));
}

/// Fires a cron through wrangler's `/__scheduled` route: the scheduled time is the Worker's
/// now. (Miniflare's `/cdn-cgi/handler/scheduled?time=` does not reach a Worker that serves
/// static assets: the assets router in front of it has no `scheduled` handler.)
async fn fire_now(cron: &str) {
    let s = stack();
    let response = s
        .http
        .get(s.url(&format!("/__scheduled?cron={}", cron.replace(' ', "+"))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

async fn executions_with_key(key: &str) -> Vec<(String, String, String)> {
    let db = stack().db().await;
    db.query(
        "SELECT job_type, trigger, principal_id FROM procedure_execution WHERE dedupe_key = $1",
        &[&key],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

#[tokio::test]
async fn each_cron_records_one_execution_per_scheduled_minute() {
    // The daily sync's cron (`0 6 * * *`) is exercised in tests/sync.rs, where it runs a
    // real sync against the Shopify stand-in.
    for (cron, job_type) in [
        ("0 * * * *", "MEASUREMENT_DATASET_REFRESH"),
        ("0 3 * * 0", "ICE_HEALTH_CHECK"),
    ] {
        // Two firings in one minute make one execution. A pair that straddles a minute
        // boundary proves nothing and is fired again.
        let mut checked = false;
        for _ in 0..5 {
            let before = domain::cron::dedupe_key(cron, domain::clock::now());
            fire_now(cron).await;
            fire_now(cron).await;
            let after = domain::cron::dedupe_key(cron, domain::clock::now());
            if before != after {
                continue;
            }
            assert_eq!(
                executions_with_key(&before).await,
                vec![(job_type.to_owned(), "cron".to_owned(), "cron".to_owned())],
                "{cron}"
            );
            checked = true;
            break;
        }
        assert!(checked, "{cron}: every pair of firings straddled a minute");
    }
}

async fn effects(id: &str) -> Vec<(String, i64)> {
    let db = stack().db().await;
    count_drill_effects(&db, uuid::Uuid::parse_str(id).unwrap())
        .await
        .unwrap()
}

fn one_each() -> Vec<(String, i64)> {
    vec![("first".into(), 1), ("second".into(), 1), ("third".into(), 1)]
}

#[tokio::test]
async fn the_same_message_delivered_again_leaves_one_set_of_effects() {
    let s = stack();
    let id = s.start_job("ENGINE_DRILL", json!({})).await;
    // A duplicate while it is queued or running…
    let (status, _, _) = s.post(&format!("/api/jobs/{id}/dispatch"), &json!({})).await;
    assert_eq!(status, 202);
    let body = s
        .wait_for_execution(&id, Duration::from_secs(90), |b| {
            status_of(b) == "succeeded" && b["execution"]["deliveries"].as_i64() >= Some(2)
        })
        .await;
    assert_eq!(body["execution"]["attempts"], 1, "{body:#}");
    // …and another after it finished.
    let (status, _, _) = s.post(&format!("/api/jobs/{id}/dispatch"), &json!({})).await;
    assert_eq!(status, 202);
    let body = s
        .wait_for_execution(&id, Duration::from_secs(60), |b| {
            b["execution"]["deliveries"].as_i64() >= Some(3)
        })
        .await;
    assert_eq!(status_of(&body), "succeeded");
    assert_eq!(body["execution"]["attempts"], 1, "{body:#}");
    for step in body["steps"].as_array().unwrap() {
        assert_eq!(step["attempts"], 1, "{step}");
    }
    assert_eq!(effects(&id).await, one_each());
}

#[tokio::test]
async fn a_failing_step_is_retried_with_backoff_then_succeeds() {
    let s = stack();
    let id = s
        .start_job("ENGINE_DRILL", json!({ "fail_step": "second", "fail_times": 2 }))
        .await;
    let body = s.wait_until_finished(&id, Duration::from_secs(90)).await;
    assert_eq!(status_of(&body), "succeeded", "{body:#}");
    let attempts: Vec<i64> = body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["attempts"].as_i64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 3, 1], "only the failing step ran again");
    assert_eq!(body["execution"]["attempts"], 3);
    assert_eq!(effects(&id).await, one_each());
    // Backoff of the e2e stack: 1 s then 2 s, so the run spans at least 3 s.
    let db = s.db().await;
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    let span: f64 = db
        .query_one(
            "SELECT extract(epoch FROM finished_at - created_at)::float8 FROM procedure_execution WHERE id = $1",
            &[&uuid],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        span >= 3.0,
        "retries came back after {span:.2}s in all, sooner than the backoff allows"
    );
}

#[tokio::test]
async fn exhausted_retries_dead_letter_and_the_execution_reads_failed() {
    let s = stack();
    let id = s
        .start_job("ENGINE_DRILL", json!({ "fail_step": "second", "fail_times": 1000 }))
        .await;
    let body = s.wait_until_finished(&id, Duration::from_secs(120)).await;
    let execution = &body["execution"];
    assert_eq!(status_of(&body), "failed", "{body:#}");
    assert_eq!(execution["error_code"], "drill_failure");
    assert!(
        execution["error_message"].as_str().unwrap().contains("step second"),
        "{execution}"
    );
    // max_retries = 3 in wrangler.ingest.toml: four deliveries ran the step, then the DLQ.
    assert_eq!(execution["attempts"], 4, "{execution}");
    let steps = body["steps"].as_array().unwrap();
    assert_eq!(
        (steps[0]["status"].as_str(), steps[0]["attempts"].as_i64()),
        (Some("succeeded"), Some(1))
    );
    assert_eq!(
        (steps[1]["status"].as_str(), steps[1]["attempts"].as_i64()),
        (Some("failed"), Some(4))
    );
    assert_eq!(steps.len(), 2, "the third step never ran");
    assert_eq!(effects(&id).await, vec![("first".to_owned(), 1)]);
}
