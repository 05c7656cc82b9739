//! Every way an Access assertion can be wrong, and the two right ones.
#![allow(clippy::unwrap_used)] // test helpers: a panic is how a test reports failure

use access::{AccessConfig, AccessError, KeyCache, KeyFetcher};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use domain::Principal;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::sync::OnceLock;

const TEAM: &str = "https://merch-team.cloudflareaccess.com";
const AUD: &str = "aud-dashboard-0123456789";
const NOW_MS: i64 = 1_796_400_000_000;
const NOW: i64 = NOW_MS / 1000;

struct Key {
    private_pem: String,
    public_pem: String,
    jwk: Value,
}

fn make_key(kid: &str) -> Key {
    let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let public = private.to_public_key();
    Key {
        private_pem: private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        public_pem: public.to_public_key_pem(LineEnding::LF).unwrap(),
        jwk: json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }),
    }
}

fn keys() -> &'static (Key, Key) {
    static KEYS: OnceLock<(Key, Key)> = OnceLock::new();
    KEYS.get_or_init(|| (make_key("kid-1"), make_key("kid-other")))
}

struct Fetcher {
    set: RefCell<Value>,
    calls: Cell<u32>,
    fail: bool,
}

impl Fetcher {
    fn with(jwks: Vec<Value>) -> Self {
        Self {
            set: RefCell::new(json!({ "keys": jwks })),
            calls: Cell::new(0),
            fail: false,
        }
    }
}

impl KeyFetcher for Fetcher {
    async fn fetch_jwks(&self, url: &str) -> Result<JwkSet, String> {
        assert_eq!(url, format!("{TEAM}/cdn-cgi/access/certs"));
        self.calls.set(self.calls.get() + 1);
        if self.fail {
            return Err("connection refused".into());
        }
        Ok(serde_json::from_value(self.set.borrow().clone()).unwrap())
    }
}

fn config() -> AccessConfig {
    AccessConfig::new(Some("merch-team.cloudflareaccess.com/"), Some(AUD)).unwrap()
}

fn user_claims() -> Value {
    json!({
        "iss": TEAM, "aud": [AUD], "sub": "user-1", "email": "analyst@example.com",
        "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 600, "type": "app",
    })
}

fn sign(claims: &Value, kid: &str, pem: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()).unwrap()
}

fn good(claims: &Value) -> String {
    sign(claims, "kid-1", &keys().0.private_pem)
}

async fn verify(token: Option<&str>) -> Result<Principal, AccessError> {
    let fetcher = Fetcher::with(vec![keys().0.jwk.clone()]);
    KeyCache::default().verify(&config(), token, &fetcher, NOW_MS).await
}

fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

#[tokio::test]
async fn a_user_token_becomes_a_user_principal() {
    let principal = verify(Some(&good(&user_claims()))).await.unwrap();
    assert_eq!(
        principal,
        Principal::User {
            email: "analyst@example.com".into(),
            subject: "user-1".into()
        }
    );
}

#[tokio::test]
async fn a_service_token_becomes_a_service_principal() {
    let claims = json!({
        "iss": TEAM, "aud": AUD, "sub": "", "common_name": "ci-bot.access",
        "iat": NOW, "exp": NOW + 600, "type": "app",
    });
    assert_eq!(
        verify(Some(&good(&claims))).await.unwrap(),
        Principal::Service {
            common_name: "ci-bot.access".into()
        }
    );
}

#[tokio::test]
async fn every_negative_is_refused() {
    let (key, other) = keys();
    let base = user_claims();
    let hs256_with_public_key = jsonwebtoken::encode(
        &Header {
            kid: Some("kid-1".into()),
            ..Header::new(Algorithm::HS256)
        },
        &base,
        &EncodingKey::from_secret(key.public_pem.as_bytes()),
    )
    .unwrap();
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"kid-1"}"#),
        URL_SAFE_NO_PAD.encode(base.to_string())
    );
    let tampered = {
        let token = good(&base);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(with(base.clone(), "email", json!("boss@example.com")).to_string());
        parts.join(".")
    };
    let cases: Vec<(&str, Option<String>, AccessError)> = vec![
        ("missing", None, AccessError::MissingToken),
        (
            "wrong aud",
            Some(good(&with(base.clone(), "aud", json!(["nope"])))),
            AccessError::WrongAudience,
        ),
        (
            "aud of another app",
            Some(good(&with(base.clone(), "aud", json!(["aud-finance-app"])))),
            AccessError::WrongAudience,
        ),
        (
            "wrong iss",
            Some(good(&with(
                base.clone(),
                "iss",
                json!("https://evil.cloudflareaccess.com"),
            ))),
            AccessError::WrongIssuer("https://evil.cloudflareaccess.com".into()),
        ),
        (
            "expired",
            Some(good(&with(base.clone(), "exp", json!(NOW - 61)))),
            AccessError::Expired,
        ),
        (
            "nbf in future",
            Some(good(&with(base.clone(), "nbf", json!(NOW + 61)))),
            AccessError::NotYetValid,
        ),
        (
            "unknown kid",
            Some(sign(&base, "kid-other", &other.private_pem)),
            AccessError::UnknownKeyId("kid-other".into()),
        ),
        (
            "signed by another key under our kid",
            Some(sign(&base, "kid-1", &other.private_pem)),
            AccessError::BadSignature,
        ),
        ("tampered", Some(tampered), AccessError::BadSignature),
        (
            "garbage",
            Some("not-a-jwt".into()),
            AccessError::Malformed(String::new()),
        ),
        (
            "no identity",
            Some(good(&json!({"iss": TEAM, "aud": AUD, "exp": NOW + 60}))),
            AccessError::NoIdentity,
        ),
    ];
    for (name, token, expected) in cases {
        let got = verify(token.as_deref()).await.expect_err(name);
        match expected {
            AccessError::Malformed(_) => assert!(matches!(got, AccessError::Malformed(_)), "{name}: {got:?}"),
            expected => assert_eq!(got, expected, "{name}"),
        }
    }
    let got = verify(Some(&hs256_with_public_key)).await.expect_err("hs256");
    assert_eq!(got, AccessError::UnsupportedAlgorithm("HS256".into()));
    let got = verify(Some(&alg_none)).await.expect_err("alg none");
    assert!(matches!(got, AccessError::Malformed(_)), "alg none: {got:?}");
}

#[tokio::test]
async fn leeway_is_sixty_seconds() {
    assert!(verify(Some(&good(&with(user_claims(), "exp", json!(NOW - 59)))))
        .await
        .is_ok());
    assert!(verify(Some(&good(&with(user_claims(), "nbf", json!(NOW + 59)))))
        .await
        .is_ok());
}

#[tokio::test]
async fn keys_are_cached_and_unknown_kids_refetch_at_most_once_a_minute() {
    let (key, other) = keys();
    let fetcher = Fetcher::with(vec![key.jwk.clone()]);
    let cache = KeyCache::default();
    let cfg = config();
    let token = good(&user_claims());
    cache.verify(&cfg, Some(&token), &fetcher, NOW_MS).await.unwrap();
    cache
        .verify(&cfg, Some(&token), &fetcher, NOW_MS + 1_000)
        .await
        .unwrap();
    assert_eq!(fetcher.calls.get(), 1, "second verification uses the cache");

    // A rotated key: unknown kid within the minute → no refetch.
    let rotated = sign(&user_claims(), "kid-other", &other.private_pem);
    *fetcher.set.borrow_mut() = json!({ "keys": [key.jwk, other.jwk] });
    let err = cache
        .verify(&cfg, Some(&rotated), &fetcher, NOW_MS + 30_000)
        .await
        .unwrap_err();
    assert_eq!(err, AccessError::UnknownKeyId("kid-other".into()));
    assert_eq!(fetcher.calls.get(), 1);
    // After a minute the unknown kid triggers exactly one refetch and then verifies.
    let later = NOW_MS + 61_000;
    let claims = with(
        with(user_claims(), "exp", json!(later / 1000 + 600)),
        "nbf",
        json!(later / 1000),
    );
    let rotated = sign(&claims, "kid-other", &other.private_pem);
    cache.verify(&cfg, Some(&rotated), &fetcher, later).await.unwrap();
    assert_eq!(fetcher.calls.get(), 2);
}

#[tokio::test]
async fn an_unreachable_key_endpoint_is_not_the_clients_fault() {
    let mut fetcher = Fetcher::with(vec![]);
    fetcher.fail = true;
    let err = KeyCache::default()
        .verify(&config(), Some(&good(&user_claims())), &fetcher, NOW_MS)
        .await
        .unwrap_err();
    assert!(matches!(err, AccessError::KeysUnavailable(_)));
    assert!(!err.is_client_error());
}

#[tokio::test]
async fn an_outage_is_not_hammered_and_known_keys_keep_working() {
    let (key, _) = keys();
    let cache = KeyCache::default();
    let cfg = config();
    let ok = Fetcher::with(vec![key.jwk.clone()]);
    cache
        .verify(&cfg, Some(&good(&user_claims())), &ok, NOW_MS)
        .await
        .unwrap();

    // Two hours later the cached set is stale and the endpoint is down.
    let mut down = Fetcher::with(vec![]);
    down.fail = true;
    let later = NOW_MS + 2 * 3_600_000;
    let claims = with(
        with(user_claims(), "exp", json!(later / 1000 + 600)),
        "nbf",
        json!(later / 1000),
    );
    let token = good(&claims);
    for i in 0..10 {
        // The stale key still verifies; only the first request tries the endpoint.
        cache.verify(&cfg, Some(&token), &down, later + i * 100).await.unwrap();
    }
    assert_eq!(down.calls.get(), 1);
    cache.verify(&cfg, Some(&token), &down, later + 6_000).await.unwrap();
    assert_eq!(down.calls.get(), 2, "asked again after the failure backoff");
}

#[test]
fn configuration_is_required() {
    assert_eq!(
        AccessConfig::new(None, Some(AUD)),
        Err(access::ConfigError::MissingTeamDomain)
    );
    assert_eq!(
        AccessConfig::new(Some(TEAM), Some("  ")),
        Err(access::ConfigError::MissingAudience)
    );
    assert_eq!(config().team_domain, TEAM);
    assert_eq!(
        AccessConfig::new(Some("http://127.0.0.1:9300"), Some(AUD))
            .unwrap()
            .certs_url(),
        "http://127.0.0.1:9300/cdn-cgi/access/certs"
    );
}
