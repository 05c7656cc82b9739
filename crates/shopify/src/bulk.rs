//! The bulk-operation lifecycle as decisions: what to do with an operation as polled.
//!
//! Followed: <https://shopify.dev/docs/api/usage/bulk-operations/queries> (statuses,
//! `partialDataUrl` on failure, result URL expiry after a week) and
//! <https://shopify.dev/docs/api/admin-graphql/2026-01/enums/BulkOperationErrorCode>,
//! <https://shopify.dev/docs/api/admin-graphql/2026-01/enums/BulkOperationUserErrorCode>.

use serde::Deserialize;

/// The access scopes the sync's queries need. `read_all_orders` matters most: without it
/// Shopify answers only the last 60 days of orders, and its own counts then agree with the
/// short file, so nothing downstream could notice the loss
/// (<https://shopify.dev/docs/api/admin-graphql/2026-01/objects/Order>, the note on access to
/// all orders). `read_customers` covers `Order.customer`.
pub const REQUIRED_SCOPES: [&str; 4] = ["read_products", "read_orders", "read_all_orders", "read_customers"];

/// The required scopes missing from `granted` (handles as `AccessScope.handle` gives them).
/// A `write_` scope implies its `read_` scope, as Shopify documents for access scopes
/// (<https://shopify.dev/docs/api/usage/access-scopes>).
pub fn missing_scopes<'a>(granted: impl IntoIterator<Item = &'a str> + Clone) -> Vec<&'static str> {
    REQUIRED_SCOPES
        .into_iter()
        .filter(|needed| {
            let implied_by = needed.replacen("read_", "write_", 1);
            !granted.clone().into_iter().any(|g| g == *needed || g == implied_by)
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BulkStatus {
    Created,
    Running,
    Completed,
    Failed,
    Canceling,
    Canceled,
    Expired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BulkErrorCode {
    AccessDenied,
    InternalServerError,
    Timeout,
}

/// `UnsignedInt64` arrives as a JSON string.
fn u64_from_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        N(u64),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        None => None,
        Some(Raw::N(n)) => Some(n),
        Some(Raw::S(s)) => Some(s.parse().map_err(serde::de::Error::custom)?),
    })
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOperation {
    pub id: String,
    pub status: BulkStatus,
    #[serde(default)]
    pub error_code: Option<BulkErrorCode>,
    #[serde(default, deserialize_with = "u64_from_string")]
    pub object_count: Option<u64>,
    #[serde(default, deserialize_with = "u64_from_string")]
    pub root_object_count: Option<u64>,
    #[serde(default, deserialize_with = "u64_from_string")]
    pub file_size: Option<u64>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub partial_data_url: Option<String>,
}

/// What the sync does next with a polled operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BulkNext {
    /// Not finished: poll again later (re-enqueue with a delay, never sleep).
    PollAgain,
    /// Finished: download this URL. `None` when the operation matched nothing.
    Download(Option<String>),
    /// Failed after producing part of the data: ingest it, then export the remainder.
    DownloadPartialThenRetry(String),
    /// Failed with nothing to keep, but worth a new attempt.
    Retry(String),
    /// Failed for good (e.g. a missing access scope).
    Fail(String),
}

pub fn next_step(op: &BulkOperation) -> BulkNext {
    match op.status {
        BulkStatus::Created | BulkStatus::Running | BulkStatus::Canceling => BulkNext::PollAgain,
        BulkStatus::Completed => BulkNext::Download(op.url.clone()),
        BulkStatus::Canceled => BulkNext::Retry(format!("bulk operation {} was canceled", op.id)),
        BulkStatus::Expired => BulkNext::Retry(format!(
            "the result of bulk operation {} expired before download",
            op.id
        )),
        BulkStatus::Failed => match op.error_code {
            Some(BulkErrorCode::AccessDenied) => BulkNext::Fail(format!(
                "bulk operation {} was denied access: the app lacks a scope the query needs ({})",
                op.id,
                REQUIRED_SCOPES.join(", ")
            )),
            Some(code @ (BulkErrorCode::InternalServerError | BulkErrorCode::Timeout)) => match &op.partial_data_url {
                Some(url) => BulkNext::DownloadPartialThenRetry(url.clone()),
                None => BulkNext::Retry(format!("bulk operation {} failed with {code:?}", op.id)),
            },
            None => BulkNext::Retry(format!("bulk operation {} failed without an error code", op.id)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_scopes_name_what_the_token_lacks() {
        let all = ["read_products", "read_orders", "read_all_orders", "read_customers"];
        assert!(missing_scopes(all).is_empty());
        assert_eq!(
            missing_scopes(["read_products", "read_orders", "read_customers"]),
            vec!["read_all_orders"]
        );
        // write_ implies read_; read_all_orders has no write_ twin to stand in for it.
        assert_eq!(
            missing_scopes(["write_products", "write_orders", "write_customers"]),
            vec!["read_all_orders"]
        );
        assert_eq!(missing_scopes([]), REQUIRED_SCOPES.to_vec());
    }

    fn op(v: serde_json::Value) -> BulkOperation {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn every_status_and_error_code_has_a_decision() {
        let base = json!({"id": "gid://shopify/BulkOperation/1", "objectCount": "10", "rootObjectCount": "4"});
        let with = |extra: serde_json::Value| {
            let mut v = base.clone();
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            op(v)
        };
        for status in ["CREATED", "RUNNING", "CANCELING"] {
            assert_eq!(next_step(&with(json!({"status": status}))), BulkNext::PollAgain);
        }
        assert_eq!(
            next_step(&with(json!({"status": "COMPLETED", "url": "https://x/y.jsonl"}))),
            BulkNext::Download(Some("https://x/y.jsonl".into()))
        );
        assert_eq!(
            next_step(&with(json!({"status": "COMPLETED", "url": null}))),
            BulkNext::Download(None)
        );
        assert!(matches!(
            next_step(&with(json!({"status": "CANCELED"}))),
            BulkNext::Retry(_)
        ));
        assert!(matches!(
            next_step(&with(json!({"status": "EXPIRED"}))),
            BulkNext::Retry(_)
        ));
        match next_step(&with(json!({"status": "FAILED", "errorCode": "ACCESS_DENIED"}))) {
            BulkNext::Fail(message) => assert!(message.contains("scope")),
            other => panic!("{other:?}"),
        }
        for code in ["INTERNAL_SERVER_ERROR", "TIMEOUT"] {
            assert_eq!(
                next_step(&with(
                    json!({"status": "FAILED", "errorCode": code, "partialDataUrl": "https://x/p.jsonl"})
                )),
                BulkNext::DownloadPartialThenRetry("https://x/p.jsonl".into())
            );
            assert!(matches!(
                next_step(&with(json!({"status": "FAILED", "errorCode": code}))),
                BulkNext::Retry(_)
            ));
        }
        match next_step(&with(json!({"status": "FAILED", "errorCode": "ACCESS_DENIED"}))) {
            BulkNext::Fail(message) => assert!(message.contains("read_all_orders"), "{message}"),
            other => panic!("{other:?}"),
        }
        let parsed = with(json!({"status": "COMPLETED"}));
        assert_eq!((parsed.object_count, parsed.root_object_count), (Some(10), Some(4)));
    }
}
