// Flow: a team manager adds a member, changes their role and sees the rule
// that keeps the last manager — shown before anyone tries, and the API's
// refusal shown when it happens anyway.
import { admin, checkA11y, expect, seedTeam, signIn, test, unique } from "./helpers";
import type { Page } from "@playwright/test";

/** a11y runs axe once no notification is showing (one fading out fails the contrast check mid-transition). */
async function a11y(page: Page, what: string) {
  await expect(page.locator(".q-notification")).toHaveCount(0, { timeout: 15_000 });
  await checkA11y(page, what);
}

test("a manager adds a member, changes a role and sees the last-manager rule", async ({ page }) => {
  // Short names: this flow takes the team manager's screenshot for the README.
  const tag = unique("m").slice(-4);
  const managerEmail = `mona.${tag}@example.com`;
  const bobEmail = `bob.${tag}@example.com`;
  const team = await seedTeam("Field survey", [{ email: managerEmail, role: "manager" }]);
  // The admin who seeded the team became its first manager.
  const seeder = (await admin().api.GET("/me")).data!.user;

  await signIn(page, { email: managerEmail, name: "Mona Manager" }, `/teams/${team.id}/files`);
  await page.getByRole("link", { name: "Team manager" }).click();
  await expect(page).toHaveURL(/\/team-manager\/members/);
  await expect(page.getByRole("heading", { level: 1, name: `Members · ${team.name}` })).toBeVisible();

  // Two managers: nothing is locked. Mona removes the seeding admin (after a confirmation).
  const mona = page.getByTestId(`member-row-${managerEmail}`);
  await expect(mona).toBeVisible();
  await expect(page.getByTestId("last-manager-note")).toHaveCount(0);
  const seederRow = page.getByTestId(`member-row-${seeder.email}`);
  await seederRow.getByRole("button", { name: `Remove ${seeder.name || seeder.email}` }).click();
  const confirm = page.getByRole("dialog");
  await expect(confirm).toContainText("Remove member?");
  await a11y(page, "team manager: remove confirmation");
  await confirm.getByRole("button", { name: "Remove" }).click();
  await expect(seederRow).toHaveCount(0);

  // Alone, Mona is the last manager: her role and removal are locked, and the page says why.
  await expect(mona.getByTestId("last-manager-note")).toContainText("A team needs at least one manager");
  await expect(mona.getByRole("combobox", { name: "Role of Mona Manager" })).toBeDisabled();
  await expect(mona.getByRole("button", { name: "Remove Mona Manager" })).toBeDisabled();
  await a11y(page, "team manager: members");

  // Add Bob (never signed in: an invitation) as a member.
  await page.getByLabel("Email").fill(bobEmail);
  await page.getByRole("button", { name: "Add" }).click();
  const bob = page.getByTestId(`member-row-${bobEmail}`);
  await expect(bob).toBeVisible();
  await expect(bob).toContainText("Invited");
  await expect(bob.getByRole("combobox", { name: `Role of ${bobEmail}` })).toHaveValue("Member");

  // Bob becomes a manager: Mona is no longer the last one, her controls unlock.
  await bob.getByRole("combobox", { name: `Role of ${bobEmail}` }).click();
  await page.getByRole("option", { name: /^Manager/ }).click();
  await expect(bob.getByRole("combobox", { name: `Role of ${bobEmail}` })).toHaveValue("Manager");
  await expect(mona.getByTestId("last-manager-note")).toHaveCount(0);
  await expect(mona.getByRole("button", { name: "Remove Mona Manager" })).toBeEnabled();

  // And back to viewer, with the keyboard only: the rule locks Mona's row again.
  await bob.getByRole("combobox", { name: `Role of ${bobEmail}` }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("option", { name: /^Viewer/ })).toBeVisible();
  // The menu opens on the current role (Manager); Viewer is two down.
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await expect(bob.getByRole("combobox", { name: `Role of ${bobEmail}` })).toHaveValue("Viewer");
  await expect(mona.getByTestId("last-manager-note")).toBeVisible();
  await expect(mona.getByRole("button", { name: "Remove Mona Manager" })).toBeDisabled();
  await expect(page.locator(".q-notification")).toHaveCount(0, { timeout: 15_000 });
  await page.screenshot({ path: "e2e/screenshots/team-manager.png", fullPage: false });

  // The rule is the API's: demoting the last manager another way is refused, and the refusal is shown.
  await page.getByLabel("Email").fill(managerEmail);
  await page.getByRole("combobox", { name: "Role", exact: true }).click();
  await page.getByRole("option", { name: /^Viewer/ }).click();
  await page.getByRole("button", { name: "Add" }).click();
  const problem = page.getByTestId("problem");
  await expect(problem).toContainText("Could not add the member");
  await expect(problem).toContainText("409");
  await expect(problem).toContainText("at least one manager");
  await expect(problem.getByTestId("request-id")).not.toBeEmpty();
  await a11y(page, "team manager: members with a refusal");
  await problem.getByRole("button", { name: "Dismiss" }).click();
  await expect(mona.getByRole("combobox", { name: "Role of Mona Manager" })).toHaveValue("Manager");

  // Withdrawing Bob's invitation asks first, then he is gone.
  await bob.getByRole("button", { name: `Withdraw the invitation of ${bobEmail}` }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("Withdraw the invitation?");
  await dialog.getByRole("button", { name: "Withdraw" }).click();
  await expect(bob).toHaveCount(0);
  await expect(page.getByTestId("members-table").locator("tbody tr")).toHaveCount(1);
});

test("on a team they only belong to, a manager is offered the teams they manage", async ({ page }) => {
  const email = `${unique("theo")}@example.com`;
  const theirs = await seedTeam(unique("Theirs"), [{ email, role: "manager" }]);
  const other = await seedTeam(unique("Other"), [{ email, role: "member" }]);

  await signIn(page, { email, name: "Theo Two-Teams" }, `/teams/${other.id}/files`);
  await page.getByRole("link", { name: "Team manager" }).click();
  const notManager = page.getByTestId("team-manager-not-manager");
  await expect(notManager).toContainText(`you do not manage ${other.name}`);
  await expect(page.getByTestId("members-table")).toHaveCount(0);
  await a11y(page, "team manager: not this team's manager");

  await notManager.getByRole("button", { name: `Manage ${theirs.name}` }).click();
  await expect(page.getByRole("heading", { level: 1, name: `Members · ${theirs.name}` })).toBeVisible();
  await expect(page.getByTestId("team-switcher")).toHaveValue(theirs.name);
  await expect(page.getByTestId(`member-row-${email}`)).toBeVisible();
});
