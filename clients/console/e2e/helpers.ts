// Shared helpers of the console's e2e flows: the test with its origin guard,
// signing in through the dev issuer's page, axe checks, and seeding through
// the TypeScript client with the admin token the Go test passes.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test as base, expect, type Page } from "@playwright/test";
import { createConveyorClient, type ConveyorClient } from "../../ts/src/index.ts";

export { expect };

const BASE = process.env["CONVEYOR_URL"]!;

/** isLoopback reports whether a URL's host is this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopback(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === "data:" || u.protocol === "blob:" || u.protocol === "about:") return true;
  const h = u.hostname.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * test is Playwright's test with an automatic guard: every request the
 * browser makes is recorded, and the test fails if any went anywhere but
 * loopback.
 */
export const test = base.extend<{ offOrigin: string[] }>({
  offOrigin: [
    async ({ context }, use) => {
      const off: string[] = [];
      context.on("request", (r) => {
        if (!isLoopback(r.url())) off.push(`${r.method()} ${r.url()}`);
      });
      await use(off);
      expect(off, "requests that left loopback").toEqual([]);
    },
    { auto: true },
  ],
});

/** Person is who signs in at the dev issuer. */
export interface Person {
  email: string;
  name: string;
  admin?: boolean;
}

/** unique returns a name that no other run of the suite used. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * signIn opens path, which sends the browser to the dev issuer's sign-in
 * page (code + PKCE); fills Email and Name, ticks Platform admin when asked,
 * clicks Sign in, and waits to be back on the console.
 */
export async function signIn(page: Page, who: Person, path = "/"): Promise<void> {
  await page.goto(path);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Name").fill(who.name);
  const admin = page.getByLabel("Platform admin");
  if (who.admin) await admin.check();
  else if (await admin.isChecked()) await admin.uncheck();
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => u.origin === new URL(BASE).origin && !u.pathname.startsWith("/dev/") && !u.pathname.startsWith("/auth/"));
  await expect(page.getByTestId("user-menu")).toBeVisible();
}

/** accessTokenOf reads the signed-in user's access token from the page's sessionStorage (oidc-client-ts keeps it there). */
export async function accessTokenOf(page: Page): Promise<string> {
  const token = await page.evaluate(() => {
    for (let i = 0; i < sessionStorage.length; i++) {
      const k = sessionStorage.key(i)!;
      if (k.startsWith("oidc.user:")) return (JSON.parse(sessionStorage.getItem(k)!) as { access_token: string }).access_token;
    }
    return "";
  });
  expect(token, "an access token in sessionStorage").not.toBe("");
  return token;
}

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** checkA11y runs axe-core (injected from node_modules, no CDN) on the page and fails on any serious or critical violation. */
export async function checkA11y(page: Page, what: string): Promise<void> {
  // Evaluated over the DevTools protocol: the console's CSP (script-src 'self')
  // would block an inline <script>, and it must stay on for the tests.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
  });
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad, `axe: serious or critical violations on ${what}`).toEqual([]);
}

/** admin is a client acting as the platform admin whose token the Go test passed (CONVEYOR_ADMIN_TOKEN). */
export function admin(): ConveyorClient {
  const token = process.env["CONVEYOR_ADMIN_TOKEN"];
  if (!token) throw new Error("e2e: set CONVEYOR_ADMIN_TOKEN (a platform admin's token) for seeding");
  return clientWith(token);
}

/** clientWith is a client with a bearer token, at CONVEYOR_URL. */
export function clientWith(token: string): ConveyorClient {
  return createConveyorClient({ baseUrl: BASE, token });
}

/** seedTeam creates a team and gives each person a role in it (an invitation until they first sign in). */
export async function seedTeam(name: string, members: { email: string; role: "manager" | "member" | "viewer" }[] = []): Promise<{ id: string; name: string }> {
  const c = admin();
  const { data: team } = await c.api.POST("/teams", { body: { name } });
  for (const m of members) {
    await c.api.POST("/teams/{team_id}/members", { params: { path: { team_id: team!.id } }, body: m });
  }
  return { id: team!.id, name: team!.name };
}

/** seedFile uploads bytes to a team as the admin. */
export async function seedFile(teamId: string, name: string, bytes: Uint8Array, contentType?: string) {
  return admin().uploadFile(teamId, bytes, name, contentType ? { contentType } : {});
}

/** png returns a valid PNG of w × h pixels (RGB, a gradient), made here. */
export function png(w: number, h: number): Uint8Array {
  const { deflateSync, crc32 } = require("node:zlib") as typeof import("node:zlib");
  const row = 1 + w * 3;
  const raw = Buffer.alloc(row * h);
  for (let y = 0; y < h; y++) {
    raw[y * row] = 0;
    for (let x = 0; x < w; x++) {
      const o = y * row + 1 + x * 3;
      raw[o] = (x * 255) / w;
      raw[o + 1] = (y * 255) / h;
      raw[o + 2] = 128;
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return new Uint8Array(
    Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]),
  );
}
