//! Applies `migrations/` (forward-only, numbered) to a Postgres database with sqlx's
//! migrator. Used by `cargo xtask migrate`, the dev and test commands, and the test
//! databases. Migrations run natively, never from a Worker.

use anyhow::Context;
use sqlx::postgres::PgPoolOptions;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Applies every pending migration; returns the latest applied version.
pub async fn migrate(database_url: &str) -> anyhow::Result<i64> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await
        .with_context(|| format!("connect to {}", redact(database_url)))?;
    MIGRATOR.run(&pool).await.context("apply migrations")?;
    let version: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .context("read applied migration version")?;
    pool.close().await;
    Ok(version.unwrap_or(0))
}

/// The newest migration this build carries.
pub fn latest_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// A short fingerprint of every migration's checksum: test templates are rebuilt when
/// any migration changes, not only when one is added.
pub fn fingerprint() -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for migration in MIGRATOR.iter() {
        for byte in migration.version.to_le_bytes().iter().chain(migration.checksum.iter()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{:012x}", hash & 0xffff_ffff_ffff)
}

/// A connection string with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &creds[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("postgres:///db"), "postgres:///db");
    }
}
