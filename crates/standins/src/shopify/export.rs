//! A bulk export written as Shopify writes it: JSONL, one object per line, nested
//! connections as their own lines naming their parent in `__parentId`, list fields inline.
//!
//! Followed: <https://shopify.dev/docs/api/usage/bulk-operations/queries#the-jsonl-data-format>.
//! With `groupObjects: false` Shopify gives no order guarantee, so (when the store's
//! `shuffle` is on) lines pass through a seeded shuffler: a window of a few thousand lines
//! from which a random one leaves as each new one enters, plus a few lines held back far
//! longer. Children thus come before their parents and far from them, with memory bounded
//! by the window, whatever the file's size.
//!
//! Fields and their order are those the client's documents select (`CATALOG_BULK_QUERY`,
//! `ORDERS_BULK_QUERY` in `crates/shopify/src/documents.rs`). Money is a decimal string with
//! two decimals; timestamps are UTC ISO-8601.

use super::calendar::{self, ShopTimeZone};
use super::generator::{
    self, collection_id, customer_id, line_item_id, order_id, product_id, refund_id, refund_line_item_id, variant_id,
    LineSource, Order, Product, Store, STREAM_SHUFFLE,
};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub const CURRENCY: &str = "USD";

/// The two exports the client runs, by the bulk query's root field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    /// `products`: products, their variants and collection memberships.
    Catalog,
    /// `orders`: orders (refunds inline) and their line items.
    Orders,
}

impl ExportKind {
    pub fn from_root_field(field: &str) -> Option<Self> {
        match field {
            "products" => Some(Self::Catalog),
            "orders" => Some(Self::Orders),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    CreatedAt,
    UpdatedAt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comparison {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Term {
    field: Field,
    comparison: Comparison,
    at: i64,
}

impl Term {
    fn holds(&self, created_at: i64, updated_at: i64) -> bool {
        let value = match self.field {
            Field::CreatedAt => created_at,
            Field::UpdatedAt => updated_at,
        };
        match self.comparison {
            Comparison::Greater => value > self.at,
            Comparison::GreaterOrEqual => value >= self.at,
            Comparison::Less => value < self.at,
            Comparison::LessOrEqual => value <= self.at,
        }
    }
}

/// The search filter of a bulk query's root field (`products(query: "…")`): terms such as
/// `updated_at:>'2026-12-01T00:00:00Z'`, `created_at:<=2026-01-01`, joined by spaces or
/// `AND`. Search syntax: <https://shopify.dev/docs/api/usage/search-syntax>.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchFilter {
    terms: Vec<Term>,
}

impl SearchFilter {
    pub fn parse(text: &str, zone: &ShopTimeZone) -> Result<Self, String> {
        let mut terms = Vec::new();
        for token in tokens(text) {
            if token.eq_ignore_ascii_case("AND") {
                continue;
            }
            let (field, rest) = token
                .split_once(':')
                .ok_or_else(|| format!("search term {token:?} has no field"))?;
            let field = match field {
                "updated_at" => Field::UpdatedAt,
                "created_at" => Field::CreatedAt,
                other => {
                    return Err(format!(
                        "the stand-in filters only on updated_at and created_at, not {other}"
                    ))
                }
            };
            let (comparison, value) = [
                (">=", Comparison::GreaterOrEqual),
                ("<=", Comparison::LessOrEqual),
                (">", Comparison::Greater),
                ("<", Comparison::Less),
            ]
            .iter()
            .find_map(|(prefix, c)| rest.strip_prefix(prefix).map(|v| (*c, v)))
            .ok_or_else(|| format!("search term {token:?}: the stand-in supports >, >=, < and <="))?;
            let value = value.trim_matches(|c| c == '\'' || c == '"');
            let at = calendar::parse_search_time(value, zone)
                .ok_or_else(|| format!("search term {token:?}: {value:?} is not a date or time"))?;
            terms.push(Term { field, comparison, at });
        }
        Ok(Self { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, created_at: i64, updated_at: i64) -> bool {
        self.terms.iter().all(|t| t.holds(created_at, updated_at))
    }

    /// True when the filter excludes every object whose `updatedAt` is `<= generated_until`,
    /// i.e. only objects changed by mutations can match.
    fn only_after(&self, generated_until: i64) -> bool {
        self.terms.iter().any(|t| {
            t.field == Field::UpdatedAt
                && match t.comparison {
                    Comparison::Greater => t.at >= generated_until,
                    Comparison::GreaterOrEqual => t.at > generated_until,
                    _ => false,
                }
        })
    }
}

/// Splits on whitespace outside quotes.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    for ch in text.chars() {
        match (quote, ch) {
            (None, c) if c.is_whitespace() => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            (None, '\'' | '"') => {
                quote = Some(ch);
                current.push(ch);
            }
            (Some(q), c) if c == q => {
                quote = None;
                current.push(ch);
            }
            _ => current.push(ch),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Counters a running export updates, read by polls (`objectCount` while `RUNNING`).
#[derive(Debug, Default)]
pub struct ExportProgress {
    pub objects: AtomicU64,
    pub roots: AtomicU64,
}

#[derive(Default)]
pub struct ExportOptions<'a> {
    /// Leave out the first child line while still counting it (the `drop_line` fault).
    pub drop_one_child_line: bool,
    pub progress: Option<&'a ExportProgress>,
    /// Checked every few hundred objects; when set the export stops early.
    pub cancel: Option<&'a AtomicBool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Every object the export produced (`objectCount`), a dropped line included.
    pub object_count: u64,
    pub root_object_count: u64,
    pub lines_written: u64,
    pub bytes_written: u64,
    /// The id of the line left out by `drop_one_child_line`.
    pub dropped_line_id: Option<String>,
    pub cancelled: bool,
}

/// Lines leave in a seeded, bounded-memory shuffled order (or as they come when off).
struct Shuffler<'w> {
    out: &'w mut dyn Write,
    enabled: bool,
    rng: generator::Rng,
    window: Vec<Vec<u8>>,
    held: Vec<(u64, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
    lines: u64,
    bytes: u64,
}

const WINDOW_LINES: usize = 4096;
const HELD_LINES: usize = 64;

impl<'w> Shuffler<'w> {
    fn new(out: &'w mut dyn Write, enabled: bool, rng: generator::Rng) -> Self {
        Self {
            out,
            enabled,
            rng,
            window: Vec::with_capacity(if enabled { WINDOW_LINES } else { 0 }),
            held: Vec::new(),
            spare: Vec::new(),
            lines: 0,
            bytes: 0,
        }
    }

    fn emit(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)?;
        self.out.write_all(b"\n")?;
        self.lines += 1;
        self.bytes += line.len() as u64 + 1;
        Ok(())
    }

    fn push(&mut self, line: &[u8]) -> io::Result<()> {
        if !self.enabled {
            return self.emit(line);
        }
        let mut owned = self.spare.pop().unwrap_or_default();
        owned.clear();
        owned.extend_from_slice(line);
        // Now and then a line is held back for tens of thousands of lines (or to the end).
        if self.held.len() < HELD_LINES && self.rng.below(1500) == 0 {
            let release_at = self.lines + 20_000 + self.rng.below(200_000);
            self.held.push((release_at, owned));
            return Ok(());
        }
        self.window.push(owned);
        if self.window.len() >= WINDOW_LINES {
            let pick = self.rng.below(self.window.len() as u64) as usize;
            let line = self.window.swap_remove(pick);
            self.emit(&line)?;
            self.spare.push(line);
        }
        if let Some(pos) = self.held.iter().position(|(at, _)| *at <= self.lines) {
            let (_, line) = self.held.swap_remove(pos);
            self.emit(&line)?;
            self.spare.push(line);
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<(u64, u64)> {
        while !self.window.is_empty() {
            let pick = self.rng.below(self.window.len() as u64) as usize;
            let line = self.window.swap_remove(pick);
            self.emit(&line)?;
        }
        self.held.sort_by_key(|(at, _)| *at);
        for (_, line) in std::mem::take(&mut self.held) {
            self.emit(&line)?;
        }
        self.out.flush()?;
        Ok((self.lines, self.bytes))
    }
}

/// Writes the export of `kind` filtered by `filter` to `out` and returns its counts.
pub fn export(
    store: &Store,
    kind: ExportKind,
    filter: &SearchFilter,
    out: &mut dyn Write,
    options: &ExportOptions<'_>,
) -> io::Result<ExportStats> {
    let kind_tag = match kind {
        ExportKind::Catalog => 1,
        ExportKind::Orders => 2,
    };
    let rng = generator::Rng::new(&[store.spec().seed, STREAM_SHUFFLE, kind_tag]);
    let mut writer = ExportWriter {
        shuffler: Shuffler::new(out, store.spec().shuffle, rng),
        stats: ExportStats::default(),
        drop_next_child: options.drop_one_child_line,
        options,
        buf: Vec::with_capacity(2048),
    };
    match kind {
        ExportKind::Catalog => {
            for product in &store.catalog().products {
                if writer.stopped() {
                    break;
                }
                if store.is_product_deleted(product.number) || !filter.matches(product.created_at, product.updated_at) {
                    continue;
                }
                writer.product(store, product)?;
            }
        }
        ExportKind::Orders => {
            let write_order = |writer: &mut ExportWriter<'_, '_>, number: u64| -> io::Result<()> {
                if let Some(order) = store.order(number) {
                    if filter.matches(order.created_at, order.updated_at) {
                        writer.order(store, &order)?;
                    }
                }
                Ok(())
            };
            if filter.only_after(store.ends_at()) {
                for number in store.changed_order_numbers() {
                    if writer.stopped() {
                        break;
                    }
                    write_order(&mut writer, number)?;
                }
            } else {
                for number in 1..=store.spec().orders {
                    if writer.stopped() {
                        break;
                    }
                    write_order(&mut writer, number)?;
                }
            }
        }
    }
    let ExportWriter {
        shuffler, mut stats, ..
    } = writer;
    let (lines, bytes) = shuffler.finish()?;
    stats.lines_written = lines;
    stats.bytes_written = bytes;
    if let Some(progress) = options.progress {
        progress.objects.store(stats.object_count, Ordering::Relaxed);
        progress.roots.store(stats.root_object_count, Ordering::Relaxed);
    }
    Ok(stats)
}

struct ExportWriter<'w, 'o> {
    shuffler: Shuffler<'w>,
    stats: ExportStats,
    drop_next_child: bool,
    options: &'o ExportOptions<'o>,
    buf: Vec<u8>,
}

impl ExportWriter<'_, '_> {
    fn stopped(&mut self) -> bool {
        if !self.stats.root_object_count.is_multiple_of(256) {
            return false;
        }
        if let Some(progress) = self.options.progress {
            progress.objects.store(self.stats.object_count, Ordering::Relaxed);
            progress.roots.store(self.stats.root_object_count, Ordering::Relaxed);
        }
        let cancelled = self.options.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
        self.stats.cancelled |= cancelled;
        cancelled
    }

    /// Sends the line in `buf` on (a root when `child_id` is `None`).
    fn line(&mut self, child_id: Option<u64>, kind: &str) -> io::Result<()> {
        self.stats.object_count += 1;
        match child_id {
            None => self.stats.root_object_count += 1,
            Some(id) if self.drop_next_child => {
                self.drop_next_child = false;
                self.stats.dropped_line_id = Some(generator::gid(kind, id));
                self.buf.clear();
                return Ok(());
            }
            Some(_) => {}
        }
        self.shuffler.push(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn product(&mut self, store: &Store, product: &Product) -> io::Result<()> {
        let b = &mut self.buf;
        b.extend_from_slice(b"{\"id\":");
        push_gid(b, "Product", product_id(product.number));
        b.extend_from_slice(b",\"title\":");
        push_str(b, &product.title);
        b.extend_from_slice(b",\"handle\":");
        push_str(b, &product.handle);
        b.extend_from_slice(b",\"productType\":");
        push_str(b, product.product_type);
        b.extend_from_slice(b",\"vendor\":");
        push_str(b, product.vendor);
        b.extend_from_slice(b",\"status\":");
        push_str(b, product.status);
        b.extend_from_slice(b",\"tags\":[");
        for (i, tag) in product.tags.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            push_str(b, tag);
        }
        b.extend_from_slice(b"],\"createdAt\":");
        push_time(b, product.created_at);
        b.extend_from_slice(b",\"updatedAt\":");
        push_time(b, product.updated_at);
        b.push(b'}');
        self.line(None, "Product")?;
        let parent = product_id(product.number);
        for variant in &product.variants {
            let id = variant_id(product.number, variant.index);
            let b = &mut self.buf;
            b.extend_from_slice(b"{\"id\":");
            push_gid(b, "ProductVariant", id);
            b.extend_from_slice(b",\"sku\":");
            push_str(b, &variant.sku);
            b.extend_from_slice(b",\"title\":");
            push_str(b, &variant.title);
            b.extend_from_slice(b",\"price\":");
            push_money(b, variant.price_cents);
            b.extend_from_slice(b",\"inventoryQuantity\":");
            push_int(b, variant.inventory_quantity);
            b.extend_from_slice(b",\"createdAt\":");
            push_time(b, variant.created_at);
            b.extend_from_slice(b",\"updatedAt\":");
            push_time(b, variant.updated_at);
            b.extend_from_slice(b",\"__parentId\":");
            push_gid(b, "Product", parent);
            b.push(b'}');
            self.line(Some(id), "ProductVariant")?;
        }
        for &number in &product.collections {
            let Some(collection) = store.catalog().collection(number) else {
                continue;
            };
            let id = collection_id(number);
            let b = &mut self.buf;
            b.extend_from_slice(b"{\"id\":");
            push_gid(b, "Collection", id);
            b.extend_from_slice(b",\"handle\":");
            push_str(b, &collection.handle);
            b.extend_from_slice(b",\"title\":");
            push_str(b, &collection.title);
            b.extend_from_slice(b",\"__parentId\":");
            push_gid(b, "Product", parent);
            b.push(b'}');
            self.line(Some(id), "Collection")?;
        }
        Ok(())
    }

    fn order(&mut self, store: &Store, order: &Order) -> io::Result<()> {
        let number = order.number;
        let b = &mut self.buf;
        b.extend_from_slice(b"{\"id\":");
        push_gid(b, "Order", order_id(number));
        b.extend_from_slice(b",\"name\":\"#");
        push_int(b, 1000 + number as i64);
        b.extend_from_slice(b"\",\"email\":");
        match &order.email {
            Some(email) => push_str(b, email),
            None => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b",\"createdAt\":");
        push_time(b, order.created_at);
        b.extend_from_slice(b",\"processedAt\":");
        push_time(b, order.processed_at);
        b.extend_from_slice(b",\"updatedAt\":");
        push_time(b, order.updated_at);
        b.extend_from_slice(b",\"cancelledAt\":");
        match order.cancelled_at {
            Some(at) => push_time(b, at),
            None => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b",\"displayFinancialStatus\":");
        push_str(b, order.display_financial_status());
        b.extend_from_slice(b",\"currentTotalPriceSet\":");
        push_money_bag(b, order.current_total_cents(), true);
        b.extend_from_slice(b",\"totalDiscountsSet\":");
        push_money_bag(b, order.discount_cents(), true);
        b.extend_from_slice(b",\"totalTaxSet\":");
        push_money_bag(b, order.tax_cents(), true);
        b.extend_from_slice(b",\"customer\":");
        match order.customer {
            Some(c) => {
                b.extend_from_slice(b"{\"id\":");
                push_gid(b, "Customer", customer_id(c));
                b.push(b'}');
            }
            None => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b",\"refunds\":[");
        for (i, refund) in order.refunds.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            b.extend_from_slice(b"{\"id\":");
            push_gid(b, "Refund", refund_id(number, refund.index));
            b.extend_from_slice(b",\"createdAt\":");
            push_time(b, refund.created_at);
            b.extend_from_slice(b",\"refundLineItems\":{\"edges\":[");
            for (j, line) in refund.lines.iter().enumerate() {
                if j > 0 {
                    b.push(b',');
                }
                b.extend_from_slice(b"{\"node\":{\"id\":");
                push_gid(
                    b,
                    "RefundLineItem",
                    refund_line_item_id(number, refund.index, line.index),
                );
                b.extend_from_slice(b",\"quantity\":");
                push_int(b, i64::from(line.quantity));
                b.extend_from_slice(b",\"lineItem\":{\"id\":");
                push_gid(b, "LineItem", line_item_id(number, line.line));
                b.extend_from_slice(b"},\"subtotalSet\":");
                push_money_bag(b, line.subtotal_cents, false);
                b.extend_from_slice(b"}}");
            }
            b.extend_from_slice(b"]}}");
        }
        b.extend_from_slice(b"]}");
        self.line(None, "Order")?;
        for line in &order.line_items {
            let id = line_item_id(number, line.index);
            let (sku, title) = generator::line_sku_and_title(store.catalog(), line.source);
            let live = match line.source {
                LineSource::Variant { product, variant } if !store.is_product_deleted(product) => {
                    Some((product, variant))
                }
                _ => None,
            };
            let b = &mut self.buf;
            b.extend_from_slice(b"{\"id\":");
            push_gid(b, "LineItem", id);
            b.extend_from_slice(b",\"sku\":");
            push_str(b, sku);
            b.extend_from_slice(b",\"quantity\":");
            push_int(b, i64::from(line.quantity));
            b.extend_from_slice(b",\"title\":");
            push_str(b, title);
            match live {
                Some((product, variant)) => {
                    b.extend_from_slice(b",\"product\":{\"id\":");
                    push_gid(b, "Product", product_id(product));
                    b.extend_from_slice(b"},\"variant\":{\"id\":");
                    push_gid(b, "ProductVariant", variant_id(product, variant));
                    b.push(b'}');
                }
                None => b.extend_from_slice(b",\"product\":null,\"variant\":null"),
            }
            b.extend_from_slice(b",\"originalUnitPriceSet\":");
            push_money_bag(b, line.unit_cents, true);
            b.extend_from_slice(b",\"discountAllocations\":[");
            for (i, cents) in line.discounts.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                b.extend_from_slice(b"{\"allocatedAmountSet\":");
                push_money_bag(b, *cents, true);
                b.push(b'}');
            }
            b.extend_from_slice(b"],\"taxLines\":[");
            for (i, tax) in line.tax_lines.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                b.extend_from_slice(b"{\"priceSet\":");
                push_money_bag(b, tax.cents, true);
                b.extend_from_slice(b",\"rate\":");
                b.extend_from_slice(tax.rate.rate.as_bytes());
                b.extend_from_slice(b",\"title\":");
                push_str(b, tax.rate.title);
                b.push(b'}');
            }
            b.extend_from_slice(b"],\"__parentId\":");
            push_gid(b, "Order", order_id(number));
            b.push(b'}');
            self.line(Some(id), "LineItem")?;
        }
        Ok(())
    }
}

fn push_str(b: &mut Vec<u8>, s: &str) {
    b.push(b'"');
    for &byte in s.as_bytes() {
        match byte {
            b'"' => b.extend_from_slice(b"\\\""),
            b'\\' => b.extend_from_slice(b"\\\\"),
            0..=0x1f => {
                let _ = write!(b, "\\u{byte:04x}");
            }
            _ => b.push(byte),
        }
    }
    b.push(b'"');
}

fn push_int(b: &mut Vec<u8>, v: i64) {
    let mut digits = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        b.push(b'-');
    }
    b.extend_from_slice(&digits[i..]);
}

fn push_gid(b: &mut Vec<u8>, kind: &str, id: u64) {
    b.extend_from_slice(b"\"gid://shopify/");
    b.extend_from_slice(kind.as_bytes());
    b.push(b'/');
    push_int(b, id as i64);
    b.push(b'"');
}

fn push_time(b: &mut Vec<u8>, unix: i64) {
    b.push(b'"');
    calendar::push_timestamp(b, unix);
    b.push(b'"');
}

/// `"24.00"`.
fn push_money(b: &mut Vec<u8>, cents: i64) {
    b.push(b'"');
    if cents < 0 {
        b.push(b'-');
    }
    let abs = cents.unsigned_abs();
    push_int(b, (abs / 100) as i64);
    b.push(b'.');
    b.push(b'0' + (abs % 100 / 10) as u8);
    b.push(b'0' + (abs % 10) as u8);
    b.push(b'"');
}

/// `{"shopMoney":{"amount":"24.00","currencyCode":"USD"}}` (without the currency where the
/// document does not select it).
fn push_money_bag(b: &mut Vec<u8>, cents: i64, currency: bool) {
    b.extend_from_slice(b"{\"shopMoney\":{\"amount\":");
    push_money(b, cents);
    if currency {
        b.extend_from_slice(b",\"currencyCode\":\"");
        b.extend_from_slice(CURRENCY.as_bytes());
        b.push(b'"');
    }
    b.extend_from_slice(b"}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_as_the_client_writes_them() {
        let zone = ShopTimeZone::parse("America/New_York").expect("zone");
        let t = calendar::parse_search_time("2026-12-01T00:00:00Z", &zone).expect("time");
        let gt = SearchFilter::parse("updated_at:>'2026-12-01T00:00:00Z'", &zone).expect("parses");
        assert!(gt.matches(0, t + 1) && !gt.matches(0, t));
        let ge = SearchFilter::parse("updated_at:>=\"2026-12-01T00:00:00Z\"", &zone).expect("parses");
        assert!(ge.matches(0, t) && !ge.matches(0, t - 1));
        let both = SearchFilter::parse("updated_at:>=2026-01-01 AND created_at:<'2026-02-01'", &zone).expect("parses");
        assert_eq!(both.terms.len(), 2);
        assert!(SearchFilter::parse("", &zone).expect("empty").is_empty());
        assert!(SearchFilter::parse("title:fox", &zone).is_err());
        assert!(SearchFilter::parse("updated_at:soon", &zone).is_err());
        assert!(gt.only_after(t) && !ge.only_after(t) && ge.only_after(t - 1));
    }

    #[test]
    fn json_pieces_are_well_formed() {
        let mut b = Vec::new();
        push_str(&mut b, "a\"b\\c\n");
        push_money(&mut b, 2400);
        push_money(&mut b, 5);
        push_int(&mut b, -42);
        assert_eq!(
            String::from_utf8(b).expect("utf-8"),
            r#""a\"b\\c\u000a""24.00""0.05"-42"#
        );
    }
}
