// Browser tests: the built SPA, served by the dashboard Worker under `wrangler dev` (the
// stack scripts/test starts), in headless Chromium (Debian's package, driven by
// playwright-core; no browser download). Every wait is on page content, never a sleep.
//
//   E2E_APP_URL=http://127.0.0.1:8797 E2E_STANDINS_URL=http://127.0.0.1:9310 \
//   CHROMIUM_PATH=/usr/bin/chromium SCREENSHOT_DIR=../.dev/artifacts/screenshots \
//     node --test --test-concurrency=1 e2e/
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";

const APP = process.env.E2E_APP_URL ?? "http://127.0.0.1:8797";
const STANDINS = process.env.E2E_STANDINS_URL ?? "http://127.0.0.1:9310";
const SHOTS = process.env.SCREENSHOT_DIR ?? "../.dev/artifacts/screenshots";
const EMAIL = "e2e-analyst@example.com";
/** A full sync of the stand-in's store (a few thousand orders) takes well under this. */
const SYNC_LIMIT_MS = 240_000;

mkdirSync(SHOTS, { recursive: true });

/** @type {import("playwright-core").Browser} */
let browser;
/** @type {import("playwright-core").BrowserContext} */
let signedIn;
/** @type {import("playwright-core").Page} */
let page;

async function shot(p, name) {
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    // Running as root in CI: Chromium's sandbox needs a user namespace it may not get.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  signedIn = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  signedIn.setDefaultTimeout(30_000);
  page = await signedIn.newPage();
});

after(async () => {
  await browser?.close();
});

describe("the dashboard SPA", () => {
  test("signs in through the Access stand-in's page and comes back to the page asked for", async () => {
    await page.goto(`${APP}/health`);
    await page.getByRole("heading", { name: "Signed out, or no access" }).waitFor();
    assert.match(await page.getByTestId("request-id").innerText(), /\S+/);
    await shot(page, "00-signed-out-before-sign-in");

    await page.getByRole("link", { name: "Sign in" }).click();
    await page.waitForURL(`${STANDINS}/cdn-cgi/access/login/**`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await shot(page, "01-access-stand-in-sign-in");
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();

    await page.waitForURL(`${APP}/health`);
    await page.getByTestId("signed-in-as").filter({ hasText: EMAIL }).waitFor();
    const cookies = await signedIn.cookies(APP);
    assert.ok(cookies.some((c) => c.name === "CF_Authorization" && c.httpOnly), "the Access cookie reaches the app");
  });

  test("Health shows every system green", async () => {
    await page.goto(`${APP}/health`);
    await page.getByTestId("health-summary").filter({ hasText: "All systems operational." }).waitFor();
    const rows = page.getByTestId("system-row");
    assert.equal(await rows.count(), 5);
    const text = await rows.allInnerTexts();
    for (const system of ["Postgres", "R2 bucket", "KV namespace", "Queue producer", "Ingest Worker"]) {
      const row = text.find((t) => t.includes(system));
      assert.ok(row, `a row for ${system}`);
      assert.match(row, /\bok\b/, `${system} is ok: ${row}`);
      assert.match(row, /\d+(\.\d)? ms/, `${system} has a latency: ${row}`);
    }
    // A second check adds a point; the latency chart (its own lazily loaded chunk) draws.
    await page.getByRole("button", { name: "Check now" }).click();
    await page.getByRole("img", { name: /Latency of each system/ }).locator("svg").first().waitFor();
    await shot(page, "02-health");
  });

  test("deep links work on reload, unknown paths show the app's not-found page", async () => {
    await page.goto(`${APP}/jobs?status=succeeded`);
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    await page.reload();
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    assert.equal(await page.getByLabel("Status").inputValue(), "succeeded");

    await page.goto(`${APP}/no/such/page`);
    await page.getByText("No such page").waitFor();

    // The API keeps answering JSON under /api, even for unknown routes.
    const res = await page.request.get(`${APP}/api/no-such-route`);
    assert.equal(res.status(), 404);
    assert.equal((await res.json()).error.code, "not_found");
  });

  test("starts a Shopify sync, watches its steps reach succeeded", async () => {
    await page.goto(`${APP}/jobs`);
    await page.getByRole("button", { name: "Start a job…" }).click();
    const dialog = page.getByRole("dialog", { name: "Start a job" });
    await dialog.waitFor();
    await dialog.getByLabel("Job").selectOption("PROCEDURE_EXECUTION_INITIATE");
    await dialog.getByRole("radio", { name: /Full/ }).check();
    await shot(page, "03-start-sync-dialog");
    await dialog.getByRole("button", { name: "Start shopify sync" }).click();

    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
    await page.getByRole("heading", { name: "Shopify sync" }).waitFor();
    // Steps appear and progress while the ingest Worker runs them (polled every 1.5 s).
    await page.getByTestId("step").first().waitFor({ timeout: 60_000 });
    await shot(page, "04-sync-running");
    const status = page.getByTestId("execution-status");
    await status.getByText(/^(succeeded|failed)$/).waitFor({ timeout: SYNC_LIMIT_MS });
    const final = (await status.innerText()).trim();
    await shot(page, "05-sync-finished");
    assert.equal(final, "succeeded", await page.locator("main").innerText());

    const steps = page.getByTestId("step");
    assert.ok((await steps.count()) >= 2, "the sync records its steps");
    for (const text of await steps.allInnerTexts()) assert.match(text, /succeeded/, text);
    // Finished steps keep their counters (rows, lines, bytes…) on the page; the download's
    // progress bar (bytes read of the export's size) ends full.
    assert.ok((await page.locator("[data-counter]").count()) > 0, "some step shows its counters");
    const download = page.getByTestId("step").filter({ hasText: "download" });
    assert.equal(await download.getByRole("progressbar", { name: "bytes" }).first().getAttribute("aria-valuenow"), "100");
    assert.match(await download.locator('[data-counter="lines"]').innerText(), /^[1-9][\d,.\s]*$/);

    await page.getByRole("link", { name: "← Jobs" }).click();
    await page.getByTestId("job-row").first().waitFor();
    await shot(page, "06-jobs");
  });

  test("looks up an order from the synced data", async () => {
    await page.goto(`${APP}/orders`);
    await page.getByText("Find an order").waitFor();
    await page.getByRole("tab", { name: "Date range" }).click();
    await page.getByLabel("From (shop time)").fill("2024-01-01");
    await page.getByLabel("To (inclusive)").fill("2026-12-31");
    await page.getByRole("button", { name: "Search" }).click();
    const first = page.getByTestId("order-row").first();
    await first.waitFor();
    await shot(page, "07-orders-by-date");
    const name = (await first.getByRole("link").innerText()).trim();
    assert.match(name, /^#\S+$/);

    // The same order by its name, then its page.
    await page.getByRole("tab", { name: "Order name" }).click();
    await page.getByLabel("Order name").fill(name);
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL((url) => url.searchParams.get("name") === name);
    // The URL changes before the results do: wait until the list is the new search's (one
    // order) rather than counting the previous list.
    const rows = page.getByTestId("order-row");
    await page.waitForFunction(
      (wanted) => {
        const found = document.querySelectorAll('[data-testid="order-row"]');
        return found.length === 1 && found[0].textContent.includes(wanted);
      },
      name,
    );
    assert.equal(await rows.count(), 1);
    await rows.first().getByRole("link", { name }).click();

    await page.getByRole("heading", { name: `Order ${name}` }).waitFor();
    await page.getByTestId("line-row").first().waitFor();
    assert.ok((await page.getByTestId("line-row").count()) >= 1);
    await page.getByRole("heading", { name: /^Refunds \(\d+\)$/ }).waitFor();
    await shot(page, "08-order");
  });

  test("an invalid token shows the signed-out state with a request id", async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    try {
      const url = new URL(APP);
      await context.addCookies([
        { name: "CF_Authorization", value: "not.a.jwt", domain: url.hostname, path: "/", httpOnly: true },
      ]);
      const p = await context.newPage();
      await p.goto(`${APP}/orders`);
      await p.getByRole("heading", { name: "Signed out, or no access" }).waitFor();
      assert.match(await p.locator("main").innerText(), /not a well-formed JWT/);
      assert.match(await p.getByTestId("request-id").innerText(), /\S{8,}/);
      assert.equal(await p.getByText("Find an order").count(), 0, "the page's content stays hidden");
      const signIn = p.getByRole("link", { name: "Sign in" });
      assert.match((await signIn.getAttribute("href")) ?? "", /\/cdn-cgi\/access\/login\/.+redirect_url=/);
      await shot(p, "09-signed-out-invalid-token");
    } finally {
      await context.close();
    }
  });
});
