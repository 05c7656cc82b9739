//! Commercial Transaction Record lookup: by order name, customer email or processed-date
//! range, paginated by an opaque cursor; and one order's detail. Parameters are parsed at
//! the edge: anything malformed, unknown or out of range is a 400 naming the parameter.

use crate::openapi::schemas::ErrorBody;
use crate::{ApiError, Backend};
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::NaiveDate;
use domain::store::orders::{self, Cursor, OrderQuery};
use domain::store::primary_shop;
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::IntoParams;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;
/// The longest date range one query may span.
pub const MAX_RANGE_DAYS: i64 = 3 * 366;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_query", message)
}

fn parse_date(name: &str, value: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|_| value.len() == 10)
        .ok_or_else(|| invalid(format!("{name} must be a date like 2026-01-31")))
}

/// A plausible address: one `@`, a local part, a dotted domain, no spaces, ≤ 254 bytes.
fn valid_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    value.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[derive(Debug, PartialEq)]
pub struct ListParams {
    pub query: OrderQuery,
    pub limit: i64,
    pub cursor: Option<Cursor>,
}

/// Parses `GET /api/orders` parameters: exactly one of `name`, `email` or `from`+`to`.
pub fn parse_list(params: &HashMap<String, String>) -> Result<ListParams, ApiError> {
    for key in params.keys() {
        if !["name", "email", "from", "to", "limit", "cursor"].contains(&key.as_str()) {
            return Err(invalid(format!(
                "unknown parameter {key}; use name, email, from/to, limit, cursor"
            )));
        }
    }
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| invalid(format!("limit must be an integer from 1 to {MAX_LIMIT}")))?,
    };
    let cursor = match params.get("cursor") {
        None => None,
        Some(v) => Some(Cursor::decode(v).ok_or_else(|| invalid("cursor is not one this API returned"))?),
    };
    let name = params.get("name");
    let email = params.get("email");
    let range = (params.get("from"), params.get("to"));
    let kinds = usize::from(name.is_some()) + usize::from(email.is_some()) + usize::from(range != (None, None));
    if kinds != 1 {
        return Err(invalid("give exactly one of name, email, or from and to"));
    }
    let query = if let Some(name) = name {
        let digits = name.strip_prefix('#').unwrap_or(name);
        if digits.is_empty() || digits.len() > 32 || !digits.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(invalid("name must be an order name such as #1001"));
        }
        OrderQuery::Name(name.clone())
    } else if let Some(email) = email {
        if !valid_email(email) {
            return Err(invalid("email must be an email address such as ana@example.com"));
        }
        OrderQuery::Email(email.clone())
    } else {
        let (Some(from), Some(to)) = range else {
            return Err(invalid("a date range needs both from and to"));
        };
        let (from, to) = (parse_date("from", from)?, parse_date("to", to)?);
        if to < from {
            return Err(invalid("to must not be before from"));
        }
        if (to - from).num_days() > MAX_RANGE_DAYS {
            return Err(invalid(format!("a date range may span at most {MAX_RANGE_DAYS} days")));
        }
        OrderQuery::Processed { from, to }
    };
    Ok(ListParams { query, limit, cursor })
}

/// Query parameters of `GET /api/orders` (for the OpenAPI document).
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    /// An order name, `#1001` (or `1001`).
    name: Option<String>,
    /// A customer email (case-insensitive).
    email: Option<String>,
    /// First processed day, `YYYY-MM-DD`, in the shop's time zone (with `to`).
    from: Option<String>,
    /// Last processed day, inclusive (with `from`).
    to: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Orders matching one query, newest processed first.
#[utoipa::path(
    get,
    path = "/api/orders",
    operation_id = "list_orders",
    tag = "orders",
    params(OrderListQuery),
    security(("access_assertion" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "a page of orders", body = orders::OrderPage),
        (status = 400, description = "a malformed, unknown or out-of-range parameter", body = ErrorBody),
        (status = 401, description = "no valid Access token", body = ErrorBody),
    )
)]
pub async fn list<B: Backend>(
    State(backend): State<Arc<B>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<orders::OrderPage>, ApiError> {
    let params = parse_list(&params)?;
    let db = backend.db().await?;
    let Some(shop) = primary_shop(db.as_ref()).await? else {
        // Nothing synced yet.
        return Ok(Json(orders::OrderPage {
            orders: Vec::new(),
            next_cursor: None,
        }));
    };
    let page = orders::find_orders(
        db.as_ref(),
        shop.id,
        &shop.iana_timezone,
        &params.query,
        params.cursor,
        params.limit,
    )
    .await?;
    Ok(Json(page))
}

/// One order with its lines, discounts and refunds.
#[utoipa::path(
    get,
    path = "/api/orders/{id}",
    operation_id = "get_order",
    tag = "orders",
    params(("id" = String, Path, description = "Shopify's numeric order id (the GID's last segment)")),
    security(("access_assertion" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "the order", body = orders::OrderDetail),
        (status = 400, description = "the id is not a number", body = ErrorBody),
        (status = 401, description = "no valid Access token", body = ErrorBody),
        (status = 404, description = "no such order", body = ErrorBody),
    )
)]
pub async fn detail<B: Backend>(
    State(backend): State<Arc<B>>,
    Path(id): Path<String>,
) -> Result<Json<orders::OrderDetail>, ApiError> {
    let legacy_id: i64 = id
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request("invalid_id", "the order id must be Shopify's numeric id"))?;
    let db = backend.db().await?;
    let not_found = || ApiError::not_found(format!("no order {legacy_id}"));
    let shop = primary_shop(db.as_ref()).await?.ok_or_else(not_found)?;
    let detail = orders::order_detail(db.as_ref(), shop.id, legacy_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(detail))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ListParams, ApiError> {
        parse_list(&pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect())
    }

    #[test]
    fn each_kind_of_query_parses() {
        assert_eq!(
            parse(&[("name", "#1001")]).unwrap().query,
            OrderQuery::Name("#1001".into())
        );
        assert_eq!(
            parse(&[("email", "Ana@Example.com")]).unwrap().query,
            OrderQuery::Email("Ana@Example.com".into())
        );
        let p = parse(&[("from", "2026-01-01"), ("to", "2026-01-31"), ("limit", "10")]).unwrap();
        assert_eq!(p.limit, 10);
        assert!(matches!(p.query, OrderQuery::Processed { .. }));
        let c = Cursor {
            processed_at_micros: 5,
            legacy_id: 9,
        }
        .encode();
        assert_eq!(
            parse(&[("name", "1001"), ("cursor", &c)]).unwrap().cursor,
            Cursor::decode(&c)
        );
    }

    #[test]
    fn malformed_queries_are_refused() {
        for bad in [
            vec![],
            vec![("email", "not-an-email")],
            vec![("email", "a b@c.d")],
            vec![("from", "2026-13-01"), ("to", "2026-12-31")],
            vec![("from", "2026-1-1"), ("to", "2026-12-31")],
            vec![("from", "2026-02-01"), ("to", "2026-01-01")],
            vec![("from", "2026-02-01")],
            vec![("name", "#1001"), ("email", "a@b.co")],
            vec![("name", "#1001"), ("limit", "100000")],
            vec![("name", "#1001"), ("limit", "0")],
            vec![("name", "#1001"), ("cursor", "zzz")],
            vec![("name", "#1001"), ("sort", "asc")],
            vec![("name", "1001; drop table")],
        ] {
            let err = parse(&bad).unwrap_err();
            assert_eq!(err.status.as_u16(), 400, "{bad:?}");
        }
    }
}
