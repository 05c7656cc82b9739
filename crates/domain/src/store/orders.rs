//! Commercial Transaction Record lookup: by order name, customer email or processed-date
//! range (days in the shop's time zone), newest first, keyset-paginated; and one order's
//! detail with lines, discounts and refunds. Deleted orders are not listed.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tokio_postgres::{GenericClient, Row};

pub type DbError = tokio_postgres::Error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderQuery {
    Name(String),
    Email(String),
    /// Inclusive days, read in the shop's time zone.
    Processed {
        from: NaiveDate,
        to: NaiveDate,
    },
}

/// Where the previous page ended: (processed_at, legacy id) of its last order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub processed_at_micros: i64,
    pub legacy_id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.processed_at_micros, self.legacy_id)
    }

    pub fn decode(s: &str) -> Option<Self> {
        let (a, b) = s.split_once('.')?;
        Some(Self {
            processed_at_micros: a.parse().ok()?,
            legacy_id: b.parse().ok()?,
        })
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderSummary {
    /// Shopify's numeric id (the GID's last segment), used in `/api/orders/{id}`.
    pub id: String,
    pub gid: String,
    pub name: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub processed_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub financial_status: Option<String>,
    pub currency: String,
    pub total_price: String,
    pub total_discounts: String,
    pub total_tax: String,
    pub line_items: i64,
    pub refunded: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderPage {
    pub orders: Vec<OrderSummary>,
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Discount {
    pub amount: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderLine {
    pub gid: String,
    pub title: String,
    pub sku: Option<String>,
    pub quantity: i32,
    pub unit_price: String,
    pub discount: String,
    pub tax: String,
    pub product_gid: Option<String>,
    pub variant_gid: Option<String>,
    pub discounts: Vec<Discount>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefundLine {
    pub gid: String,
    pub line_item_gid: String,
    pub quantity: i32,
    pub subtotal: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refund {
    pub gid: String,
    pub created_at: DateTime<Utc>,
    pub lines: Vec<RefundLine>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderDetail {
    pub order: OrderSummary,
    pub lines: Vec<OrderLine>,
    pub refunds: Vec<Refund>,
}

const SUMMARY: &str = "
SELECT o.legacy_id::text AS id, o.gid, o.name, o.email, o.created_at, o.processed_at, o.cancelled_at,
       o.financial_status, o.currency_code, o.total_price::text, o.total_discounts::text, o.total_tax::text,
       (SELECT count(*) FROM order_line_item l WHERE l.shop_id = o.shop_id AND l.order_gid = o.gid) AS line_items,
       (SELECT coalesce(sum(r.subtotal), 0)::numeric(14,2)::text FROM refund_line_item r
         WHERE r.shop_id = o.shop_id AND r.order_gid = o.gid) AS refunded,
       (extract(epoch FROM o.processed_at) * 1000000)::int8 AS cursor_micros, o.legacy_id
FROM shop_order o";

fn summary(row: &Row) -> OrderSummary {
    OrderSummary {
        id: row.get(0),
        gid: row.get(1),
        name: row.get(2),
        email: row.get(3),
        created_at: row.get(4),
        processed_at: row.get(5),
        cancelled_at: row.get(6),
        financial_status: row.get(7),
        currency: row.get(8),
        total_price: row.get(9),
        total_discounts: row.get(10),
        total_tax: row.get(11),
        line_items: row.get(12),
        refunded: row.get(13),
    }
}

/// One page of orders matching `query`. `limit` is trusted (the route bounds it).
pub async fn find_orders(
    db: &impl GenericClient,
    shop_id: i32,
    timezone: &str,
    query: &OrderQuery,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<OrderPage, DbError> {
    let (after_micros, after_id) = cursor
        .map(|c| (Some(c.processed_at_micros), Some(c.legacy_id)))
        .unwrap_or((None, None));
    let keyset = "($3::int8 IS NULL OR (o.processed_at, o.legacy_id) < (to_timestamp($3::int8 / 1000000.0), $4::int8))";
    let fetch = limit + 1;
    let rows = match query {
        OrderQuery::Name(name) => {
            // `#1001` and `1001` both find order #1001.
            let with_hash = if name.starts_with('#') {
                name.clone()
            } else {
                format!("#{name}")
            };
            let sql = format!(
                "{SUMMARY} WHERE o.shop_id = $1 AND o.deleted_at IS NULL AND o.name = $2 AND {keyset}
                 ORDER BY o.processed_at DESC, o.legacy_id DESC LIMIT $5"
            );
            db.query(&sql, &[&shop_id, &with_hash, &after_micros, &after_id, &fetch])
                .await?
        }
        OrderQuery::Email(email) => {
            let sql = format!(
                "{SUMMARY} WHERE o.shop_id = $1 AND o.deleted_at IS NULL AND lower(o.email) = lower($2) AND {keyset}
                 ORDER BY o.processed_at DESC, o.legacy_id DESC LIMIT $5"
            );
            db.query(&sql, &[&shop_id, email, &after_micros, &after_id, &fetch])
                .await?
        }
        OrderQuery::Processed { from, to } => {
            let sql = format!(
                "{SUMMARY} WHERE o.shop_id = $1 AND o.deleted_at IS NULL
                   AND o.processed_at >= ($2::date::timestamp AT TIME ZONE $6)
                   AND o.processed_at < (($7::date + 1)::timestamp AT TIME ZONE $6)
                   AND {keyset}
                 ORDER BY o.processed_at DESC, o.legacy_id DESC LIMIT $5"
            );
            db.query(&sql, &[&shop_id, from, &after_micros, &after_id, &fetch, &timezone, to])
                .await?
        }
    };
    let more = rows.len() as i64 > limit;
    let page: Vec<&Row> = rows.iter().take(usize::try_from(limit).unwrap_or(0)).collect();
    let next_cursor = if more {
        page.last().map(|r| {
            Cursor {
                processed_at_micros: r.get("cursor_micros"),
                legacy_id: r.get("legacy_id"),
            }
            .encode()
        })
    } else {
        None
    };
    Ok(OrderPage {
        orders: page.into_iter().map(summary).collect(),
        next_cursor,
    })
}

/// One order by Shopify's numeric id, with its lines (and their discount allocations)
/// and refunds (and their lines).
pub async fn order_detail(
    db: &impl GenericClient,
    shop_id: i32,
    legacy_id: i64,
) -> Result<Option<OrderDetail>, DbError> {
    let sql = format!("{SUMMARY} WHERE o.shop_id = $1 AND o.legacy_id = $2 AND o.deleted_at IS NULL");
    let Some(row) = db.query_opt(&sql, &[&shop_id, &legacy_id]).await? else {
        return Ok(None);
    };
    let order = summary(&row);
    let line_rows = db
        .query(
            "SELECT l.gid, l.title, l.sku, l.quantity, l.unit_price::text, l.discount_total::text, l.tax_total::text,
                    l.product_gid, l.variant_gid,
                    coalesce((SELECT array_agg(d.amount::text ORDER BY d.ordinal) FROM discount_allocation d
                              WHERE d.shop_id = l.shop_id AND d.line_item_gid = l.gid), '{}') AS discounts
             FROM order_line_item l WHERE l.shop_id = $1 AND l.order_gid = $2 ORDER BY l.gid",
            &[&shop_id, &order.gid],
        )
        .await?;
    let lines = line_rows
        .iter()
        .map(|r| OrderLine {
            gid: r.get(0),
            title: r.get(1),
            sku: r.get(2),
            quantity: r.get(3),
            unit_price: r.get(4),
            discount: r.get(5),
            tax: r.get(6),
            product_gid: r.get(7),
            variant_gid: r.get(8),
            discounts: r
                .get::<_, Vec<String>>(9)
                .into_iter()
                .map(|amount| Discount { amount })
                .collect(),
        })
        .collect();
    let refund_rows = db
        .query(
            "SELECT gid, created_at FROM refund WHERE shop_id = $1 AND order_gid = $2 ORDER BY created_at, gid",
            &[&shop_id, &order.gid],
        )
        .await?;
    let refund_line_rows = db
        .query(
            "SELECT refund_gid, gid, line_item_gid, quantity, subtotal::text FROM refund_line_item
             WHERE shop_id = $1 AND order_gid = $2 ORDER BY gid",
            &[&shop_id, &order.gid],
        )
        .await?;
    let refunds = refund_rows
        .iter()
        .map(|r| {
            let gid: String = r.get(0);
            let lines = refund_line_rows
                .iter()
                .filter(|l| l.get::<_, &str>(0) == gid)
                .map(|l| RefundLine {
                    gid: l.get(1),
                    line_item_gid: l.get(2),
                    quantity: l.get(3),
                    subtotal: l.get(4),
                })
                .collect();
            Refund {
                gid,
                created_at: r.get(1),
                lines,
            }
        })
        .collect();
    Ok(Some(OrderDetail { order, lines, refunds }))
}
