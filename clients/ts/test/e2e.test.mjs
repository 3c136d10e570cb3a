// End-to-end test of @conveyor/client against a running Conveyor server.
//
// Needs CONVEYOR_URL (e.g. http://127.0.0.1:8080) and CONVEYOR_TOKEN (a bearer
// token of a platform admin). The Go integration test starts the server and
// sets both; without them this test fails on purpose instead of skipping.
// Build first (`npm run build`): it imports the compiled ../dist/index.js.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";

const baseUrl = process.env.CONVEYOR_URL;
const token = process.env.CONVEYOR_TOKEN;

test("conveyor client end to end", { timeout: 180_000 }, async (t) => {
  assert.ok(
    baseUrl && token,
    "CONVEYOR_URL and CONVEYOR_TOKEN must be set (the server's URL, e.g. http://127.0.0.1:8080, " +
      "and a platform admin's bearer token); this test runs against a live server and does not skip.",
  );

  let client;
  try {
    client = await import("../dist/index.js");
  } catch (err) {
    assert.fail(`cannot import ../dist/index.js (run \`npm run build\` first): ${err}`);
  }
  const { createConveyorClient, ConveyorProblem } = client;
  const conveyor = createConveyorClient({ baseUrl, token });
  const { api } = conveyor;

  /** Asserts that `promise` rejects with a ConveyorProblem of `status`. */
  const rejectsWithProblem = (promise, status) =>
    assert.rejects(promise, (err) => {
      assert.ok(err instanceof ConveyorProblem, `expected a ConveyorProblem, got ${err}`);
      assert.equal(err.status, status, `status of ${JSON.stringify({ ...err, response: undefined })}`);
      assert.equal(typeof err.type, "string");
      assert.equal(typeof err.title, "string");
      return true;
    });

  let team;
  await t.test("create a team", async () => {
    const name = `ts-e2e-${randomUUID().slice(0, 8)}`;
    const { data, response } = await api.POST("/teams", { body: { name } });
    assert.equal(response.status, 201);
    assert.equal(data.name, name);
    assert.match(data.id, /^[0-9a-f-]{36}$/);
    team = data;
  });

  const content = new TextEncoder().encode(`conveyor ts e2e ${randomUUID()}\nsecond line\n`);
  const sha256 = createHash("sha256").update(content).digest("hex");
  let file;
  await t.test("upload a file", async () => {
    file = await conveyor.uploadFile(team.id, content, "hello.txt");
    assert.equal(file.team_id, team.id);
    assert.equal(file.name, "hello.txt");
    assert.equal(file.size, content.byteLength);
    assert.equal(file.sha256, sha256);
  });

  await t.test("run the inspect processor on it", async () => {
    const { data: job, response } = await api.POST("/teams/{team_id}/jobs", {
      params: { path: { team_id: team.id } },
      body: { file_id: file.id, processor: "inspect" },
    });
    assert.equal(response.status, 202);
    assert.equal(job.status, "queued");
    assert.equal(job.file_id, file.id);

    const done = await conveyor.waitForJob(team.id, job.id, { timeoutMs: 120_000, intervalMs: 250 });
    assert.equal(done.status, "succeeded", `job ended ${done.status}: ${JSON.stringify(done.error)}`);
    assert.ok(done.result, "a succeeded job has a result");
    assert.equal(done.result.sha256, sha256);
    assert.equal(done.result.size, content.byteLength);
  });

  await t.test("a malformed team id is a 400 problem", async () => {
    await rejectsWithProblem(api.GET("/teams/{team_id}", { params: { path: { team_id: "not-a-uuid" } } }), 400);
  });

  await t.test("an unknown processor is a 422 problem", async () => {
    await rejectsWithProblem(
      api.POST("/teams/{team_id}/jobs", {
        params: { path: { team_id: team.id } },
        body: { file_id: file.id, processor: "no_such_processor" },
      }),
      422,
    );
  });

  await t.test("files and jobs iterate across pages", async () => {
    for (const name of ["p1.txt", "p2.txt", "p3.txt"]) {
      await conveyor.uploadFile(team.id, new TextEncoder().encode(name), name);
    }
    const names = [];
    for await (const f of conveyor.files(team.id, {}, { pageSize: 2 })) names.push(f.name);
    assert.deepEqual(names, ["p3.txt", "p2.txt", "p1.txt", "hello.txt"]);
    const filtered = [];
    for await (const f of conveyor.files(team.id, { name_prefix: "p" }, { pageSize: 1 })) filtered.push(f.name);
    assert.deepEqual(filtered, ["p3.txt", "p2.txt", "p1.txt"]);
    let jobs = 0;
    for await (const j of conveyor.jobs(team.id, { pageSize: 1 })) {
      assert.equal(j.team_id, team.id);
      jobs++;
    }
    assert.equal(jobs, 1);
  });
});
