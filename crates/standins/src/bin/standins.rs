//! `standins --port 9300 --aud <tag> --state-dir .dev/standins`: serves every local stand-in.

use anyhow::Context;
use standins::access::AccessStandin;
use std::path::PathBuf;
use std::sync::Arc;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = arg(&args, "--port")
        .unwrap_or_else(|| "9300".into())
        .parse()
        .context("--port")?;
    let aud = arg(&args, "--aud").context("--aud <Access application AUD tag> is required")?;
    let state_dir = PathBuf::from(arg(&args, "--state-dir").unwrap_or_else(|| ".dev/standins".into()));
    let team_domain = format!("http://127.0.0.1:{port}");
    let access = AccessStandin::load_or_create(&state_dir.join("access-signing-key.pem"), &team_domain, &aud)?;
    let app = standins::access::router(Arc::new(access));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("bind 127.0.0.1:{port}"))?;
    println!("stand-ins listening on {team_domain} (Access team domain; JWKS at /cdn-cgi/access/certs)");
    axum::serve(listener, app).await?;
    Ok(())
}
