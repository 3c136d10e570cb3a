// Flow: a team manager creates an API key, sees its secret once and copies
// it, the key works against the API, then the manager revokes it and the
// API refuses it (401).
import { ConveyorProblem } from "../../ts/src/index.ts";
import { checkA11y, clientWith, expect, seedTeam, signIn, test, unique } from "./helpers";
import type { Page } from "@playwright/test";

/** a11y runs axe once no notification is showing (one fading out fails the contrast check mid-transition). */
async function a11y(page: Page, what: string) {
  await expect(page.locator(".q-notification")).toHaveCount(0, { timeout: 15_000 });
  await checkA11y(page, what);
}

test.use({ permissions: ["clipboard-read", "clipboard-write"] });

test("a manager creates a key, sees the secret once, copies it and revokes it", async ({ page }) => {
  const email = `${unique("kim")}@example.com`;
  const team = await seedTeam(unique("Partners"), [{ email, role: "manager" }]);
  const keyName = unique("nightly-sync");

  await signIn(page, { email, name: "Kim Keymaker" }, `/teams/${team.id}/files`);
  await page.getByRole("link", { name: "Team manager" }).click();
  await page.getByRole("tab", { name: "API keys" }).click();
  await expect(page).toHaveURL(/\/team-manager\/api-keys/);
  await expect(page.getByRole("heading", { level: 1, name: `API keys · ${team.name}` })).toBeVisible();
  await expect(page.getByTestId("keys-empty")).toBeVisible();
  await a11y(page, "team manager: API keys, none yet");

  // Create: the secret is shown once, in a dialog that says so.
  await page.getByLabel("Name").fill(keyName);
  await page.getByRole("combobox", { name: "Role" }).click();
  await page.getByRole("option", { name: /^Viewer/ }).click();
  await page.getByRole("button", { name: "Create key" }).click();
  const dialog = page.getByRole("dialog", { name: `API key “${keyName}” created` });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText("you will not see it again");
  const secret = await dialog.getByLabel("Secret").inputValue();
  expect(secret).toMatch(/^cvk_[A-Za-z0-9_-]{43}$/);
  await a11y(page, "team manager: the new key's secret");

  // Copy puts it on the clipboard.
  await dialog.getByRole("button", { name: "Copy" }).click();
  await expect(dialog.getByRole("button", { name: "Copied" })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);

  // Escape does not lose it by accident; the button closes it.
  await page.keyboard.press("Escape");
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "I have stored the secret" }).click();
  await expect(dialog).toHaveCount(0);

  // Listed by prefix, never by secret; never used yet.
  const row = page.getByTestId(`key-row-${keyName}`);
  await expect(row).toBeVisible();
  await expect(row.getByTestId("key-prefix")).toHaveText(`${secret.slice(0, 14)}…`);
  await expect(row).toContainText("Viewer");
  await expect(row).toContainText("Never");
  expect(await page.content()).not.toContain(secret);

  // The key works, as a viewer of this team; then its last use shows.
  const partner = clientWith(secret);
  const files = await partner.api.GET("/teams/{team_id}/files", { params: { path: { team_id: team.id } } });
  expect(files.response.status).toBe(200);
  // Last use is written in batches (about once a second) and read from a
  // replica, so the page may need a few reloads before it shows.
  await expect(async () => {
    await page.reload();
    await expect(row).toBeVisible();
    await expect(row).not.toContainText("Never", { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });

  // Revoke, after a confirmation.
  await row.getByRole("button", { name: `Revoke ${keyName}` }).click();
  const confirm = page.getByRole("dialog", { name: "Revoke API key?" });
  await expect(confirm).toContainText("stops working at once");
  await a11y(page, "team manager: revoke confirmation");
  await confirm.getByRole("button", { name: "Revoke" }).click();
  await expect(row.getByTestId("key-status")).toContainText("Revoked");
  await expect(row.getByRole("button", { name: `Revoke ${keyName}` })).toHaveCount(0);

  // The API now refuses the key.
  const refused = await clientWith(secret)
    .api.GET("/teams/{team_id}/files", { params: { path: { team_id: team.id } } })
    .then(() => undefined, (e: unknown) => e);
  expect(refused).toBeInstanceOf(ConveyorProblem);
  expect((refused as ConveyorProblem).status).toBe(401);
  await a11y(page, "team manager: API keys with a revoked key");
});
