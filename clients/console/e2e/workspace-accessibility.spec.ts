// Flow: every workspace page passes axe-core (0 serious or critical
// violations) and is usable by keyboard alone.
import { checkA11y, expect, png, seedFile, seedTeam, signIn, test, unique } from "./helpers";

test("axe on each workspace page, and the keyboard reaches the controls", async ({ page }) => {
  const email = `${unique("alan")}@example.com`;
  // No team yet: the workspace's empty state.
  await signIn(page, { email, name: "Alan Turing" }, "/");
  await expect(page.getByTestId("no-teams")).toBeVisible();
  await checkA11y(page, "the workspace without a team");

  const team = await seedTeam(unique("A11y"), [{ email, role: "manager" }]);
  const file = await seedFile(team.id, "pixel.png", png(32, 32), "image/png");
  await page.goto("/");
  await expect(page).toHaveURL(new RegExp(`/teams/${team.id}/files$`));
  await expect(page.getByTestId("file-row-pixel.png")).toBeVisible();
  await checkA11y(page, "the files page");

  // Keyboard: Tab from the top reaches the skip link, then the faces, the team switcher and the drop zone.
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeFocused();
  let reached = false;
  for (let i = 0; i < 25 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = await page.getByTestId("drop-zone").evaluate((el) => el === document.activeElement);
  }
  expect(reached, "the drop zone is reachable with Tab").toBe(true);

  await page.goto(`/teams/${team.id}/files/${file.id}`);
  await expect(page.getByRole("heading", { name: "pixel.png" })).toBeVisible();
  await checkA11y(page, "a file's page");

  // The delete confirmation is a dialog that Escape... does not dismiss by accident (persistent), Cancel does.
  await page.getByRole("button", { name: "Delete" }).click();
  await expect(page.getByRole("dialog")).toBeVisible();
  await checkA11y(page, "the delete confirmation");
  await page.getByRole("button", { name: "Keep it" }).click();
  await expect(page.getByRole("dialog")).toHaveCount(0);

  await page.goto(`/teams/${team.id}/jobs`);
  await expect(page.getByTestId("jobs-empty")).toBeVisible();
  await checkA11y(page, "the jobs page");
  // Start a job with the keyboard only: the form's submit is a real button.
  await page.getByRole("button", { name: "Start job" }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByText("Choose the file to process.").or(page.locator("[data-processor]"))).toBeVisible();

  await page.goto("/no/such/page");
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  await checkA11y(page, "the not-found page");
});
