// Captures the workspace view for the README (e2e/screenshots/workspace.png).
import { expect, png, seedFile, seedTeam, signIn, test, unique } from "./helpers";

test("screenshot of the workspace", async ({ page }) => {
  const email = `${unique("ines")}@example.com`;
  const team = await seedTeam("Imaging", [{ email, role: "manager" }]);
  await seedFile(team.id, "site-plan.png", png(800, 600), "image/png");
  await seedFile(team.id, "survey-2026.csv", new TextEncoder().encode("site,depth\nA,12\nB,7\n"), "text/csv");
  await seedFile(team.id, "readme.txt", new TextEncoder().encode("Scans of the spring survey.\n"), "text/plain");
  await signIn(page, { email, name: "Inès Dupont" }, `/teams/${team.id}/files`);
  await expect(page.getByTestId("file-row-site-plan.png")).toBeVisible();
  await expect(page.getByTestId("live-state")).toHaveAttribute("data-state", "live");
  await page.screenshot({ path: "e2e/screenshots/workspace.png", fullPage: false });
  void unique;
});
