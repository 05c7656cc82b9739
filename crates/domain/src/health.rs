//! EngineeredSystem health probes, shared by `GET /api/health/details` and the
//! `SYSTEM_SELF_CHECK` procedure so both measure the same thing.

use crate::clock;
use crate::jobs::JobEnvelope;
use crate::platform::{JobQueue, KvStore, ObjectStore};
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeStatus {
    Ok,
    Down,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProbeReport {
    pub system: String,
    pub status: ProbeStatus,
    pub latency_ms: f64,
    /// What was observed (e.g. the applied migration version), or why it is down.
    pub detail: serde_json::Value,
}

impl ProbeReport {
    fn from_result(
        system: &str,
        start: chrono::DateTime<chrono::Utc>,
        result: Result<serde_json::Value, String>,
    ) -> Self {
        let latency_ms = clock::elapsed_ms(start);
        match result {
            Ok(detail) => Self {
                system: system.to_owned(),
                status: ProbeStatus::Ok,
                latency_ms,
                detail,
            },
            Err(message) => Self {
                system: system.to_owned(),
                status: ProbeStatus::Down,
                latency_ms,
                detail: serde_json::json!({ "error": message }),
            },
        }
    }
}

/// Overall verdict: `ok` only when every probe is.
pub fn overall(reports: &[ProbeReport]) -> ProbeStatus {
    if reports.iter().all(|r| r.status == ProbeStatus::Ok) {
        ProbeStatus::Ok
    } else {
        ProbeStatus::Down
    }
}

/// Postgres: a round trip that also reads the applied migration version.
pub async fn probe_postgres(db: &impl GenericClient) -> ProbeReport {
    let start = clock::now();
    let result = async {
        let row = db
            .query_one(
                "SELECT max(version) AS version, count(*) AS applied FROM _sqlx_migrations WHERE success",
                &[],
            )
            .await
            .map_err(|e| format!("{e:?}"))?;
        let version: Option<i64> = row.get("version");
        let applied: i64 = row.get("applied");
        Ok(serde_json::json!({ "migration_version": version, "migrations_applied": applied }))
    }
    .await;
    ProbeReport::from_result("postgres", start, result)
}

/// R2: put, read back and delete a unique object.
pub async fn probe_object_store(store: &impl ObjectStore) -> ProbeReport {
    let start = clock::now();
    let key = format!("health-probe/{}", uuid::Uuid::now_v7());
    let payload = key.as_bytes().to_vec();
    let result = async {
        store.put(&key, payload.clone()).await.map_err(|e| e.to_string())?;
        let read = store.get(&key).await.map_err(|e| e.to_string())?;
        store.delete(&key).await.map_err(|e| e.to_string())?;
        match read {
            Some(bytes) if bytes == payload => Ok(serde_json::json!({ "round_trip": "put/get/delete" })),
            Some(_) => Err("object read back differs from what was written".to_owned()),
            None => Err("object written but not found".to_owned()),
        }
    }
    .await;
    ProbeReport::from_result("r2", start, result)
}

/// KV: put, read back and delete a unique key.
pub async fn probe_kv(kv: &impl KvStore) -> ProbeReport {
    let start = clock::now();
    let key = format!("health-probe:{}", uuid::Uuid::now_v7());
    let result = async {
        kv.put(&key, &key, 60).await.map_err(|e| e.to_string())?;
        let read = kv.get(&key).await.map_err(|e| e.to_string())?;
        kv.delete(&key).await.map_err(|e| e.to_string())?;
        match read {
            Some(value) if value == key => Ok(serde_json::json!({ "round_trip": "put/get/delete" })),
            _ => Err("value written but not read back".to_owned()),
        }
    }
    .await;
    ProbeReport::from_result("kv", start, result)
}

/// Queue producer: send a probe envelope the consumer acknowledges without effects.
pub async fn probe_queue(queue: &impl JobQueue) -> ProbeReport {
    let start = clock::now();
    let result = queue
        .send(&JobEnvelope::probe(), 0)
        .await
        .map(|()| serde_json::json!({ "sent": "QUEUE_PROBE" }))
        .map_err(|e| e.to_string());
    ProbeReport::from_result("queue", start, result)
}

/// Wraps an externally measured probe (e.g. the ingest Worker over the service binding).
pub fn report(
    system: &str,
    start: chrono::DateTime<chrono::Utc>,
    result: Result<serde_json::Value, String>,
) -> ProbeReport {
    ProbeReport::from_result(system, start, result)
}
