//! The ProcedureExecution engine on real Postgres (one fresh database per test).
#![allow(clippy::unwrap_used)] // test helpers: a panic is how a test reports failure

use domain::jobs::engine::{process_dead_letter, process_message, Disposition, EngineConfig};
use domain::jobs::procedures::{count_drill_effects, Registry};
use domain::jobs::repo::{self, ExecutionFilter};
use domain::jobs::start::{start_execution, StartRequest, Started};
use domain::jobs::{ExecutionStatus, JobEnvelope, JobType, Trigger};
use domain::platform::memory::MemoryBindings;
use domain::Principal;
use serde_json::{json, Value};
use test_db::TestDb;
use uuid::Uuid;

fn analyst() -> Principal {
    Principal::User {
        email: "analyst@example.com".into(),
        subject: "sub-1".into(),
    }
}

async fn start(db: &TestDb, bindings: &MemoryBindings, job: JobType, params: Value, key: Option<&str>) -> Started {
    start_execution(
        &db.client,
        &bindings.queue,
        StartRequest {
            job_type: job,
            trigger: Trigger::User,
            principal: &analyst(),
            params: &params,
            dedupe_key: key,
        },
    )
    .await
    .unwrap()
}

fn new_id(started: Started) -> Uuid {
    match started {
        Started::New(e) => e.id,
        Started::Duplicate(e) => panic!("unexpected duplicate {}", e.id),
    }
}

async fn deliver(db: &TestDb, bindings: &MemoryBindings, id: Uuid, job: JobType) -> Disposition {
    let body = serde_json::to_value(JobEnvelope::new(job, id)).unwrap();
    process_message(
        &db.client,
        bindings,
        &Registry::standard(),
        &EngineConfig::default(),
        &body,
    )
    .await
}

async fn effects(db: &TestDb, id: Uuid) -> Vec<(String, i64)> {
    count_drill_effects(&db.client, id).await.unwrap()
}

fn one_each() -> Vec<(String, i64)> {
    vec![("first".into(), 1), ("second".into(), 1), ("third".into(), 1)]
}

#[tokio::test]
async fn start_enqueues_the_envelope_and_a_run_records_every_step() {
    let db = TestDb::new().await.unwrap();
    let bindings = MemoryBindings::default();
    let id = new_id(start(&db, &bindings, JobType::EngineDrill, json!({}), None).await);

    let sent = bindings.queue.0.lock().unwrap().clone();
    assert_eq!(sent, vec![(JobEnvelope::new(JobType::EngineDrill, id), 0)]);

    assert_eq!(
        deliver(&db, &bindings, id, JobType::EngineDrill).await,
        Disposition::Ack
    );
    let execution = repo::get_execution(&db.client, id).await.unwrap().unwrap();
    assert_eq!(execution.status, "succeeded");
    assert_eq!(execution.attempts, 1);
    assert_eq!(execution.principal_kind, "user");
    assert_eq!(execution.principal_id, "analyst@example.com");
    assert_eq!(execution.counters["second"]["effects"], json!(1));
    let steps = repo::list_steps(&db.client, id).await.unwrap();
    let names: Vec<_> = steps
        .iter()
        .map(|s| (s.name.as_str(), s.status.as_str(), s.attempts))
        .collect();
    assert_eq!(
        names,
        vec![
            ("first", "succeeded", 1),
            ("second", "succeeded", 1),
            ("third", "succeeded", 1)
        ]
    );
    assert_eq!(effects(&db, id).await, one_each());
}

#[tokio::test]
async fn redelivery_after_success_has_no_effect() {
    let db = TestDb::new().await.unwrap();
    let bindings = MemoryBindings::default();
    let id = new_id(start(&db, &bindings, JobType::EngineDrill, json!({}), None).await);
    assert_eq!(
        deliver(&db, &bindings, id, JobType::EngineDrill).await,
        Disposition::Ack
    );
    assert_eq!(
        deliver(&db, &bindings, id, JobType::EngineDrill).await,
        Disposition::Ack
    );
    assert_eq!(effects(&db, id).await, one_each());
    let execution = repo::get_execution(&db.client, id).await.unwrap().unwrap();
    assert_eq!(execution.attempts, 1, "a finished execution is not leased again");
    assert_eq!(execution.deliveries, 2, "both deliveries are counted");
}

#[tokio::test]
async fn a_failing_step_backs_off_and_finished_steps_do_not_rerun() {
    let db = TestDb::new().await.unwrap();
    let bindings = MemoryBindings::default();
    let params = json!({"fail_step": "second", "fail_times": 2});
    let id = new_id(start(&db, &bindings, JobType::EngineDrill, params, None).await);

    assert_eq!(
        deliver(&db, &bindings, id, JobType::EngineDrill).await,
        Disposition::Retry { delay_seconds: 2 }
    );
    let execution = repo::get_execution(&db.client, id).await.unwrap().unwrap();
    assert_eq!(execution.status, "retrying");
    assert_eq!(execution.error_code.as_deref(), Some("drill_failure"));
    let steps = repo::list_steps(&db.client, id).await.unwrap();
    assert_eq!(steps[1].status, "failed");
    assert!(steps[1].error_message.as_deref().unwrap().contains("failed on purpose"));

    assert_eq!(
        deliver(&db, &bindings, id, JobType::EngineDrill).await,
        Disposition::Retry { delay_seconds: 4 }
    );
    assert_eq!(
        deliver(&db, &bindings, id, JobType::EngineDrill).await,
        Disposition::Ack
    );

    let execution = repo::get_execution(&db.client, id).await.unwrap().unwrap();
    assert_eq!(execution.status, "succeeded");
    assert_eq!(execution.error_code, None);
    assert_eq!(execution.attempts, 3);
    let attempts: Vec<_> = repo::list_steps(&db.client, id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.attempts)
        .collect();
    assert_eq!(
        attempts,
        vec![1, 3, 1],
        "first ran once, second three times, third once"
    );
    assert_eq!(effects(&db, id).await, one_each());
}

#[tokio::test]
async fn exhausted_retries_dead_letter_with_the_last_error() {
    let db = TestDb::new().await.unwrap();
    let bindings = MemoryBindings::default();
    let params = json!({"fail_step": "first", "fail_times": 100});
    let id = new_id(start(&db, &bindings, JobType::EngineDrill, params, None).await);
    for _ in 1..=3 {
        assert!(matches!(
            deliver(&db, &bindings, id, JobType::EngineDrill).await,
            Disposition::Retry { .. }
        ));
    }
    let body = serde_json::to_value(JobEnvelope::new(JobType::EngineDrill, id)).unwrap();
    assert_eq!(process_dead_letter(&db.client, &body).await, Disposition::Ack);
    let execution = repo::get_execution(&db.client, id).await.unwrap().unwrap();
    assert_eq!(execution.status, "failed");
    assert_eq!(execution.error_code.as_deref(), Some("drill_failure"));
    assert!(execution.error_message.unwrap().contains("step first"));
    assert!(execution.finished_at.is_some());
    assert!(effects(&db, id).await.is_empty());
}

#[tokio::test]
async fn a_type_without_handler_is_recorded_failed() {
    let db = TestDb::new().await.unwrap();
    let bindings = MemoryBindings::default();
    let job = JobType::ProcedureExecutionInitiate;
    let id = new_id(start(&db, &bindings, job, json!({}), None).await);
    let registry = Registry::<MemoryBindings>::empty();
    let body = serde_json::to_value(JobEnvelope::new(job, id)).unwrap();
    let disposition = process_message(&db.client, &bindings, &registry, &EngineConfig::default(), &body).await;
    assert_eq!(disposition, Disposition::Ack);
    let execution = repo::get_execution(&db.client, id).await.unwrap().unwrap();
    assert_eq!(execution.status, "failed");
    assert_eq!(execution.error_code.as_deref(), Some("handler_not_registered"));
}

#[tokio::test]
async fn malformed_and_orphan_messages_are_recorded_not_dropped() {
    let db = TestDb::new().await.unwrap();
    let bindings = MemoryBindings::default();
    let registry = Registry::standard();
    let config = EngineConfig::default();

    let garbage = json!({"hello": "world"});
    assert_eq!(
        process_message(&db.client, &bindings, &registry, &config, &garbage).await,
        Disposition::Ack
    );
    let orphan_id = Uuid::now_v7();
    let orphan = serde_json::to_value(JobEnvelope::new(JobType::EngineDrill, orphan_id)).unwrap();
    assert_eq!(
        process_message(&db.client, &bindings, &registry, &config, &orphan).await,
        Disposition::Ack
    );
    let failed = repo::list_executions(
        &db.client,
        &ExecutionFilter {
            status: Some(ExecutionStatus::Failed),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut codes: Vec<_> = failed.items.iter().map(|e| e.error_code.clone().unwrap()).collect();
    codes.sort();
    assert_eq!(codes, vec!["execution_not_found", "malformed_message"]);
    let malformed = failed.items.iter().find(|e| e.job_type == "MALFORMED_MESSAGE").unwrap();
    assert_eq!(malformed.params["body"], garbage);

    // A queue probe is acknowledged and leaves nothing behind.
    let probe = serde_json::to_value(JobEnvelope::probe()).unwrap();
    assert_eq!(
        process_message(&db.client, &bindings, &registry, &config, &probe).await,
        Disposition::Ack
    );
    let all = repo::list_executions(
        &db.client,
        &ExecutionFilter {
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.total, 2);
}

#[tokio::test]
async fn a_leased_execution_is_not_run_by_a_second_delivery() {
    let db = TestDb::new().await.unwrap();
    let bindings = MemoryBindings::default();
    let id = new_id(start(&db, &bindings, JobType::EngineDrill, json!({}), None).await);
    // Another delivery holds the lease.
    let other = repo::acquire_lease(&db.client, id, Uuid::new_v4(), 60).await.unwrap();
    assert!(other.is_some());
    match deliver(&db, &bindings, id, JobType::EngineDrill).await {
        Disposition::Retry { delay_seconds } => assert!((1..=60).contains(&delay_seconds)),
        Disposition::Ack => panic!("must not ack while another delivery holds the lease"),
    }
    assert!(effects(&db, id).await.is_empty());
}

#[tokio::test]
async fn a_dedupe_key_records_one_execution() {
    let db = TestDb::new().await.unwrap();
    let bindings = MemoryBindings::default();
    let key = "cron:0 6 * * *@2026-12-04T06:00Z";
    let first = new_id(
        start(
            &db,
            &bindings,
            JobType::ProcedureExecutionInitiate,
            json!({}),
            Some(key),
        )
        .await,
    );
    match start(
        &db,
        &bindings,
        JobType::ProcedureExecutionInitiate,
        json!({}),
        Some(key),
    )
    .await
    {
        Started::Duplicate(e) => assert_eq!(e.id, first),
        Started::New(e) => panic!("second execution {} recorded", e.id),
    }
    assert_eq!(bindings.queue.0.lock().unwrap().len(), 1, "enqueued once");
}

#[tokio::test]
async fn executions_list_filters_and_pages() {
    let db = TestDb::new().await.unwrap();
    let bindings = MemoryBindings::default();
    for _ in 0..3 {
        start(&db, &bindings, JobType::EngineDrill, json!({}), None).await;
    }
    start(&db, &bindings, JobType::SystemSelfCheck, json!({}), None).await;
    let page = repo::list_executions(
        &db.client,
        &ExecutionFilter {
            job_type: Some("ENGINE_DRILL".into()),
            status: Some(ExecutionStatus::Queued),
            limit: 2,
            offset: 0,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(page.items.len(), 2);
    assert!(page.items[0].created_at >= page.items[1].created_at);
    let past_end = repo::list_executions(
        &db.client,
        &ExecutionFilter {
            job_type: Some("ENGINE_DRILL".into()),
            limit: 2,
            offset: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((past_end.items.len(), past_end.total), (0, 3));
}
