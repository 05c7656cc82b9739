//! The deterministic merch store behind the Shopify stand-in.
//!
//! A [`Store`] is its [`StoreSpec`] plus a few small maps of what was changed since
//! ([`Store::mutate`]). The catalog (a few hundred products) is built once and kept; an
//! order is never stored: order `n` is derived from `(seed, n)` and then from its entry in
//! the change map (version, cancellation, added refunds), so a store of a million orders
//! costs no more memory than one of a thousand. [`Store::truth`] counts and sums the store
//! as it is now, which is what a full export must contain.
//!
//! Numeric ids: every type has its own range (`PRODUCT_ID_BASE` …), so an id never names
//! two objects, and an order's children have ids computed from the order's number.

use super::calendar::{self, ShopTimeZone, SECONDS_PER_DAY};
use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

pub const PRODUCT_ID_BASE: u64 = 1_000_000_000_000;
pub const VARIANT_ID_BASE: u64 = 2_000_000_000_000;
pub const COLLECTION_ID_BASE: u64 = 3_000_000_000_000;
pub const CUSTOMER_ID_BASE: u64 = 4_000_000_000_000;
pub const ORDER_ID_BASE: u64 = 5_000_000_000_000;
pub const LINE_ITEM_ID_BASE: u64 = 6_000_000_000_000;
pub const REFUND_ID_BASE: u64 = 7_000_000_000_000;
pub const REFUND_LINE_ITEM_ID_BASE: u64 = 8_000_000_000_000;

/// Slots per parent in the child id ranges: an order has at most 8 line items and 8 refunds,
/// a refund at most 8 refund line items, a product at most 8 variants.
const SLOTS: u64 = 8;
/// A refund can be added by a mutation while the order has fewer refunds than this.
const MAX_REFUNDS: usize = SLOTS as usize;

pub fn product_id(product: u32) -> u64 {
    PRODUCT_ID_BASE + u64::from(product)
}
pub fn variant_id(product: u32, variant: u8) -> u64 {
    VARIANT_ID_BASE + u64::from(product) * SLOTS + u64::from(variant)
}
pub fn collection_id(collection: u32) -> u64 {
    COLLECTION_ID_BASE + u64::from(collection)
}
pub fn customer_id(customer: u64) -> u64 {
    CUSTOMER_ID_BASE + customer
}
pub fn order_id(order: u64) -> u64 {
    ORDER_ID_BASE + order
}
pub fn line_item_id(order: u64, line: u8) -> u64 {
    LINE_ITEM_ID_BASE + order * SLOTS + u64::from(line)
}
pub fn refund_id(order: u64, refund: u8) -> u64 {
    REFUND_ID_BASE + order * SLOTS + u64::from(refund)
}
pub fn refund_line_item_id(order: u64, refund: u8, line: u8) -> u64 {
    REFUND_LINE_ITEM_ID_BASE + (order * SLOTS + u64::from(refund)) * SLOTS + u64::from(line)
}

/// `gid://shopify/<kind>/<id>`.
pub fn gid(kind: &str, id: u64) -> String {
    format!("gid://shopify/{kind}/{id}")
}

/// The order number (1-based, `#1000 + n`) named by an order GID.
pub fn order_number_of(gid: &str) -> Option<u64> {
    let id: u64 = gid.strip_prefix("gid://shopify/Order/")?.parse().ok()?;
    id.checked_sub(ORDER_ID_BASE).filter(|n| *n > 0)
}

/// The product number named by a product GID.
pub fn product_number_of(gid: &str) -> Option<u32> {
    let id: u64 = gid.strip_prefix("gid://shopify/Product/")?.parse().ok()?;
    u32::try_from(id.checked_sub(PRODUCT_ID_BASE)?).ok().filter(|n| *n > 0)
}

/// SplitMix64: small, fast and the same on every platform and crate version, which is
/// what "same seed → same bytes" needs.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A stream keyed by all of `parts` (seed, stream tag, object number …).
    pub fn new(parts: &[u64]) -> Self {
        let mut state = 0x853c_49e6_748f_ea9b_u64;
        for part in parts {
            state = mix(state ^ part.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_add(0x2545_f491_4f6c_dd1d);
        }
        Self { state }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index drawn by integer weights.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut roll = self.below(weights.iter().sum());
        for (i, w) in weights.iter().enumerate() {
            if roll < *w {
                return i;
            }
            roll -= w;
        }
        weights.len() - 1
    }
}

const STREAM_PRODUCT: u64 = 1;
const STREAM_ORDER: u64 = 2;
const STREAM_CUSTOMER: u64 = 3;
const STREAM_MUTATION: u64 = 4;
pub(crate) const STREAM_SHUFFLE: u64 = 5;

/// What store to generate. Every field has a default (see [`StoreSpec::default`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSpec {
    pub seed: u64,
    pub orders: u64,
    pub products: u32,
    pub collections: u32,
    /// First day of the order history, in the shop's time zone.
    pub start: NaiveDate,
    /// Length of the order history; it ends at local midnight `start + months`.
    pub months: u32,
    /// IANA name of the shop's zone (see [`ShopTimeZone::parse`] for the ones known).
    pub timezone: String,
    /// `groupObjects: false` order (lines shuffled); `false` writes parents before children.
    pub shuffle: bool,
}

impl Default for StoreSpec {
    fn default() -> Self {
        Self {
            seed: 1,
            orders: 2000,
            products: 200,
            collections: 15,
            start: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
            months: 18,
            timezone: "America/New_York".into(),
            shuffle: true,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GeneratorError {
    #[error("invalid store spec: {0}")]
    Spec(String),
}

/// (name, SKU code, base price in cents, options with their surcharge).
type ProductType = (&'static str, &'static str, i64, &'static [(&'static str, i64)]);

const PRODUCT_TYPES: &[ProductType] = &[
    (
        "T-Shirt",
        "TS",
        2400,
        &[("S", 0), ("M", 0), ("L", 0), ("XL", 0), ("2XL", 300)],
    ),
    (
        "Hoodie",
        "HD",
        4800,
        &[("S", 0), ("M", 0), ("L", 0), ("XL", 0), ("2XL", 400)],
    ),
    ("Mug", "MG", 1600, &[("11 oz", 0), ("15 oz", 300)]),
    ("Poster", "PS", 2000, &[("12x18", 0), ("18x24", 800), ("24x36", 1600)]),
    ("Sticker", "ST", 400, &[("3 in", 0), ("4 in", 100), ("5 in", 200)]),
    ("Tote", "TB", 2200, &[("Natural", 0), ("Black", 0)]),
    ("Cap", "CP", 2600, &[("One Size", 0)]),
    (
        "Phone Case",
        "PC",
        2800,
        &[("iPhone 15", 0), ("iPhone 16", 0), ("Pixel 9", 0), ("Galaxy S25", 0)],
    ),
];

/// (design, theme collection handle, extra tag).
const DESIGNS: &[(&str, &str, &str)] = &[
    ("Midnight Fox", "animals", "night"),
    ("Cosmic Cat", "space", "cats"),
    ("Retro Sunset", "retro", "sunset"),
    ("Mountain Dawn", "nature", "mountains"),
    ("Bold Type", "typography", "minimal"),
    ("Good Dog", "pets", "dogs"),
    ("Vinyl Club", "music", "vinyl"),
    ("Taco Tuesday", "food", "tacos"),
    ("Home Run", "sports", "baseball"),
    ("Snow Globe", "holiday", "winter"),
    ("Lunar Moth", "nature", "night"),
    ("Astro Pup", "space", "dogs"),
    ("Neon Arcade", "retro", "games"),
    ("Fern Study", "nature", "plants"),
    ("Hello Serif", "typography", "serif"),
    ("Cat Nap", "pets", "cats"),
    ("Bass Drop", "music", "electronic"),
    ("Coffee First", "food", "coffee"),
    ("Court Vision", "sports", "basketball"),
    ("Pumpkin Patch", "holiday", "autumn"),
    ("Owl Eyes", "animals", "birds"),
    ("Saturn Rings", "space", "planets"),
    ("Cassette Kid", "retro", "music"),
    ("Tide Pool", "nature", "ocean"),
    ("Stay Weird", "typography", "quotes"),
    ("Bunny Hop", "pets", "rabbits"),
    ("Jazz Hands", "music", "jazz"),
    ("Ramen Night", "food", "noodles"),
    ("Goal Line", "sports", "soccer"),
    ("Firework Sky", "holiday", "summer"),
    ("Sleepy Sloth", "animals", "slow"),
    ("Comet Tail", "space", "comets"),
];

/// (handle, title) of the first collections; more are numbered.
const COLLECTIONS: &[(&str, &str)] = &[
    ("animals", "Animals"),
    ("space", "Space"),
    ("retro", "Retro"),
    ("nature", "Nature"),
    ("typography", "Typography"),
    ("pets", "Pets"),
    ("music", "Music"),
    ("food", "Food & Drink"),
    ("sports", "Sports"),
    ("holiday", "Holiday"),
    ("bestsellers", "Bestsellers"),
    ("new-arrivals", "New Arrivals"),
    ("gifts-under-25", "Gifts Under $25"),
    ("staff-picks", "Staff Picks"),
    ("summer", "Summer"),
];

const VENDORS: &[&str] = &["Merch Co", "Studio North", "Inkwell Prints", "Moss & Maple"];

/// Line items of products deleted long ago: no product, no variant, but a SKU and a title.
const RETIRED: &[(&str, &str, i64)] = &[
    ("Retired Logo Tee", "RET-TS-0001", 2200),
    ("Old Logo Mug", "RET-MG-0002", 1400),
    ("Vintage Sticker Pack", "RET-ST-0003", 900),
    ("Limited Poster 2023", "RET-PS-0004", 2500),
];

const FIRST_NAMES: &[&str] = &[
    "ada", "ben", "cleo", "dev", "eli", "fay", "gus", "hana", "ivan", "jo", "kai", "lena", "milo", "nora", "omar",
    "pia", "quinn", "rosa", "sam", "tess", "uma", "vic", "wren", "xavi", "yara", "zane",
];
const LAST_NAMES: &[&str] = &[
    "adams", "brooks", "chen", "diaz", "evans", "fischer", "garcia", "hughes", "ito", "jensen", "kim", "lopez",
    "moreau", "nguyen", "okafor", "patel", "quist", "rossi", "silva", "tanaka", "ulloa", "vance", "walsh", "xu",
    "young", "zhang",
];

/// (rate in basis points, rate as written in JSON, title).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaxRate {
    pub basis_points: i64,
    pub rate: &'static str,
    pub title: &'static str,
}

const STATE_TAXES: &[TaxRate] = &[
    TaxRate {
        basis_points: 400,
        rate: "0.04",
        title: "State tax",
    },
    TaxRate {
        basis_points: 600,
        rate: "0.06",
        title: "State tax",
    },
    TaxRate {
        basis_points: 625,
        rate: "0.0625",
        title: "State tax",
    },
    TaxRate {
        basis_points: 700,
        rate: "0.07",
        title: "State tax",
    },
    TaxRate {
        basis_points: 800,
        rate: "0.08",
        title: "State tax",
    },
];
const COUNTY_TAXES: &[TaxRate] = &[
    TaxRate {
        basis_points: 100,
        rate: "0.01",
        title: "County tax",
    },
    TaxRate {
        basis_points: 200,
        rate: "0.02",
        title: "County tax",
    },
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    pub index: u8,
    pub sku: String,
    pub title: String,
    pub price_cents: i64,
    pub inventory_quantity: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    /// 1-based.
    pub number: u32,
    pub title: String,
    pub handle: String,
    pub product_type: &'static str,
    pub vendor: &'static str,
    /// `ACTIVE`, `DRAFT` or `ARCHIVED`.
    pub status: &'static str,
    /// Sorted, as Shopify returns them.
    pub tags: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub variants: Vec<Variant>,
    /// Numbers of the collections the product belongs to, ascending.
    pub collections: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collection {
    /// 1-based.
    pub number: u32,
    pub handle: String,
    pub title: String,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub products: Vec<Product>,
    pub collections: Vec<Collection>,
}

impl Catalog {
    pub fn product(&self, number: u32) -> Option<&Product> {
        self.products.get((number as usize).checked_sub(1)?)
    }
    pub fn collection(&self, number: u32) -> Option<&Collection> {
        self.collections.get((number as usize).checked_sub(1)?)
    }
}

fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn build_catalog(spec: &StoreSpec, start: i64, end: i64) -> Catalog {
    let collections: Vec<Collection> = (1..=spec.collections)
        .map(|number| {
            let (handle, title) = COLLECTIONS
                .get(number as usize - 1)
                .map(|(h, t)| ((*h).to_owned(), (*t).to_owned()))
                .unwrap_or_else(|| (format!("collection-{number}"), format!("Collection {number}")));
            Collection { number, handle, title }
        })
        .collect();
    let collection_by_handle = |handle: &str| collections.iter().find(|c| c.handle == handle).map(|c| c.number);
    let mut handles = HashSet::new();
    let mut products = Vec::with_capacity(spec.products as usize);
    let span = (end - start).max(SECONDS_PER_DAY * 31);
    for number in 1..=spec.products {
        let mut rng = Rng::new(&[spec.seed, STREAM_PRODUCT, u64::from(number)]);
        let &(design, theme, extra_tag) = rng.pick(DESIGNS);
        let &(type_name, code, base_price, options) = rng.pick(PRODUCT_TYPES);
        let title = format!("{design} {type_name}");
        let mut handle = slug(&title);
        if !handles.insert(handle.clone()) {
            handle = format!("{handle}-{number}");
            handles.insert(handle.clone());
        }
        // Most of the catalog predates the order history; a fifth launches during it.
        let created_at = if rng.chance(800) {
            start - SECONDS_PER_DAY - rng.below(400 * SECONDS_PER_DAY as u64) as i64
        } else {
            start + rng.below((span - 30 * SECONDS_PER_DAY).max(1) as u64) as i64
        };
        let updated_at = created_at + rng.below((end - created_at).max(1) as u64) as i64;
        let variant_count = 1 + rng.below(options.len().min(5) as u64) as usize;
        let variants = options[..variant_count]
            .iter()
            .enumerate()
            .map(|(index, (option, surcharge))| Variant {
                index: index as u8,
                sku: format!("{code}-{number:04}-{}", slug(option).to_ascii_uppercase()),
                title: if variant_count == 1 {
                    "Default Title".to_owned()
                } else {
                    (*option).to_owned()
                },
                price_cents: base_price + surcharge,
                inventory_quantity: rng.below(250) as i64 - 5,
                created_at: created_at + 60 * index as i64,
                updated_at: updated_at.max(created_at + 60 * index as i64),
            })
            .collect();
        let status = match rng.weighted(&[85, 9, 6]) {
            0 => "ACTIVE",
            1 => "DRAFT",
            _ => "ARCHIVED",
        };
        let mut member_of = BTreeSet::new();
        if let Some(c) = collection_by_handle(theme) {
            member_of.insert(c);
        }
        for (handle, per_mille) in [
            ("bestsellers", 250),
            ("staff-picks", 150),
            ("summer", 100),
            ("new-arrivals", if created_at >= start { 700 } else { 0 }),
            ("gifts-under-25", if base_price < 2500 { 600 } else { 0 }),
        ] {
            if rng.chance(per_mille) {
                if let Some(c) = collection_by_handle(handle) {
                    member_of.insert(c);
                }
            }
        }
        // Collections past the named ones, and stores with fewer, still get members.
        if spec.collections as usize > COLLECTIONS.len() && rng.chance(500) {
            member_of.insert(COLLECTIONS.len() as u32 + 1 + rng.below(u64::from(spec.collections) - 15) as u32);
        }
        if member_of.is_empty() && rng.chance(700) {
            member_of.insert(1 + rng.below(u64::from(spec.collections)) as u32);
        }
        let mut tags = vec![slug(design), theme.to_owned(), extra_tag.to_owned()];
        if rng.chance(150) {
            tags.push("limited".to_owned());
        }
        tags.sort();
        tags.dedup();
        let vendor = VENDORS[rng.below(VENDORS.len() as u64) as usize];
        products.push(Product {
            number,
            title,
            handle,
            product_type: type_name,
            vendor,
            status,
            tags,
            created_at,
            updated_at,
            variants,
            collections: member_of.into_iter().collect(),
        });
    }
    Catalog { products, collections }
}

/// When orders happen: a cumulative weight per UTC hour of the history, shaped by the
/// shop's local hour of day, weekday and season, and a growing trend. Order `n` of `N` is
/// placed at the quantile `(n - 1 + u) / N`, so order numbers rise with time.
#[derive(Debug)]
struct Timeline {
    start: i64,
    end: i64,
    cumulative: Vec<f64>,
}

const HOUR_WEIGHTS: [f64; 24] = [
    0.35, 0.2, 0.12, 0.08, 0.08, 0.12, 0.3, 0.55, 0.8, 1.0, 1.1, 1.2, 1.35, 1.3, 1.2, 1.15, 1.15, 1.2, 1.35, 1.5, 1.6,
    1.5, 1.1, 0.7,
];
/// Sunday … Saturday.
const WEEKDAY_WEIGHTS: [f64; 7] = [1.2, 0.9, 0.9, 0.95, 1.0, 1.1, 1.25];

impl Timeline {
    fn new(start: i64, end: i64, zone: &ShopTimeZone) -> Self {
        let hours = ((end - start) + 3599) / 3600;
        let mut cumulative = Vec::with_capacity(hours as usize);
        let mut total = 0.0;
        for h in 0..hours {
            let utc = start + h * 3600;
            let local = utc + zone.offset_at(utc);
            let day = local.div_euclid(SECONDS_PER_DAY);
            let hour = (local.rem_euclid(SECONDS_PER_DAY) / 3600) as usize;
            let (_, month, dom) = calendar::civil_from_days(day);
            let season = match (month, dom) {
                (11, 20..) | (12, ..=20) => 1.8,
                (12, _) => 1.2,
                (1 | 2, _) => 0.8,
                _ => 1.0,
            };
            let trend = 1.0 + 0.8 * h as f64 / hours.max(1) as f64;
            total += HOUR_WEIGHTS[hour] * WEEKDAY_WEIGHTS[calendar::weekday(day) as usize] * season * trend;
            cumulative.push(total);
        }
        Self { start, end, cumulative }
    }

    /// The instant at quantile `q` in `[0, 1)`; never decreasing in `q`, always `< end`.
    fn at(&self, q: f64) -> i64 {
        let Some(total) = self.cumulative.last() else {
            return self.start;
        };
        let target = q.clamp(0.0, 1.0) * total;
        let hour = self.cumulative.partition_point(|c| *c <= target);
        if hour >= self.cumulative.len() {
            return self.end - 1;
        }
        let before = if hour == 0 { 0.0 } else { self.cumulative[hour - 1] };
        let width = self.cumulative[hour] - before;
        let fraction = if width > 0.0 { (target - before) / width } else { 0.0 };
        (self.start + hour as i64 * 3600 + (fraction * 3600.0) as i64).min(self.end - 1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineSource {
    /// A variant of a catalog product.
    Variant { product: u32, variant: u8 },
    /// A product deleted before the history began (index into the retired list).
    Retired(u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaxLine {
    pub rate: TaxRate,
    pub cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineItem {
    pub index: u8,
    pub source: LineSource,
    pub quantity: u32,
    pub unit_cents: i64,
    /// Percentages of the line's subtotal, one discount allocation each.
    pub discount_percents: Vec<u8>,
    /// Cents per discount allocation (same order as `discount_percents`).
    pub discounts: Vec<i64>,
    pub tax_lines: Vec<TaxLine>,
}

fn round_div(numerator: i64, denominator: i64) -> i64 {
    (numerator + denominator / 2) / denominator
}

impl LineItem {
    pub fn subtotal_cents(&self) -> i64 {
        i64::from(self.quantity) * self.unit_cents
    }
    pub fn discount_cents(&self) -> i64 {
        self.discounts.iter().sum()
    }
    pub fn tax_cents(&self) -> i64 {
        self.tax_lines.iter().map(|t| t.cents).sum()
    }
    /// Recomputes discount and tax amounts from quantity, unit price, percentages and rates.
    fn reprice(&mut self) {
        let subtotal = self.subtotal_cents();
        self.discounts = self
            .discount_percents
            .iter()
            .map(|p| round_div(subtotal * i64::from(*p), 100))
            .collect();
        let taxable = subtotal - self.discount_cents();
        for tax in &mut self.tax_lines {
            tax.cents = round_div(taxable * tax.rate.basis_points, 10_000);
        }
    }
    /// What refunding `quantity` units gives back: their share of the discounted subtotal.
    fn refund_subtotal(&self, quantity: u32) -> i64 {
        round_div(
            (self.subtotal_cents() - self.discount_cents()) * i64::from(quantity),
            i64::from(self.quantity.max(1)),
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundLine {
    pub index: u8,
    /// Index of the refunded line item in its order.
    pub line: u8,
    pub quantity: u32,
    pub subtotal_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    pub index: u8,
    pub created_at: i64,
    pub lines: Vec<RefundLine>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// 1-based; the order's name is `#` + (1000 + number).
    pub number: u64,
    pub customer: Option<u64>,
    pub email: Option<String>,
    pub created_at: i64,
    pub processed_at: i64,
    pub updated_at: i64,
    pub cancelled_at: Option<i64>,
    /// Payment not captured yet (shown as `PENDING` while nothing is refunded).
    pub pending: bool,
    pub line_items: Vec<LineItem>,
    pub refunds: Vec<Refund>,
}

impl Order {
    pub fn name(&self) -> String {
        format!("#{}", 1000 + self.number)
    }
    pub fn subtotal_cents(&self) -> i64 {
        self.line_items.iter().map(LineItem::subtotal_cents).sum()
    }
    pub fn discount_cents(&self) -> i64 {
        self.line_items.iter().map(LineItem::discount_cents).sum()
    }
    pub fn tax_cents(&self) -> i64 {
        self.line_items.iter().map(LineItem::tax_cents).sum()
    }
    pub fn refunded_cents(&self) -> i64 {
        self.refunds
            .iter()
            .flat_map(|r| &r.lines)
            .map(|l| l.subtotal_cents)
            .sum()
    }
    /// `currentTotalPriceSet`: Σ quantity × unit − discounts + tax − refunded subtotals.
    pub fn current_total_cents(&self) -> i64 {
        self.subtotal_cents() - self.discount_cents() + self.tax_cents() - self.refunded_cents()
    }
    pub fn refunded_quantity(&self, line: u8) -> u32 {
        self.refunds
            .iter()
            .flat_map(|r| &r.lines)
            .filter(|l| l.line == line)
            .map(|l| l.quantity)
            .sum()
    }
    fn first_refundable_line(&self) -> Option<&LineItem> {
        self.line_items
            .iter()
            .find(|l| self.refunded_quantity(l.index) < l.quantity)
    }
    pub fn display_financial_status(&self) -> &'static str {
        if !self.refunds.is_empty() {
            if self.first_refundable_line().is_none() {
                "REFUNDED"
            } else {
                "PARTIALLY_REFUNDED"
            }
        } else if self.cancelled_at.is_some() {
            "VOIDED"
        } else if self.pending {
            "PENDING"
        } else {
            "PAID"
        }
    }
}

/// A refund added by a mutation.
#[derive(Clone, Debug, PartialEq, Eq)]
struct AddedRefund {
    created_at: i64,
    line: u8,
    quantity: u32,
    subtotal_cents: i64,
}

/// What mutations did to one order. Version `v` adds one unit to line `(k - 1) mod lines`
/// for each `k` in `1..=v` (an order edit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct OrderChange {
    version: u32,
    updated_at: i64,
    cancelled_at: Option<i64>,
    refunds: Vec<AddedRefund>,
}

/// `POST /_standin/shopify/mutate`: how many orders to touch in each way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MutationSpec {
    /// Orders edited (one more unit on a line: totals, tax and discounts change).
    pub orders: u32,
    pub cancel: u32,
    /// Orders given a new refund of one unit.
    pub refund: u32,
    pub delete_orders: u32,
    pub delete_products: u32,
    pub seed: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MutationOutcome {
    /// Every order edited, cancelled or refunded, ascending.
    pub changed_orders: Vec<u64>,
    pub edited_orders: Vec<u64>,
    pub cancelled_orders: Vec<u64>,
    pub refunded_orders: Vec<u64>,
    pub deleted_orders: Vec<u64>,
    pub deleted_products: Vec<u32>,
    /// The `updatedAt` given to the changed orders.
    pub updated_at: i64,
}

/// Counts and sums of the store as it is; a full export of the catalog and of the orders
/// holds exactly this. Cents are summed over every object of the kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    pub products: u64,
    pub variants: u64,
    /// Collections with at least one member product.
    pub collections: u64,
    pub collection_memberships: u64,
    pub orders: u64,
    pub orders_cancelled: u64,
    pub line_items: u64,
    pub line_item_quantity: u64,
    pub discount_allocations: u64,
    pub discount_allocated_cents: i64,
    pub tax_lines: u64,
    pub tax_cents: i64,
    pub refunds: u64,
    pub refund_line_items: u64,
    pub refund_quantity: u64,
    pub refund_subtotal_cents: i64,
    /// Σ `currentTotalPriceSet`.
    pub order_total_cents: i64,
    /// Σ `totalTaxSet`.
    pub order_tax_cents: i64,
    /// Σ `totalDiscountsSet`.
    pub order_discount_cents: i64,
    /// Lines of a full catalog export: products + variants + collection memberships.
    pub catalog_objects: u64,
    /// Lines of a full orders export: orders + line items.
    pub orders_objects: u64,
}

/// The store: spec, catalog and the changes made since generation.
#[derive(Clone, Debug)]
pub struct Store {
    spec: StoreSpec,
    zone: ShopTimeZone,
    starts_at: i64,
    ends_at: i64,
    customers: u64,
    catalog: Arc<Catalog>,
    timeline: Arc<Timeline>,
    changes: BTreeMap<u64, OrderChange>,
    deleted_orders: BTreeSet<u64>,
    deleted_products: BTreeSet<u32>,
    mutations: u64,
}

impl Store {
    pub fn new(spec: StoreSpec) -> Result<Self, GeneratorError> {
        let bad = |m: String| GeneratorError::Spec(m);
        let zone = ShopTimeZone::parse(&spec.timezone).map_err(bad)?;
        if spec.orders > 100_000_000 {
            return Err(bad("orders: at most 100000000".into()));
        }
        if !(1..=1_000_000).contains(&spec.products) {
            return Err(bad("products: 1 to 1000000".into()));
        }
        if !(1..=1000).contains(&spec.collections) {
            return Err(bad("collections: 1 to 1000".into()));
        }
        if !(1..=240).contains(&spec.months) {
            return Err(bad("months: 1 to 240".into()));
        }
        let end_date = spec
            .start
            .checked_add_months(Months::new(spec.months))
            .ok_or_else(|| bad("start + months is out of range".into()))?;
        let starts_at = zone.midnight_utc(spec.start);
        let ends_at = zone.midnight_utc(end_date);
        let catalog = Arc::new(build_catalog(&spec, starts_at, ends_at));
        let timeline = Arc::new(Timeline::new(starts_at, ends_at, &zone));
        Ok(Self {
            customers: (spec.orders / 3).max(1),
            spec,
            zone,
            starts_at,
            ends_at,
            catalog,
            timeline,
            changes: BTreeMap::new(),
            deleted_orders: BTreeSet::new(),
            deleted_products: BTreeSet::new(),
            mutations: 0,
        })
    }

    pub fn spec(&self) -> &StoreSpec {
        &self.spec
    }
    pub fn time_zone(&self) -> &ShopTimeZone {
        &self.zone
    }
    /// Local midnight of `spec.start`, UTC.
    pub fn starts_at(&self) -> i64 {
        self.starts_at
    }
    /// Local midnight ending the history, UTC. Every generated timestamp is `<=` this; only
    /// mutations write later ones.
    pub fn ends_at(&self) -> i64 {
        self.ends_at
    }
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    pub fn is_product_deleted(&self, product: u32) -> bool {
        self.deleted_products.contains(&product)
    }
    pub fn is_order_deleted(&self, order: u64) -> bool {
        self.deleted_orders.contains(&order)
    }
    /// Numbers of the orders mutations changed (edited, cancelled or refunded), ascending,
    /// deleted ones included.
    pub fn changed_order_numbers(&self) -> impl Iterator<Item = u64> + '_ {
        self.changes.keys().copied()
    }

    /// Order `number` as it is now; `None` when out of range or deleted.
    pub fn order(&self, number: u64) -> Option<Order> {
        if number == 0 || number > self.spec.orders || self.deleted_orders.contains(&number) {
            return None;
        }
        let mut order = self.generated_order(number);
        if let Some(change) = self.changes.get(&number) {
            apply_change(&mut order, change);
        }
        Some(order)
    }

    fn customer_email(&self, customer: u64) -> String {
        let mut rng = Rng::new(&[self.spec.seed, STREAM_CUSTOMER, customer]);
        let first = rng.pick(FIRST_NAMES);
        let last = rng.pick(LAST_NAMES);
        format!("{first}.{last}{customer}@example.com")
    }

    /// Order `number` as generated, before any mutation.
    fn generated_order(&self, number: u64) -> Order {
        let mut rng = Rng::new(&[self.spec.seed, STREAM_ORDER, number]);
        let quantile = ((number - 1) as f64 + rng.unit()) / self.spec.orders.max(1) as f64;
        let created_at = self.timeline.at(quantile);
        let end = self.ends_at;
        // Repeat buyers: most customers are drawn from the whole base, a share from the
        // tenth who buy most often.
        let (customer, email) = if rng.chance(40) {
            let email = (!rng.chance(200)).then(|| format!("guest{number}@example.net"));
            (None, email)
        } else {
            let base = if rng.chance(300) {
                (self.customers / 10).max(1)
            } else {
                self.customers
            };
            let customer = 1 + rng.below(base);
            (Some(customer), Some(self.customer_email(customer)))
        };
        let line_count = 1 + rng.weighted(&[45, 25, 15, 10, 5]);
        let tax_exempt = rng.chance(40);
        let state_tax = *rng.pick(STATE_TAXES);
        let county_tax = rng.chance(300).then(|| *rng.pick(COUNTY_TAXES));
        let order_discount = rng.chance(180).then(|| *rng.pick(&[10u8, 15, 20]));
        let products = self.catalog.products.len() as f64;
        let mut line_items = Vec::with_capacity(line_count);
        for index in 0..line_count {
            let (source, unit_cents) = if rng.chance(30) {
                let retired = rng.below(RETIRED.len() as u64) as u8;
                (LineSource::Retired(retired), RETIRED[retired as usize].2)
            } else {
                let u = rng.unit();
                let product_index = ((u * u * products) as usize).min(self.catalog.products.len() - 1);
                let product = &self.catalog.products[product_index];
                let variant = rng.below(product.variants.len() as u64) as usize;
                (
                    LineSource::Variant {
                        product: product.number,
                        variant: variant as u8,
                    },
                    product.variants[variant].price_cents,
                )
            };
            let quantity = 1 + rng.weighted(&[700, 180, 80, 40]) as u32;
            let mut discount_percents = Vec::new();
            if let Some(p) = order_discount {
                discount_percents.push(p);
            }
            if rng.chance(50) {
                discount_percents.push(5);
            }
            let mut tax_lines = Vec::new();
            if !tax_exempt {
                tax_lines.push(TaxLine {
                    rate: state_tax,
                    cents: 0,
                });
                if let Some(rate) = county_tax {
                    tax_lines.push(TaxLine { rate, cents: 0 });
                }
            }
            let mut line = LineItem {
                index: index as u8,
                source,
                quantity,
                unit_cents,
                discount_percents,
                discounts: Vec::new(),
                tax_lines,
            };
            line.reprice();
            line_items.push(line);
        }
        let mut order = Order {
            number,
            customer,
            email,
            created_at,
            processed_at: created_at,
            updated_at: created_at,
            cancelled_at: None,
            pending: false,
            line_items,
            refunds: Vec::new(),
        };
        if rng.chance(30) && created_at + 3600 < end {
            let room = (end - created_at - 601).clamp(1, 2 * SECONDS_PER_DAY);
            order.cancelled_at = Some(created_at + 600 + rng.below(room as u64) as i64);
        } else if rng.chance(10) {
            order.pending = true;
        } else {
            let refunds = match rng.below(1000) {
                0..20 => 2,
                20..90 => 1,
                _ => 0,
            };
            let mut earliest = created_at + 3600;
            let latest = (created_at + 45 * SECONDS_PER_DAY).min(end);
            for index in 0..refunds {
                if earliest >= latest {
                    break;
                }
                let at = earliest + rng.below((latest - earliest) as u64) as i64;
                let mut lines = Vec::new();
                let wanted = 1 + rng.below(2) as usize;
                for line in &order.line_items {
                    let remaining = line.quantity - order.refunded_quantity(line.index);
                    if lines.len() == wanted || remaining == 0 || rng.chance(300) {
                        continue;
                    }
                    let quantity = 1 + rng.below(u64::from(remaining)) as u32;
                    lines.push(RefundLine {
                        index: lines.len() as u8,
                        line: line.index,
                        quantity,
                        subtotal_cents: line.refund_subtotal(quantity),
                    });
                }
                if lines.is_empty() {
                    break;
                }
                order.refunds.push(Refund {
                    index,
                    created_at: at,
                    lines,
                });
                earliest = at + 1;
            }
        }
        let last_event = order
            .refunds
            .iter()
            .map(|r| r.created_at)
            .chain(order.cancelled_at)
            .fold(created_at, i64::max);
        order.updated_at = (last_event + rng.below(3600) as i64).min(end).max(last_event);
        order
    }

    /// Counts and sums of everything a full export holds now.
    pub fn truth(&self) -> Truth {
        let mut t = Truth::default();
        let mut collections = BTreeSet::new();
        for product in &self.catalog.products {
            if self.deleted_products.contains(&product.number) {
                continue;
            }
            t.products += 1;
            t.variants += product.variants.len() as u64;
            t.collection_memberships += product.collections.len() as u64;
            collections.extend(product.collections.iter().copied());
        }
        t.collections = collections.len() as u64;
        t.catalog_objects = t.products + t.variants + t.collection_memberships;
        for number in 1..=self.spec.orders {
            let Some(order) = self.order(number) else {
                continue;
            };
            t.orders += 1;
            t.orders_cancelled += u64::from(order.cancelled_at.is_some());
            for line in &order.line_items {
                t.line_items += 1;
                t.line_item_quantity += u64::from(line.quantity);
                t.discount_allocations += line.discounts.len() as u64;
                t.discount_allocated_cents += line.discount_cents();
                t.tax_lines += line.tax_lines.len() as u64;
                t.tax_cents += line.tax_cents();
            }
            for refund in &order.refunds {
                t.refunds += 1;
                for line in &refund.lines {
                    t.refund_line_items += 1;
                    t.refund_quantity += u64::from(line.quantity);
                    t.refund_subtotal_cents += line.subtotal_cents;
                }
            }
            t.order_total_cents += order.current_total_cents();
            t.order_tax_cents += order.tax_cents();
            t.order_discount_cents += order.discount_cents();
        }
        t.orders_objects = t.orders + t.line_items;
        t
    }

    /// Changes the store as `spec` asks, at `now` (Unix seconds): edits, cancellations and
    /// refunds set the orders' `updatedAt` to `now`; deleted orders and products vanish.
    /// Which objects are touched is drawn from (store seed, `spec.seed`, number of earlier
    /// mutations), so the same sequence of calls gives the same store.
    pub fn mutate(&mut self, spec: &MutationSpec, now: i64) -> MutationOutcome {
        self.mutations += 1;
        let mut rng = Rng::new(&[self.spec.seed, STREAM_MUTATION, spec.seed, self.mutations]);
        let mut taken = HashSet::new();
        let mut outcome = MutationOutcome {
            updated_at: now,
            ..Default::default()
        };
        outcome.edited_orders = self.pick_orders(&mut rng, spec.orders, &mut taken, |_| true);
        outcome.cancelled_orders = self.pick_orders(&mut rng, spec.cancel, &mut taken, |o| o.cancelled_at.is_none());
        outcome.refunded_orders = self.pick_orders(&mut rng, spec.refund, &mut taken, |o| {
            o.cancelled_at.is_none() && o.refunds.len() < MAX_REFUNDS && o.first_refundable_line().is_some()
        });
        outcome.deleted_orders = self.pick_orders(&mut rng, spec.delete_orders, &mut taken, |_| true);
        for &number in &outcome.edited_orders {
            let change = self.changes.entry(number).or_default();
            change.version += 1;
            change.updated_at = now;
        }
        for &number in &outcome.cancelled_orders {
            let change = self.changes.entry(number).or_default();
            change.cancelled_at = Some(now);
            change.updated_at = now;
        }
        for &number in &outcome.refunded_orders {
            let Some(order) = self.order(number) else {
                continue;
            };
            let Some(line) = order.first_refundable_line() else {
                continue;
            };
            let added = AddedRefund {
                created_at: now,
                line: line.index,
                quantity: 1,
                subtotal_cents: line.refund_subtotal(1),
            };
            let change = self.changes.entry(number).or_default();
            change.refunds.push(added);
            change.updated_at = now;
        }
        self.deleted_orders.extend(outcome.deleted_orders.iter().copied());
        outcome.deleted_products = self.pick_products(&mut rng, spec.delete_products);
        self.deleted_products.extend(outcome.deleted_products.iter().copied());
        let mut changed: Vec<u64> = outcome
            .edited_orders
            .iter()
            .chain(&outcome.cancelled_orders)
            .chain(&outcome.refunded_orders)
            .copied()
            .collect();
        changed.sort_unstable();
        outcome.changed_orders = changed;
        for list in [
            &mut outcome.edited_orders,
            &mut outcome.cancelled_orders,
            &mut outcome.refunded_orders,
            &mut outcome.deleted_orders,
        ] {
            list.sort_unstable();
        }
        outcome.deleted_products.sort_unstable();
        outcome
    }

    /// Up to `want` distinct live orders not in `taken` that satisfy `eligible`: random
    /// draws first, then a scan from a random start when eligible orders are scarce.
    fn pick_orders(
        &self,
        rng: &mut Rng,
        want: u32,
        taken: &mut HashSet<u64>,
        eligible: impl Fn(&Order) -> bool,
    ) -> Vec<u64> {
        let total = self.spec.orders;
        let mut picked = Vec::new();
        if total == 0 || want == 0 {
            return picked;
        }
        let consider = |number: u64, picked: &mut Vec<u64>, taken: &mut HashSet<u64>| {
            if taken.contains(&number) {
                return;
            }
            if let Some(order) = self.order(number) {
                if eligible(&order) {
                    taken.insert(number);
                    picked.push(number);
                }
            }
        };
        for _ in 0..(u64::from(want) * 20 + 64) {
            if picked.len() == want as usize {
                return picked;
            }
            consider(1 + rng.below(total), &mut picked, taken);
        }
        let start = rng.below(total);
        for offset in 0..total {
            if picked.len() == want as usize {
                break;
            }
            consider(1 + (start + offset) % total, &mut picked, taken);
        }
        picked
    }

    fn pick_products(&self, rng: &mut Rng, want: u32) -> Vec<u32> {
        let live: Vec<u32> = self
            .catalog
            .products
            .iter()
            .map(|p| p.number)
            .filter(|n| !self.deleted_products.contains(n))
            .collect();
        let mut picked = BTreeSet::new();
        let want = (want as usize).min(live.len());
        while picked.len() < want {
            picked.insert(*rng.pick(&live));
        }
        picked.into_iter().collect()
    }
}

fn apply_change(order: &mut Order, change: &OrderChange) {
    if change.version > 0 {
        let lines = order.line_items.len() as u32;
        for line in &mut order.line_items {
            let j = u32::from(line.index);
            line.quantity += change.version / lines + u32::from(j < change.version % lines);
            line.reprice();
        }
    }
    if let Some(at) = change.cancelled_at {
        order.cancelled_at = Some(at);
    }
    for added in &change.refunds {
        let index = order.refunds.len() as u8;
        order.refunds.push(Refund {
            index,
            created_at: added.created_at,
            lines: vec![RefundLine {
                index: 0,
                line: added.line,
                quantity: added.quantity,
                subtotal_cents: added.subtotal_cents,
            }],
        });
    }
    order.updated_at = order.updated_at.max(change.updated_at);
}

/// The SKU and title of a line item (kept when its product is deleted, as Shopify does).
pub fn line_sku_and_title(catalog: &Catalog, source: LineSource) -> (&str, &str) {
    match source {
        LineSource::Variant { product, variant } => {
            let Some(p) = catalog.product(product) else {
                return ("", "");
            };
            let sku = p.variants.get(variant as usize).map(|v| v.sku.as_str()).unwrap_or("");
            (sku, p.title.as_str())
        }
        LineSource::Retired(i) => RETIRED
            .get(i as usize)
            .map(|(title, sku, _)| (*sku, *title))
            .unwrap_or(("", "")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> Store {
        Store::new(StoreSpec {
            seed,
            orders: 3000,
            ..Default::default()
        })
        .expect("valid spec")
    }

    #[test]
    fn an_order_is_the_same_however_it_is_reached() {
        let a = small(7);
        let b = small(7);
        for n in [1, 2, 1500, 3000] {
            assert_eq!(a.order(n), b.order(n));
        }
        assert_ne!(small(8).order(10), a.order(10));
        assert_eq!(a.order(0), None);
        assert_eq!(a.order(3001), None);
    }

    #[test]
    fn orders_keep_their_invariants() {
        let store = small(3);
        let mut last_created = i64::MIN;
        for n in 1..=3000 {
            let o = store.order(n).expect("in range");
            assert!(o.created_at >= last_created, "numbers rise with time");
            last_created = o.created_at;
            assert!(o.created_at >= store.starts_at() && o.updated_at <= store.ends_at());
            assert!(o.updated_at >= o.created_at);
            assert!((1..=5).contains(&o.line_items.len()));
            for r in &o.refunds {
                assert!(r.created_at > o.created_at);
                assert!(!r.lines.is_empty());
            }
            for l in &o.line_items {
                assert!(o.refunded_quantity(l.index) <= l.quantity);
            }
            assert!(o.current_total_cents() >= 0);
        }
    }

    #[test]
    fn mutations_are_deterministic_and_show_in_the_truth() {
        let mut a = small(5);
        let mut b = small(5);
        let before = a.truth();
        let spec = MutationSpec {
            orders: 4,
            cancel: 3,
            refund: 5,
            delete_orders: 2,
            delete_products: 1,
            seed: 9,
        };
        let out = a.mutate(&spec, 1_800_000_000);
        assert_eq!(out, b.mutate(&spec, 1_800_000_000));
        let after = a.truth();
        assert_eq!(out.changed_orders.len(), 12);
        assert_eq!(after.products, before.products - 1);
        assert!(after.orders_cancelled >= before.orders_cancelled + 3 - 2);
        assert!(after.refunds >= before.refunds + 5 - 2 * 2);
        for n in &out.changed_orders {
            assert_eq!(a.order(*n).expect("live").updated_at, 1_800_000_000);
        }
        for n in &out.deleted_orders {
            assert_eq!(a.order(*n), None);
        }
    }
}
