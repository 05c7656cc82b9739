//! The Agent (CCO) acting on the system: who a request or a job runs for.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// A person signed in through Cloudflare Access.
    User { email: String, subject: String },
    /// A Cloudflare Access service token (no email; identified by its `common_name`).
    Service { common_name: String },
    /// The system itself, e.g. a cron trigger.
    System { name: String },
}

impl Principal {
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::User { .. } => "user",
            Principal::Service { .. } => "service",
            Principal::System { .. } => "system",
        }
    }

    /// The identifier recorded beside the kind (email, common name or system name).
    pub fn id(&self) -> &str {
        match self {
            Principal::User { email, .. } => email,
            Principal::Service { common_name } => common_name,
            Principal::System { name } => name,
        }
    }
}
