//! Shopify Admin GraphQL client. The bulk sync (initiate, poll, download, parse) lands
//! here; for now it holds the pinned API version the rest of the system uses.

/// The Admin API version every request is pinned to (configurable per shop later).
pub const ADMIN_API_VERSION: &str = "2026-01";
