// Flow: a platform admin sees every team with its usage and quota in
// /it-manager, sets and resets a team's quota, creates, renames and deletes
// a team, opens a team's workspace, and reads
// the users and the platform's health; anyone else is refused there.
import { ConveyorProblem } from "../../ts/src/index.ts";
import { humanBytes } from "../src/components/managers/bytes.ts";
import { accessTokenOf, admin, checkA11y, clientWith, expect, png, seedFile, seedTeam, signIn, test, unique } from "./helpers";
import type { Page } from "@playwright/test";

/** a11y runs axe once no notification is showing (one fading out fails the contrast check mid-transition). */
async function a11y(page: Page, what: string) {
  await expect(page.locator(".q-notification")).toHaveCount(0, { timeout: 15_000 });
  await checkA11y(page, what);
}

test("a platform admin sees every team with its usage and quota, sets a quota, creates, renames, deletes and opens one", async ({ page }) => {
  // Teams with files and finished jobs, so their usage is not all zeros (short names: this flow takes the README's screenshot).
  const a = admin();
  const run = async (teamId: string, processor: string, fileId: string) => {
    const job = (await a.api.POST("/teams/{team_id}/jobs", { params: { path: { team_id: teamId } }, body: { processor, file_id: fileId } })).data!;
    expect((await a.waitForJob(teamId, job.id)).status).toBe("succeeded");
  };
  const finance = await seedTeam("Finance");
  await seedFile(finance.id, "q3-summary.txt", new TextEncoder().encode("revenue up\n".repeat(4000)), "text/plain");
  const survey = await seedTeam("Field survey");
  const depths = await seedFile(survey.id, "depths.csv", new TextEncoder().encode("site,depth\n" + Array.from({ length: 2000 }, (_, i) => `S${i},${i % 40}`).join("\n")), "text/csv");
  await run(survey.id, "csv_profile", depths.id);
  const used = await seedTeam("Imaging");
  const photo = await seedFile(used.id, "site-plan.png", png(640, 400), "image/png");
  await seedFile(used.id, "notes.txt", new TextEncoder().encode("spring survey\n".repeat(100)), "text/plain");
  await run(used.id, "inspect", photo.id);
  await run(used.id, "thumbnail", photo.id);
  const usage = (await a.api.GET("/teams/{team_id}", { params: { path: { team_id: used.id } } })).data!.usage;
  expect(usage.file_count).toBe(2);
  expect(usage.jobs.succeeded).toBe(2);

  const ivo = `${unique("ivo")}@example.com`;
  await signIn(page, { email: ivo, name: "Ivo Admin", admin: true }, "/");
  await page.getByRole("link", { name: "IT manager" }).click();
  await expect(page).toHaveURL(/\/it-manager\/teams/);
  await expect(page.getByRole("heading", { level: 1, name: "Teams" })).toBeVisible();

  // Every team, with what it stores and runs, as the API counts it.
  const row = page.locator(`[data-team-id="${used.id}"]`);
  await expect(row).toBeVisible();
  await expect(row.getByTestId("team-stored")).toHaveText(humanBytes(usage.stored_bytes));
  await expect(row.getByTestId("byte-size")).toHaveAttribute("data-bytes", String(usage.stored_bytes));
  await expect(row.getByTestId("team-files")).toHaveText("2");
  await expect(row.locator('[data-state="succeeded"]')).toContainText("2 succeeded");
  await expect(row.locator('[data-state="failed"]')).toHaveCount(0);
  await expect(page.locator(`[data-team-id="${finance.id}"]`)).toContainText("No jobs");
  await a11y(page, "IT manager: teams");
  await page.screenshot({ path: "e2e/screenshots/it-manager.png", fullPage: false });

  // Quota: each team shows the limits in force (the platform's defaults until set), and a platform admin sets its own.
  const quotaBefore = (await a.api.GET("/teams/{team_id}", { params: { path: { team_id: used.id } } })).data!.quota;
  expect(quotaBefore.is_default.max_stored_bytes).toBe(true);
  await expect(row.getByTestId("quota-stored")).toHaveText(`${humanBytes(usage.stored_bytes)} of ${humanBytes(quotaBefore.max_stored_bytes)} (default)`);
  await row.getByRole("button", { name: `Quota of ${used.name}` }).click();
  const quota = page.getByRole("dialog", { name: "Team quota" });
  await expect(quota.getByTestId("quota-stored-field")).toBeVisible();
  await quota.getByTestId("quota-stored-default-toggle").click();
  await quota.getByLabel("Storage limit").fill("2");
  await quota.getByTestId("quota-running-default-toggle").click();
  await quota.getByLabel("Running jobs limit").fill("4");
  await a11y(page, "IT manager: quota dialog");
  await quota.getByRole("button", { name: "Save quota" }).click();
  await expect(quota).toHaveCount(0);
  const quotaSet = (await a.api.GET("/teams/{team_id}", { params: { path: { team_id: used.id } } })).data!.quota;
  expect(quotaSet.max_stored_bytes).toBe(2 * 1024 ** 3);
  expect(quotaSet.max_running_jobs).toBe(4);
  expect(quotaSet.is_default).toEqual({ max_stored_bytes: false, max_file_bytes: true, max_running_jobs: false });
  await expect(row.getByTestId("quota-stored")).toHaveText(`${humanBytes(usage.stored_bytes)} of 2 GiB`);
  await expect(row.getByTestId("quota-running")).toHaveText("4 running jobs at once");
  await expect(row.getByTestId("quota-file")).toContainText("(default)");
  // Back to the platform's default storage quota: only that limit is sent (null), the running jobs stay.
  await row.getByRole("button", { name: `Quota of ${used.name}` }).click();
  await quota.getByTestId("quota-stored-default-toggle").click();
  await quota.getByRole("button", { name: "Save quota" }).click();
  await expect(quota).toHaveCount(0);
  await expect(row.getByTestId("quota-stored")).toHaveText(`${humanBytes(usage.stored_bytes)} of ${humanBytes(quotaBefore.max_stored_bytes)} (default)`);
  await expect(row.getByTestId("quota-running")).toHaveText("4 running jobs at once");
  const changes = (await a.api.GET("/teams/{team_id}/audit-events", { params: { path: { team_id: used.id }, query: { action: "team.quota_changed" } } })).data!;
  expect(changes.items).toHaveLength(2);

  // Create a team: it appears at the top, and in the team switcher.
  const created = unique("Created");
  await page.getByLabel("Team name").fill(created);
  await page.getByRole("button", { name: "Create team" }).click();
  const createdRow = page.getByTestId(`team-row-${created}`);
  await expect(createdRow).toBeVisible();
  await expect(createdRow.getByTestId("team-files")).toHaveText("0");
  await expect(createdRow).toContainText("No jobs");
  await expect(page.getByTestId("teams-table").locator("tbody tr").first()).toHaveAttribute("data-testid", `team-row-${created}`);

  // Rename it (If-Match from the read the dialog makes).
  const renamedTo = unique("Renamed");
  await createdRow.getByRole("button", { name: `Rename ${created}` }).click();
  const rename = page.getByRole("dialog", { name: "Rename team" });
  await expect(rename).toContainText(`Current name: ${created}`);
  await a11y(page, "IT manager: rename dialog");
  await rename.getByLabel("New name").fill(renamedTo);
  await rename.getByRole("button", { name: "Rename" }).click();
  await expect(rename).toHaveCount(0);
  await expect(page.getByTestId(`team-row-${renamedTo}`)).toBeVisible();
  await expect(page.getByTestId(`team-row-${created}`)).toHaveCount(0);

  // A rename from a stale read is refused (412), and the dialog says so.
  const renamedRow = page.getByTestId(`team-row-${renamedTo}`);
  await renamedRow.getByRole("button", { name: `Rename ${renamedTo}` }).click();
  await expect(rename).toContainText(`Current name: ${renamedTo}`);
  const teamId = (await renamedRow.getAttribute("data-team-id"))!;
  const { response } = await a.api.GET("/teams/{team_id}", { params: { path: { team_id: teamId } } });
  await a.api.PATCH("/teams/{team_id}", {
    params: { path: { team_id: teamId }, header: { "If-Match": response.headers.get("ETag")! } },
    body: { name: `${renamedTo} (elsewhere)` },
  });
  await rename.getByLabel("New name").fill(`${renamedTo} (here)`);
  await rename.getByRole("button", { name: "Rename" }).click();
  await expect(rename.getByTestId("problem")).toContainText("412");
  await rename.getByRole("button", { name: "Read it again" }).click();
  await expect(rename).toContainText(`Current name: ${renamedTo} (elsewhere)`);
  await rename.getByRole("button", { name: "Rename" }).click();
  await expect(rename).toHaveCount(0);
  await expect(page.getByTestId(`team-row-${renamedTo} (here)`)).toBeVisible();

  const finalName = `${renamedTo} (here)`;

  // Users: Ivo is one, seen just now, manager of the team he created.
  await page.getByRole("tab", { name: "Users" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Users" })).toBeVisible();
  const me = page.getByTestId(`user-row-${ivo}`);
  await expect(me).toContainText("Ivo Admin");
  await expect(me.getByTestId("user-last-seen")).not.toHaveText("Not yet");
  await expect(me.locator(`li[data-team-id="${teamId}"]`)).toHaveText(`${finalName} · Manager`);
  await a11y(page, "IT manager: users");
  await page.getByRole("tab", { name: "Teams" }).click();

  // Delete it: the button stays disabled until the team's name is typed exactly.
  const doomed = page.getByTestId(`team-row-${finalName}`);
  await doomed.getByRole("button", { name: `Delete ${finalName}` }).click();
  const del = page.getByRole("dialog", { name: "Delete team" });
  await expect(del).toContainText("This cannot be undone");
  await expect(del.getByTestId("confirm-name-expected")).toHaveText(finalName);
  const deleteButton = del.getByRole("button", { name: "Delete team" });
  await expect(deleteButton).toBeDisabled();
  await a11y(page, "IT manager: delete confirmation");
  await del.getByLabel(`Type ${finalName} to confirm`).fill(finalName.toLowerCase());
  await expect(deleteButton).toBeDisabled();
  await del.getByLabel(`Type ${finalName} to confirm`).fill(finalName);
  await expect(deleteButton).toBeEnabled();
  await deleteButton.click();
  await expect(del).toHaveCount(0);
  await expect(doomed).toHaveCount(0);
  const gone = await a.api.GET("/teams/{team_id}", { params: { path: { team_id: teamId } } }).then(() => undefined, (e: unknown) => e);
  expect((gone as ConveyorProblem).status).toBe(404);

  // Its audit trail is kept: the IT manager's audit log narrows to the deleted team.
  await page.getByRole("tab", { name: "Audit log" }).click();
  await expect(page).toHaveURL(/\/it-manager\/audit/);
  await expect(page.getByRole("heading", { level: 1, name: "Audit log" })).toBeVisible();
  const deletedEvent = page.locator(`[data-testid="audit-row-team.deleted"][data-team-id="${teamId}"]`);
  await expect(deletedEvent).toBeVisible();
  await a11y(page, "IT manager: audit log");
  // Gone from the team list, it is named by what its events recorded.
  await expect(deletedEvent.getByTestId("audit-team")).toHaveText(`${finalName} (deleted)`);
  await deletedEvent.getByTestId("audit-team").click();
  await expect(page).toHaveURL(new RegExp(`team=${teamId}`));
  const trail = page.getByTestId("audit-table").locator("tbody tr");
  // Created, renamed three times (here, elsewhere, here again), deleted.
  await expect(trail).toHaveCount(5);
  await expect(page.getByTestId("audit-table").locator(`tbody tr:not([data-team-id="${teamId}"])`)).toHaveCount(0);
  await expect(trail.first()).toContainText("Team deleted");
  await expect(trail.last()).toContainText("Team created");
  await expect(page.getByTestId("audit-table").locator('[data-testid="audit-row-team.renamed"]')).toHaveCount(3);
  await page.getByRole("tab", { name: "Teams" }).click();

  // Platform health: the primary and the replica answer and the replica takes reads, Redis and S3 answer,
  // the queues and the worker that ran the jobs above are listed — as the API reports them.
  const health = (await a.api.GET("/platform/status")).data!;
  await page.getByRole("tab", { name: "Platform health" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Platform health" })).toBeVisible();
  await expect(page.getByTestId("health-overall")).toHaveAttribute("data-status", health.status);
  await expect(page.getByTestId("health-primary")).toContainText("Yes");
  for (const r of health.database.replicas) {
    const replica = page.getByTestId(`health-replica-${r.name}`);
    await expect(replica).toBeVisible();
    await expect(replica.getByTestId("replica-reads")).toHaveText(r.taking_reads ? "Yes" : "No");
  }
  expect(health.database.replicas.length).toBeGreaterThan(0);
  await expect(page.getByTestId("health-redis")).toContainText("Yes");
  await expect(page.getByTestId("health-s3")).toContainText("Yes");
  for (const q of health.queues) await expect(page.getByTestId(`health-queue-${q.name}`)).toBeVisible();
  // The backlog fair dispatch holds in the database, as the API counts it (nothing waits here).
  expect(health.dispatch).toBeTruthy();
  await expect(page.getByTestId("health-dispatch")).toContainText(`${health.dispatch!.jobs_waiting} jobs`);
  expect(health.workers.length).toBeGreaterThan(0);
  await expect(page.getByTestId("health-worker")).toHaveCount(health.workers.length);
  await a11y(page, "IT manager: platform health");
  await page.getByRole("tab", { name: "Teams" }).click();

  // Open any team's workspace.
  await page.locator(`[data-team-id="${used.id}"]`).getByRole("link", { name: `Open workspace of ${used.name}` }).click();
  await expect(page).toHaveURL(new RegExp(`/teams/${used.id}/files$`));
  await expect(page.getByTestId("file-row-site-plan.png")).toBeVisible();
});

test("a platform admin disables a user, who is refused at once, and enables them again", async ({ page, browser }) => {
  // Rita signs in (so she is a user) and creates an API key in her team.
  const rita = `${unique("rita")}@example.com`;
  const team = await seedTeam(unique("Rita's team"), [{ email: rita, role: "manager" }]);
  const ritaContext = await browser.newContext();
  const ritaPage = await ritaContext.newPage();
  await signIn(ritaPage, { email: rita, name: "Rita Remote" }, "/");
  const ritaApi = clientWith(await accessTokenOf(ritaPage));
  const key = (await ritaApi.api.POST("/teams/{team_id}/api-keys", { params: { path: { team_id: team.id } }, body: { name: "rita's robot", role: "viewer" } })).data!;

  const ivo = `${unique("ivo")}@example.com`;
  await signIn(page, { email: ivo, name: "Ivo Admin", admin: true }, "/it-manager/users");
  await expect(page.getByRole("heading", { level: 1, name: "Users" })).toBeVisible();
  // Ivo cannot disable himself: his row says so instead of offering it.
  const self = page.getByTestId(`user-row-${ivo}`);
  await expect(self.getByTestId("user-self-note")).toContainText("You cannot disable yourself");
  await expect(self.getByRole("button", { name: `Disable ${ivo}` })).toHaveCount(0);

  const row = page.getByTestId(`user-row-${rita}`);
  await expect(row.getByTestId("user-access")).toHaveText("Active");
  await row.getByRole("button", { name: `Disable ${rita}` }).click();
  const confirm = page.getByRole("dialog", { name: "Disable user?" });
  await expect(confirm).toContainText("Rita Remote is refused at once");
  await expect(confirm).toContainText("API keys they created keep working");
  await a11y(page, "IT manager: disable a user");
  await confirm.getByRole("button", { name: "Disable user" }).click();
  await expect(confirm).toHaveCount(0);
  await expect(row).toHaveAttribute("data-disabled", "true");
  await expect(row.getByTestId("user-access")).toContainText("Disabled");
  await expect(row.getByTestId("user-access")).toContainText("since");
  await a11y(page, "IT manager: a disabled user");
  await page.screenshot({ path: "e2e/screenshots/it-manager-users.png", fullPage: false });

  // Her very next request is refused, although her token is still valid; her team's API key keeps working.
  const refused = await ritaApi.api.GET("/me").then(() => undefined, (e: unknown) => e);
  expect(refused).toBeInstanceOf(ConveyorProblem);
  expect((refused as ConveyorProblem).status).toBe(401);
  expect((refused as ConveyorProblem).type).toBe("https://conveyor.dev/problems/user-disabled");
  const robot = clientWith(key.secret);
  expect((await robot.api.GET("/teams/{team_id}/files", { params: { path: { team_id: team.id } } })).data!.items).toEqual([]);
  // Her console shows the refusal.
  await ritaPage.reload();
  await expect(ritaPage.getByTestId("problem").first()).toContainText("401");

  // Enable her again: her next request is let in.
  await row.getByRole("button", { name: `Enable ${rita}` }).click();
  const enable = page.getByRole("dialog", { name: "Enable user?" });
  await enable.getByRole("button", { name: "Enable user" }).click();
  await expect(enable).toHaveCount(0);
  await expect(row.getByTestId("user-access")).toHaveText("Active");
  expect((await ritaApi.api.GET("/me")).data!.user.email).toBe(rita);

  // Both changes are in the platform audit log.
  await page.getByRole("tab", { name: "Audit log" }).click();
  await expect(page.locator('[data-testid="audit-row-user.disabled"]').first()).toBeVisible();
  await expect(page.locator('[data-testid="audit-row-user.enabled"]').first()).toBeVisible();
  await ritaContext.close();
});

test("someone who is not a platform admin is refused the IT manager", async ({ page }) => {
  const email = `${unique("nora")}@example.com`;
  await seedTeam(unique("Plain"), [{ email, role: "manager" }]);
  await signIn(page, { email, name: "Nora Normal" }, "/");
  await expect(page.getByRole("link", { name: "IT manager" })).toHaveCount(0);
  await page.goto("/it-manager/teams");
  const refused = page.getByTestId("it-manager-refused");
  await expect(refused).toContainText("for platform admins only");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("IT manager");
  await expect(page.getByTestId("teams-table")).toHaveCount(0);
  await a11y(page, "IT manager: refused");

  // The API refuses her too: teams are created, users listed and the platform's health read by platform admins only.
  const nora = clientWith(await accessTokenOf(page));
  const forbidden = async (call: Promise<unknown>) => {
    const err = await call.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConveyorProblem);
    expect((err as ConveyorProblem).status).toBe(403);
  };
  await forbidden(nora.api.POST("/teams", { body: { name: unique("Sneaky") } }));
  await forbidden(nora.api.GET("/users"));
  await forbidden(nora.api.GET("/platform/status"));
});
