// Flow: a team manager reads the team's audit log, newest first, a page at a
// time, and finds what they just did; filters it by action (the pages start
// over, only matching rows show); someone who manages no team is refused
// the team manager (and the API refuses them the audit log).
import { ConveyorProblem } from "../../ts/src/index.ts";
import { accessTokenOf, checkA11y, clientWith, expect, seedTeam, signIn, test, unique } from "./helpers";
import type { Page } from "@playwright/test";

/** a11y runs axe once no notification is showing (one fading out fails the contrast check mid-transition). */
async function a11y(page: Page, what: string) {
  await expect(page.locator(".q-notification")).toHaveCount(0, { timeout: 15_000 });
  await checkA11y(page, what);
}

test("a manager reads the audit log page by page and finds their own change", async ({ page }) => {
  const tag = unique("audit");
  const email = `aria-${tag}@example.com`;
  // The team's creation, Aria's membership and 22 invitations: 24 events, more than a page (20).
  const invited = Array.from({ length: 22 }, (_, i) => ({ email: `p${i}-${tag}@example.com`, role: "viewer" as const }));
  const team = await seedTeam(unique("Audited"), [{ email, role: "manager" }, ...invited]);

  await signIn(page, { email, name: "Aria Auditor" }, `/teams/${team.id}/files`);
  await page.getByRole("link", { name: "Team manager" }).click();
  const late = `late-${tag}@example.com`;
  await page.getByLabel("Email").fill(late);
  await page.getByRole("button", { name: "Add" }).click();
  await expect(page.getByTestId(`member-row-${late}`)).toBeVisible();

  // The face's tabs work from the keyboard.
  await page.getByRole("tab", { name: "Audit log" }).focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/team-manager\/audit/);
  await expect(page.getByRole("heading", { level: 1, name: `Audit log · ${team.name}` })).toBeVisible();
  const rows = page.getByTestId("audit-table").locator("tbody tr");
  await expect(rows).toHaveCount(20);
  // Newest first: Aria's own addition, with who and what.
  const newest = rows.first();
  await expect(newest).toContainText("Member added");
  await expect(newest).toContainText("member.added");
  await expect(newest).toContainText(late);
  await expect(newest).toContainText(email);
  await expect(newest.locator("dd", { hasText: /^member$/ })).toHaveCount(1);
  await expect(page.getByText("Page 1")).toBeVisible();
  await a11y(page, "team manager: audit log");

  // The next page holds the rest, down to the team's creation.
  const previousPage = page.getByRole("navigation", { name: "Pages of the audit log" }).getByRole("button", { name: "Previous" });
  await expect(previousPage).toBeDisabled();
  await page.getByRole("navigation", { name: "Pages of the audit log" }).getByRole("button", { name: "Next" }).click();
  await expect(page.getByText("Page 2")).toBeVisible();
  await expect(rows).toHaveCount(5);
  await expect(rows.last()).toContainText("Team created");
  await expect(page.getByRole("navigation", { name: "Pages of the audit log" }).getByRole("button", { name: "Next" })).toBeDisabled();
  await previousPage.click();
  await expect(page.getByText("Page 1")).toBeVisible();
  await expect(rows.first()).toContainText(late);

  // Filtered by action from the keyboard, from page 2: the pages start over and only the team's creation is left.
  await page.getByRole("navigation", { name: "Pages of the audit log" }).getByRole("button", { name: "Next" }).click();
  await expect(page.getByText("Page 2")).toBeVisible();
  const filters = page.getByRole("form", { name: "Filter the audit log" });
  await filters.getByLabel("Action").focus();
  await page.keyboard.press("Enter");
  await page.getByRole("option", { name: "Team created (team.created)" }).click();
  await filters.getByLabel("Actor id").focus();
  await page.keyboard.press("Enter");
  await expect(page.getByText("Page 1")).toBeVisible();
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("Team created");
  await expect(rows.first()).toContainText("team.created");
  await expect(page.getByRole("navigation", { name: "Pages of the audit log" }).getByRole("button", { name: "Next" })).toBeDisabled();
  await a11y(page, "team manager: audit log filtered by action");

  // Member additions only: a full page of them, and nothing else.
  await filters.getByLabel("Action").click();
  await page.getByRole("option", { name: "Member added (member.added)" }).click();
  await filters.getByRole("button", { name: "Apply filters" }).click();
  await expect(rows).toHaveCount(20);
  await expect(rows.filter({ hasText: "member.added" })).toHaveCount(20);
  await expect(rows.filter({ hasText: "team.created" })).toHaveCount(0);

  // Cleared, the whole log is back.
  await filters.getByRole("button", { name: "Clear" }).click();
  await expect(rows.first()).toContainText(late);
  await expect(rows).toHaveCount(20);
});

test("someone who manages no team is refused the team manager", async ({ page }) => {
  const email = `${unique("mel")}@example.com`;
  const team = await seedTeam(unique("Not-mine"), [{ email, role: "member" }]);

  await signIn(page, { email, name: "Mel Member" }, `/teams/${team.id}/files`);
  await expect(page.getByRole("link", { name: "Team manager" })).toHaveCount(0);
  await page.goto("/team-manager/audit");
  const refused = page.getByTestId("team-manager-refused");
  await expect(refused).toBeVisible();
  await expect(refused).toContainText("for team managers only");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Team manager");
  await expect(page.getByTestId("audit-table")).toHaveCount(0);
  await a11y(page, "team manager: refused");

  // The API would have refused anyway.
  const mel = clientWith(await accessTokenOf(page));
  const err = await mel.api
    .GET("/teams/{team_id}/audit-events", { params: { path: { team_id: team.id } } })
    .then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConveyorProblem);
  expect((err as ConveyorProblem).status).toBe(403);
});
