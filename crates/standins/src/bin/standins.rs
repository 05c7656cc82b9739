//! `standins --port 9300 --aud <tag> --state-dir .dev/standins [--shopify-orders N]
//! [--shopify-seed S] [--shopify-products N] [--shopify-months N] [--shopify-running-polls N]`:
//! serves every local stand-in.

use anyhow::Context;
use standins::access::AccessStandin;
use standins::shopify::generator::StoreSpec;
use standins::shopify::ShopifyStandin;
use std::path::PathBuf;
use std::sync::Arc;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn parsed<T: std::str::FromStr>(args: &[String], name: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    arg(args, name)
        .map(|v| v.parse::<T>())
        .transpose()
        .context(name.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = parsed(&args, "--port")?.unwrap_or(9300);
    let aud = arg(&args, "--aud").context("--aud <Access application AUD tag> is required")?;
    let state_dir = PathBuf::from(arg(&args, "--state-dir").unwrap_or_else(|| ".dev/standins".into()));
    let base_url = format!("http://127.0.0.1:{port}");
    let access = AccessStandin::load_or_create(&state_dir.join("access-signing-key.pem"), &base_url, &aud)?;

    let defaults = StoreSpec::default();
    let spec = StoreSpec {
        seed: parsed(&args, "--shopify-seed")?.unwrap_or(defaults.seed),
        orders: parsed(&args, "--shopify-orders")?.unwrap_or(defaults.orders),
        products: parsed(&args, "--shopify-products")?.unwrap_or(defaults.products),
        months: parsed(&args, "--shopify-months")?.unwrap_or(defaults.months),
        ..defaults
    };
    let shopify = ShopifyStandin::new(&state_dir, &base_url, spec)?;
    if let Some(running_polls) = parsed(&args, "--shopify-running-polls")? {
        shopify.set_settings(standins::shopify::Settings {
            running_polls,
            ..shopify.settings()
        });
    }

    let app = standins::access::router(Arc::new(access)).merge(standins::shopify::router(Arc::new(shopify)));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("bind 127.0.0.1:{port}"))?;
    println!("stand-ins listening on {base_url} (Access team domain; JWKS at /cdn-cgi/access/certs)");
    println!("Shopify Admin API at {base_url}/admin/api/2026-01/graphql.json; control at {base_url}/_standin/shopify/");
    axum::serve(listener, app).await?;
    Ok(())
}
