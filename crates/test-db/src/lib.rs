//! One real Postgres database per test. A template database is migrated once per
//! migration set (its name carries the latest version) and each test gets a clone,
//! dropped when the [`TestDb`] is dropped.
//!
//! The server comes from `TEST_DATABASE_URL` (or `DATABASE_URL`), else
//! `postgres://postgres@127.0.0.1:5432/postgres`. Advisory locks are fine here: this is
//! native test code talking straight to Postgres, never through Hyperdrive.

use anyhow::Context;
use tokio_postgres::{Client, NoTls};

pub struct TestDb {
    pub name: String,
    pub url: String,
    pub client: Client,
    admin_url: String,
}

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` (a `postgres://user@host:port/db?params` URL) with its database name replaced.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let prefix = &base[..authority_end];
    match query {
        Some(q) => format!("{prefix}/{db}?{q}"),
        None => format!("{prefix}/{db}"),
    }
}

async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connect to {}", dbmigrate::redact(url)))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

impl TestDb {
    pub async fn new() -> anyhow::Result<TestDb> {
        let admin_url = admin_url();
        let admin = connect(&admin_url).await?;
        let template = format!("merch_test_template_{}", dbmigrate::fingerprint());
        admin.execute("SELECT pg_advisory_lock(727274)", &[]).await?;
        let result = async {
            let exists = admin
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
                .await?
                .is_some();
            if !exists {
                let building = format!("{template}_building");
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{building}\""))
                    .await?;
                admin.batch_execute(&format!("CREATE DATABASE \"{building}\"")).await?;
                dbmigrate::migrate(&with_database(&admin_url, &building)).await?;
                admin
                    .batch_execute(&format!("ALTER DATABASE \"{building}\" RENAME TO \"{template}\""))
                    .await?;
            }
            let name = format!("merch_test_{}", uuid::Uuid::new_v4().simple());
            admin
                .batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""))
                .await?;
            anyhow::Ok(name)
        }
        .await;
        admin.execute("SELECT pg_advisory_unlock(727274)", &[]).await?;
        let name = result?;
        let url = with_database(&admin_url, &name);
        let client = connect(&url).await?;
        Ok(TestDb {
            name,
            url,
            client,
            admin_url,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop on a separate thread with its own runtime: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async {
                if let Ok(admin) = connect(&admin_url).await {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn with_database_replaces_only_the_name() {
        assert_eq!(
            super::with_database("postgres://u@h:5432/a", "b"),
            "postgres://u@h:5432/b"
        );
        assert_eq!(
            super::with_database("postgres://u@h:5432", "b"),
            "postgres://u@h:5432/b"
        );
        assert_eq!(
            super::with_database("postgres://u@h/a?sslmode=disable", "b"),
            "postgres://u@h/b?sslmode=disable"
        );
    }
}
