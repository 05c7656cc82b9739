//! The Cloudflare bindings the domain needs, as traits. The `platform` crate implements
//! them over `worker::Env` (R2, KV, Queues, the `INGEST` service binding); [`memory`]
//! implements them in memory for native tests of the engine.
//!
//! Futures are `Send` so the axum router can hold them; on wasm32 the `platform` crate
//! wraps its single-threaded futures accordingly.

use crate::jobs::JobEnvelope;
use shopify::body::Body;
use std::future::Future;

#[derive(Debug, thiserror::Error)]
#[error("{binding}: {message}")]
pub struct BindingError {
    pub binding: &'static str,
    pub message: String,
}

impl BindingError {
    pub fn new(binding: &'static str, message: impl std::fmt::Display) -> Self {
        Self {
            binding,
            message: message.to_string(),
        }
    }
}

/// R2 (`R2_BUCKET`).
pub trait ObjectStore: Send + Sync {
    fn put(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), BindingError>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, BindingError>> + Send;
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), BindingError>> + Send;
    /// Starts a multipart upload; returns its upload id. Every part but the last must have
    /// the same size (R2: at least 5 MiB).
    fn create_multipart(&self, key: &str) -> impl Future<Output = Result<String, BindingError>> + Send;
    /// Uploads (or re-uploads: the last upload of a number wins) part `number` (from 1);
    /// returns its etag. The part is a downloaded [`Body`] as it stands (in a Worker, still
    /// in JavaScript memory).
    fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u16,
        part: Body,
    ) -> impl Future<Output = Result<String, BindingError>> + Send;
    /// Completes the upload from `(number, etag)` parts in order; returns the object's size
    /// as the store reports it.
    fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<(u16, String)>,
    ) -> impl Future<Output = Result<u64, BindingError>> + Send;
}

/// Workers KV (`KV`).
pub trait KvStore: Send + Sync {
    fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> impl Future<Output = Result<(), BindingError>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<String>, BindingError>> + Send;
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), BindingError>> + Send;
}

/// The producer side of `INGEST_QUEUE`.
pub trait JobQueue: Send + Sync {
    fn send(&self, envelope: &JobEnvelope, delay_seconds: u32)
        -> impl Future<Output = Result<(), BindingError>> + Send;
}

/// Everything a procedure step may reach besides Postgres.
pub trait Bindings: Send + Sync {
    fn objects(&self) -> &impl ObjectStore;
    fn kv(&self) -> &impl KvStore;
    fn queue(&self) -> &impl JobQueue;
}

/// In-memory bindings for native tests of the engine (the real ones are exercised
/// end to end under `wrangler dev`).
pub mod memory {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct MemoryBindings {
        pub objects: MemoryObjects,
        pub kv: MemoryKv,
        pub queue: MemoryQueue,
    }

    #[derive(Default)]
    pub struct MemoryObjects(pub Mutex<HashMap<String, Vec<u8>>>, pub MemoryUploads);
    /// Multipart uploads in progress: upload id → part number → bytes.
    #[derive(Default)]
    pub struct MemoryUploads(pub Mutex<HashMap<String, std::collections::BTreeMap<u16, Vec<u8>>>>);
    #[derive(Default)]
    pub struct MemoryKv(pub Mutex<HashMap<String, String>>);
    #[derive(Default)]
    pub struct MemoryQueue(pub Mutex<Vec<(JobEnvelope, u32)>>);

    fn poisoned(binding: &'static str) -> BindingError {
        BindingError::new(binding, "lock poisoned")
    }

    impl ObjectStore for MemoryObjects {
        async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BindingError> {
            self.0
                .lock()
                .map_err(|_| poisoned("R2_BUCKET"))?
                .insert(key.to_owned(), bytes);
            Ok(())
        }
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BindingError> {
            Ok(self.0.lock().map_err(|_| poisoned("R2_BUCKET"))?.get(key).cloned())
        }
        async fn delete(&self, key: &str) -> Result<(), BindingError> {
            self.0.lock().map_err(|_| poisoned("R2_BUCKET"))?.remove(key);
            Ok(())
        }
        async fn create_multipart(&self, key: &str) -> Result<String, BindingError> {
            let id = format!("{key}#{}", uuid::Uuid::new_v4());
            self.1
                 .0
                .lock()
                .map_err(|_| poisoned("R2_BUCKET"))?
                .insert(id.clone(), Default::default());
            Ok(id)
        }
        fn upload_part(
            &self,
            _key: &str,
            upload_id: &str,
            number: u16,
            part: Body,
        ) -> impl Future<Output = Result<String, BindingError>> + Send {
            // Copied before the future: a Worker's body is not `Send`.
            let bytes = part.to_vec();
            async move {
                let mut uploads = self.1 .0.lock().map_err(|_| poisoned("R2_BUCKET"))?;
                let parts = uploads
                    .get_mut(upload_id)
                    .ok_or_else(|| BindingError::new("R2_BUCKET", format!("no multipart upload {upload_id}")))?;
                let etag = format!("{number}-{}", bytes.len());
                parts.insert(number, bytes);
                Ok(etag)
            }
        }
        async fn complete_multipart(
            &self,
            key: &str,
            upload_id: &str,
            parts: Vec<(u16, String)>,
        ) -> Result<u64, BindingError> {
            let uploaded = self
                .1
                 .0
                .lock()
                .map_err(|_| poisoned("R2_BUCKET"))?
                .remove(upload_id)
                .ok_or_else(|| BindingError::new("R2_BUCKET", format!("no multipart upload {upload_id}")))?;
            let mut object = Vec::new();
            for (number, _etag) in parts {
                let part = uploaded
                    .get(&number)
                    .ok_or_else(|| BindingError::new("R2_BUCKET", format!("part {number} was not uploaded")))?;
                object.extend_from_slice(part);
            }
            let size = object.len() as u64;
            self.0
                .lock()
                .map_err(|_| poisoned("R2_BUCKET"))?
                .insert(key.to_owned(), object);
            Ok(size)
        }
    }

    impl KvStore for MemoryKv {
        async fn put(&self, key: &str, value: &str, _ttl: u64) -> Result<(), BindingError> {
            self.0
                .lock()
                .map_err(|_| poisoned("KV"))?
                .insert(key.to_owned(), value.to_owned());
            Ok(())
        }
        async fn get(&self, key: &str) -> Result<Option<String>, BindingError> {
            Ok(self.0.lock().map_err(|_| poisoned("KV"))?.get(key).cloned())
        }
        async fn delete(&self, key: &str) -> Result<(), BindingError> {
            self.0.lock().map_err(|_| poisoned("KV"))?.remove(key);
            Ok(())
        }
    }

    impl JobQueue for MemoryQueue {
        async fn send(&self, envelope: &JobEnvelope, delay_seconds: u32) -> Result<(), BindingError> {
            self.0
                .lock()
                .map_err(|_| poisoned("INGEST_QUEUE"))?
                .push((envelope.clone(), delay_seconds));
            Ok(())
        }
    }

    impl Bindings for MemoryBindings {
        fn objects(&self) -> &impl ObjectStore {
            &self.objects
        }
        fn kv(&self) -> &impl KvStore {
            &self.kv
        }
        fn queue(&self) -> &impl JobQueue {
            &self.queue
        }
    }
}
