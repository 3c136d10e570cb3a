// Flow: a member starts inspect and thumbnail on an image from the forms
// generated from the processors' schemas, and watches both succeed live
// (the event stream; no polling), then sees the thumbnail's preview.
import { checkA11y, expect, png, seedFile, seedTeam, signIn, test, unique } from "./helpers";

test("run inspect and thumbnail and watch them succeed live", async ({ page }) => {
  const email = `${unique("katherine")}@example.com`;
  const team = await seedTeam(unique("Imaging"), [{ email, role: "member" }]);
  const file = await seedFile(team.id, "photo.png", png(640, 400), "image/png");

  // Count the requests for jobs: after the start, the list must move without any.
  const jobReads: string[] = [];
  page.on("request", (r) => {
    if (r.method() === "GET" && /\/jobs\/[0-9a-f-]{36}$/.test(new URL(r.url()).pathname)) jobReads.push(r.url());
  });

  await signIn(page, { email, name: "Katherine Johnson" }, `/teams/${team.id}/jobs?file=${file.id}`);
  await expect(page.getByTestId("live-state")).toHaveAttribute("data-state", "live");
  await expect(page.getByTestId("jobs-empty")).toBeVisible();
  await checkA11y(page, "the jobs page");

  // inspect takes no parameters.
  await page.getByTestId("processor-select").click();
  await page.getByRole("option", { name: "inspect" }).click();
  await expect(page.getByText("This processor takes no parameters.")).toBeVisible();
  await page.getByRole("button", { name: "Start job" }).click();
  const inspectRow = page.locator('[data-processor="inspect"]');
  await expect(inspectRow).toHaveCount(1);

  // thumbnail: the form has its schema's fields; a bad value is refused before sending.
  await page.getByTestId("processor-select").click();
  await page.getByRole("option", { name: "thumbnail" }).click();
  const width = page.getByLabel("Max width");
  await expect(width).toHaveValue("256");
  await width.fill("5000");
  await page.getByRole("button", { name: "Start job" }).click();
  await expect(page.getByText("Must be at most 4096.")).toBeVisible();
  await width.fill("128");
  await page.getByRole("button", { name: "Start job" }).click();
  const thumbRow = page.locator('[data-processor="thumbnail"]');
  await expect(thumbRow).toHaveCount(1);

  // Both succeed on screen, moved by the event stream.
  await expect(inspectRow.locator("[data-status]")).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  await expect(thumbRow.locator("[data-status]")).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  expect(jobReads, "no polling of jobs").toEqual([]);
  await page.screenshot({ path: "e2e/screenshots/jobs.png" });

  // The thumbnail's page: result, outputs and the image preview (a blob: URL).
  await thumbRow.getByRole("link", { name: "thumbnail" }).click();
  await expect(page.getByRole("heading", { name: "thumbnail job" })).toBeVisible();
  await expect(page.getByTestId("outputs")).toContainText("thumbnail.png");
  const preview = page.getByTestId("preview-thumbnail.png");
  await expect(preview).toBeVisible();
  expect(await preview.getAttribute("src")).toMatch(/^blob:/);
  const size = await preview.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight]);
  expect(size).toEqual([128, 80]);
  await checkA11y(page, "a job's page");
});
