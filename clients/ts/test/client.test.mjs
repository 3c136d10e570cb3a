// Unit tests of @conveyor/client against a tiny in-process HTTP stub (no
// network beyond loopback). They check what the client sends and how it reads
// answers; the behaviour of the real server is covered by e2e.test.mjs.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { ConveyorProblem, JobWaitTimeoutError, createConveyorClient } from "../dist/index.js";

const TEAM = "8f0c7a52-3c4b-4c1e-9d51-0d1e2f3a4b5c";
const JOB = "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b";
const seen = [];
let polls = 0;
let server;
let baseUrl;

function send(res, status, body, type = "application/json") {
  res.writeHead(status, { "Content-Type": type, "X-Request-ID": "req-123" });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

before(async () => {
  server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    seen.push({ method: req.method, url: req.url, headers: req.headers, body });
    const url = new URL(req.url, "http://x");
    if (url.pathname.startsWith("/api/v1/flaky/")) {
      // Fails twice (429 with Retry-After 0, then 503), then answers.
      const n = seen.filter((r) => r.url === req.url).length;
      if (n === 1) {
        res.writeHead(429, { "Retry-After": "0", "Content-Type": "application/problem+json" });
        return res.end(JSON.stringify({ type: "x", title: "Too many requests.", status: 429 }));
      }
      if (n === 2) return send(res, 503, { type: "x", title: "Unavailable.", status: 503 }, "application/problem+json");
      return send(res, req.method === "POST" ? 201 : 200, { id: TEAM, name: "flaky", created_at: "2026-01-01T00:00:00Z" });
    }
    if (req.method === "POST" && url.pathname === `/api/v1/teams/${TEAM}/files`) {
      return send(res, 201, {
        id: "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d",
        team_id: TEAM,
        name: "a.bin",
        size: 3,
        sha256: "0".repeat(64),
        content_type: "application/octet-stream",
        created_at: "2026-01-01T00:00:00Z",
      });
    }
    if (req.method === "GET" && url.pathname === `/api/v1/teams/${TEAM}/jobs/${JOB}`) {
      polls++;
      const status = polls < 3 ? "running" : "succeeded";
      return send(res, 200, {
        id: JOB, team_id: TEAM, processor: "inspect", params: {}, status, progress: 0, attempts: 1,
        created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z",
      });
    }
    if (url.pathname === "/api/v1/teams/stuck/jobs/" + JOB) {
      return send(res, 200, {
        id: JOB, team_id: TEAM, processor: "inspect", params: {}, status: "queued", progress: 0, attempts: 0,
        created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z",
      });
    }
    if (url.pathname === "/api/v1/teams/not-a-uuid") {
      return send(res, 400, {
        type: "https://conveyor.dev/problems/validation", title: "Bad request", status: 400,
        errors: [{ pointer: "team_id", detail: "must be a uuid" }],
      }, "application/problem+json");
    }
    if (url.pathname === "/api/v1/me") return send(res, 502, "<html>bad gateway</html>", "text/html");
    return send(res, 404, { type: "https://conveyor.dev/problems/not-found", title: "Not found", status: 404, request_id: "r-1" }, "application/problem+json");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

test("sends the bearer token and prefixes /api/v1", async () => {
  const c = createConveyorClient({ baseUrl: baseUrl + "/", token: "t0k" });
  await assert.rejects(c.api.GET("/processors"), ConveyorProblem);
  const last = seen.at(-1);
  assert.equal(last.url, "/api/v1/processors");
  assert.equal(last.headers.authorization, "Bearer t0k");
});

test("getToken is called per request and a baseUrl with /api/v1 is kept", async () => {
  let n = 0;
  const c = createConveyorClient({ baseUrl: baseUrl + "/api/v1", getToken: async () => `tok-${++n}` });
  await assert.rejects(c.api.GET("/processors"));
  await assert.rejects(c.api.GET("/processors"));
  assert.equal(seen.at(-1).url, "/api/v1/processors");
  assert.equal(seen.at(-1).headers.authorization, "Bearer tok-2");
});

test("problem documents become ConveyorProblem", async () => {
  const c = createConveyorClient({ baseUrl, token: "t" });
  await assert.rejects(c.api.GET("/teams/{team_id}", { params: { path: { team_id: "not-a-uuid" } } }), (err) => {
    assert.ok(err instanceof ConveyorProblem);
    assert.ok(err instanceof Error);
    assert.equal(err.status, 400);
    assert.equal(err.type, "https://conveyor.dev/problems/validation");
    assert.equal(err.request_id, "req-123", "falls back to X-Request-ID");
    assert.deepEqual(err.errors, [{ pointer: "team_id", detail: "must be a uuid" }]);
    assert.equal(err.response.status, 400);
    return true;
  });
});

test("a non-problem error body still gives a ConveyorProblem", async () => {
  const c = createConveyorClient({ baseUrl, token: "t" });
  await assert.rejects(c.api.GET("/me"), (err) => {
    assert.ok(err instanceof ConveyorProblem);
    assert.equal(err.status, 502);
    assert.equal(err.type, "about:blank");
    assert.equal(err.detail, "<html>bad gateway</html>");
    return true;
  });
});

test("uploadFile posts multipart/form-data with a part named file", async () => {
  const c = createConveyorClient({ baseUrl, token: "t" });
  const file = await c.uploadFile(TEAM, new Uint8Array([1, 2, 3]), "a.bin");
  assert.equal(file.team_id, TEAM);
  const req = seen.at(-1);
  assert.equal(req.method, "POST");
  const m = /^multipart\/form-data; boundary=(.+)$/.exec(req.headers["content-type"]);
  assert.ok(m, `content-type was ${req.headers["content-type"]}`);
  const text = req.body.toString("latin1");
  assert.match(text, /Content-Disposition: form-data; name="file"; filename="a.bin"/);
  assert.ok(text.includes("\r\n\r\n\x01\x02\x03\r\n--" + m[1] + "--"), "the bytes are the part's body");
  assert.equal(req.headers.authorization, "Bearer t");
});

test("waitForJob polls until a final status", async () => {
  const c = createConveyorClient({ baseUrl, token: "t" });
  const job = await c.waitForJob(TEAM, JOB, { intervalMs: 10, timeoutMs: 5_000 });
  assert.equal(job.status, "succeeded");
  assert.equal(polls, 3);
});

test("waitForJob times out with the last job seen", async () => {
  const c = createConveyorClient({ baseUrl, token: "t" });
  await assert.rejects(c.waitForJob("stuck", JOB, { intervalMs: 10, timeoutMs: 60 }), (err) => {
    assert.ok(err instanceof JobWaitTimeoutError);
    assert.equal(err.lastSeen.status, "queued");
    return true;
  });
});

test("429 and 503 are retried after Retry-After; POSTs keep one Idempotency-Key across retries", async () => {
  const c = createConveyorClient({ baseUrl, token: "t", retry: { minDelayMs: 1, maxDelayMs: 5 } });
  const got = await c.api.GET("/teams/{team_id}", { params: { path: { team_id: "flaky-get" } }, baseUrl: baseUrl + "/api/v1/flaky" });
  assert.equal(got.data?.name, "flaky");
  assert.equal(seen.filter((r) => r.url.endsWith("/flaky/teams/flaky-get")).length, 3);

  const created = await c.api.POST("/teams", { body: { name: "flaky" }, baseUrl: baseUrl + "/api/v1/flaky" });
  assert.equal(created.data?.name, "flaky");
  const posts = seen.filter((r) => r.method === "POST" && r.url.endsWith("/flaky/teams"));
  assert.equal(posts.length, 3);
  const keys = new Set(posts.map((r) => r.headers["idempotency-key"]));
  assert.equal(keys.size, 1);
  assert.ok([...keys][0], "a POST carries an Idempotency-Key");
  assert.equal(posts[2].body.toString(), JSON.stringify({ name: "flaky" }), "the body is sent again intact");
});

test("retries can be turned off", async () => {
  const c = createConveyorClient({ baseUrl, token: "t", retry: { maxRetries: 0 } });
  await assert.rejects(
    c.api.GET("/teams/{team_id}", { params: { path: { team_id: "flaky-off" } }, baseUrl: baseUrl + "/api/v1/flaky" }),
    (err) => err instanceof ConveyorProblem && err.status === 429,
  );
});
