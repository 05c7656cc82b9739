//! `cargo xtask <command>` (alias in .cargo/config.toml):
//!
//! - `migrate [DATABASE_URL]` — apply `migrations/` (defaults to `$DATABASE_URL`); ops point
//!   it at production Postgres directly (not through Hyperdrive);
//! - `create-db DATABASE_URL` / `drop-db DATABASE_URL` — create (if absent) or drop the database named in the URL;
//! - `wasm-size [LIMIT_BYTES]` — print both Workers' gzip-compressed wasm sizes and fail
//!   above the limit (default 3 MiB, the Workers free-plan limit);
//! - `openapi [PATH]` — write the dashboard API's OpenAPI document (generated from the route
//!   annotations, as `GET /api/openapi.json` serves it) to PATH, or print it;
//! - `bench sync …` — the Shopify sync benchmark (run through `scripts/bench`, see `bench.rs`).

mod bench;

use anyhow::{bail, Context};
use std::io::Write;

const WORKERS: [(&str, &str); 2] = [
    ("dashboard-api", "crates/dashboard-api/build/index_bg.wasm"),
    ("ingest", "crates/ingest/build/index_bg.wasm"),
];

fn database_url(arg: Option<&String>) -> anyhow::Result<String> {
    match arg {
        Some(url) => Ok(url.clone()),
        None => std::env::var("DATABASE_URL").context("pass a database URL or set DATABASE_URL"),
    }
}

fn database_name(url: &str) -> anyhow::Result<&str> {
    url.split('?')
        .next()
        .and_then(|u| u.rsplit('/').next())
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .context("the URL must end in a database name of letters, digits and _")
}

async fn admin(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let admin_url = test_db::with_database(url, "postgres");
    let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connect to {}", dbmigrate::redact(&admin_url)))?;
    tokio::spawn(connection);
    Ok(client)
}

pub(crate) async fn create_db(url: &str) -> anyhow::Result<()> {
    let name = database_name(url)?;
    let client = admin(url).await?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        client.batch_execute(&format!("CREATE DATABASE \"{name}\"")).await?;
        println!("created database {name}");
    }
    Ok(())
}

pub(crate) async fn drop_db(url: &str) -> anyhow::Result<()> {
    let name = database_name(url)?;
    admin(url)
        .await?
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await?;
    Ok(())
}

fn gzip_size(path: &str) -> anyhow::Result<(u64, u64)> {
    let bytes = std::fs::read(path).with_context(|| format!("read {path} (build the Workers first)"))?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&bytes)?;
    Ok((bytes.len() as u64, encoder.finish()?.len() as u64))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("migrate") => {
            let url = database_url(args.get(1))?;
            let version = dbmigrate::migrate(&url).await?;
            println!("migrated {} to version {version}", dbmigrate::redact(&url));
        }
        Some("create-db") => create_db(&database_url(args.get(1))?).await?,
        Some("drop-db") => drop_db(&database_url(args.get(1))?).await?,
        Some("wasm-size") => {
            let limit: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3 * 1024 * 1024);
            let mut over = Vec::new();
            for (worker, path) in WORKERS {
                let (raw, gz) = gzip_size(path)?;
                println!(
                    "{worker}: wasm {:.1} KiB, gzip {:.1} KiB (limit {:.0} KiB)",
                    raw as f64 / 1024.0,
                    gz as f64 / 1024.0,
                    limit as f64 / 1024.0
                );
                if gz > limit {
                    over.push(worker);
                }
            }
            if !over.is_empty() {
                bail!("gzip wasm over the limit: {}", over.join(", "));
            }
        }
        Some("openapi") => {
            let json = dashboard_api::openapi::document_json();
            match args.get(1) {
                Some(path) => std::fs::write(path, json).with_context(|| format!("write {path}"))?,
                None => std::io::stdout().write_all(json.as_bytes())?,
            }
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("sync") => {
            let flag = |name: &str| {
                args.iter()
                    .position(|a| a == name)
                    .and_then(|i| args.get(i + 1))
                    .cloned()
                    .with_context(|| format!("bench sync needs {name}"))
            };
            bench::run(bench::Args {
                api: flag("--api")?,
                standins: flag("--standins")?,
                server: flag("--server")?,
                stack_db: flag("--stack-db")?,
                orders: flag("--orders")?.parse()?,
                runs: flag("--runs").map(|r| r.parse()).unwrap_or(Ok(3))?,
                part_bytes: flag("--part-bytes")
                    .map(|r| r.parse())
                    .unwrap_or(Ok(domain::sync::DEFAULT_PART_BYTES))?,
                wasm_dir: flag("--wasm-dir")?.into(),
                out_dir: flag("--out-dir")?.into(),
            })
            .await?
        }
        _ => bail!(
            "usage: cargo xtask migrate [URL] | create-db URL | drop-db URL | wasm-size [LIMIT_BYTES] | openapi [PATH] | bench sync --api URL --standins URL --server URL --stack-db URL --orders N [--runs 3] [--part-bytes B] --wasm-dir DIR --out-dir DIR"
        ),
    }
    Ok(())
}
