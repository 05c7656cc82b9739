//! Local stand-ins for third-party services (the local-dev default and what tests use).
//! One process, one port; each service keeps its real paths:
//!
//! - [`access`]: Cloudflare Access — the team's JWKS at `/cdn-cgi/access/certs`, plus a
//!   sign-in page and a token endpoint that issue assertions for a dev user or a
//!   service token. The Worker validates them exactly as in production; only the team
//!   domain (here `http://127.0.0.1:<port>`) differs.

pub mod access;
