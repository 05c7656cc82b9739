//! R2, KV and the queue producer as the domain's traits; the JWKS fetcher for Access.

use domain::jobs::JobEnvelope;
use domain::platform::{BindingError, Bindings, JobQueue, KvStore, ObjectStore};
use shopify::body::Body;
use std::future::Future;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::send::{SendFuture, SendWrapper};
use worker::worker_sys::{
    R2Bucket as EdgeR2Bucket, R2MultipartUpload as EdgeR2MultipartUpload, R2UploadedPart as EdgeR2UploadedPart,
};
use worker::{Bucket, Env, Queue, QueueContentType, RawMessageBuilder};

pub const HYPERDRIVE: &str = "HYPERDRIVE";
pub const R2_BUCKET: &str = "R2_BUCKET";
pub const INGEST_QUEUE: &str = "INGEST_QUEUE";
pub const KV: &str = "KV";
pub const INGEST: &str = "INGEST";

/// A string setting from `[vars]`, `.dev.vars` or `wrangler secret`; empty counts as unset.
pub fn env_string(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|s| s.to_string()))
        .ok()
        .filter(|s| !s.trim().is_empty())
}

pub struct WorkerObjects(SendWrapper<Bucket>);
pub struct WorkerKv(SendWrapper<worker::KvStore>);
pub struct WorkerQueue(SendWrapper<Queue>);

pub struct WorkerBindings {
    objects: WorkerObjects,
    kv: WorkerKv,
    queue: WorkerQueue,
}

impl WorkerBindings {
    pub fn from_env(env: &Env) -> worker::Result<Self> {
        Ok(Self {
            objects: WorkerObjects(SendWrapper::new(env.bucket(R2_BUCKET)?)),
            kv: WorkerKv(SendWrapper::new(env.kv(KV)?)),
            queue: WorkerQueue(SendWrapper::new(env.queue(INGEST_QUEUE)?)),
        })
    }
}

impl Bindings for WorkerBindings {
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

fn err(binding: &'static str) -> impl Fn(worker::Error) -> BindingError {
    move |e| BindingError::new(binding, e)
}

impl ObjectStore for WorkerObjects {
    fn put(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), BindingError>> + Send {
        let key = key.to_owned();
        SendFuture::new(async move {
            self.0.put(key, bytes).execute().await.map_err(err(R2_BUCKET))?;
            Ok(())
        })
    }

    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, BindingError>> + Send {
        let key = key.to_owned();
        SendFuture::new(async move {
            let Some(object) = self.0.get(key).execute().await.map_err(err(R2_BUCKET))? else {
                return Ok(None);
            };
            match object.body() {
                Some(body) => Ok(Some(body.bytes().await.map_err(err(R2_BUCKET))?)),
                None => Ok(Some(Vec::new())),
            }
        })
    }

    fn delete(&self, key: &str) -> impl Future<Output = Result<(), BindingError>> + Send {
        let key = key.to_owned();
        SendFuture::new(async move { self.0.delete(key).await.map_err(err(R2_BUCKET)) })
    }

    fn create_multipart(&self, key: &str) -> impl Future<Output = Result<String, BindingError>> + Send {
        let key = key.to_owned();
        SendFuture::new(async move {
            let upload = self
                .0
                .create_multipart_upload(key)
                .execute()
                .await
                .map_err(err(R2_BUCKET))?;
            Ok(upload.upload_id().await)
        })
    }

    fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u16,
        part: Body,
    ) -> impl Future<Output = Result<String, BindingError>> + Send {
        let (key, upload_id) = (key.to_owned(), upload_id.to_owned());
        SendFuture::new(async move {
            // Through worker-sys: the `worker` wrapper takes only a `Vec<u8>` (a copy out of
            // wasm memory), and the part is already a JavaScript array (see `shopify::body`).
            let js = |e: JsValue| BindingError::new(R2_BUCKET, format!("{e:?}"));
            let bucket: &EdgeR2Bucket = AsRef::<JsValue>::as_ref(&*self.0).unchecked_ref();
            let upload: EdgeR2MultipartUpload = bucket.resume_multipart_upload(key, upload_id).map_err(js)?.into();
            let promise = upload.upload_part(number, part.as_uint8_array().into()).map_err(js)?;
            let uploaded: EdgeR2UploadedPart = JsFuture::from(promise).await.map_err(js)?.into();
            uploaded.etag().map_err(js)
        })
    }

    fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<(u16, String)>,
    ) -> impl Future<Output = Result<u64, BindingError>> + Send {
        let (key, upload_id) = (key.to_owned(), upload_id.to_owned());
        SendFuture::new(async move {
            let upload = self.0.resume_multipart_upload(key, upload_id).map_err(err(R2_BUCKET))?;
            let object = upload
                .complete(parts.into_iter().map(|(n, etag)| worker::UploadedPart::new(n, etag)))
                .await
                .map_err(err(R2_BUCKET))?;
            Ok(object.size())
        })
    }
}

impl KvStore for WorkerKv {
    fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> impl Future<Output = Result<(), BindingError>> + Send {
        let (key, value) = (key.to_owned(), value.to_owned());
        SendFuture::new(async move {
            self.0
                .put(&key, value)
                .map_err(|e| BindingError::new(KV, e))?
                .expiration_ttl(ttl_seconds.max(60))
                .execute()
                .await
                .map_err(|e| BindingError::new(KV, e))
        })
    }

    fn get(&self, key: &str) -> impl Future<Output = Result<Option<String>, BindingError>> + Send {
        let key = key.to_owned();
        SendFuture::new(async move { self.0.get(&key).text().await.map_err(|e| BindingError::new(KV, e)) })
    }

    fn delete(&self, key: &str) -> impl Future<Output = Result<(), BindingError>> + Send {
        let key = key.to_owned();
        SendFuture::new(async move { self.0.delete(&key).await.map_err(|e| BindingError::new(KV, e)) })
    }
}

impl JobQueue for WorkerQueue {
    fn send(
        &self,
        envelope: &JobEnvelope,
        delay_seconds: u32,
    ) -> impl Future<Output = Result<(), BindingError>> + Send {
        let envelope = envelope.clone();
        SendFuture::new(async move {
            // JSON-compatible serialisation: the default turns maps into JS `Map`s that
            // arrive as `{}` on the consumer side.
            let body = serde::Serialize::serialize(&envelope, &serde_wasm_bindgen::Serializer::json_compatible())
                .map_err(|e| BindingError::new(INGEST_QUEUE, e))?;
            let mut builder = RawMessageBuilder::new(body);
            if delay_seconds > 0 {
                builder = builder.delay_seconds(delay_seconds);
            }
            self.0
                .send_raw(builder.build_with_content_type(QueueContentType::Json))
                .await
                .map_err(err(INGEST_QUEUE))
        })
    }
}

/// Fetches the Access team's JWKS with the Workers fetch API.
pub struct JwksFetcher;

impl access::KeyFetcher for JwksFetcher {
    async fn fetch_jwks(&self, url: &str) -> Result<jsonwebtoken::jwk::JwkSet, String> {
        let request = worker::Request::new(url, worker::Method::Get).map_err(|e| e.to_string())?;
        let mut response = worker::Fetch::Request(request)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status_code() != 200 {
            return Err(format!("{url} answered {}", response.status_code()));
        }
        response.json().await.map_err(|e| format!("{url}: {e}"))
    }
}
