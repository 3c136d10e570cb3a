// Flow: a member cancels a job while it runs (csv_profile over a large CSV),
// retries it, and downloads an output of a finished job.
import { readFile } from "node:fs/promises";
import { admin, expect, seedFile, seedTeam, signIn, test, unique } from "./helpers";

/** A CSV of about `mib` MiB with a dozen columns of mixed types: csv_profile takes its time over it. */
function bigCsv(mib: number): Uint8Array {
  const header = "id,name,amount,ratio,flag,day,stamp,code,city,note,score,tag\n";
  const rows: string[] = [header];
  let size = header.length;
  for (let i = 0; size < mib * 1024 * 1024; i++) {
    const r = `${i},name-${i % 9973},${(i * 37) % 100000},${((i % 1000) / 7).toFixed(4)},${i % 2 ? "true" : "false"},2026-0${(i % 9) + 1}-1${i % 9},2026-01-01T00:${String(i % 60).padStart(2, "0")}:00Z,C${i % 512},city-${i % 211},"note, ${i}",${i % 101},t${i % 17}\n`;
    rows.push(r);
    size += r.length;
  }
  return new TextEncoder().encode(rows.join(""));
}

test("cancel a running job, then download an output", async ({ page }) => {
  const email = `${unique("margaret")}@example.com`;
  const team = await seedTeam(unique("Profiles"), [{ email, role: "member" }]);
  const csv = await seedFile(team.id, "large.csv", bigCsv(96), "text/csv");
  const small = await seedFile(team.id, "small.csv", new TextEncoder().encode("a,b\n1,x\n2,y\n"), "text/csv");

  await signIn(page, { email, name: "Margaret Hamilton" }, `/teams/${team.id}/jobs?file=${csv.id}`);
  await expect(page.getByTestId("live-state")).toHaveAttribute("data-state", "live");
  await page.getByTestId("processor-select").click();
  await page.getByRole("option", { name: "csv_profile" }).click();
  await page.getByRole("button", { name: "Start job" }).click();
  const row = page.locator('[data-processor="csv_profile"]');
  await expect(row.locator("[data-status]")).toHaveAttribute("data-status", "running", { timeout: 30_000 });
  await row.getByRole("button", { name: /^Cancel csv_profile job/ }).click();
  await expect(row.locator("[data-status]")).toHaveAttribute("data-status", "cancelled");
  // The API agrees. The admin is another principal, so its read may go to a
  // replica that has not yet replayed the member's cancel (read-your-writes
  // holds per principal): poll briefly rather than read once.
  const jobId = (await row.getAttribute("data-testid"))!.replace("job-row-", "");
  await expect
    .poll(
      async () =>
        (await admin().api.GET("/teams/{team_id}/jobs/{job_id}", { params: { path: { team_id: team.id, job_id: jobId } } })).data!
          .status,
      { timeout: 10_000 },
    )
    .toBe("cancelled");
  // A cancelled job can be retried.
  await expect(row.getByRole("button", { name: /^Retry csv_profile job/ })).toBeVisible();

  // A small profile runs to the end; its outputs download.
  await page.goto(`/teams/${team.id}/jobs?file=${small.id}`);
  await page.getByTestId("processor-select").click();
  await page.getByRole("option", { name: "csv_profile" }).click();
  await page.getByRole("button", { name: "Start job" }).click();
  const done = page.locator('[data-processor="csv_profile"]').first();
  await expect(done.locator("[data-status]")).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  await done.getByRole("link", { name: "csv_profile" }).click();
  await expect(page.getByTestId("outputs")).toBeVisible();
  const first = page.getByTestId("outputs").getByRole("button", { name: /^Download / }).first();
  const name = ((await first.getAttribute("aria-label")) ?? "").replace(/^Download /, "");
  const download = page.waitForEvent("download", { timeout: 20_000 });
  await first.click();
  const d = await download;
  expect(d.suggestedFilename()).toBe(name);
  const body = await readFile((await d.path())!, "utf8");
  expect(body.length).toBeGreaterThan(0);
});
