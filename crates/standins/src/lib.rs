//! Local stand-ins for third-party services (the local-dev default and what tests use).
//! One process, one port; each service keeps its real paths:
//!
//! - [`access`]: Cloudflare Access — the team's JWKS at `/cdn-cgi/access/certs`, plus a
//!   sign-in page and a token endpoint that issue assertions for a dev user or a
//!   service token. The Worker validates them exactly as in production; only the team
//!   domain (here `http://127.0.0.1:<port>`) differs.
//! - [`shopify`]: the Shopify Admin API — `POST /admin/api/2026-01/graphql.json` with cost
//!   and throttling, bulk operations over a deterministic generated store (result files
//!   streamed to disk, served by signed URLs with `Range`), and a control API under
//!   `/_standin/shopify/` to reset or mutate the store, arm faults, read counters and the
//!   ground truth. The generator is a library too ([`shopify::generator`]).

pub mod access;
pub mod shopify;
