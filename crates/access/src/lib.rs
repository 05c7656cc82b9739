//! Cloudflare Access: the `Cf-Access-Jwt-Assertion` header becomes a [`Principal`].
//!
//! Followed: <https://developers.cloudflare.com/cloudflare-one/identity/authorization-cookie/validating-json/>
//! - RS256 only; `iss` equals the team domain; `aud` contains the application's AUD tag;
//!   `exp`/`nbf` checked with at most 60 s leeway;
//! - the signing key is looked up by `kid` in the team's JWKS
//!   (`<team domain>/cdn-cgi/access/certs`), cached, and refetched on an unknown kid at
//!   most once a minute (and, while the endpoint fails, at most once every 5 s);
//! - service tokens carry no email but a `common_name` and become [`Principal::Service`].
//!
//! Local development points the team domain at the local Access stand-in; nothing else
//! differs from production.

use domain::Principal;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: i64 = 60;
/// An unknown `kid` triggers a JWKS refetch at most this often.
pub const REFETCH_INTERVAL_MS: i64 = 60_000;
/// After a failed fetch, the endpoint is not asked again for this long.
pub const FAILED_FETCH_BACKOFF_MS: i64 = 5_000;
/// A fetched key set is trusted this long before it is refreshed.
pub const KEYS_TTL_MS: i64 = 3_600_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessConfig {
    /// The issuer, e.g. `https://myteam.cloudflareaccess.com`.
    pub team_domain: String,
    /// The Access application's AUD tag.
    pub audience: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("ACCESS_TEAM_DOMAIN is not configured")]
    MissingTeamDomain,
    #[error("ACCESS_AUD is not configured")]
    MissingAudience,
}

impl AccessConfig {
    /// Reads the two settings; a bare host gets `https://`, a trailing `/` is dropped.
    pub fn new(team_domain: Option<&str>, audience: Option<&str>) -> Result<Self, ConfigError> {
        let team = team_domain
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(ConfigError::MissingTeamDomain)?;
        let audience = audience
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(ConfigError::MissingAudience)?;
        let team = team.trim_end_matches('/');
        let team_domain = if team.contains("://") {
            team.to_owned()
        } else {
            format!("https://{team}")
        };
        Ok(Self {
            team_domain,
            audience: audience.to_owned(),
        })
    }

    pub fn certs_url(&self) -> String {
        format!("{}/cdn-cgi/access/certs", self.team_domain)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    #[error("no Cf-Access-Jwt-Assertion header was sent")]
    MissingToken,
    #[error("the token is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("the token is signed with {0}; only RS256 is accepted")]
    UnsupportedAlgorithm(String),
    #[error("the token names no key id")]
    MissingKeyId,
    #[error("the token's key id {0} is not among the team's signing keys")]
    UnknownKeyId(String),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token was issued by {0}, not this team")]
    WrongIssuer(String),
    #[error("the token is for another application")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token names neither an email nor a service token")]
    NoIdentity,
    #[error("the team's signing keys could not be fetched: {0}")]
    KeysUnavailable(String),
}

impl AccessError {
    /// The stable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            AccessError::MissingToken => "missing_token",
            AccessError::KeysUnavailable(_) => "access_keys_unavailable",
            AccessError::Expired => "token_expired",
            _ => "invalid_token",
        }
    }

    /// `false` for the cases where the token may be fine but we could not check it.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, AccessError::KeysUnavailable(_))
    }
}

/// Fetches the team's JWKS (the Workers fetch API in production, anything in tests).
pub trait KeyFetcher {
    fn fetch_jwks(&self, url: &str) -> impl Future<Output = Result<JwkSet, String>>;
}

#[derive(Default)]
struct CachedKeys {
    keys: HashMap<String, DecodingKey>,
    fetched_at_ms: Option<i64>,
    /// When the last fetch failed: during an outage requests do not each hit the endpoint.
    failed_at_ms: Option<i64>,
}

/// The JWKS cache; keep one per isolate (it lives across requests).
#[derive(Default)]
pub struct KeyCache {
    inner: Mutex<CachedKeys>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    common_name: Option<String>,
}

impl KeyCache {
    fn lookup(&self, kid: &str, now_ms: i64) -> (Option<DecodingKey>, bool) {
        let cache = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let stale = cache.fetched_at_ms.is_none_or(|t| now_ms - t > KEYS_TTL_MS);
        let may_refetch = cache.fetched_at_ms.is_none_or(|t| now_ms - t >= REFETCH_INTERVAL_MS);
        match cache.keys.get(kid) {
            Some(key) if !stale => (Some(key.clone()), false),
            Some(key) => (Some(key.clone()), true),
            None => (None, may_refetch),
        }
    }

    fn store(&self, set: &JwkSet, now_ms: i64) {
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|k| (kid, k))
            })
            .collect();
        let mut cache = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *cache = CachedKeys {
            keys,
            fetched_at_ms: Some(now_ms),
            failed_at_ms: None,
        };
    }

    /// Records a failed fetch; returns whether one failed within [`FAILED_FETCH_BACKOFF_MS`].
    fn failed_recently(&self, now_ms: i64, record: bool) -> bool {
        let mut cache = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let recent = cache.failed_at_ms.is_some_and(|t| now_ms - t < FAILED_FETCH_BACKOFF_MS);
        if record {
            cache.failed_at_ms = Some(now_ms);
        }
        recent
    }

    async fn key_for(
        &self,
        config: &AccessConfig,
        kid: &str,
        fetcher: &impl KeyFetcher,
        now_ms: i64,
    ) -> Result<DecodingKey, AccessError> {
        let (cached, fetch) = self.lookup(kid, now_ms);
        if !fetch {
            return cached.ok_or_else(|| AccessError::UnknownKeyId(kid.to_owned()));
        }
        if self.failed_recently(now_ms, false) {
            return cached.ok_or_else(|| AccessError::KeysUnavailable("the last fetch failed moments ago".into()));
        }
        match fetcher.fetch_jwks(&config.certs_url()).await {
            Ok(set) => {
                self.store(&set, now_ms);
                let (key, _) = self.lookup(kid, now_ms);
                key.ok_or_else(|| AccessError::UnknownKeyId(kid.to_owned()))
            }
            // A stale but known key still verifies while the endpoint is down.
            Err(e) => {
                self.failed_recently(now_ms, true);
                cached.ok_or(AccessError::KeysUnavailable(e))
            }
        }
    }

    /// Validates an assertion and returns who it names. `now_ms` is the current Unix time.
    pub async fn verify(
        &self,
        config: &AccessConfig,
        token: Option<&str>,
        fetcher: &impl KeyFetcher,
        now_ms: i64,
    ) -> Result<Principal, AccessError> {
        let token = token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AccessError::MissingToken)?;
        // `alg: none` and unknown algorithms fail here: the header does not parse.
        let header = jsonwebtoken::decode_header(token).map_err(|e| AccessError::Malformed(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(AccessError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.ok_or(AccessError::MissingKeyId)?;
        let key = self.key_for(config, &kid, fetcher, now_ms).await?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[config.audience.as_str()]);
        // Time is checked below against the caller's clock (SystemTime is unavailable on wasm32).
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = ["aud", "iss", "exp"].iter().map(|s| (*s).to_owned()).collect();
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature => AccessError::BadSignature,
                ErrorKind::InvalidAudience => AccessError::WrongAudience,
                ErrorKind::InvalidAlgorithm => AccessError::UnsupportedAlgorithm("a key of another type".into()),
                _ => AccessError::Malformed(e.to_string()),
            }
        })?;
        let claims = data.claims;
        if claims.iss != config.team_domain {
            return Err(AccessError::WrongIssuer(claims.iss));
        }
        let now = now_ms.div_euclid(1000);
        if claims.exp + LEEWAY_SECONDS < now {
            return Err(AccessError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf - LEEWAY_SECONDS > now) {
            return Err(AccessError::NotYetValid);
        }
        match (
            claims.email.filter(|e| !e.is_empty()),
            claims.common_name.filter(|c| !c.is_empty()),
        ) {
            (Some(email), _) => Ok(Principal::User {
                email,
                subject: claims.sub.unwrap_or_default(),
            }),
            (None, Some(common_name)) => Ok(Principal::Service { common_name }),
            (None, None) => Err(AccessError::NoIdentity),
        }
    }
}
