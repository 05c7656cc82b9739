//! ProcedureExecution (PKO): background jobs recorded as executions with steps.
//!
//! - [`JobEnvelope`] is the queue message: a `job_type` discriminator and an execution id.
//! - [`repo`] holds every SQL statement about executions and steps.
//! - [`engine`] turns one delivered message into recorded step runs and an ack/retry decision.
//! - [`procedures`] is the registry of job types and their steps.

pub mod engine;
pub mod procedures;
pub mod repo;
pub mod start;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Job types the system knows. A type is *known* when the API may start it or cron
/// enqueues it; it is *registered* when [`procedures::Registry`] has a handler for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobType {
    /// Shopify bulk sync (daily cron, on demand).
    ProcedureExecutionInitiate,
    /// Rebuild of the performance measurement dataset (hourly cron).
    MeasurementDatasetRefresh,
    /// Weekly design-asset health check.
    IceHealthCheck,
    /// The same probes as `GET /api/health/details`, run as recorded steps.
    SystemSelfCheck,
    /// Exercises the engine: steps that write effects and can be told to fail.
    EngineDrill,
}

impl JobType {
    pub const ALL: [JobType; 5] = [
        JobType::ProcedureExecutionInitiate,
        JobType::MeasurementDatasetRefresh,
        JobType::IceHealthCheck,
        JobType::SystemSelfCheck,
        JobType::EngineDrill,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobType::ProcedureExecutionInitiate => "PROCEDURE_EXECUTION_INITIATE",
            JobType::MeasurementDatasetRefresh => "MEASUREMENT_DATASET_REFRESH",
            JobType::IceHealthCheck => "ICE_HEALTH_CHECK",
            JobType::SystemSelfCheck => "SYSTEM_SELF_CHECK",
            JobType::EngineDrill => "ENGINE_DRILL",
        }
    }

    pub fn parse(s: &str) -> Option<JobType> {
        JobType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for JobType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The discriminator of a health-probe message: acknowledged, never recorded.
pub const QUEUE_PROBE: &str = "QUEUE_PROBE";

/// One queue message. `job_type` stays a string so a message of a type this build
/// does not know is still read, and recorded as failed rather than lost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEnvelope {
    pub job_type: String,
    pub execution_id: Uuid,
}

impl JobEnvelope {
    pub fn new(job_type: JobType, execution_id: Uuid) -> Self {
        Self {
            job_type: job_type.as_str().to_owned(),
            execution_id,
        }
    }

    pub fn probe() -> Self {
        Self {
            job_type: QUEUE_PROBE.to_owned(),
            execution_id: Uuid::nil(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Cron,
    User,
    Api,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Cron => "cron",
            Trigger::User => "user",
            Trigger::Api => "api",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Queued,
    Running,
    Retrying,
    Succeeded,
    Failed,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 5] = [
        ExecutionStatus::Queued,
        ExecutionStatus::Running,
        ExecutionStatus::Retrying,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Queued => "queued",
            ExecutionStatus::Running => "running",
            ExecutionStatus::Retrying => "retrying",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, ExecutionStatus::Succeeded | ExecutionStatus::Failed)
    }
}

/// Capped exponential backoff: `base * 2^(attempt-1)`, at most `cap`.
pub fn backoff_seconds(attempt: u32, base: u32, cap: u32) -> u32 {
    let exp = attempt.saturating_sub(1).min(31);
    base.saturating_mul(1u32 << exp).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        let delays: Vec<u32> = (1..=7).map(|a| backoff_seconds(a, 2, 30)).collect();
        assert_eq!(delays, vec![2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff_seconds(200, 2, 30), 30);
    }

    #[test]
    fn job_types_round_trip_their_discriminator() {
        for t in JobType::ALL {
            assert_eq!(JobType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(t.as_str()));
        }
        assert_eq!(JobType::parse("NOPE"), None);
    }
}
