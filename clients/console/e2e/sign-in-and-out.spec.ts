// Flow: sign in through the dev issuer's page (code + PKCE), land in the
// workspace with the token in sessionStorage only, sign out through
// end-session, and be signed out for real.
import { accessTokenOf, checkA11y, expect, seedTeam, signIn, test, unique } from "./helpers";

test("sign in with PKCE, then sign out", async ({ page }) => {
  const email = `${unique("ada")}@example.com`;
  const team = await seedTeam(unique("Sign-in"), [{ email, role: "member" }]);

  const authorize: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/authorize")) authorize.push(r.url());
  });
  await signIn(page, { email, name: "Ada Lovelace" }, "/");

  // The authorization request used PKCE S256 and the contract's redirect URI.
  const auth = new URL(authorize[0]!);
  expect(auth.searchParams.get("code_challenge_method")).toBe("S256");
  expect(auth.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(auth.searchParams.get("response_type")).toBe("code");
  expect(auth.searchParams.get("redirect_uri")).toBe(new URL("/auth/callback", page.url()).href);
  expect(auth.searchParams.get("scope")).toContain("offline_access");

  // / goes to the user's team's files.
  await expect(page).toHaveURL(new RegExp(`/teams/${team.id}/files$`));
  await expect(page.getByTestId("user-menu")).toContainText("Ada Lovelace");
  await expect(page.getByRole("link", { name: "IT manager" })).toHaveCount(0);

  // Tokens live in sessionStorage, never localStorage.
  await accessTokenOf(page);
  const local = await page.evaluate(() => Object.keys(localStorage));
  expect(local.filter((k) => k.startsWith("oidc."))).toEqual([]);

  // A deep link survives a reload.
  await page.reload();
  await expect(page).toHaveURL(new RegExp(`/teams/${team.id}/files$`));
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Files");

  await page.getByTestId("user-menu").click();
  await page.getByRole("item", { name: "Sign out" }).or(page.getByText("Sign out")).first().click();
  await expect(page).toHaveURL(/\/signed-out/);
  await expect(page.getByRole("heading", { name: "You are signed out" })).toBeVisible();
  await checkA11y(page, "the signed-out page");
  const left = await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith("oidc.user:")));
  expect(left).toEqual([]);

  // Signing in again goes back through the issuer's page.
  await page.getByTestId("sign-in").click();
  await expect(page.getByLabel("Email")).toBeVisible();
});
