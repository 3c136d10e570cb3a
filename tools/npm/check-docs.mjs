#!/usr/bin/env node
// Checks that the built docs site (gen/docs) renders offline:
//   - serves gen/docs at /docs/ (its openapi.json is the spec with code
//     samples) and the spec (YAML -> JSON) at /api/v1/openapi.json from an
//     in-process server on 127.0.0.1;
//   - opens /docs/ in headless Chromium (Debian's /usr/bin/chromium, or $CHROMIUM)
//     with every host name but 127.0.0.1 unresolvable;
//   - fails if the page asks for anything off that origin, throws, logs an
//     unexpected error, or does not render every operation of the spec;
//   - and if an operation does not show its three request samples (curl, Go,
//     TypeScript tabs), each exactly the x-codeSamples source of the docs' spec.
//
// With CONVEYOR_URL set (http://127.0.0.1:PORT), the live server's /docs/ is
// checked instead of the in-process copy: what the binary embeds and serves.
//
// Usage: node check-docs.mjs [--screenshot out.png]
// Needs: npm ci in tools/npm, `node build-docs.mjs`, and apt package chromium.

import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { parse } from "yaml";
import { WEBHOOK_SAMPLES } from "./codesamples/webhooks.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const docsDir = join(root, "gen", "docs");
const specPath = join(root, "openapi", "v1", "openapi.yaml");
const shotIndex = process.argv.indexOf("--screenshot");
const screenshot = shotIndex > 0 ? process.argv[shotIndex + 1] : undefined;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

// The one request Redoc 2 tries off-origin: the logo of the "API docs by
// Redocly" attribution. index.html's CSP (img-src 'self' data:) blocks it
// inside the browser, before any network access; the check asserts exactly that.
const KNOWN_CSP_BLOCK = "https://cdn.redoc.ly/redoc/logo-mini.svg";

const spec = parse(readFileSync(specPath, "utf8"));
const specJson = JSON.stringify(spec);
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const operations = Object.values(spec.paths).flatMap((item) => METHODS.filter((m) => item[m]).map((m) => item[m]));

const SAMPLE_LABELS = ["curl", "Go", "TypeScript"];

const files = {
  "/docs/": ["text/html; charset=utf-8", readFileSync(join(docsDir, "index.html"))],
  "/docs/openapi.json": ["application/json", readFileSync(join(docsDir, "openapi.json"))],
  "/docs/redoc.standalone.js": ["text/javascript; charset=utf-8", readFileSync(join(docsDir, "redoc.standalone.js"))],
  "/api/v1/openapi.json": ["application/json", Buffer.from(specJson)],
};
const served = [];
const server = createServer((req, res) => {
  served.push(`${req.method} ${req.url}`);
  if (req.url === "/docs") {
    res.writeHead(301, { Location: "/docs/" }).end();
    return;
  }
  const file = files[req.url];
  if (!file) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "Content-Type": file[0], "Content-Length": file[1].length }).end(file[1]);
});
const live = process.env.CONVEYOR_URL?.replace(/\/+$/, "");
if (live && !/^http:\/\/127\.0\.0\.1:\d+$/.test(live)) {
  console.error(`CONVEYOR_URL must be http://127.0.0.1:PORT (loopback only), not ${live}`);
  process.exit(2);
}
if (!live) await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const origin = live ?? `http://127.0.0.1:${server.address().port}`;

// The samples the page should show: the x-codeSamples of the spec the docs load.
const docsSpec = live ? await (await fetch(`${origin}/docs/openapi.json`)).json() : JSON.parse(files["/docs/openapi.json"][1]);
const docsOperations = Object.values(docsSpec.paths).flatMap((item) => METHODS.filter((m) => item[m]).map((m) => item[m]));
const wantSamples = new Map(docsOperations.map((op) => [op.operationId, op["x-codeSamples"] ?? []]));

const failures = [];
const offOrigin = []; // asked for by the page: reached the network unless blocked by CSP
const consoleErrors = [];
const cspBlocked = [];
const browser = await chromium.launch({
  executablePath,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
  ],
});
try {
  const context = await browser.newContext({ serviceWorkers: "block", viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const isLocal = (url) => url.startsWith(origin + "/") || url.startsWith("data:") || url.startsWith("blob:");
  const blockedByCsp = new Set();
  page.on("requestfailed", (r) => {
    if (!isLocal(r.url()) && r.failure()?.errorText === "csp") blockedByCsp.add(r.url());
  });
  page.on("request", (r) => {
    if (!isLocal(r.url())) offOrigin.push(r.url());
  });
  await context.route(
    (url) => url.origin !== origin,
    (route) => route.abort("blockedbyclient"),
  );
  page.on("console", (msg) => {
    if (msg.type() !== "error" && msg.type() !== "warning") return;
    const text = msg.text();
    if (text.includes("Content Security Policy")) cspBlocked.push(text);
    else if (msg.type() === "error") consoleErrors.push(text);
  });
  page.on("pageerror", (err) => failures.push(`page error: ${err.message}`));

  await page.goto(`${origin}/docs`, { waitUntil: "load" });
  await page.waitForSelector('[data-section-id*="operation/"]', { timeout: 30_000 });
  await page.waitForLoadState("networkidle");
  const rendered = await page.locator('[data-section-id^="tag/"][data-section-id*="/operation/"]').count();
  const roles = await page.getByText("Required role:").count();
  const title = await page.title();
  if (screenshot) await page.screenshot({ path: screenshot });

  // Every operation's "Request samples": click each code-sample tab, read its panel.
  const shown = await page.evaluate(async (labels) => {
    const out = {};
    const tick = () => new Promise((ok) => setTimeout(ok, 0));
    for (const section of document.querySelectorAll('[data-section-id^="tag/"][data-section-id*="/operation/"]')) {
      const id = section.getAttribute("data-section-id").split("/operation/")[1];
      const heading = [...section.querySelectorAll("h3")].find((h) => h.textContent.trim() === "Request samples");
      const tabs = heading ? [...heading.parentElement.querySelectorAll('[role="tab"]')] : [];
      const samples = {};
      for (const label of labels) {
        const tab = tabs.find((t) => t.textContent.trim() === label);
        if (!tab) continue;
        tab.click();
        const panel = document.getElementById(tab.getAttribute("aria-controls"));
        for (let i = 0; i < 100 && panel && !panel.textContent.trim(); i++) await tick();
        const code = panel?.querySelector("pre");
        samples[label] = code ? code.textContent : (panel?.textContent ?? "");
      }
      out[id] = { tabs: tabs.map((t) => t.textContent.trim()), samples };
    }
    return out;
  }, SAMPLE_LABELS);
  const norm = (s) => s.replace(/\s+/g, " ").trim();
  let samplesShown = 0;
  for (const op of operations) {
    const got = shown[op.operationId];
    if (!got) continue; // reported by the rendered count
    const want = wantSamples.get(op.operationId) ?? [];
    const labels = want.map((s) => s.label);
    if (JSON.stringify(labels) !== JSON.stringify(SAMPLE_LABELS)) {
      failures.push(`${op.operationId}: the docs' spec has code samples ${JSON.stringify(labels)}, want ${JSON.stringify(SAMPLE_LABELS)}`);
    }
    for (const label of SAMPLE_LABELS) {
      if (!got.tabs.includes(label)) {
        failures.push(`${op.operationId}: no "${label}" request sample tab (tabs: ${got.tabs.join(", ")})`);
        continue;
      }
      const source = want.find((s) => s.label === label)?.source ?? "";
      if (!source.trim() || norm(got.samples[label] ?? "") !== norm(source)) {
        failures.push(`${op.operationId}: the "${label}" tab shows ${JSON.stringify((got.samples[label] ?? "").slice(0, 120))}, not its sample`);
      } else samplesShown++;
    }
  }

  // The events section: each event type's data schema rendered (its
  // SchemaDefinition shows team_id and the resource), and every webhook
  // verification sample, exactly its checked source.
  const eventsText = await page.evaluate(() =>
    [...document.querySelectorAll('[data-section-id^="tag/events/"]')]
      .filter((e) => !e.getAttribute("data-section-id").includes("/operation/"))
      .map((e) => e.textContent)
      .join("\n"),
  );
  const eventTypes = ["job.updated", "file.created", "file.deleted", "member.added", "member.role_changed", "member.removed", "api_key.created", "api_key.revoked"];
  for (const t of eventTypes) if (!eventsText.includes(t)) failures.push(`the events section does not describe ${t}`);
  const teamIds = eventsText.split("team_id").length - 1;
  if (teamIds < eventTypes.length) failures.push(`the events section shows ${teamIds} event data schemas (team_id), want ${eventTypes.length}`);
  for (const sample of WEBHOOK_SAMPLES) {
    if (!norm(eventsText).includes(norm(sample.source))) failures.push(`the events section does not show the webhook sample ${sample.file}`);
  }

  if (title !== "Conveyor API") failures.push(`title is ${JSON.stringify(title)}`);
  if (rendered !== operations.length) failures.push(`${rendered} operations rendered, the spec has ${operations.length}`);
  if (samplesShown !== operations.length * SAMPLE_LABELS.length) {
    failures.push(`${samplesShown} code samples shown, want ${operations.length * SAMPLE_LABELS.length} (curl, Go and TypeScript for each operation)`);
  }
  if (roles !== operations.length) failures.push(`${roles} "Required role" notes, the spec has ${operations.length} operations`);
  for (const url of offOrigin) {
    if (!(url === KNOWN_CSP_BLOCK && blockedByCsp.has(url))) failures.push(`off-origin request: ${url}`);
  }
  for (const text of consoleErrors) failures.push(`console error: ${text}`);
  for (const text of cspBlocked) if (!text.includes(KNOWN_CSP_BLOCK)) failures.push(`unexpected CSP block: ${text}`);
  const unexpected = live ? [] : served.filter((s) => !/^GET \/(docs\/?|docs\/redoc\.standalone\.js|docs\/openapi\.json)$/.test(s));
  for (const s of unexpected) failures.push(`unexpected request to the server: ${s}`);

  console.log(
    JSON.stringify(
      { origin, title, operations: operations.length, rendered, roles, samplesShown, served, offOrigin, blockedByCsp: [...blockedByCsp], consoleErrors },
      null,
      2,
    ),
  );
} finally {
  await browser.close();
  if (!live) server.close();
}
if (failures.length) {
  console.error("docs check FAILED:\n  " + failures.join("\n  "));
  process.exit(1);
}
console.log("docs check ok: every operation rendered with its curl, Go and TypeScript samples; nothing but 127.0.0.1 was contacted (the Redocly logo was blocked by CSP in the browser)");
