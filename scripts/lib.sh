# Shared by scripts/dev and scripts/test. Sourced, not run.
# Everything a fresh machine of this kind needs is installed here, into project-local
# folders (.tools/, node_modules/), and only when absent.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
WORKER_BUILD_VERSION=0.8.7
export PATH="$TOOLS/bin:$PATH"
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$ROOT/Cargo.lock"
}

ensure_tools() {
  command -v cargo >/dev/null || die "cargo is required (rustup)"
  command -v node >/dev/null || die "node is required"
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown >&2
  fi
  local stamp="$ROOT/node_modules/.package-lock.stamp"
  if [ ! -f "$stamp" ] || [ "$ROOT/package-lock.json" -nt "$stamp" ]; then
    log "installing npm packages (wrangler, esbuild, wasm-opt) from package-lock.json"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
    touch "$stamp"
  fi
  if [ "$("$TOOLS/bin/worker-build" --version 2>/dev/null | awk '{print $NF}')" != "$WORKER_BUILD_VERSION" ]; then
    log "installing worker-build $WORKER_BUILD_VERSION into .tools/"
    cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --root "$TOOLS" >&2
  fi
  local wbg; wbg=$(wasm_bindgen_version)
  [ -n "$wbg" ] || die "no wasm-bindgen in Cargo.lock"
  if [ "$("$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$wbg" ]; then
    log "installing wasm-bindgen-cli $wbg (the version in Cargo.lock) into .tools/"
    # Not --locked: its own lockfile names a crate version the registry lacks.
    cargo install wasm-bindgen-cli --version "$wbg" --root "$TOOLS" >&2
  fi
}

# Builds both Workers (release wasm, as deployed) into crates/*/build/.
build_workers() {
  local crate
  for crate in ingest dashboard-api; do
    log "building the $crate Worker (wasm32, release)"
    (cd "$ROOT/crates/$crate" &&
      WASM_BINDGEN_BIN="$TOOLS/bin/wasm-bindgen" \
      ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild" \
      WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt" \
      worker-build --release >&2)
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for_http URL SECONDS LOGFILE PIDFILE: polls until the URL answers (any status);
# gives up early when the process behind it has exited.
wait_for_http() {
  local url=$1 limit=$2 logfile=${3:-} pidfile=${4:-} i
  for ((i = 0; i < limit * 4; i++)); do
    if curl -s -o /dev/null --max-time 2 "$url"; then return 0; fi
    if [ -n "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      [ -n "$logfile" ] && tail -n 40 "$logfile" >&2
      die "the process serving $url exited"
    fi
    sleep 0.25
  done
  [ -n "$logfile" ] && tail -n 40 "$logfile" >&2
  die "$url did not answer within ${limit}s"
}

# Prints a server URL (no database name): $DATABASE_URL's server if set, else the server
# at 127.0.0.1:5432, else a throwaway cluster under .dev/pg built from the machine's
# PostgreSQL binaries.
postgres_server_url() {
  if [ -n "${DATABASE_URL:-}" ]; then
    printf '%s\n' "${DATABASE_URL%/*}"
    return
  fi
  if port_open 5432; then
    # Hyperdrive insists on a password in the URL; with trust auth any will do.
    printf 'postgres://postgres:local@127.0.0.1:5432\n'
    return
  fi
  local bindir; bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bindir" ] || die "no Postgres at 127.0.0.1:5432, no DATABASE_URL, and no PostgreSQL binaries to start one"
  local data="$ROOT/.dev/pg/data" port=54329
  if [ ! -f "$data/PG_VERSION" ]; then
    log "creating a throwaway Postgres cluster in .dev/pg"
    mkdir -p "$ROOT/.dev/pg"
    local as=(); [ "$(id -u)" = 0 ] && { chown -R postgres "$ROOT/.dev/pg"; as=(runuser -u postgres --); }
    "${as[@]}" "$bindir/initdb" -D "$data" -U postgres -A trust >/dev/null
  fi
  if ! port_open "$port"; then
    local as=(); [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
    "${as[@]}" "$bindir/pg_ctl" -D "$data" -l "$ROOT/.dev/pg/server.log" -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" -w start >/dev/null
  fi
  printf 'postgres://postgres:local@127.0.0.1:%s\n' "$port"
}

# The Shopify Admin schema is a third party's file and is not copied into the repository
# (../shared/shopify/SOURCE.md): it is read where it lies, beside the checkout. A clone made
# elsewhere (e.g. in a temporary folder) finds it beside the checkout it was cloned from.
# Prints the path, or nothing.
locate_shopify_schema() {
  local rel="shared/shopify/admin-2026-01.graphql" origin
  if [ -f "$ROOT/../$rel" ]; then
    printf '%s\n' "$(cd "$ROOT/.." && pwd)/$rel"
    return
  fi
  origin=$(git -C "$ROOT" config --get remote.origin.url 2>/dev/null || true)
  if [ -n "$origin" ] && [ -d "$origin" ] && [ -f "$origin/../$rel" ]; then
    printf '%s\n' "$(cd "$origin/.." && pwd)/$rel"
  fi
}

# ACCESS_AUD for local runs: any tag works, the stand-in signs for it.
LOCAL_ACCESS_AUD="local-dev-dashboard-aud"

# start_stack NAME DB_URL API_PORT STANDINS_PORT INSPECTOR_PORT [extra env lines...]
# Starts the stand-ins and both Workers under one `wrangler dev`; state in .dev/NAME (the
# stand-ins' in .dev/NAME/standins: stacks started side by side never share result files).
start_stack() {
  local name=$1 db_url=$2 api_port=$3 standins_port=$4 inspector_port=$5; shift 5
  local state="$ROOT/.dev/$name"
  mkdir -p "$state"
  for p in "$api_port" "$standins_port"; do
    port_open "$p" && die "port $p is in use (another stack running? stop it first)"
  done

  log "starting the local stand-ins on 127.0.0.1:$standins_port"
  # STANDINS_PROFILE=release for large generated stores (the benchmark).
  local profile=${STANDINS_PROFILE:-debug}
  if [ "$profile" = release ]; then cargo build --quiet --release -p standins >&2; else cargo build --quiet -p standins >&2; fi
  # STANDINS_ARGS: extra stand-in flags, e.g. the Shopify store's size (--shopify-orders N).
  # shellcheck disable=SC2086
  setsid nohup "$ROOT/target/$profile/standins" --port "$standins_port" --aud "$LOCAL_ACCESS_AUD" \
    --state-dir "$state/standins" ${STANDINS_ARGS:-} </dev/null >"$state/standins.log" 2>&1 &
  echo $! >"$state/standins.pid"
  wait_for_http "http://127.0.0.1:$standins_port/cdn-cgi/access/certs" 60 "$state/standins.log" "$state/standins.pid"

  # Each stack runs from its own copies of the two configs so that its .dev.vars (read
  # next to each config, for both Workers) holds this stack's settings. Only `main` and the
  # SPA's assets `directory` are rewritten, to stay relative to the repository.
  local cfg
  for cfg in dashboard ingest; do
    sed -e 's#^main = "crates/#main = "../../crates/#' -e 's#^directory = "client/#directory = "../../client/#' \
      "$ROOT/wrangler.$cfg.toml" >"$state/wrangler.$cfg.toml"
  done
  {
    echo "ACCESS_TEAM_DOMAIN=http://127.0.0.1:$standins_port"
    echo "ACCESS_AUD=$LOCAL_ACCESS_AUD"
    # The Shopify stand-in (same process as the Access one); the token is a local dummy.
    echo "SHOPIFY_SHOP_URL=http://127.0.0.1:$standins_port"
    echo "SHOPIFY_ACCESS_TOKEN=shpat_local_standin_token"
    for line in "$@"; do echo "$line"; done
  } >"$state/.dev.vars"

  # The dashboard Worker serves the SPA from client/dist; build it if no one has.
  [ -f "$ROOT/client/dist/index.html" ] || build_client

  log "starting both Workers under wrangler dev on 127.0.0.1:$api_port"
  # `cd` on its own line: `$!` must be setsid's pid (the new process group), not a subshell's.
  (cd "$state" || exit 1
    CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE="$db_url" setsid nohup "$ROOT/node_modules/.bin/wrangler" dev \
      -c wrangler.dashboard.toml -c wrangler.ingest.toml \
      --ip 127.0.0.1 --port "$api_port" --inspector-port "$inspector_port" \
      --test-scheduled --persist-to "$state/wrangler" --show-interactive-dev-session=false \
      </dev/null >"$state/wrangler.log" 2>&1 &
    echo $! >"$state/wrangler.pid")
  wait_for_http "http://127.0.0.1:$api_port/api/health" 180 "$state/wrangler.log" "$state/wrangler.pid"
}

stop_stack() {
  local state="$ROOT/.dev/$1" f pid i
  for f in "$state/wrangler.pid" "$state/standins.pid"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    # Each was started with setsid: its process group holds workerd, esbuild and the rest.
    kill -TERM -- "-$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

# ---- The analysts' SPA (client/) -------------------------------------------------------

# npm packages of client/ from its lockfile, when absent or older than the lockfile.
ensure_client_tools() {
  local stamp="$ROOT/client/node_modules/.package-lock.stamp"
  if [ ! -f "$stamp" ] || [ "$ROOT/client/package-lock.json" -nt "$stamp" ]; then
    log "installing the SPA's npm packages from client/package-lock.json"
    (cd "$ROOT/client" && npm ci --no-audit --no-fund --loglevel=error >&2)
    touch "$stamp"
  fi
}

# Builds the SPA into client/dist (served by the dashboard Worker as static assets) and
# prints the first page's gzip JS size, failing above the 300 KiB budget.
build_client() {
  ensure_client_tools
  log "building the SPA (client/dist)"
  (cd "$ROOT/client" && npm run --silent build >&2)
  log "first-page JS size (gzip of what index.html loads initially)"
  node "$ROOT/client/scripts/bundle-size.mjs" 300
}

# Fails when client/openapi.json or the TypeScript generated from it (client/src/api/
# schema.d.ts) differs from what the Rust routes produce now. Fix: cd client && npm run gen:api
check_api_types() {
  ensure_client_tools
  log "checking the OpenAPI document and the SPA's generated API types for drift"
  local tmp; tmp=$(mktemp -d)
  cargo xtask openapi "$tmp/openapi.json"
  (cd "$ROOT/client" && node_modules/.bin/openapi-typescript "$tmp/openapi.json" -o "$tmp/schema.d.ts" >/dev/null 2>&1) ||
    { rm -rf "$tmp"; die "openapi-typescript failed on the generated document"; }
  local drift=0
  diff -u "$ROOT/client/openapi.json" "$tmp/openapi.json" >&2 || drift=1
  diff -u "$ROOT/client/src/api/schema.d.ts" "$tmp/schema.d.ts" >&2 || drift=1
  rm -rf "$tmp"
  [ "$drift" = 0 ] || die "the API types drifted from the Rust routes: run (cd client && npm run gen:api) and commit"
}

# Headless Chromium from Debian's package (no browser download); sets CHROMIUM_PATH.
ensure_chromium() {
  local bin
  bin=$(command -v chromium || command -v chromium-browser || true)
  if [ -z "$bin" ]; then
    [ "$(id -u)" = 0 ] || die "the browser tests need Chromium: apt-get install -y chromium (as root)"
    log "installing Chromium (Debian package) for the browser tests"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
    bin=$(command -v chromium) || die "chromium did not install"
  fi
  export CHROMIUM_PATH="$bin"
}

# Browser tests (client/e2e, node's test runner + playwright-core) against a running stack.
run_browser_tests() {
  local app_url=$1 standins_url=$2
  ensure_client_tools
  ensure_chromium
  log "browser tests (headless Chromium) against $app_url; screenshots in .dev/artifacts/screenshots"
  mkdir -p "$ROOT/.dev/artifacts/screenshots"
  (cd "$ROOT/client" &&
    E2E_APP_URL="$app_url" E2E_STANDINS_URL="$standins_url" \
    SCREENSHOT_DIR="$ROOT/.dev/artifacts/screenshots" \
      node --test --test-concurrency=1 --test-reporter=spec e2e/)
}
