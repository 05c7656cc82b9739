//! Shopify Admin API stand-in: the GraphQL endpoint the `shopify` crate talks to, bulk
//! operations whose results are files of a generated store, signed result URLs, and a
//! control API for tests (store reset, mutations, faults, counters, ground truth).
//!
//! Shapes followed (API version 2026-01, schema `../shared/shopify/admin-2026-01.graphql`):
//! - bulk operations: <https://shopify.dev/docs/api/usage/bulk-operations/queries>;
//! - `BulkOperation`: <https://shopify.dev/docs/api/admin-graphql/2026-01/objects/BulkOperation>;
//! - cost and throttling: <https://shopify.dev/docs/api/usage/limits>;
//! - status codes (401, 404, 429 with `Retry-After`, 5xx): <https://shopify.dev/docs/api/usage/response-codes>.
//!
//! Paths (all on the stand-ins' one port):
//! - `POST /admin/api/2026-01/graphql.json` (header `X-Shopify-Access-Token`, any value);
//! - `GET /shopify-bulk/<n>.jsonl?expires=<unix>&sig=<token>` (result files, with `Range`);
//! - `/_standin/shopify/{truth,store,mutate,faults,requests,settings}` (see [`server`]).
//!
//! Modules: [`generator`] (the deterministic store and its truth), [`export`] (JSONL),
//! [`bulk`] (operation lifecycle), [`cost`] (leaky bucket), [`faults`], [`calendar`]
//! (dates and shop time zones), [`server`] (HTTP).

pub mod bulk;
pub mod calendar;
pub mod cost;
pub mod export;
pub mod faults;
pub mod generator;
pub mod server;

pub use server::router;

use anyhow::Context;
use bulk::Operations;
use cost::LeakyBucket;
use faults::{Counters, Faults};
use generator::{Store, StoreSpec, Truth};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub const API_VERSION: &str = "2026-01";
pub const SHOP_GID: &str = "gid://shopify/Shop/1";
pub const SHOP_NAME: &str = "Merch Stand-in";
pub const MYSHOPIFY_DOMAIN: &str = "merch-standin.myshopify.com";
/// Result URLs are valid for a week, as Shopify's.
pub const DEFAULT_URL_VALIDITY_SECONDS: i64 = 7 * 24 * 3600;

/// A poisoned lock still guards consistent data here (no invariant spans a panic).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Knobs tests turn (`POST /_standin/shopify/settings`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Polls that answer `RUNNING` before an operation whose file is written may end.
    pub running_polls: u32,
    pub url_validity_seconds: i64,
    /// The cost bucket's size and refill rate (points per second); changing either refills it.
    pub maximum_available: f64,
    pub restore_rate: f64,
    /// The access scopes the app installation reports (`currentAppInstallation.accessScopes`).
    pub access_scopes: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            running_polls: 1,
            url_validity_seconds: DEFAULT_URL_VALIDITY_SECONDS,
            maximum_available: cost::DEFAULT_MAXIMUM_AVAILABLE,
            restore_rate: cost::DEFAULT_RESTORE_RATE,
            access_scopes: ["read_products", "read_orders", "read_all_orders", "read_customers"]
                .map(str::to_owned)
                .to_vec(),
        }
    }
}

/// Signs result URLs like a signed Cloud Storage URL: an expiry and a keyed hash over
/// operation number and expiry. The key is new each process.
#[derive(Debug)]
pub struct UrlSigner {
    base_url: String,
    key: [u8; 32],
}

impl UrlSigner {
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            key: rand::random(),
        }
    }

    fn signature(&self, number: u64, expires: i64) -> String {
        let mut hash = Sha256::new();
        hash.update(self.key);
        hash.update(format!("shopify-bulk/{number}.jsonl:{expires}").as_bytes());
        hash.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn url(&self, number: u64, expires: i64) -> String {
        format!(
            "{}/shopify-bulk/{number}.jsonl?expires={expires}&sig={}",
            self.base_url,
            self.signature(number, expires)
        )
    }

    pub fn verify(&self, number: u64, expires: i64, signature: &str) -> bool {
        self.signature(number, expires) == signature
    }
}

struct StoreSlot {
    store: Arc<Store>,
    truth: Option<Arc<Truth>>,
}

/// The stand-in's state, shared by its handlers.
pub struct ShopifyStandin {
    files_dir: PathBuf,
    signer: UrlSigner,
    store: Mutex<StoreSlot>,
    /// Serialises store resets and mutations (each swaps the store when done).
    control: tokio::sync::Mutex<()>,
    operations: Mutex<Operations>,
    faults: Mutex<Faults>,
    counters: Mutex<Counters>,
    bucket: Mutex<LeakyBucket>,
    settings: Mutex<Settings>,
}

impl ShopifyStandin {
    /// `state_dir` is the stand-ins' state directory (result files go to
    /// `<state_dir>/shopify/`, emptied of earlier results); `base_url` is the stand-in's own
    /// address (`http://127.0.0.1:<port>`), used in result URLs.
    pub fn new(state_dir: &Path, base_url: &str, spec: StoreSpec) -> anyhow::Result<Self> {
        let files_dir = state_dir.join("shopify");
        std::fs::create_dir_all(&files_dir).with_context(|| format!("create {}", files_dir.display()))?;
        for entry in std::fs::read_dir(&files_dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("bulk-") && name.ends_with(".jsonl") {
                std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
            }
        }
        let store = Store::new(spec).context("the default Shopify store")?;
        let settings = Settings::default();
        Ok(Self {
            files_dir,
            signer: UrlSigner::new(base_url),
            store: Mutex::new(StoreSlot {
                store: Arc::new(store),
                truth: None,
            }),
            control: tokio::sync::Mutex::new(()),
            operations: Mutex::new(Operations::default()),
            faults: Mutex::new(Faults::default()),
            counters: Mutex::new(Counters::default()),
            bucket: Mutex::new(LeakyBucket::new(settings.maximum_available, settings.restore_rate)),
            settings: Mutex::new(settings),
        })
    }

    /// The store as it is now (exports started later see later changes, running ones not).
    pub fn store(&self) -> Arc<Store> {
        lock(&self.store).store.clone()
    }

    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// Replaces the settings; a new bucket size or rate starts a full bucket.
    pub fn set_settings(&self, settings: Settings) {
        let mut current = lock(&self.settings);
        if (current.maximum_available, current.restore_rate) != (settings.maximum_available, settings.restore_rate) {
            *lock(&self.bucket) = LeakyBucket::new(settings.maximum_available, settings.restore_rate);
        }
        *current = settings;
    }

    /// Arms a fault (0 disarms).
    pub fn arm(&self, fault: faults::Fault, times: u64) {
        lock(&self.faults).arm(fault, times);
    }

    pub fn counter(&self, name: &str) -> u64 {
        lock(&self.counters).get(name)
    }

    fn count(&self, name: &'static str, by: u64) {
        lock(&self.counters).add(name, by);
    }

    fn result_path(&self, number: u64) -> PathBuf {
        self.files_dir.join(format!("bulk-{number}.jsonl"))
    }
}
