//! Postgres through the Hyperdrive binding: a Worker socket handed to tokio-postgres.

use crate::bindings::HYPERDRIVE;
use futures::channel::oneshot;
use std::sync::Arc;
use tokio_postgres::Client;
use worker::postgres_tls::PassthroughTls;
use worker::{Env, SecureTransport, Socket};

/// An open connection. Call [`DbHandle::close`] when the request or batch is done: it
/// drops the client and waits for the connection task, so the socket closes cleanly
/// (otherwise every request logs `ECONNRESET`).
pub struct DbHandle {
    pub client: Arc<Client>,
    done: oneshot::Receiver<()>,
}

#[derive(Debug)]
pub struct DbConnectError(pub String);

impl std::fmt::Display for DbConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub async fn connect(env: &Env) -> Result<DbHandle, DbConnectError> {
    let hyperdrive = env
        .hyperdrive(HYPERDRIVE)
        .map_err(|e| DbConnectError(format!("{HYPERDRIVE} binding: {e}")))?;
    let config = hyperdrive
        .connection_string()
        .parse::<tokio_postgres::Config>()
        .map_err(|e| DbConnectError(format!("{HYPERDRIVE} connection string: {e:?}")))?;
    let socket = Socket::builder()
        .secure_transport(SecureTransport::StartTls)
        .connect(hyperdrive.host(), hyperdrive.port())
        .map_err(|e| DbConnectError(format!("open socket: {e}")))?;
    let (client, connection) = config
        .connect_raw(socket, PassthroughTls)
        .await
        .map_err(|e| DbConnectError(format!("connect: {e:?}")))?;
    let (tx, done) = oneshot::channel();
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = ?e, "postgres connection error");
        }
        let _ = tx.send(());
    });
    Ok(DbHandle {
        client: Arc::new(client),
        done,
    })
}

impl DbHandle {
    pub async fn close(self) {
        drop(self.client);
        let _ = self.done.await;
    }
}
