//! `GET /api/me`: who the Access assertion says you are.

use axum::{Extension, Json};
use domain::Principal;

pub async fn me(Extension(principal): Extension<Principal>) -> Json<Principal> {
    Json(principal)
}
