//! The Shopify store in Postgres: shops, catalog and Commercial Transaction Records.
//! [`rows`] turns bulk-export records into column vectors, [`write`] writes them
//! set-based and idempotently, [`orders`] answers order lookups, and the functions here
//! cover shops, reconciliation and what vanished from the store.

pub mod orders;
pub mod rows;
pub mod write;

use serde::Serialize;
use std::collections::BTreeMap;
use tokio_postgres::GenericClient;
use uuid::Uuid;

pub type DbError = tokio_postgres::Error;

/// Every table holding synced store data and sync state, for tools that start a shop over
/// (the benchmark, end-to-end tests): `TRUNCATE {STORE_TABLES}`.
pub const STORE_TABLES: &str = "shop, product, product_variant, collection, collection_membership, shop_order, \
    order_line_item, discount_allocation, refund, refund_line_item, shopify_sync_watermark, shopify_bulk_run, \
    shopify_sync_seen";

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Shop {
    pub id: i32,
    pub gid: String,
    pub domain: String,
    pub name: String,
    pub iana_timezone: String,
    pub currency_code: String,
}

/// Records the shop as Shopify describes it; returns our id for it.
pub async fn upsert_shop(
    db: &impl GenericClient,
    gid: &str,
    domain: &str,
    name: &str,
    iana_timezone: &str,
    currency_code: &str,
) -> Result<i32, DbError> {
    let row = db
        .query_one(
            "INSERT INTO shop (gid, domain, name, iana_timezone, currency_code) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (gid) DO UPDATE SET domain = excluded.domain, name = excluded.name,
                 iana_timezone = excluded.iana_timezone, currency_code = excluded.currency_code, updated_at = now()
             RETURNING id",
            &[&gid, &domain, &name, &iana_timezone, &currency_code],
        )
        .await?;
    Ok(row.get(0))
}

/// The shop order lookups answer for: the only one, or the first synced.
pub async fn primary_shop(db: &impl GenericClient) -> Result<Option<Shop>, DbError> {
    let row = db
        .query_opt(
            "SELECT id, gid, domain, name, iana_timezone, currency_code FROM shop ORDER BY id LIMIT 1",
            &[],
        )
        .await?;
    Ok(row.map(|r| Shop {
        id: r.get(0),
        gid: r.get(1),
        domain: r.get(2),
        name: r.get(3),
        iana_timezone: r.get(4),
        currency_code: r.get(5),
    }))
}

/// Marks what vanished from the store. A product's export lists all its variants and
/// collections, so variants and memberships of products this run saw but did not list
/// are gone in either mode; after a full export, roots (products, orders) it did not
/// see are gone too. Returns rows affected per table.
pub async fn mark_vanished(
    db: &impl GenericClient,
    shop_id: i32,
    execution_id: Uuid,
    resource: &str,
    full: bool,
) -> Result<BTreeMap<String, u64>, DbError> {
    let mut statements: Vec<(&str, &str)> = Vec::new();
    if resource == "catalog" {
        statements.push((
            "product_variant",
            "UPDATE product_variant t SET deleted_at = now() WHERE t.shop_id = $1 AND t.deleted_at IS NULL
             AND EXISTS (SELECT 1 FROM shopify_sync_seen s WHERE s.execution_id = $2 AND s.kind = 'product' AND s.key = t.product_gid)
             AND NOT EXISTS (SELECT 1 FROM shopify_sync_seen s WHERE s.execution_id = $2 AND s.kind = 'variant' AND s.key = t.gid)",
        ));
        statements.push((
            "collection_membership",
            "DELETE FROM collection_membership t WHERE t.shop_id = $1
             AND EXISTS (SELECT 1 FROM shopify_sync_seen s WHERE s.execution_id = $2 AND s.kind = 'product' AND s.key = t.product_gid)
             AND NOT EXISTS (SELECT 1 FROM shopify_sync_seen s WHERE s.execution_id = $2 AND s.kind = 'membership'
                             AND s.key = t.collection_gid || '|' || t.product_gid)",
        ));
        if full {
            statements.push((
                "product",
                "UPDATE product t SET deleted_at = now() WHERE t.shop_id = $1 AND t.deleted_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM shopify_sync_seen s WHERE s.execution_id = $2 AND s.kind = 'product' AND s.key = t.gid)",
            ));
            statements.push((
                "product_variant",
                "UPDATE product_variant t SET deleted_at = now() WHERE t.shop_id = $1 AND t.deleted_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM shopify_sync_seen s WHERE s.execution_id = $2 AND s.kind = 'variant' AND s.key = t.gid)",
            ));
            statements.push((
                "collection_membership",
                "DELETE FROM collection_membership t WHERE t.shop_id = $1
                 AND NOT EXISTS (SELECT 1 FROM shopify_sync_seen s WHERE s.execution_id = $2 AND s.kind = 'product' AND s.key = t.product_gid)",
            ));
        }
    } else if full {
        statements.push((
            "shop_order",
            "UPDATE shop_order t SET deleted_at = now() WHERE t.shop_id = $1 AND t.deleted_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM shopify_sync_seen s WHERE s.execution_id = $2 AND s.kind = 'order' AND s.key = t.gid)",
        ));
    }
    let mut out = BTreeMap::new();
    for (table, sql) in statements {
        let n = db.execute(sql, &[&shop_id, &execution_id]).await?;
        *out.entry(table.to_owned()).or_default() += n;
    }
    Ok(out)
}

/// Refreshes the planner's statistics of the tables reconcile joins. They grew from
/// nothing within this run; without statistics the planner picks nested loops over the
/// seen-set, which is quadratic.
pub async fn analyze_for_reconcile(db: &impl GenericClient) -> Result<(), DbError> {
    db.batch_execute(
        "ANALYZE shopify_sync_seen, product, product_variant, collection_membership, shop_order, order_line_item",
    )
    .await
}

/// Rows in Postgres that stand for this run's lines, per GID type: the roots and variants
/// it saw, and the children (line items, memberships) of the roots it saw. Reconcile
/// compares these with the lines parsed and with Shopify's own counts.
pub async fn rows_for_run(
    db: &impl GenericClient,
    shop_id: i32,
    execution_id: Uuid,
    resource: &str,
) -> Result<BTreeMap<String, i64>, DbError> {
    let queries: &[(&str, &str)] = match resource {
        "catalog" => &[
            (
                "Product",
                "SELECT count(*) FROM product t JOIN shopify_sync_seen s
                   ON s.execution_id = $2 AND s.kind = 'product' AND s.key = t.gid WHERE t.shop_id = $1",
            ),
            (
                "ProductVariant",
                "SELECT count(*) FROM product_variant t JOIN shopify_sync_seen s
                   ON s.execution_id = $2 AND s.kind = 'product' AND s.key = t.product_gid
                 WHERE t.shop_id = $1 AND t.deleted_at IS NULL",
            ),
            (
                "Collection",
                "SELECT count(*) FROM collection_membership t JOIN shopify_sync_seen s
                   ON s.execution_id = $2 AND s.kind = 'product' AND s.key = t.product_gid WHERE t.shop_id = $1",
            ),
        ],
        _ => &[
            (
                "Order",
                "SELECT count(*) FROM shop_order t JOIN shopify_sync_seen s
                   ON s.execution_id = $2 AND s.kind = 'order' AND s.key = t.gid WHERE t.shop_id = $1",
            ),
            (
                "LineItem",
                "SELECT count(*) FROM order_line_item t JOIN shopify_sync_seen s
                   ON s.execution_id = $2 AND s.kind = 'order' AND s.key = t.order_gid WHERE t.shop_id = $1",
            ),
        ],
    };
    let mut out = BTreeMap::new();
    for (typename, sql) in queries {
        let row = db.query_one(*sql, &[&shop_id, &execution_id]).await?;
        out.insert((*typename).to_owned(), row.get::<_, i64>(0));
    }
    Ok(out)
}

/// Drops a finished run's seen-set.
pub async fn forget_seen(db: &impl GenericClient, execution_id: Uuid) -> Result<u64, DbError> {
    db.execute(
        "DELETE FROM shopify_sync_seen WHERE execution_id = $1",
        &[&execution_id],
    )
    .await
}

/// Counts and sums per table of a shop's live (not deleted) data, in the same terms as the
/// Shopify stand-in's ground truth.
pub async fn totals(db: &impl GenericClient, shop_id: i32) -> Result<BTreeMap<String, i64>, DbError> {
    let row = db
        .query_one(
            "WITH o AS (SELECT * FROM shop_order WHERE shop_id = $1 AND deleted_at IS NULL),
                  li AS (SELECT l.* FROM order_line_item l JOIN o ON o.gid = l.order_gid WHERE l.shop_id = $1),
                  da AS (SELECT d.* FROM discount_allocation d JOIN li ON li.gid = d.line_item_gid WHERE d.shop_id = $1),
                  r AS (SELECT x.* FROM refund x JOIN o ON o.gid = x.order_gid WHERE x.shop_id = $1),
                  rl AS (SELECT x.* FROM refund_line_item x JOIN o ON o.gid = x.order_gid WHERE x.shop_id = $1)
             SELECT
               (SELECT count(*) FROM product WHERE shop_id = $1 AND deleted_at IS NULL),
               (SELECT count(*) FROM product_variant WHERE shop_id = $1 AND deleted_at IS NULL),
               (SELECT count(*) FROM collection c WHERE c.shop_id = $1 AND EXISTS
                  (SELECT 1 FROM collection_membership m WHERE m.shop_id = $1 AND m.collection_gid = c.gid)),
               (SELECT count(*) FROM collection_membership WHERE shop_id = $1),
               (SELECT count(*) FROM o),
               (SELECT count(*) FROM o WHERE cancelled_at IS NOT NULL),
               (SELECT count(*) FROM li),
               (SELECT coalesce(sum(quantity), 0)::int8 FROM li),
               (SELECT count(*) FROM da),
               (SELECT coalesce(sum(amount * 100), 0)::int8 FROM da),
               (SELECT coalesce(sum(tax_line_count), 0)::int8 FROM li),
               (SELECT coalesce(sum(tax_total * 100), 0)::int8 FROM li),
               (SELECT count(*) FROM r),
               (SELECT count(*) FROM rl),
               (SELECT coalesce(sum(quantity), 0)::int8 FROM rl),
               (SELECT coalesce(sum(subtotal * 100), 0)::int8 FROM rl),
               (SELECT coalesce(sum(total_price * 100), 0)::int8 FROM o),
               (SELECT coalesce(sum(total_tax * 100), 0)::int8 FROM o),
               (SELECT coalesce(sum(total_discounts * 100), 0)::int8 FROM o)",
            &[&shop_id],
        )
        .await?;
    let names = [
        "products",
        "variants",
        "collections",
        "collection_memberships",
        "orders",
        "orders_cancelled",
        "line_items",
        "line_item_quantity",
        "discount_allocations",
        "discount_allocated_cents",
        "tax_lines",
        "tax_cents",
        "refunds",
        "refund_line_items",
        "refund_quantity",
        "refund_subtotal_cents",
        "order_total_cents",
        "order_tax_cents",
        "order_discount_cents",
    ];
    Ok(names
        .iter()
        .enumerate()
        .map(|(i, name)| ((*name).to_owned(), row.get::<_, i64>(i)))
        .collect())
}
