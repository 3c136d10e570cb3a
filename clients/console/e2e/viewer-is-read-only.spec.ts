// Flow: a viewer sees the team's files and jobs but no write action, and the
// API refuses an upload forced with the viewer's own token.
import { ConveyorProblem } from "../../ts/src/index.ts";
import { accessTokenOf, clientWith, expect, seedFile, seedTeam, signIn, test, unique } from "./helpers";

test("a viewer has no upload control and the API refuses a forced request", async ({ page }) => {
  const email = `${unique("vera")}@example.com`;
  const team = await seedTeam(unique("Read-only"), [{ email, role: "viewer" }]);
  await seedFile(team.id, "report.txt", new TextEncoder().encode("quarterly numbers\n"), "text/plain");

  await signIn(page, { email, name: "Vera Viewer" }, `/teams/${team.id}/files`);
  await expect(page.getByTestId("file-row-report.txt")).toBeVisible();
  await expect(page.getByTestId("viewer-note")).toBeVisible();
  await expect(page.getByTestId("drop-zone")).toHaveCount(0);
  await expect(page.getByTestId("file-input")).toHaveCount(0);
  await expect(page.getByRole("button", { name: /^Delete / })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Download report.txt" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Team manager" })).toHaveCount(0);

  await page.getByRole("link", { name: "report.txt" }).click();
  await expect(page.getByRole("heading", { name: "report.txt" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Delete" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Run a job" })).toHaveCount(0);

  await page.getByRole("tab", { name: "Jobs" }).click();
  await expect(page.getByTestId("jobs-empty")).toBeVisible();
  await expect(page.getByRole("button", { name: "Start job" })).toHaveCount(0);

  // Forced: the viewer's own token, straight to the API.
  const viewer = clientWith(await accessTokenOf(page));
  const me = (await viewer.api.GET("/me")).data!;
  expect(me.memberships.find((m) => m.team_id === team.id)?.role).toBe("viewer");
  const refused = async (p: Promise<unknown>) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err, "the API refuses").toBeInstanceOf(ConveyorProblem);
    expect((err as ConveyorProblem).status).toBe(403);
  };
  await refused(viewer.uploadFile(team.id, new TextEncoder().encode("sneaky"), "sneaky.txt"));
  await refused(viewer.api.POST("/teams/{team_id}/jobs", { params: { path: { team_id: team.id } }, body: { processor: "export" } }));
  // Nothing was stored.
  const { data: list } = await viewer.api.GET("/teams/{team_id}/files", { params: { path: { team_id: team.id } } });
  expect(list!.items.map((f) => f.name)).toEqual(["report.txt"]);
});
