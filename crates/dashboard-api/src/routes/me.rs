//! `GET /api/me`: who the Access assertion says you are.

use crate::openapi::schemas::ErrorBody;
use axum::{Extension, Json};
use domain::Principal;

/// The signed-in Principal.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "session",
    security(("access_assertion" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "the Principal", body = crate::openapi::schemas::Principal),
        (status = 401, description = "no valid Access token", body = ErrorBody),
    )
)]
pub async fn me(Extension(principal): Extension<Principal>) -> Json<Principal> {
    Json(principal)
}
