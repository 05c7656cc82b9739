//! Cloudflare Access stand-in.
//!
//! Shapes followed:
//! - JWKS: <https://developers.cloudflare.com/cloudflare-one/identity/authorization-cookie/validating-json/>
//!   (`GET https://<team>.cloudflareaccess.com/cdn-cgi/access/certs` → `{"keys":[…], "public_cert":{…}, "public_certs":[…]}`);
//! - application token claims: <https://developers.cloudflare.com/cloudflare-one/identity/authorization-cookie/application-token/>
//!   (`aud` array, `email`, `exp`, `iat`, `nbf`, `iss`, `type: "app"`, `identity_nonce`, `sub`, `country`;
//!   service tokens carry `common_name` and an empty `sub`);
//! - browser sign-in: the application's login URL
//!   `<team>/cdn-cgi/access/login/<app host>?kid=<aud>&redirect_url=<...>` shows a form; signing
//!   in sets the `CF_Authorization` cookie (the real Access sets it on the application's
//!   domain; cookies ignore the port, so one set by `127.0.0.1:9300` reaches the Worker on
//!   `127.0.0.1:8787`) and redirects back. `/cdn-cgi/access/logout` clears it.

use anyhow::Context;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
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
/// The browser session cookie Access sets on the application's domain.
pub const COOKIE_NAME: &str = "CF_Authorization";

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

#[derive(Deserialize)]
pub struct LoginQuery {
    redirect_url: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    #[serde(default)]
    redirect_url: String,
    #[serde(default)]
    app: String,
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn is_local_host(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

/// Where to send the browser after signing in: an absolute `http(s)` URL on this machine, or
/// a path on the application host (as the real Access passes it). Anything else is refused,
/// so the page is no open redirect.
pub fn resolve_redirect(app: &str, redirect_url: &str) -> Option<String> {
    if redirect_url.is_empty() {
        return None;
    }
    if redirect_url.starts_with('/') && !redirect_url.starts_with("//") {
        return is_local_host(app).then(|| format!("http://{app}{redirect_url}"));
    }
    let rest = redirect_url
        .strip_prefix("http://")
        .or_else(|| redirect_url.strip_prefix("https://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    (is_local_host(host) && !redirect_url.contains(['\r', '\n'])).then(|| redirect_url.to_owned())
}

fn render_login(app: &str, redirect_url: &str) -> Html<String> {
    Html(
        include_str!("access_login.html")
            .replace("{{APP}}", &escape_html(app))
            .replace("{{REDIRECT_URL}}", &escape_html(redirect_url)),
    )
}

/// `GET /cdn-cgi/access/login` (and `/login/<app host>`, the application login URL).
async fn login_page(Query(q): Query<LoginQuery>) -> Html<String> {
    render_login("", q.redirect_url.as_deref().unwrap_or(""))
}

async fn app_login_page(UrlPath(app): UrlPath<String>, Query(q): Query<LoginQuery>) -> Html<String> {
    render_login(&app, q.redirect_url.as_deref().unwrap_or(""))
}

fn session_cookie(jwt: &str, max_age: i64) -> String {
    format!("{COOKIE_NAME}={jwt}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax")
}

/// `POST /cdn-cgi/access/login`: signs a token for the address, sets the cookie, redirects.
async fn login(State(s): State<Arc<AccessStandin>>, Form(form): Form<LoginForm>) -> Response {
    let email = form.email.trim();
    if !email.contains('@') || email.len() > 254 {
        return (StatusCode::BAD_REQUEST, "an email address is required\n").into_response();
    }
    let target = resolve_redirect(&form.app, &form.redirect_url);
    if target.is_none() && !form.redirect_url.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "redirect_url must be a URL on 127.0.0.1 or localhost\n",
        )
            .into_response();
    }
    let jwt = match s.sign_claims(&s.user_claims(email, DEFAULT_TTL_SECONDS), KID) {
        Ok(jwt) => jwt,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}\n")).into_response(),
    };
    let cookie = session_cookie(&jwt, DEFAULT_TTL_SECONDS);
    match target {
        Some(url) => (
            StatusCode::SEE_OTHER,
            [(header::SET_COOKIE, cookie), (header::LOCATION, url)],
        )
            .into_response(),
        None => (
            [(header::SET_COOKIE, cookie)],
            Html(format!(
                "<!doctype html><title>Signed in</title><p>Signed in as {}. The CF_Authorization cookie \
                 is set for this host (every port).</p>",
                escape_html(email)
            )),
        )
            .into_response(),
    }
}

/// `GET /cdn-cgi/access/logout[?redirect_url=]`: clears the cookie.
async fn logout(Query(q): Query<LoginQuery>) -> Response {
    let clear = session_cookie("", 0);
    match q.redirect_url.as_deref().and_then(|u| resolve_redirect("", u)) {
        Some(url) => (
            StatusCode::SEE_OTHER,
            [(header::SET_COOKIE, clear), (header::LOCATION, url)],
        )
            .into_response(),
        None => (
            [(header::SET_COOKIE, clear)],
            Html("<!doctype html><title>Signed out</title><p>Signed out. <a href=\"/cdn-cgi/access/login\">Sign in</a></p>"),
        )
            .into_response(),
    }
}

pub fn router(standin: Arc<AccessStandin>) -> Router {
    Router::new()
        .route("/cdn-cgi/access/certs", get(certs))
        .route("/cdn-cgi/access/token", get(token))
        .route("/cdn-cgi/access/login", get(login_page).post(login))
        .route("/cdn-cgi/access/login/{app}", get(app_login_page).post(login))
        .route("/cdn-cgi/access/logout", get(logout))
        .with_state(standin)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn signing_in_sets_the_cookie_and_redirects_back() {
        let dir = std::env::temp_dir().join(format!("access-standin-{}", uuid::Uuid::new_v4()));
        let standin = AccessStandin::load_or_create(&dir.join("key.pem"), "http://127.0.0.1:9300", "aud").unwrap();
        let form = LoginForm {
            email: "dev@example.com".into(),
            redirect_url: "/jobs?status=failed".into(),
            app: "127.0.0.1:8787".into(),
        };
        let response = login(State(Arc::new(standin)), Form(form)).await;
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()[header::LOCATION],
            "http://127.0.0.1:8787/jobs?status=failed"
        );
        let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("CF_Authorization=ey"), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"));
    }

    #[test]
    fn redirects_stay_on_this_machine() {
        let ok = [
            ("127.0.0.1:8787", "/jobs?x=1", "http://127.0.0.1:8787/jobs?x=1"),
            ("", "http://127.0.0.1:8787/orders", "http://127.0.0.1:8787/orders"),
            ("", "http://localhost:5173/", "http://localhost:5173/"),
            ("", "https://127.0.0.1/", "https://127.0.0.1/"),
        ];
        for (app, url, expected) in ok {
            assert_eq!(resolve_redirect(app, url).as_deref(), Some(expected), "{url}");
        }
        let refused = [
            ("", "https://evil.example/"),
            ("", "http://127.0.0.1.evil.example/"),
            ("", "//evil.example/"),
            ("evil.example", "/jobs"),
            ("", "/jobs"),
            ("", "javascript:alert(1)"),
            ("", ""),
        ];
        for (app, url) in refused {
            assert_eq!(resolve_redirect(app, url), None, "{app} {url}");
        }
    }

    #[test]
    fn the_login_page_escapes_what_it_echoes() {
        let Html(page) = render_login("127.0.0.1:8787", "/\"><script>x</script>");
        assert!(!page.contains("<script>x"));
        assert!(page.contains("&quot;&gt;&lt;script&gt;"));
    }
}
