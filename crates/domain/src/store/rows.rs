//! Bulk-export records → column vectors, one per table, ready for set-based writes.
//!
//! One JSONL line is one primary row (product, variant, collection membership, order,
//! line item); inline lists become child rows (an order's refunds and their refund line
//! items, a line item's discount allocations). Money stays a decimal string and times an
//! RFC 3339 string until Postgres casts them, so nothing is rounded on the way.

use shopify::jsonl::BulkRecord;
use std::collections::{BTreeMap, HashSet};

/// A line whose shape is not what the documents asked for: reported with its GID.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{gid}: {message}")]
pub struct RowError {
    pub gid: String,
    pub message: String,
}

fn parent(record: &BulkRecord) -> Result<String, RowError> {
    record.parent_id.clone().ok_or_else(|| RowError {
        gid: record.id.clone(),
        message: "a child line without __parentId".into(),
    })
}

/// The shapes the bulk documents select (`crates/shopify/src/documents.rs`), read straight
/// from each line: a typed parse is several times faster than a generic JSON value.
mod wire {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct IdRef {
        pub id: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct MoneyV2 {
        pub amount: String,
        #[serde(default)]
        pub currency_code: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct MoneyBag {
        pub shop_money: MoneyV2,
    }

    #[derive(Deserialize)]
    pub struct Edges<T> {
        pub edges: Vec<Edge<T>>,
    }

    #[derive(Deserialize)]
    pub struct Edge<T> {
        pub node: T,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Product {
        pub title: String,
        pub handle: String,
        #[serde(default)]
        pub product_type: Option<String>,
        #[serde(default)]
        pub vendor: Option<String>,
        pub status: String,
        #[serde(default)]
        pub tags: Vec<String>,
        pub created_at: String,
        pub updated_at: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Variant {
        #[serde(default)]
        pub sku: Option<String>,
        pub title: String,
        pub price: String,
        #[serde(default)]
        pub inventory_quantity: Option<i64>,
        pub created_at: String,
        pub updated_at: String,
    }

    #[derive(Deserialize)]
    pub struct Collection {
        pub handle: String,
        pub title: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct RefundLine {
        pub id: String,
        pub quantity: i64,
        pub line_item: IdRef,
        #[serde(default)]
        pub subtotal_set: Option<MoneyBag>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Refund {
        pub id: String,
        pub created_at: String,
        pub refund_line_items: Edges<RefundLine>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Order {
        pub name: String,
        #[serde(default)]
        pub email: Option<String>,
        pub created_at: String,
        pub processed_at: String,
        pub updated_at: String,
        #[serde(default)]
        pub cancelled_at: Option<String>,
        #[serde(default)]
        pub display_financial_status: Option<String>,
        pub current_total_price_set: MoneyBag,
        pub total_discounts_set: MoneyBag,
        pub total_tax_set: MoneyBag,
        #[serde(default)]
        pub customer: Option<IdRef>,
        #[serde(default)]
        pub refunds: Vec<Refund>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Allocation {
        pub allocated_amount_set: MoneyBag,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct TaxLine {
        pub price_set: MoneyBag,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct LineItem {
        #[serde(default)]
        pub sku: Option<String>,
        pub quantity: i64,
        pub title: String,
        #[serde(default)]
        pub product: Option<IdRef>,
        #[serde(default)]
        pub variant: Option<IdRef>,
        pub original_unit_price_set: MoneyBag,
        #[serde(default)]
        pub discount_allocations: Vec<Allocation>,
        #[serde(default)]
        pub tax_lines: Vec<TaxLine>,
    }
}

fn read<'a, T: serde::Deserialize<'a>>(record: &'a BulkRecord) -> Result<T, RowError> {
    serde_json::from_slice(&record.raw).map_err(|e| RowError {
        gid: record.id.clone(),
        message: e.to_string(),
    })
}

fn int32(value: i64, gid: &str, field: &str) -> Result<i32, RowError> {
    i32::try_from(value).map_err(|_| RowError {
        gid: gid.to_owned(),
        message: format!("{field} {value} is out of range"),
    })
}

/// Sums decimal strings exactly (cents), for line-item discount and tax totals.
fn sum_amounts<'a>(amounts: impl Iterator<Item = &'a str>) -> String {
    let mut cents: i64 = 0;
    for a in amounts {
        cents += parse_cents(a).unwrap_or(0);
    }
    format_cents(cents)
}

/// `"12.3"` → 1230 cents; `None` when not a decimal.
pub fn parse_cents(amount: &str) -> Option<i64> {
    let (negative, digits) = match amount.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, amount),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut frac2: String = frac.chars().take(2).collect();
    while frac2.len() < 2 {
        frac2.push('0');
    }
    let cents = whole.parse::<i64>().ok()? * 100 + frac2.parse::<i64>().ok()?;
    Some(if negative { -cents } else { cents })
}

pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// The numeric id at the end of a GID: `gid://shopify/Order/42` → 42.
pub fn legacy_id(gid: &str) -> Option<i64> {
    gid.rsplit('/').next()?.parse().ok()
}

#[derive(Default, Debug)]
pub struct Products {
    pub gid: Vec<String>,
    pub title: Vec<String>,
    pub handle: Vec<String>,
    pub product_type: Vec<String>,
    pub vendor: Vec<String>,
    pub status: Vec<String>,
    pub tags: Vec<String>,
    pub created_at: Vec<String>,
    pub updated_at: Vec<String>,
}

#[derive(Default, Debug)]
pub struct Variants {
    pub gid: Vec<String>,
    pub product_gid: Vec<String>,
    pub sku: Vec<Option<String>>,
    pub title: Vec<String>,
    pub price: Vec<String>,
    pub inventory_quantity: Vec<Option<i32>>,
    pub created_at: Vec<String>,
    pub updated_at: Vec<String>,
}

#[derive(Default, Debug)]
pub struct Memberships {
    pub collection_gid: Vec<String>,
    pub collection_handle: Vec<String>,
    pub collection_title: Vec<String>,
    pub product_gid: Vec<String>,
}

#[derive(Default, Debug)]
pub struct Orders {
    pub gid: Vec<String>,
    pub legacy_id: Vec<i64>,
    pub name: Vec<String>,
    pub email: Vec<Option<String>>,
    pub customer_gid: Vec<Option<String>>,
    pub created_at: Vec<String>,
    pub processed_at: Vec<String>,
    pub updated_at: Vec<String>,
    pub cancelled_at: Vec<Option<String>>,
    pub financial_status: Vec<Option<String>>,
    pub currency_code: Vec<String>,
    pub total_price: Vec<String>,
    pub total_discounts: Vec<String>,
    pub total_tax: Vec<String>,
}

#[derive(Default, Debug)]
pub struct LineItems {
    pub gid: Vec<String>,
    pub order_gid: Vec<String>,
    pub product_gid: Vec<Option<String>>,
    pub variant_gid: Vec<Option<String>>,
    pub sku: Vec<Option<String>>,
    pub title: Vec<String>,
    pub quantity: Vec<i32>,
    pub unit_price: Vec<String>,
    pub discount_total: Vec<String>,
    pub tax_total: Vec<String>,
    pub tax_line_count: Vec<i32>,
}

impl LineItems {
    /// Forgets the last line item: a row lost between parse and write, for the fault that
    /// proves reconcile counts rows in Postgres (test stacks only).
    pub fn lose_last(&mut self) {
        self.gid.pop();
        self.order_gid.pop();
        self.product_gid.pop();
        self.variant_gid.pop();
        self.sku.pop();
        self.title.pop();
        self.quantity.pop();
        self.unit_price.pop();
        self.discount_total.pop();
        self.tax_total.pop();
        self.tax_line_count.pop();
    }
}

#[derive(Default, Debug)]
pub struct Allocations {
    pub line_item_gid: Vec<String>,
    pub ordinal: Vec<i32>,
    pub amount: Vec<String>,
}

#[derive(Default, Debug)]
pub struct Refunds {
    pub gid: Vec<String>,
    pub order_gid: Vec<String>,
    pub created_at: Vec<String>,
}

#[derive(Default, Debug)]
pub struct RefundLines {
    pub gid: Vec<String>,
    pub refund_gid: Vec<String>,
    pub order_gid: Vec<String>,
    pub line_item_gid: Vec<String>,
    pub quantity: Vec<i32>,
    pub subtotal: Vec<String>,
}

/// The rows of one chunk of a bulk export.
#[derive(Default, Debug)]
pub struct ChunkRows {
    pub products: Products,
    pub variants: Variants,
    pub memberships: Memberships,
    pub orders: Orders,
    pub line_items: LineItems,
    pub allocations: Allocations,
    pub refunds: Refunds,
    pub refund_lines: RefundLines,
    /// Lines per GID type, for the reconcile step.
    pub lines_by_type: BTreeMap<String, u64>,
    /// Lines that repeated a (type, GID) already in this chunk; they are not written twice.
    pub duplicate_lines: u64,
    seen: HashSet<String>,
}

impl ChunkRows {
    pub fn lines(&self) -> u64 {
        self.lines_by_type.values().sum()
    }

    /// Primary rows (one per line) held.
    pub fn primary_rows(&self) -> usize {
        self.products.gid.len()
            + self.variants.gid.len()
            + self.memberships.product_gid.len()
            + self.orders.gid.len()
            + self.line_items.gid.len()
    }

    /// Adds one record. Types the documents do not ask for are refused.
    pub fn add(&mut self, record: &BulkRecord) -> Result<(), RowError> {
        let key = match record.typename.as_str() {
            // A collection appears once per product it holds: the membership is the line.
            "Collection" => format!("{}|{}", record.id, record.parent_id.as_deref().unwrap_or("")),
            _ => record.id.clone(),
        };
        *self.lines_by_type.entry(record.typename.clone()).or_default() += 1;
        if !self.seen.insert(key) {
            self.duplicate_lines += 1;
            return Ok(());
        }
        let gid = record.id.as_str();
        match record.typename.as_str() {
            "Product" => {
                let f: wire::Product = read(record)?;
                let p = &mut self.products;
                p.gid.push(gid.to_owned());
                p.title.push(f.title);
                p.handle.push(f.handle);
                p.product_type.push(f.product_type.unwrap_or_default());
                p.vendor.push(f.vendor.unwrap_or_default());
                p.status.push(f.status);
                p.tags
                    .push(serde_json::to_string(&f.tags).unwrap_or_else(|_| "[]".into()));
                p.created_at.push(f.created_at);
                p.updated_at.push(f.updated_at);
            }
            "ProductVariant" => {
                let f: wire::Variant = read(record)?;
                let v = &mut self.variants;
                v.gid.push(gid.to_owned());
                v.product_gid.push(parent(record)?);
                v.sku.push(f.sku);
                v.title.push(f.title);
                v.price.push(f.price);
                v.inventory_quantity
                    .push(f.inventory_quantity.and_then(|n| i32::try_from(n).ok()));
                v.created_at.push(f.created_at);
                v.updated_at.push(f.updated_at);
            }
            "Collection" => {
                let f: wire::Collection = read(record)?;
                let m = &mut self.memberships;
                m.collection_gid.push(gid.to_owned());
                m.collection_handle.push(f.handle);
                m.collection_title.push(f.title);
                m.product_gid.push(parent(record)?);
            }
            "Order" => self.add_order(gid, read(record)?)?,
            "LineItem" => self.add_line_item(gid, &parent(record)?, read(record)?)?,
            other => {
                return Err(RowError {
                    gid: gid.to_owned(),
                    message: format!("unexpected object type {other} in a bulk export"),
                })
            }
        }
        Ok(())
    }

    fn add_order(&mut self, gid: &str, f: wire::Order) -> Result<(), RowError> {
        let o = &mut self.orders;
        o.gid.push(gid.to_owned());
        o.legacy_id.push(legacy_id(gid).ok_or_else(|| RowError {
            gid: gid.to_owned(),
            message: "the GID has no numeric id".into(),
        })?);
        o.name.push(f.name);
        o.email.push(f.email);
        o.customer_gid.push(f.customer.map(|c| c.id));
        o.created_at.push(f.created_at);
        o.processed_at.push(f.processed_at);
        o.updated_at.push(f.updated_at);
        o.cancelled_at.push(f.cancelled_at);
        o.financial_status.push(f.display_financial_status);
        o.currency_code
            .push(f.current_total_price_set.shop_money.currency_code.unwrap_or_default());
        o.total_price.push(f.current_total_price_set.shop_money.amount);
        o.total_discounts.push(f.total_discounts_set.shop_money.amount);
        o.total_tax.push(f.total_tax_set.shop_money.amount);
        for refund in f.refunds {
            self.refunds.gid.push(refund.id.clone());
            self.refunds.order_gid.push(gid.to_owned());
            self.refunds.created_at.push(refund.created_at);
            for edge in refund.refund_line_items.edges {
                let node = edge.node;
                let r = &mut self.refund_lines;
                r.quantity.push(int32(node.quantity, &node.id, "quantity")?);
                r.line_item_gid.push(node.line_item.id);
                r.subtotal.push(
                    node.subtotal_set
                        .map(|m| m.shop_money.amount)
                        .unwrap_or_else(|| "0".into()),
                );
                r.gid.push(node.id);
                r.refund_gid.push(refund.id.clone());
                r.order_gid.push(gid.to_owned());
            }
        }
        Ok(())
    }

    fn add_line_item(&mut self, gid: &str, order_gid: &str, f: wire::LineItem) -> Result<(), RowError> {
        let discount_total = sum_amounts(
            f.discount_allocations
                .iter()
                .map(|a| a.allocated_amount_set.shop_money.amount.as_str()),
        );
        for (i, allocation) in f.discount_allocations.into_iter().enumerate() {
            self.allocations.line_item_gid.push(gid.to_owned());
            self.allocations.ordinal.push(i32::try_from(i).unwrap_or(i32::MAX));
            self.allocations
                .amount
                .push(allocation.allocated_amount_set.shop_money.amount);
        }
        let l = &mut self.line_items;
        l.gid.push(gid.to_owned());
        l.order_gid.push(order_gid.to_owned());
        l.product_gid.push(f.product.map(|p| p.id));
        l.variant_gid.push(f.variant.map(|v| v.id));
        l.sku.push(f.sku);
        l.title.push(f.title);
        l.quantity.push(int32(f.quantity, gid, "quantity")?);
        l.unit_price.push(f.original_unit_price_set.shop_money.amount);
        l.discount_total.push(discount_total);
        l.tax_total.push(sum_amounts(
            f.tax_lines.iter().map(|t| t.price_set.shop_money.amount.as_str()),
        ));
        l.tax_line_count
            .push(i32::try_from(f.tax_lines.len()).unwrap_or(i32::MAX));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use shopify::jsonl::JsonlReader;

    #[test]
    fn cents_are_exact() {
        assert_eq!(parse_cents("12.3"), Some(1230));
        assert_eq!(parse_cents("0.07"), Some(7));
        assert_eq!(parse_cents("-4.50"), Some(-450));
        assert_eq!(parse_cents("7"), Some(700));
        assert_eq!(parse_cents("x"), None);
        assert_eq!(format_cents(-450), "-4.50");
        assert_eq!(sum_amounts(["0.10", "0.20"].into_iter()), "0.30");
    }

    #[test]
    fn an_order_with_children_becomes_rows_in_any_line_order() {
        let file = concat!(
            r#"{"id":"gid://shopify/LineItem/11","sku":"S","quantity":2,"title":"Tee","product":{"id":"gid://shopify/Product/1"},"variant":null,"originalUnitPriceSet":{"shopMoney":{"amount":"24.00","currencyCode":"USD"}},"discountAllocations":[{"allocatedAmountSet":{"shopMoney":{"amount":"1.50","currencyCode":"USD"}}},{"allocatedAmountSet":{"shopMoney":{"amount":"0.50","currencyCode":"USD"}}}],"taxLines":[{"priceSet":{"shopMoney":{"amount":"3.68","currencyCode":"USD"}},"rate":0.08,"title":"T"}],"__parentId":"gid://shopify/Order/5"}"#,
            "\n",
            r##"{"id":"gid://shopify/Order/5","name":"#1001","email":"a@b.c","createdAt":"2026-01-01T00:00:00Z","processedAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-02T00:00:00Z","cancelledAt":null,"displayFinancialStatus":"PARTIALLY_REFUNDED","currentTotalPriceSet":{"shopMoney":{"amount":"25.68","currencyCode":"USD"}},"totalDiscountsSet":{"shopMoney":{"amount":"2.00","currencyCode":"USD"}},"totalTaxSet":{"shopMoney":{"amount":"3.68","currencyCode":"USD"}},"customer":{"id":"gid://shopify/Customer/9"},"refunds":[{"id":"gid://shopify/Refund/7","createdAt":"2026-01-05T00:00:00Z","refundLineItems":{"edges":[{"node":{"id":"gid://shopify/RefundLineItem/70","quantity":1,"lineItem":{"id":"gid://shopify/LineItem/11"},"subtotalSet":{"shopMoney":{"amount":"24.00"}}}}]}}]}"##,
            "\n"
        );
        let mut reader = JsonlReader::starting_at(0, 0);
        let mut rows = ChunkRows::default();
        for record in reader.feed(file.as_bytes()).unwrap() {
            rows.add(&record).unwrap();
        }
        assert_eq!(rows.lines(), 2);
        assert_eq!(rows.primary_rows(), 2);
        assert_eq!(rows.orders.legacy_id, [5]);
        assert_eq!(rows.orders.customer_gid, [Some("gid://shopify/Customer/9".into())]);
        assert_eq!(rows.line_items.discount_total, ["2.00"]);
        assert_eq!(rows.line_items.tax_total, ["3.68"]);
        assert_eq!(rows.line_items.variant_gid, [None]);
        assert_eq!(rows.allocations.ordinal, [0, 1]);
        assert_eq!(rows.refund_lines.line_item_gid, ["gid://shopify/LineItem/11"]);
        assert_eq!(rows.refund_lines.order_gid, ["gid://shopify/Order/5"]);
    }

    #[test]
    fn a_repeated_line_is_counted_but_not_duplicated_and_a_bad_one_names_its_gid() {
        let mut rows = ChunkRows::default();
        let line =
            r#"{"id":"gid://shopify/Collection/3","handle":"h","title":"T","__parentId":"gid://shopify/Product/1"}"#;
        let mut reader = JsonlReader::starting_at(0, 0);
        for record in reader.feed(format!("{line}\n{line}\n").as_bytes()).unwrap() {
            rows.add(&record).unwrap();
        }
        assert_eq!((rows.lines(), rows.duplicate_lines, rows.primary_rows()), (2, 1, 1));
        let bad = reader.feed(b"{\"id\":\"gid://shopify/Order/1\"}\n").unwrap();
        let err = rows.add(&bad[0]).unwrap_err();
        assert_eq!(err.gid, "gid://shopify/Order/1");
        assert!(err.message.contains("name"), "{err}");
    }
}
