//! The GraphQL documents the client sends. Each is validated against the Admin API
//! schema in `tests/schema.rs`.
//!
//! Followed: <https://shopify.dev/docs/api/usage/bulk-operations/queries>
//! (`bulkOperationRunQuery`, polling by id, `groupObjects: false`) and
//! <https://shopify.dev/docs/api/admin-graphql/2026-01/objects/BulkOperation>.

/// Starts a bulk export. `groupObjects: false`: Shopify then does not group children with
/// their parents, so lines may come in any order (the JSONL reader does not rely on it).
pub const RUN_BULK_QUERY: &str = r#"mutation RunBulkQuery($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: false) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"#;

/// Polls one bulk operation by its id (not `currentBulkOperation`, which is deprecated and
/// sees only the latest operation).
pub const POLL_BULK_OPERATION: &str = r#"query PollBulkOperation($id: ID!) {
  node(id: $id) {
    ... on BulkOperation {
      id status errorCode createdAt completedAt
      objectCount rootObjectCount fileSize url partialDataUrl
    }
  }
}"#;

/// Cancels a running bulk operation.
pub const CANCEL_BULK_OPERATION: &str = r#"mutation CancelBulkOperation($id: ID!) {
  bulkOperationCancel(id: $id) {
    bulkOperation { id status }
    userErrors { field message }
  }
}"#;

/// The shop's identity and time zone (order dates are reported in it), and the access
/// scopes this app was granted (checked before any export: see [`crate::bulk::REQUIRED_SCOPES`]).
/// <https://shopify.dev/docs/api/admin-graphql/2026-01/objects/AppInstallation>
pub const SHOP: &str = r#"query Shop {
  shop { id name myshopifyDomain ianaTimezone currencyCode }
  currentAppInstallation { accessScopes { handle } }
}"#;

/// Bulk export of the catalog: products with variants and collection memberships.
/// `{filter}` is replaced by a search filter such as `updated_at:>'2026-12-01T00:00:00Z'`
/// (empty for a full export).
pub const CATALOG_BULK_QUERY: &str = r#"{
  products(query: "{filter}") {
    edges { node {
      id title handle productType vendor status tags createdAt updatedAt
      variants { edges { node { id sku title price inventoryQuantity createdAt updatedAt } } }
      collections { edges { node { id handle title } } }
    } }
  }
}"#;

/// Bulk export of orders with line items, discount allocations and refunds.
pub const ORDERS_BULK_QUERY: &str = r#"{
  orders(query: "{filter}") {
    edges { node {
      id name email createdAt processedAt updatedAt cancelledAt displayFinancialStatus
      currentTotalPriceSet { shopMoney { amount currencyCode } }
      totalDiscountsSet { shopMoney { amount currencyCode } }
      totalTaxSet { shopMoney { amount currencyCode } }
      customer { id }
      lineItems { edges { node {
        id sku quantity title
        product { id } variant { id }
        originalUnitPriceSet { shopMoney { amount currencyCode } }
        discountAllocations { allocatedAmountSet { shopMoney { amount currencyCode } } }
        taxLines { priceSet { shopMoney { amount currencyCode } } rate title }
      } } }
      refunds { id createdAt
        refundLineItems(first: 250) { edges { node { id quantity lineItem { id } subtotalSet { shopMoney { amount } } } } }
      }
    } }
  }
}"#;

/// A bulk query with its search filter filled in (quotes in the filter escaped).
pub fn bulk_query(template: &str, filter: &str) -> String {
    template.replace("{filter}", &filter.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Every document the client sends, by name, for the schema tests.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("RUN_BULK_QUERY", RUN_BULK_QUERY.to_owned()),
        ("POLL_BULK_OPERATION", POLL_BULK_OPERATION.to_owned()),
        ("CANCEL_BULK_OPERATION", CANCEL_BULK_OPERATION.to_owned()),
        ("SHOP", SHOP.to_owned()),
        (
            "CATALOG_BULK_QUERY",
            bulk_query(CATALOG_BULK_QUERY, "updated_at:>'2026-01-01'"),
        ),
        ("ORDERS_BULK_QUERY", bulk_query(ORDERS_BULK_QUERY, "")),
    ]
}
