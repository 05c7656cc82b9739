//! Cloudflare Access stand-in.
//!
//! Shapes followed:
//! - JWKS: <https://developers.cloudflare.com/cloudflare-one/identity/authorization-cookie/validating-json/>
//!   (`GET https://<team>.cloudflareaccess.com/cdn-cgi/access/certs` → `{"keys":[…], "public_cert":{…}, "public_certs":[…]}`);
//! - application token claims: <https://developers.cloudflare.com/cloudflare-one/identity/authorization-cookie/application-token/>
//!   (`aud` array, `email`, `exp`, `iat`, `nbf`, `iss`, `type: "app"`, `identity_nonce`, `sub`, `country`;
//!   service tokens carry `common_name` and an empty `sub`).

use anyhow::Context;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub const KID: &str = "local-access-key-1";
pub const DEFAULT_TTL_SECONDS: i64 = 8 * 3600;

/// The signing key and the settings every issued assertion carries.
pub struct AccessStandin {
    pub team_domain: String,
    pub audience: String,
    private_pem: String,
    jwk: Value,
}

pub fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl AccessStandin {
    /// Loads the key at `key_path`, creating it (RSA 2048, PKCS#8 PEM) when absent.
    pub fn load_or_create(key_path: &Path, team_domain: &str, audience: &str) -> anyhow::Result<Self> {
        let private = if key_path.exists() {
            let pem = std::fs::read_to_string(key_path).with_context(|| format!("read {}", key_path.display()))?;
            RsaPrivateKey::from_pkcs8_pem(&pem).context("parse the Access stand-in key")?
        } else {
            let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).context("generate RSA key")?;
            if let Some(dir) = key_path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let pem = key.to_pkcs8_pem(LineEnding::LF)?;
            std::fs::write(key_path, pem.as_bytes()).with_context(|| format!("write {}", key_path.display()))?;
            key
        };
        let public = private.to_public_key();
        let jwk = json!({
            "kid": KID, "kty": "RSA", "alg": "RS256", "use": "sig",
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        });
        Ok(Self {
            team_domain: team_domain.trim_end_matches('/').to_owned(),
            audience: audience.to_owned(),
            private_pem: private.to_pkcs8_pem(LineEnding::LF)?.to_string(),
            jwk,
        })
    }

    pub fn jwks(&self) -> Value {
        json!({
            "keys": [self.jwk],
            "public_cert": { "kid": KID, "cert": "" },
            "public_certs": [{ "kid": KID, "cert": "" }],
        })
    }

    /// Signs any claims with the stand-in's key under `kid` (tests use this for negatives).
    pub fn sign_claims(&self, claims: &Value, kid: &str) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        header.typ = Some("JWT".into());
        let key = EncodingKey::from_rsa_pem(self.private_pem.as_bytes())?;
        Ok(jsonwebtoken::encode(&header, claims, &key)?)
    }

    /// The public key as SPKI PEM (tests sign an HS256 token with it, which must be refused).
    pub fn public_pem(&self) -> anyhow::Result<String> {
        use rsa::pkcs8::EncodePublicKey;
        let private = RsaPrivateKey::from_pkcs8_pem(&self.private_pem)?;
        Ok(private.to_public_key().to_public_key_pem(LineEnding::LF)?)
    }

    /// Claims of an application token for a signed-in user.
    pub fn user_claims(&self, email: &str, ttl_seconds: i64) -> Value {
        let now = now_seconds();
        json!({
            "aud": [self.audience], "email": email, "exp": now + ttl_seconds, "iat": now, "nbf": now,
            "iss": self.team_domain, "type": "app", "identity_nonce": uuid::Uuid::new_v4().simple().to_string(),
            "sub": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, email.as_bytes()).to_string(), "country": "XX",
        })
    }

    /// Claims of an application token for a service token.
    pub fn service_claims(&self, common_name: &str, ttl_seconds: i64) -> Value {
        let now = now_seconds();
        json!({
            "aud": [self.audience], "common_name": common_name, "exp": now + ttl_seconds, "iat": now, "nbf": now,
            "iss": self.team_domain, "type": "app", "sub": "", "identity_nonce": uuid::Uuid::new_v4().simple().to_string(),
        })
    }
}

#[derive(Deserialize)]
pub struct TokenQuery {
    email: Option<String>,
    service: Option<String>,
    ttl: Option<i64>,
}

async fn certs(State(s): State<Arc<AccessStandin>>) -> Json<Value> {
    Json(s.jwks())
}

/// `GET /cdn-cgi/access/token?email=…` or `?service=<common name>`: a signed assertion as text.
async fn token(State(s): State<Arc<AccessStandin>>, Query(q): Query<TokenQuery>) -> Response {
    let ttl = q.ttl.unwrap_or(DEFAULT_TTL_SECONDS).clamp(60, 7 * 24 * 3600);
    let claims = match (q.email.as_deref(), q.service.as_deref()) {
        (Some(email), None) if email.contains('@') => s.user_claims(email, ttl),
        (None, Some(service)) if !service.is_empty() => s.service_claims(service, ttl),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "pass ?email=<address> or ?service=<common name>\n",
            )
                .into_response();
        }
    };
    match s.sign_claims(&claims, KID) {
        Ok(jwt) => ([(header::CONTENT_TYPE, "text/plain")], format!("{jwt}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}\n")).into_response(),
    }
}

async fn login_page() -> Html<&'static str> {
    Html(include_str!("access_login.html"))
}

pub fn router(standin: Arc<AccessStandin>) -> Router {
    Router::new()
        .route("/cdn-cgi/access/certs", get(certs))
        .route("/cdn-cgi/access/token", get(token))
        .route("/cdn-cgi/access/login", get(login_page))
        .with_state(standin)
}
