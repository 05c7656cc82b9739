//! `cargo xtask bench sync …` (run by `scripts/bench`, which starts the stack first): the
//! Shopify sync's throughput against Postgres `COPY` of the same rows, measured in one run
//! on one generated store. Prints figures and ratios; medians over `--runs`.
//!
//! 1. The stand-in exports the store (orders + catalog) through a real bulk operation; the
//!    files are downloaded once.
//! 2. JSONL parse MB/s: natively (this binary, release) and as wasm in node's V8
//!    (`crates/parse-bench` via `scripts/bench-parse.mjs`), same parts, same code.
//! 3. Native parse + upsert into a fresh database (the Worker's code: `ChunkRows` +
//!    `write_chunk`, one transaction per part): in turn on one thread, as the Worker runs
//!    them, and pipelined (a second thread parses the next part during the writes).
//! 4. Baseline: `COPY` of the same rows into the same tables of a fresh database.
//! 5. Staging-table merge vs `unnest` upsert for orders and line items (the choice kept).
//! 6. Through `wrangler dev`: a full sync by the wasm ingest Worker on the stack's
//!    database; rows/s of its download/parse/upsert step and its peak wasm memory, for a
//!    store of a quarter the size first and then the full size (memory flat as it grows).

use anyhow::{bail, Context};
use domain::store::rows::ChunkRows;
use domain::store::write::{write_chunk, write_line_items, write_orders, LINE_ITEMS, ORDERS};
use futures::SinkExt;
use serde_json::{json, Value};
use shopify::client::{AdminClient, RetryPolicy, ShopConfig, Transport};
use shopify::documents::{self, bulk_query};
use shopify::jsonl::JsonlReader;
use shopify::native::ReqwestTransport;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

pub struct Args {
    pub api: String,
    pub standins: String,
    /// `postgres://user:pass@host:port` (no database).
    pub server: String,
    /// The stack's database (the Workers' Hyperdrive origin).
    pub stack_db: String,
    pub orders: u64,
    pub runs: usize,
    pub part_bytes: u64,
    pub wasm_dir: PathBuf,
    pub out_dir: PathBuf,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.context("connect")?;
    tokio::spawn(connection);
    Ok(client)
}

async fn standin(http: &reqwest::Client, base: &str, path: &str, body: Value) -> anyhow::Result<Value> {
    let response = http.post(format!("{base}{path}")).json(&body).send().await?;
    let status = response.status();
    let value: Value = response.json().await?;
    if !status.is_success() {
        bail!("{path}: {status} {value}");
    }
    Ok(value)
}

/// Runs one bulk export on the stand-in and downloads its file.
async fn export(args: &Args, template: &str, path: &Path) -> anyhow::Result<u64> {
    let transport = ReqwestTransport::new();
    let client = AdminClient::new(
        &transport,
        ShopConfig {
            base_url: args.standins.clone(),
            access_token: "bench".into(),
            api_version: shopify::ADMIN_API_VERSION.into(),
        },
        RetryPolicy::default(),
    );
    let payload = client
        .mutate(
            documents::RUN_BULK_QUERY,
            json!({ "query": bulk_query(template, "") }),
            "bulkOperationRunQuery",
        )
        .await?;
    let id = payload["bulkOperation"]["id"]
        .as_str()
        .context("operation id")?
        .to_owned();
    let url = loop {
        let data = client
            .execute(documents::POLL_BULK_OPERATION, json!({ "id": id }))
            .await?;
        match data["node"]["status"].as_str() {
            Some("COMPLETED") => break data["node"]["url"].as_str().context("url")?.to_owned(),
            Some("CREATED" | "RUNNING") => tokio::time::sleep(Duration::from_millis(300)).await,
            other => bail!("bulk export ended {other:?}: {data}"),
        }
    };
    let mut file = std::fs::File::create(path)?;
    let step = 64 * 1024 * 1024;
    let mut offset = 0;
    loop {
        let response = transport
            .get(&url, Some((offset, offset + step - 1)))
            .await
            .map_err(anyhow::Error::msg)?;
        match response.status {
            206 | 200 => {}
            416 => break,
            s => bail!("download answered {s}"),
        }
        let body = response.body.to_vec();
        file.write_all(&body)?;
        offset += body.len() as u64;
        if (body.len() as u64) < step {
            break;
        }
    }
    Ok(offset)
}

/// Parts of a file, as the Worker downloads them.
fn parts(path: &Path, part_bytes: u64) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Vec<u8>>>> {
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut offset = 0;
    Ok(std::iter::from_fn(move || {
        if offset >= size {
            return None;
        }
        let mut buf = vec![0; usize::try_from(part_bytes.min(size - offset)).unwrap_or(0)];
        let read = file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut buf))
            .map(|_| buf)
            .map_err(anyhow::Error::from);
        offset += part_bytes;
        Some(read)
    }))
}

/// The rows of each part of a file, parsed as the Worker parses them, then those of an
/// unfinished last line.
fn part_rows(path: &Path, part_bytes: u64) -> anyhow::Result<impl Iterator<Item = anyhow::Result<ChunkRows>>> {
    let mut reader = Some(JsonlReader::starting_at(0, 0));
    let mut parts = parts(path, part_bytes)?;
    Ok(std::iter::from_fn(move || {
        let records: anyhow::Result<Vec<_>> = match parts.next() {
            Some(part) => {
                let reader = reader.as_mut()?;
                part.and_then(|p| Ok(reader.feed(&p)?))
            }
            None => match reader.take()?.finish() {
                Ok(Some(last)) => Ok(vec![last]),
                Ok(None) => return None,
                Err(e) => Err(e.into()),
            },
        };
        Some(records.and_then(|records| {
            let mut rows = ChunkRows::default();
            for r in &records {
                rows.add(r)?;
            }
            Ok(rows)
        }))
    }))
}

fn parse_file(
    path: &Path,
    part_bytes: u64,
    mut each: impl FnMut(ChunkRows) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for rows in part_rows(path, part_bytes)? {
        each(rows?)?;
    }
    Ok(())
}

async fn fresh_db(args: &Args, tag: &str) -> anyhow::Result<String> {
    let url = format!("{}/merch_bench_{tag}_{}", args.server, std::process::id());
    crate::drop_db(&url).await?;
    crate::create_db(&url).await?;
    dbmigrate::migrate(&url).await?;
    Ok(url)
}

async fn shop(db: &Client) -> anyhow::Result<i32> {
    Ok(domain::store::upsert_shop(db, "gid://shopify/Shop/1", "bench.myshopify.com", "Bench", "UTC", "USD").await?)
}

fn rows_of(rows: &ChunkRows) -> u64 {
    (rows.products.gid.len()
        + rows.variants.gid.len()
        + rows.memberships.product_gid.len()
        + rows.orders.gid.len()
        + rows.line_items.gid.len()
        + rows.allocations.line_item_gid.len()
        + rows.refunds.gid.len()
        + rows.refund_lines.gid.len()) as u64
}

/// How the native run orders parsing and writing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Native {
    /// Parse a part, write it, parse the next: as the Worker does (one thread).
    InTurn,
    /// A thread parses the next part while the current one is written, as a native
    /// importer on more than one core would.
    Pipelined,
}

/// One part's rows in one transaction: (seconds in Postgres, rows written).
async fn write_part(db: &Client, shop_id: i32, execution: Uuid, rows: &ChunkRows) -> anyhow::Result<(Duration, u64)> {
    let t = Instant::now();
    db.batch_execute("BEGIN").await?;
    let w = write_chunk(db, shop_id, execution, rows).await?;
    db.batch_execute("COMMIT").await?;
    Ok((t.elapsed(), w.rows_written))
}

/// Native parse + upsert: (seconds total, seconds in Postgres, rows).
async fn native_upsert(args: &Args, files: &[PathBuf], run: usize, how: Native) -> anyhow::Result<(f64, f64, u64)> {
    let tag = match how {
        Native::InTurn => "native",
        Native::Pipelined => "pipelined",
    };
    let url = fresh_db(args, &format!("{tag}{run}")).await?;
    let db = connect(&url).await?;
    let shop_id = shop(&db).await?;
    let execution = Uuid::now_v7();
    let started = Instant::now();
    let mut in_db = Duration::ZERO;
    let mut rows_written = 0;
    match how {
        Native::InTurn => {
            for file in files {
                for rows in part_rows(file, args.part_bytes)? {
                    let (t, n) = write_part(&db, shop_id, execution, &rows?).await?;
                    (in_db, rows_written) = (in_db + t, rows_written + n);
                }
            }
        }
        Native::Pipelined => {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<anyhow::Result<ChunkRows>>(1);
            let (paths, part_bytes) = (files.to_vec(), args.part_bytes);
            let parser = std::thread::spawn(move || {
                for file in &paths {
                    let sent = parse_file(file, part_bytes, |rows| {
                        tx.blocking_send(Ok(rows))
                            .map_err(|_| anyhow::anyhow!("the writer stopped"))
                    });
                    if let Err(e) = sent {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            });
            while let Some(rows) = rx.recv().await {
                let (t, n) = write_part(&db, shop_id, execution, &rows?).await?;
                (in_db, rows_written) = (in_db + t, rows_written + n);
            }
            parser
                .join()
                .map_err(|_| anyhow::anyhow!("the parser thread panicked"))?;
        }
    }
    let total = started.elapsed().as_secs_f64();
    drop(db);
    crate::drop_db(&url).await?;
    Ok((total, in_db.as_secs_f64(), rows_written))
}

fn csv_cell(out: &mut String, value: Option<&str>) {
    if let Some(v) = value {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    }
}

fn csv_rows(columns: &[Vec<Option<String>>]) -> String {
    let mut out = String::new();
    let n = columns.first().map_or(0, Vec::len);
    for i in 0..n {
        for (c, column) in columns.iter().enumerate() {
            if c > 0 {
                out.push(',');
            }
            csv_cell(&mut out, column[i].as_deref());
        }
        out.push('\n');
    }
    out
}

fn some(v: &[String]) -> Vec<Option<String>> {
    v.iter().cloned().map(Some).collect()
}

fn num<T: ToString>(v: &[T]) -> Vec<Option<String>> {
    v.iter().map(|x| Some(x.to_string())).collect()
}

fn pg_array(json_tags: &str) -> String {
    let tags: Vec<String> = serde_json::from_str(json_tags).unwrap_or_default();
    let inner: Vec<String> = tags
        .iter()
        .map(|t| format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// The chunk's rows as (table, columns, CSV) for `COPY`.
fn copy_sets(shop_id: i32, r: &ChunkRows) -> Vec<(&'static str, &'static str, String)> {
    let shop = |n: usize| vec![Some(shop_id.to_string()); n];
    let p = &r.products;
    let v = &r.variants;
    let m = &r.memberships;
    let o = &r.orders;
    let l = &r.line_items;
    let a = &r.allocations;
    let rf = &r.refunds;
    let rl = &r.refund_lines;
    vec![
        ("product", "shop_id, gid, title, handle, product_type, vendor, status, tags, created_at, updated_at",
         csv_rows(&[shop(p.gid.len()), some(&p.gid), some(&p.title), some(&p.handle), some(&p.product_type), some(&p.vendor),
                    some(&p.status), p.tags.iter().map(|t| Some(pg_array(t))).collect(), some(&p.created_at), some(&p.updated_at)])),
        ("product_variant", "shop_id, gid, product_gid, sku, title, price, inventory_quantity, created_at, updated_at",
         csv_rows(&[shop(v.gid.len()), some(&v.gid), some(&v.product_gid), v.sku.clone(), some(&v.title), some(&v.price),
                    v.inventory_quantity.iter().map(|q| q.map(|q| q.to_string())).collect(), some(&v.created_at), some(&v.updated_at)])),
        ("collection_membership", "shop_id, collection_gid, product_gid",
         csv_rows(&[shop(m.product_gid.len()), some(&m.collection_gid), some(&m.product_gid)])),
        ("shop_order", "shop_id, gid, legacy_id, name, email, customer_gid, created_at, processed_at, updated_at, cancelled_at, financial_status, currency_code, total_price, total_discounts, total_tax",
         csv_rows(&[shop(o.gid.len()), some(&o.gid), num(&o.legacy_id), some(&o.name), o.email.clone(), o.customer_gid.clone(),
                    some(&o.created_at), some(&o.processed_at), some(&o.updated_at), o.cancelled_at.clone(), o.financial_status.clone(),
                    some(&o.currency_code), some(&o.total_price), some(&o.total_discounts), some(&o.total_tax)])),
        ("order_line_item", "shop_id, gid, order_gid, product_gid, variant_gid, sku, title, quantity, unit_price, discount_total, tax_total, tax_line_count",
         csv_rows(&[shop(l.gid.len()), some(&l.gid), some(&l.order_gid), l.product_gid.clone(), l.variant_gid.clone(), l.sku.clone(),
                    some(&l.title), num(&l.quantity), some(&l.unit_price), some(&l.discount_total), some(&l.tax_total), num(&l.tax_line_count)])),
        ("discount_allocation", "shop_id, line_item_gid, ordinal, amount",
         csv_rows(&[shop(a.line_item_gid.len()), some(&a.line_item_gid), num(&a.ordinal), some(&a.amount)])),
        ("refund", "shop_id, gid, order_gid, created_at",
         csv_rows(&[shop(rf.gid.len()), some(&rf.gid), some(&rf.order_gid), some(&rf.created_at)])),
        ("refund_line_item", "shop_id, gid, refund_gid, order_gid, line_item_gid, quantity, subtotal",
         csv_rows(&[shop(rl.gid.len()), some(&rl.gid), some(&rl.refund_gid), some(&rl.order_gid), some(&rl.line_item_gid),
                    num(&rl.quantity), some(&rl.subtotal)])),
    ]
}

async fn copy_in(db: &Client, table: &str, columns: &str, csv: String) -> anyhow::Result<()> {
    if csv.is_empty() {
        return Ok(());
    }
    let sink = db
        .copy_in::<_, bytes::Bytes>(&format!("COPY {table} ({columns}) FROM STDIN (FORMAT csv)"))
        .await?;
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from(csv)).await?;
    sink.close().await?;
    Ok(())
}

/// `COPY` of the same rows into the same (empty) tables: (seconds in Postgres, rows).
async fn copy_baseline(args: &Args, files: &[PathBuf], run: usize) -> anyhow::Result<(f64, u64)> {
    let url = fresh_db(args, &format!("copy{run}")).await?;
    let db = connect(&url).await?;
    let shop_id = shop(&db).await?;
    let mut in_db = Duration::ZERO;
    let mut rows = 0;
    for file in files {
        let mut prepared = Vec::new();
        parse_file(file, args.part_bytes, |chunk| {
            rows += rows_of(&chunk);
            prepared.push(copy_sets(shop_id, &chunk));
            Ok(())
        })?;
        for sets in prepared {
            let t = Instant::now();
            db.batch_execute("BEGIN").await?;
            for (table, columns, csv) in sets {
                copy_in(&db, table, columns, csv).await?;
            }
            db.batch_execute("COMMIT").await?;
            in_db += t.elapsed();
        }
    }
    drop(db);
    crate::drop_db(&url).await?;
    Ok((in_db.as_secs_f64(), rows))
}

/// Orders and line items only: `unnest` upsert vs `COPY` into a temporary staging table
/// then the same `ON CONFLICT` merge. Returns (unnest seconds, staging seconds).
async fn staging_vs_unnest(args: &Args, orders_file: &Path, run: usize) -> anyhow::Result<(f64, f64)> {
    let mut chunks = Vec::new();
    parse_file(orders_file, args.part_bytes, |c| {
        chunks.push(c);
        Ok(())
    })?;
    let url = fresh_db(args, &format!("unnest{run}")).await?;
    let db = connect(&url).await?;
    let shop_id = shop(&db).await?;
    let t = Instant::now();
    for c in &chunks {
        db.batch_execute("BEGIN").await?;
        write_orders(&db, shop_id, &c.orders).await?;
        write_line_items(&db, shop_id, &c.line_items).await?;
        db.batch_execute("COMMIT").await?;
    }
    let unnest = t.elapsed().as_secs_f64();
    drop(db);
    crate::drop_db(&url).await?;

    let url = fresh_db(args, &format!("staging{run}")).await?;
    let db = connect(&url).await?;
    let shop_id = shop(&db).await?;
    let merge = |sql: &str, table: &str| {
        let conflict = &sql[sql.find("ON CONFLICT").unwrap_or(sql.len())..];
        let target = &sql[..sql.find("SELECT").unwrap_or(0)];
        format!("{target} SELECT * FROM staging_{table} {conflict}")
    };
    let t = Instant::now();
    for c in &chunks {
        let sets = copy_sets(shop_id, c);
        db.batch_execute(
            "BEGIN;
             CREATE TEMP TABLE staging_shop_order (LIKE shop_order) ON COMMIT DROP;
             CREATE TEMP TABLE staging_order_line_item (LIKE order_line_item) ON COMMIT DROP;",
        )
        .await?;
        for (table, columns, csv) in sets {
            if table == "shop_order" || table == "order_line_item" {
                copy_in(&db, &format!("staging_{table}"), columns, csv).await?;
            }
        }
        let orders_merge = merge(ORDERS, "shop_order").replace(
            "SELECT * FROM staging_shop_order",
            "SELECT shop_id, gid, legacy_id, name, email, customer_gid, created_at, processed_at, updated_at, cancelled_at, financial_status, currency_code, total_price, total_discounts, total_tax FROM staging_shop_order",
        );
        let lines_merge = merge(LINE_ITEMS, "order_line_item").replace(
            "SELECT * FROM staging_order_line_item",
            "SELECT shop_id, gid, order_gid, product_gid, variant_gid, sku, title, quantity, unit_price, discount_total, tax_total, tax_line_count FROM staging_order_line_item",
        );
        db.batch_execute(&orders_merge).await?;
        db.batch_execute(&lines_merge).await?;
        db.batch_execute("COMMIT").await?;
    }
    let staging = t.elapsed().as_secs_f64();
    drop(db);
    crate::drop_db(&url).await?;
    Ok((unnest, staging))
}

fn native_parse(files: &[PathBuf], part_bytes: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    for file in files {
        let mut reader = JsonlReader::starting_at(0, 0);
        for part in parts(file, part_bytes)? {
            parse_bench::parse_part(&mut reader, &part?).map_err(anyhow::Error::msg)?;
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

fn wasm_parse(args: &Args, file: &Path) -> anyhow::Result<Value> {
    let output = std::process::Command::new("node")
        .arg("scripts/bench-parse.mjs")
        .arg(&args.wasm_dir)
        .arg(file)
        .arg(args.part_bytes.to_string())
        .arg(args.runs.to_string())
        .output()
        .context("run node scripts/bench-parse.mjs")?;
    if !output.status.success() {
        bail!("wasm parse failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// A full sync by the wasm Worker: (step seconds, rows written, peak wasm memory bytes).
async fn wrangler_sync(args: &Args, http: &reqwest::Client, token: &str) -> anyhow::Result<(f64, u64, u64, Value)> {
    let db = connect(&args.stack_db).await?;
    db.batch_execute(&format!("TRUNCATE {} CASCADE", domain::store::STORE_TABLES))
        .await?;
    let response = http
        .post(format!("{}/api/jobs", args.api))
        .header("cf-access-jwt-assertion", token)
        .json(&json!({ "job_type": "PROCEDURE_EXECUTION_INITIATE", "params": { "mode": "full" } }))
        .send()
        .await?;
    let started: Value = response.json().await?;
    let id = started["execution_id"].as_str().context("execution_id")?.to_owned();
    // Polls go on a connection each, with a deadline: a kept-alive connection that wrangler
    // dev's proxy had dropped once failed a run here. A poll that does not get through is
    // asked again; five in a row end the benchmark.
    let poller = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut transport_errors = 0;
    let body = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let response = match poller
            .get(format!("{}/api/jobs/{id}", args.api))
            .header("cf-access-jwt-assertion", token)
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) if transport_errors < 5 => {
                transport_errors += 1;
                eprintln!("polling {id}: {e}; asking again");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        transport_errors = 0;
        let body: Value = response.json().await?;
        match body["execution"]["status"].as_str() {
            Some("succeeded") => break body,
            Some("failed") => bail!("the sync failed: {body:#}"),
            _ => {}
        }
    };
    let step = body["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "download_parse_upsert"))
        .context("download step")?
        .clone();
    let time = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(step[field].as_str().unwrap_or_default()).map(|t| t.timestamp_micros())
    };
    let seconds = (time("finished_at")? - time("started_at")?) as f64 / 1e6;
    let rows = step["counters"]["rows_written"].as_u64().unwrap_or(0);
    let memory = step["counters"]["wasm_memory_bytes"].as_u64().unwrap_or(0);
    Ok((seconds, rows, memory, step["counters"].clone()))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out_dir)?;
    let http = reqwest::Client::new();
    let mib = |b: u64| b as f64 / 1048576.0;
    let token = http
        .get(format!(
            "{}/cdn-cgi/access/token?email=bench@example.com",
            args.standins
        ))
        .send()
        .await?
        .text()
        .await?
        .trim()
        .to_owned();

    // 6a. Through wrangler first on a quarter-size store (peak memory of the small file).
    let small = (args.orders / 4).max(1000);
    println!("generating a {small}-order store in the stand-in …");
    standin(
        &http,
        &args.standins,
        "/_standin/shopify/store",
        json!({ "seed": 42, "orders": small }),
    )
    .await?;
    let (small_secs, small_rows, small_memory, _) = wrangler_sync(&args, &http, &token).await?;
    println!(
        "wrangler dev, {small} orders: {small_rows} rows in {small_secs:.1} s, peak wasm memory {:.1} MiB",
        mib(small_memory)
    );

    println!("generating a {}-order store in the stand-in …", args.orders);
    let truth = standin(
        &http,
        &args.standins,
        "/_standin/shopify/store",
        json!({ "seed": 42, "orders": args.orders }),
    )
    .await?;
    let orders_file = args.out_dir.join("orders.jsonl");
    let catalog_file = args.out_dir.join("catalog.jsonl");
    let orders_bytes = export(&args, documents::ORDERS_BULK_QUERY, &orders_file).await?;
    let catalog_bytes = export(&args, documents::CATALOG_BULK_QUERY, &catalog_file).await?;
    let files = vec![catalog_file.clone(), orders_file.clone()];
    let bytes = orders_bytes + catalog_bytes;
    println!(
        "exported {:.1} MiB (orders {:.1} MiB, catalog {:.1} MiB)",
        mib(bytes),
        mib(orders_bytes),
        mib(catalog_bytes)
    );

    // 2. Parse MB/s.
    let mut parse = Vec::new();
    for _ in 0..args.runs {
        parse.push(native_parse(&files, args.part_bytes)?);
    }
    let native_parse_mbs = bytes as f64 / 1e6 / median(parse);
    let wasm = wasm_parse(&args, &orders_file)?;
    let wasm_parse_mbs = wasm["mb_per_s"].as_f64().unwrap_or(0.0);
    let native_orders_parse = {
        let mut v = Vec::new();
        for _ in 0..args.runs {
            v.push(native_parse(std::slice::from_ref(&orders_file), args.part_bytes)?);
        }
        orders_bytes as f64 / 1e6 / median(v)
    };

    // 3 + 4. Native upsert and COPY, alternating runs.
    let (mut native_total, mut native_db, mut copy, mut pipelined) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut rows, mut copy_rows) = (0, 0);
    for run in 0..args.runs {
        let (t, d, r) = native_upsert(&args, &files, run, Native::InTurn).await?;
        native_total.push(t);
        native_db.push(d);
        rows = r;
        let (c, cr) = copy_baseline(&args, &files, run).await?;
        copy.push(c);
        copy_rows = cr;
        let (p, _, pr) = native_upsert(&args, &files, run, Native::Pipelined).await?;
        if pr != r {
            bail!("the pipelined run wrote {pr} rows, the in-turn run {r}");
        }
        pipelined.push(p);
    }
    if rows != copy_rows {
        bail!("the upsert wrote {rows} rows but COPY {copy_rows}: not the same rows");
    }
    let copy_rps = rows as f64 / median(copy);
    let native_rps = rows as f64 / median(native_total);
    let native_db_rps = rows as f64 / median(native_db);
    let pipelined_rps = rows as f64 / median(pipelined);

    // 5. Staging merge vs unnest (orders + line items).
    let (mut unnest, mut staging) = (Vec::new(), Vec::new());
    for run in 0..args.runs {
        let (u, s) = staging_vs_unnest(&args, &orders_file, run).await?;
        unnest.push(u);
        staging.push(s);
    }

    let (unnest, staging) = (median(unnest), median(staging));

    // 6b. Through wrangler on the full store.
    let (w_secs, w_rows, w_memory, w_counters) = wrangler_sync(&args, &http, &token).await?;
    let wrangler_rps = w_rows as f64 / w_secs;

    let report = json!({
        "orders": args.orders,
        "jsonl_bytes": bytes,
        "rows": rows,
        "runs": args.runs,
        "part_bytes": args.part_bytes,
        "truth_orders": truth["orders"].clone(),
        "parse_mb_per_s": { "native_all_files": native_parse_mbs, "native_orders_file": native_orders_parse, "wasm_orders_file": wasm_parse_mbs },
        "rows_per_s": { "copy": copy_rps, "native_parse_upsert": native_rps, "native_parse_upsert_pipelined": pipelined_rps, "native_upsert_only": native_db_rps, "wrangler_dev": wrangler_rps },
        "ratio_to_copy": { "native": native_rps / copy_rps, "native_pipelined": pipelined_rps / copy_rps, "wrangler_dev": wrangler_rps / copy_rps },
        "orders_and_lines_seconds": { "unnest": unnest, "staging_copy_merge": staging },
        "wasm_memory_bytes": { "small_store": small_memory, "full_store": w_memory, "small_orders": small },
        "wrangler_rows": w_rows,
        "wrangler_step_counters": w_counters,
    });
    let path = args.out_dir.join("sync-report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    println!();
    println!(
        "Shopify sync benchmark — {} orders, {:.1} MiB JSONL, {rows} rows; medians of {} runs",
        args.orders,
        mib(bytes),
        args.runs
    );
    println!("  Postgres COPY (baseline)        {:>10.0} rows/s", copy_rps);
    println!(
        "  native parse + upsert, in turn  {:>10.0} rows/s   {:.2}x COPY (target >= 0.5; one thread, as the Worker)",
        native_rps,
        native_rps / copy_rps
    );
    println!(
        "  native parse + upsert, pipelined{:>10.0} rows/s   {:.2}x COPY (target >= 0.5; parse overlaps the writes)",
        pipelined_rps,
        pipelined_rps / copy_rps
    );
    println!(
        "  native upsert only              {:>10.0} rows/s   {:.2}x COPY",
        native_db_rps,
        native_db_rps / copy_rps
    );
    println!(
        "  wasm Worker via wrangler dev    {:>10.0} rows/s   {:.2}x COPY (target >= 0.25; one run)",
        wrangler_rps,
        wrangler_rps / copy_rps
    );
    println!(
        "  JSONL parse, orders file        native {:.1} MB/s, wasm (V8) {:.1} MB/s ({:.2}x)",
        native_orders_parse,
        wasm_parse_mbs,
        wasm_parse_mbs / native_orders_parse
    );
    println!(
        "  peak wasm memory while ingesting {:.1} MiB ({} orders) → {:.1} MiB ({} orders); target <= 64 MiB, flat",
        mib(small_memory),
        small,
        mib(w_memory),
        args.orders
    );
    println!(
        "  orders+line items: unnest upsert {:.2} s vs COPY-to-staging + merge {:.2} s",
        unnest, staging
    );
    println!("  report: {}", path.display());
    Ok(())
}
