//! The design's cron table: each schedule enqueues one ProcedureExecution.

use crate::jobs::JobType;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// `(schedule, job type, scenario)` exactly as in `physical-architecture.md`.
pub const CRON_TABLE: [(&str, JobType, &str); 3] = [
    ("0 6 * * *", JobType::ProcedureExecutionInitiate, "Daily Sync"),
    ("0 * * * *", JobType::MeasurementDatasetRefresh, "Pipeline"),
    ("0 3 * * 0", JobType::IceHealthCheck, "Asset Ingest"),
];

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("no job is scheduled for cron {0:?}")]
pub struct UnknownSchedule(pub String);

pub fn job_for_schedule(cron: &str) -> Result<JobType, UnknownSchedule> {
    let normalized = cron.split_whitespace().collect::<Vec<_>>().join(" ");
    CRON_TABLE
        .iter()
        .find(|(schedule, _, _)| *schedule == normalized)
        .map(|(_, job, _)| *job)
        .ok_or(UnknownSchedule(cron.to_owned()))
}

/// The key that makes one (schedule, scheduled time) enqueue at most one execution.
/// Cron granularity is a minute, so the scheduled time is taken to the minute.
pub fn dedupe_key(cron: &str, scheduled_time: DateTime<Utc>) -> String {
    let minute = scheduled_time
        .duration_trunc(TimeDelta::minutes(1))
        .unwrap_or(scheduled_time);
    format!("cron:{}@{}", cron.trim(), minute.format("%Y-%m-%dT%H:%MZ"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_design_schedule_maps_to_its_job() {
        assert_eq!(job_for_schedule("0 6 * * *"), Ok(JobType::ProcedureExecutionInitiate));
        assert_eq!(job_for_schedule("0 *  * * *"), Ok(JobType::MeasurementDatasetRefresh));
        assert_eq!(job_for_schedule("0 3 * * 0"), Ok(JobType::IceHealthCheck));
        assert!(job_for_schedule("5 4 * * *").is_err());
    }

    #[test]
    fn dedupe_key_is_per_schedule_and_minute() {
        let t = Utc.with_ymd_and_hms(2026, 12, 4, 6, 0, 0).unwrap();
        let later_same_minute = t + TimeDelta::milliseconds(59_000);
        assert_eq!(dedupe_key("0 6 * * *", t), dedupe_key("0 6 * * *", later_same_minute));
        assert_ne!(dedupe_key("0 6 * * *", t), dedupe_key("0 * * * *", t));
        assert_ne!(
            dedupe_key("0 6 * * *", t),
            dedupe_key("0 6 * * *", t + TimeDelta::days(1))
        );
        assert_eq!(dedupe_key("0 6 * * *", t), "cron:0 6 * * *@2026-12-04T06:00Z");
    }
}
