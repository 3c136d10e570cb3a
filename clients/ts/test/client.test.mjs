// Unit tests of @conveyor/client against a tiny in-process HTTP stub (no
// network beyond loopback). They check what the client sends and how it reads
// answers; the behaviour of the real server is covered by e2e.test.mjs.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { ConveyorProblem, EventStreamError, JobWaitTimeoutError, StorageError, createConveyorClient } from "../dist/index.js";

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

// --- job control, downloads, events and upload progress ----------------------

/** Starts a stub server for one test; `handler(req, res, body)` after the body is read. */
async function serve(t, handler) {
  const sockets = new Set();
  const srv = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    try {
      await handler(req, res, Buffer.concat(chunks));
    } catch (err) {
      res.destroy(err);
    }
  });
  srv.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    srv.close();
  });
  return `http://127.0.0.1:${srv.address().port}`;
}

const job = (id, status, progress = 0, sec = 0) => ({
  id, team_id: TEAM, processor: "thumbnail", params: {}, status, progress, attempts: 1,
  created_at: "2026-01-01T00:00:00Z", updated_at: `2026-01-01T00:00:${String(sec).padStart(2, "0")}Z`,
});

/** One SSE frame of an Event. */
const frame = (id, type, extra = {}) =>
  `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ id, type, team_id: TEAM, occurred_at: "2026-01-01T00:00:00Z", ...extra })}\n\n`;

function streamHead(res) {
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
  res.flushHeaders();
}

/** Holds a stream open until the client goes. */
const hold = (res) => new Promise((resolve) => res.on("close", resolve));

test("cancelJob, retryJob and jobOutputs call their operations", async (t) => {
  const calls = [];
  const url = await serve(t, (req, res) => {
    calls.push({ method: req.method, url: req.url, key: req.headers["idempotency-key"] });
    const base = `/api/v1/teams/${TEAM}/jobs/${JOB}`;
    if (req.url === `${base}/cancel`) return send(res, 200, job(JOB, "cancelled"));
    if (req.url === `${base}/retry`) return send(res, 202, job(JOB, "queued"));
    if (req.url === `${base}/outputs`) return send(res, 200, { items: [{ name: "thumbnail.png", size: 9, content_type: "image/png" }] });
    return send(res, 409, { type: "https://conveyor.dev/problems/conflict", title: "Conflict", status: 409 }, "application/problem+json");
  });
  const c = createConveyorClient({ baseUrl: url, token: "t" });
  assert.equal((await c.cancelJob(TEAM, JOB)).status, "cancelled");
  assert.equal((await c.retryJob(TEAM, JOB)).status, "queued");
  assert.deepEqual(await c.jobOutputs(TEAM, JOB), [{ name: "thumbnail.png", size: 9, content_type: "image/png" }]);
  const base = `/api/v1/teams/${TEAM}/jobs/${JOB}`;
  assert.deepEqual(calls.map((x) => `${x.method} ${x.url}`), [`POST ${base}/cancel`, `POST ${base}/retry`, `GET ${base}/outputs`]);
  assert.ok(calls[0].key && calls[1].key && calls[0].key !== calls[1].key, "each POST has its own Idempotency-Key");
  await assert.rejects(c.cancelJob(TEAM, "other"), (err) => err instanceof ConveyorProblem && err.status === 409);
});

test("openOutput and openFile follow the redirect to storage without credentials", async (t) => {
  const storageSaw = [];
  const storage = await serve(t, (req, res) => {
    storageSaw.push({ url: req.url, authorization: req.headers.authorization, apiKey: req.headers["x-api-key"] });
    if (!req.url.includes("X-Amz-Signature=ok")) {
      res.writeHead(403, { "Content-Type": "application/xml" });
      return res.end("<Error><Code>AccessDenied</Code></Error>");
    }
    res.writeHead(200, { "Content-Type": "image/png" });
    res.end("\x89PNG bytes");
  });
  const url = await serve(t, (req, res) => {
    assert.equal(req.headers.authorization, "Bearer t");
    const u = new URL(req.url, "http://x");
    if (u.pathname.endsWith("/outputs/thumbnail.png") || u.pathname.endsWith("/content")) {
      res.writeHead(302, { Location: `${storage}/bucket/key?X-Amz-Signature=ok` });
      return res.end();
    }
    if (u.pathname.endsWith("/outputs/expired.png")) {
      res.writeHead(302, { Location: `${storage}/bucket/key?X-Amz-Signature=old` });
      return res.end();
    }
    return send(res, 404, { type: "https://conveyor.dev/problems/not-found", title: "Not found", status: 404 }, "application/problem+json");
  });
  const c = createConveyorClient({ baseUrl: url, token: "t", headers: { "X-API-Key": "k" } });
  const out = await c.openOutput(TEAM, JOB, "thumbnail.png");
  assert.equal(await out.text(), "\x89PNG bytes");
  assert.equal(await c.outputUrl(TEAM, JOB, "thumbnail.png"), `${storage}/bucket/key?X-Amz-Signature=ok`);
  assert.equal(await (await c.openFile(TEAM, "f")).text(), "\x89PNG bytes");
  await assert.rejects(c.openOutput(TEAM, JOB, "expired.png"), (err) => err instanceof ConveyorProblem && err.status === 403);
  await assert.rejects(c.openOutput(TEAM, JOB, "missing.png"), (err) => err instanceof ConveyorProblem && err.status === 404);
  assert.equal(storageSaw.length, 3);
  for (const s of storageSaw) {
    assert.equal(s.authorization, undefined, "no bearer token to storage");
    assert.equal(s.apiKey, undefined, "no extra headers to storage");
  }
});

test("openOutput with delivery stream reads the API's own answer, with credentials, and storage is never asked", async (t) => {
  const storageSaw = [];
  const storage = await serve(t, (req, res) => {
    storageSaw.push(req.url);
    res.writeHead(200, { "Content-Type": "image/png" });
    res.end("from storage");
  });
  const apiSaw = [];
  const url = await serve(t, (req, res) => {
    apiSaw.push({ url: req.url, authorization: req.headers.authorization });
    const u = new URL(req.url, "http://x");
    if (u.pathname.endsWith("/outputs/missing.png")) {
      return send(res, 404, { type: "https://conveyor.dev/problems/not-found", title: "Not found", status: 404 }, "application/problem+json");
    }
    if (u.searchParams.get("delivery") === "stream") {
      res.writeHead(200, { "Content-Type": "image/png", "Content-Disposition": `inline; filename="thumbnail.png"; filename*=UTF-8''thumbnail.png` });
      return res.end("\x89PNG through the API");
    }
    res.writeHead(302, { Location: `${storage}/bucket/key?X-Amz-Signature=ok` });
    res.end();
  });
  const c = createConveyorClient({ baseUrl: url, token: "t" });
  const base = `/api/v1/teams/${TEAM}/jobs/${JOB}/outputs`;
  const res = await c.openOutput(TEAM, JOB, "thumbnail.png", { delivery: "stream" });
  assert.equal(res.headers.get("Content-Type"), "image/png");
  assert.equal(res.headers.get("Content-Disposition"), `inline; filename="thumbnail.png"; filename*=UTF-8''thumbnail.png`);
  assert.equal(await res.text(), "\x89PNG through the API");
  assert.deepEqual(storageSaw, [], "a streamed output never goes to storage");
  await assert.rejects(c.openOutput(TEAM, JOB, "missing.png", { delivery: "stream" }), (err) => err instanceof ConveyorProblem && err.status === 404);
  // Backwards compatible: no options (or only a signal) is the redirect, as before, with no delivery in the query.
  assert.equal(await (await c.openOutput(TEAM, JOB, "thumbnail.png", { signal: new AbortController().signal })).text(), "from storage");
  assert.deepEqual(apiSaw.map((r) => r.url), [`${base}/thumbnail.png?delivery=stream`, `${base}/missing.png?delivery=stream`, `${base}/thumbnail.png`]);
  assert.ok(apiSaw.every((r) => r.authorization === "Bearer t"));
  assert.equal(storageSaw.length, 1);
});

test("events: Server-Sent Events parsed by the rules (CRLF, CR, BOM, comments, data over lines, id-only frames)", async (t) => {
  const file = { id: "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d", team_id: TEAM, name: "a.png", size: 3, sha256: "0".repeat(64), content_type: "image/png", created_at: "2026-01-01T00:00:00Z" };
  const url = await serve(t, async (req, res) => {
    assert.equal(req.headers.accept, "text/event-stream");
    assert.equal(req.headers.authorization, "Bearer t");
    streamHead(res);
    const data = JSON.stringify({ id: "1-0", type: "file.created", team_id: TEAM, occurred_at: "2026-01-01T00:00:00Z", file });
    const cut = data.indexOf(',"team_id"') + 1; // data over two lines, joined by a newline (JSON whitespace)
    const text =
      "\uFEFFretry: 2000\r\n: stream open\r\n\r\n" +
      `id: 1-0\revent: file.created\rdata: ${data.slice(0, cut)}\rdata: ${data.slice(cut)}\r\r` +
      ": heartbeat\n\n" +
      "id:2-0\nunknown: field\n\n" +
      frame("3-0", "job.updated", { job: job(JOB, "running", 40) });
    // Byte by byte, so that every line end and character is split across chunks.
    for (const b of Buffer.from(text)) {
      res.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    await hold(res);
  });
  const c = createConveyorClient({ baseUrl: url, token: "t" });
  const stream = c.events(TEAM);
  await stream.opened;
  const first = await stream.next();
  assert.equal(first.value.type, "file.created");
  assert.equal(first.value.file.name, "a.png");
  const second = await stream.next();
  assert.equal(second.value.type, "job.updated");
  assert.equal(second.value.job.progress, 40);
  assert.equal(stream.lastEventId, "3-0");
  stream.close();
  assert.deepEqual(await stream.next(), { done: true, value: undefined });
});

test("events: reconnects with Last-Event-ID after the server ends the stream, and surfaces reset", async (t) => {
  const lastIds = [];
  const url = await serve(t, async (req, res) => {
    lastIds.push(req.headers["last-event-id"]);
    streamHead(res);
    if (lastIds.length === 1) {
      // Two events and a cut one, then the server goes (a shutdown).
      return res.end("retry: 5\n\n" + frame("1-0", "file.deleted") + frame("2-0", "file.deleted") + "id: 2-1\ndata: {\"cut\":");
    }
    res.write(frame("9-0", "reset") + frame("9-1", "file.deleted"));
    await hold(res);
  });
  const reasons = [];
  const c = createConveyorClient({ baseUrl: url, token: "t" });
  const stream = c.events(TEAM, { lastEventId: "0-5", onReconnect: (reason, waitMs) => reasons.push([String(reason), waitMs]) });
  const got = [];
  for await (const ev of stream) {
    got.push(`${ev.id} ${ev.type}`);
    if (got.length === 4) break;
  }
  assert.deepEqual(got, ["1-0 file.deleted", "2-0 file.deleted", "9-0 reset", "9-1 file.deleted"]);
  assert.deepEqual(lastIds, ["0-5", "2-0"], "resumes after the last complete event");
  assert.equal(reasons.length, 1);
  assert.match(reasons[0][0], /ended/);
  assert.ok(reasons[0][1] <= 5, `waited ${reasons[0][1]} ms, the server asked 5`);
});

test("events: a silent connection is reopened, 503s are retried, a 404 ends the stream", async (t) => {
  let n = 0;
  const url = await serve(t, async (req, res) => {
    n++;
    if (n === 1) {
      streamHead(res);
      res.write("retry: 1\n: open\n\n");
      return hold(res); // silence
    }
    if (n === 2) {
      streamHead(res);
      return res.end(frame("1-0", "file.deleted"));
    }
    if (n <= 6) {
      res.writeHead(503, { "Content-Type": "application/problem+json", "Retry-After": "0" });
      return res.end(JSON.stringify({ type: "x", title: "Unavailable", status: 503 }));
    }
    if (n === 7) {
      streamHead(res);
      return res.end(frame("2-0", "file.deleted"));
    }
    return send(res, 404, { type: "https://conveyor.dev/problems/not-found", title: "Not found", status: 404 }, "application/problem+json");
  });
  const reasons = [];
  const c = createConveyorClient({ baseUrl: url, token: "t", retry: { minDelayMs: 1, maxDelayMs: 2 } });
  const stream = c.events(TEAM, { idleTimeoutMs: 100, onReconnect: (reason) => reasons.push(String(reason)) });
  const got = [];
  await assert.rejects(
    (async () => {
      for await (const ev of stream) got.push(ev.id);
    })(),
    (err) => err instanceof ConveyorProblem && err.status === 404,
  );
  assert.deepEqual(got, ["1-0", "2-0"]);
  const joined = reasons.join("\n");
  for (const want of ["nothing received", "ended", "503"]) assert.ok(joined.includes(want), `reasons lack ${want}:\n${joined}`);
  assert.deepEqual(await stream.next(), { done: true, value: undefined }, "the stream is over");
});

test("events: opened rejects for a refused stream or one that is not text/event-stream", async (t) => {
  const url = await serve(t, (req, res) => {
    if (req.url.includes("/teams/gone/")) {
      return send(res, 404, { type: "https://conveyor.dev/problems/not-found", title: "Not found", status: 404 }, "application/problem+json");
    }
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end("<html>a login page</html>");
  });
  const c = createConveyorClient({ baseUrl: url, token: "t" });
  await assert.rejects(c.events("gone").opened, (err) => err instanceof ConveyorProblem && err.status === 404);
  const html = c.events(TEAM);
  await assert.rejects(html.opened, (err) => err instanceof EventStreamError && /text\/html/.test(err.message));
  await assert.rejects(html.next(), EventStreamError);
  // Undecodable data ends the stream too.
  const bad = await serve(t, (req, res) => {
    streamHead(res);
    res.end("id: 1-0\ndata: {not json\n\n");
  });
  await assert.rejects(createConveyorClient({ baseUrl: bad, token: "t" }).events(TEAM).next(), EventStreamError);
});

test("events: close() ends the iteration quietly, an aborted signal rejects with its reason, break closes the connection", async (t) => {
  let open = 0;
  const url = await serve(t, async (req, res) => {
    open++;
    streamHead(res);
    res.write(": open\n\n");
    await hold(res);
    open--;
  });
  const c = createConveyorClient({ baseUrl: url, token: "t" });
  const closing = c.events(TEAM);
  setTimeout(() => closing.close(), 20);
  for await (const ev of closing) assert.fail(`got ${ev}`);

  const ctl = new AbortController();
  const aborted = c.events(TEAM, { signal: ctl.signal });
  await aborted.opened;
  setTimeout(() => ctl.abort(new Error("enough")), 20);
  await assert.rejects(aborted.next(), /enough/);

  const broken = c.events(TEAM);
  await broken.opened;
  const it = broken[Symbol.asyncIterator]();
  await it.return();
  for (let i = 0; i < 50 && open > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(open, 0, "every connection closed");
});

test("watchJob yields the job as read, then its newer states, until final", async (t) => {
  const url = await serve(t, async (req, res) => {
    if (req.url.endsWith("/events")) {
      streamHead(res);
      res.write(
        frame("1-0", "job.updated", { job: job("other", "running", 10, 1) }) +
          frame("2-0", "job.updated", { job: job(JOB, "queued", 0, 0) }) + // older than the read
          frame("3-0", "job.updated", { job: job(JOB, "running", 50, 2) }) +
          frame("4-0", "job.updated", { job: job(JOB, "succeeded", 100, 3) }),
      );
      return hold(res);
    }
    return send(res, 200, job(JOB, "running", 0, 1));
  });
  const c = createConveyorClient({ baseUrl: url, token: "t" });
  const seen = [];
  for await (const j of c.watchJob(TEAM, JOB)) seen.push(`${j.status} ${j.progress}`);
  assert.deepEqual(seen, ["running 0", "running 50", "succeeded 100"]);
});

test("uploadFile with onProgress in Node streams a counted multipart body, again on a retry", async (t) => {
  const posts = [];
  const url = await serve(t, (req, res, body) => {
    posts.push({ headers: req.headers, body });
    if (posts.length === 1) return send(res, 503, { type: "x", title: "Unavailable", status: 503 }, "application/problem+json");
    return send(res, 201, { id: "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d", team_id: TEAM, name: "b.bin", size: body.length, sha256: "0".repeat(64), content_type: "application/octet-stream", created_at: "2026-01-01T00:00:00Z" });
  });
  const data = new Uint8Array(300_000).map((_, i) => i % 251);
  const calls = [];
  const c = createConveyorClient({ baseUrl: url, token: "t", retry: { minDelayMs: 1, maxDelayMs: 2 } });
  await c.uploadFile(TEAM, data, 'b "1".bin', { onProgress: (sent, total) => calls.push([sent, total]) });
  assert.equal(posts.length, 2);
  assert.equal(posts[0].headers["idempotency-key"], posts[1].headers["idempotency-key"]);
  for (const p of posts) {
    const m = /^multipart\/form-data; boundary=(.+)$/.exec(p.headers["content-type"]);
    assert.ok(m, p.headers["content-type"]);
    assert.equal(p.headers.authorization, "Bearer t");
    const text = p.body.toString("latin1");
    assert.ok(text.startsWith(`--${m[1]}\r\nContent-Disposition: form-data; name="file"; filename="b %221%22.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`));
    assert.ok(text.endsWith(`\r\n--${m[1]}--\r\n`));
    const start = text.indexOf("\r\n\r\n") + 4;
    assert.ok(Buffer.from(data).equals(p.body.subarray(start, start + data.length)), "the bytes are the part's body");
  }
  const total = posts[1].body.length;
  const second = calls.slice(calls.findLastIndex(([sent]) => sent <= 300) );
  assert.ok(second.length >= 5, `progress reported ${second.length} times on the second try`);
  assert.deepEqual(second.at(-1), [total, total]);
  for (let i = 1; i < second.length; i++) assert.ok(second[i][0] > second[i - 1][0]);
});

test("uploadFile with onProgress in a browser goes through XMLHttpRequest and reports its upload progress", async (t) => {
  const sent = [];
  class FakeXHR {
    upload = {};
    status = 0;
    statusText = "";
    response = null;
    headers = {};
    open(method, url, async) {
      Object.assign(this, { method, url, async });
    }
    setRequestHeader(k, v) {
      this.headers[k.toLowerCase()] = v;
    }
    getAllResponseHeaders() {
      return "content-type: application/json\r\nx-request-id: xhr-1\r\n";
    }
    abort() {}
    async send(body) {
      sent.push({ method: this.method, url: this.url, headers: this.headers, body: Buffer.from(await body.arrayBuffer()), type: body.type });
      for (const loaded of [0, 100, body.size]) this.upload.onprogress({ loaded, total: body.size, lengthComputable: true });
      this.status = 201;
      this.statusText = "Created";
      this.response = new TextEncoder().encode(JSON.stringify({ id: "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d", team_id: TEAM, name: "x.bin", size: 3, sha256: "0".repeat(64), content_type: "application/octet-stream", created_at: "2026-01-01T00:00:00Z" })).buffer;
      this.onload();
    }
  }
  globalThis.XMLHttpRequest = FakeXHR;
  t.after(() => delete globalThis.XMLHttpRequest);
  const calls = [];
  const c = createConveyorClient({ baseUrl: "http://conveyor.test", token: "t" });
  const file = await c.uploadFile(TEAM, new Uint8Array([7, 8, 9]), "x.bin", { onProgress: (s, total) => calls.push([s, total]) });
  assert.equal(file.name, "x.bin");
  assert.equal(sent.length, 1);
  const req = sent[0];
  assert.equal(req.method, "POST");
  assert.equal(req.url, `http://conveyor.test/api/v1/teams/${TEAM}/files`);
  assert.equal(req.headers.authorization, "Bearer t");
  assert.ok(req.headers["idempotency-key"]);
  const m = /^multipart\/form-data; boundary=(.+)$/.exec(req.headers["content-type"] ?? req.type);
  assert.ok(m, `content type ${req.headers["content-type"]} / ${req.type}`);
  assert.ok(req.body.toString("latin1").includes("\r\n\r\n\x07\x08\x09\r\n--" + m[1] + "--"));
  const total = req.body.length;
  assert.deepEqual(calls, [[0, total], [100, total], [total, total]]);
});

// --- direct-to-storage uploads ---------------------------------------------------

/** A stub API + storage for direct uploads: part_size bytes per part, part URLs on the same stub under /s3/. */
async function directStub(t, { partSize = 4, method = "multipart", failOnce = new Set(), hang = false, etagless = false } = {}) {
  const st = { parts: new Map(), puts: [], completes: [], creates: [], failed: new Set() };
  const url = await serve(t, async (req, res, body) => {
    const u = new URL(req.url, "http://x");
    if (req.method === "POST" && u.pathname === `/api/v1/teams/${TEAM}/uploads`) {
      const create = JSON.parse(body.toString());
      st.creates.push({ body: create, headers: req.headers });
      const n = method === "multipart" ? Math.ceil(create.size / partSize) : 1;
      const origin = `http://${req.headers.host}`;
      return send(res, 201, {
        id: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", team_id: TEAM, name: create.name, size: create.size, method,
        ...(method === "multipart" ? { part_size: partSize } : {}),
        parts: Array.from({ length: n }, (_, i) => ({ part_number: i + 1, url: `${origin}/s3/bucket/key?partNumber=${i + 1}&X-Amz-Signature=sig` })),
        expires_at: "2026-01-01T06:00:00Z",
      });
    }
    if (req.method === "PUT" && u.pathname === "/s3/bucket/key") {
      const n = Number(u.searchParams.get("partNumber"));
      st.puts.push({ n, authorization: req.headers.authorization, length: body.length });
      if (hang) return; // never answers: the test aborts
      if (failOnce.has(n) && !st.failed.has(n)) {
        st.failed.add(n);
        res.writeHead(503, { "Retry-After": "0" });
        return res.end("<Error><Code>SlowDown</Code></Error>");
      }
      st.parts.set(n, body);
      res.writeHead(200, etagless ? {} : { ETag: `"etag-${n}"` });
      return res.end();
    }
    if (req.method === "POST" && u.pathname.endsWith("/complete")) {
      const complete = JSON.parse(body.toString());
      st.completes.push(complete);
      const bytes = Buffer.concat([...st.parts.keys()].sort((a, b) => a - b).map((k) => st.parts.get(k)));
      return send(res, 201, { id: "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d", team_id: TEAM, name: "big.bin", size: bytes.length, sha256: "0".repeat(64), content_type: "application/octet-stream", created_at: "2026-01-01T00:00:00Z" });
    }
    return send(res, 404, { type: "x", title: "Not found", status: 404 }, "application/problem+json");
  });
  return { url, st };
}

test("uploadDirect sends the parts in parallel to storage (no credentials), retries a failed part, completes with the ETags in order", async (t) => {
  const { url, st } = await directStub(t, { partSize: 4, failOnce: new Set([2]) });
  const data = new Uint8Array(10).map((_, i) => i + 1);
  const progress = [];
  const retries = [];
  const c = createConveyorClient({ baseUrl: url, token: "t" });
  const file = await c.uploadDirect(TEAM, data, "big.bin", {
    concurrency: 2,
    onProgress: (sent, total) => progress.push([sent, total]),
    onRetry: (wait, reason) => retries.push([wait, reason?.status]),
  });
  assert.equal(file.size, 10);
  assert.deepEqual(st.creates[0].body, { name: "big.bin", size: 10, content_type: "application/octet-stream" });
  assert.equal(st.creates[0].headers.authorization, "Bearer t");
  assert.ok(st.creates[0].headers["idempotency-key"]);
  assert.deepEqual(st.puts.map((p) => p.n).sort(), [1, 2, 2, 3]);
  for (const p of st.puts) assert.equal(p.authorization, undefined, "no bearer token to storage");
  assert.deepEqual([...st.parts.entries()].sort(([a], [b]) => a - b).map(([n, b]) => [n, [...b]]), [[1, [1, 2, 3, 4]], [2, [5, 6, 7, 8]], [3, [9, 10]]]);
  assert.deepEqual(st.completes, [{ parts: [{ part_number: 1, etag: '"etag-1"' }, { part_number: 2, etag: '"etag-2"' }, { part_number: 3, etag: '"etag-3"' }] }]);
  assert.deepEqual(retries, [[0, 503]]);
  assert.deepEqual(progress[0], [0, 10]);
  assert.deepEqual(progress.at(-1), [10, 10]);
});

test("uploadDirect below the multipart threshold PUTs once and completes without parts", async (t) => {
  const { url, st } = await directStub(t, { method: "single" });
  const c = createConveyorClient({ baseUrl: url, token: "t" });
  await c.uploadDirect(TEAM, new Blob([new Uint8Array([1, 2, 3])], { type: "image/png" }), "a.png", { sha256: "a".repeat(64) });
  assert.deepEqual(st.creates[0].body, { name: "a.png", size: 3, content_type: "image/png", sha256: "a".repeat(64) });
  assert.deepEqual(st.puts.map((p) => [p.n, p.length]), [[1, 3]]);
  assert.deepEqual(st.completes, [{}]);
});

test("uploadDirect: aborting stops every part and never completes", async (t) => {
  const { url, st } = await directStub(t, { hang: true });
  const c = createConveyorClient({ baseUrl: url, token: "t" });
  const ctl = new AbortController();
  const p = c.uploadDirect(TEAM, new Uint8Array(12), "big.bin", { signal: ctl.signal, concurrency: 3 });
  for (let i = 0; i < 200 && st.puts.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(st.puts.length, 3, "three parts in flight");
  ctl.abort(new Error("stop"));
  await assert.rejects(p, /stop/);
  assert.equal(st.completes.length, 0);
});

test("uploadDirect in a browser PUTs each part with XMLHttpRequest, reads its ETag, and reports a hidden ETag as a CORS problem", async (t) => {
  const puts = [];
  let exposeEtag = true;
  class FakeXHR {
    upload = {};
    status = 0;
    open(method, url) {
      Object.assign(this, { method, url });
    }
    setRequestHeader() {}
    getResponseHeader(k) {
      return k.toLowerCase() === "etag" && exposeEtag ? `"x-${new URL(this.url).searchParams.get("partNumber")}"` : null;
    }
    getAllResponseHeaders() {
      return "";
    }
    abort() {}
    async send(body) {
      puts.push({ method: this.method, url: this.url, size: body.size });
      this.upload.onprogress?.({ loaded: Math.floor(body.size / 2), total: body.size, lengthComputable: true });
      this.status = 200;
      this.onload();
    }
  }
  // The API calls go to the stub over fetch; only the storage PUTs use XHR.
  const { url, st } = await directStub(t, { partSize: 5 });
  globalThis.XMLHttpRequest = FakeXHR;
  t.after(() => delete globalThis.XMLHttpRequest);
  const c = createConveyorClient({ baseUrl: url, token: "t" });
  const progress = [];
  await c.uploadDirect(TEAM, new Uint8Array(12), "big.bin", { onProgress: (s) => progress.push(s) });
  assert.deepEqual(puts.map((p) => [p.method, new URL(p.url).searchParams.get("partNumber"), p.size]).sort(), [["PUT", "1", 5], ["PUT", "2", 5], ["PUT", "3", 2]]);
  assert.deepEqual(st.completes[0].parts.map((p) => p.etag), ['"x-1"', '"x-2"', '"x-3"']);
  assert.equal(progress.at(-1), 12);
  assert.ok(progress.some((s) => s > 0 && s < 12), "progress within parts");
  exposeEtag = false;
  await assert.rejects(c.uploadDirect(TEAM, new Uint8Array(12), "big.bin"), (err) => err instanceof StorageError && /ETag/.test(err.message) && !err.retryable);
});

test("uploadFile reports a retry after 429 with its Retry-After; openFile can stream through the API", async (t) => {
  let n = 0;
  const gets = [];
  const url = await serve(t, (req, res) => {
    if (req.method === "POST") {
      if (++n === 1) {
        res.writeHead(429, { "Retry-After": "0", "Content-Type": "application/problem+json" });
        return res.end(JSON.stringify({ type: "x", title: "Too many requests", status: 429 }));
      }
      return send(res, 201, { id: "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d", team_id: TEAM, name: "r.bin", size: 1, sha256: "0".repeat(64), content_type: "application/octet-stream", created_at: "2026-01-01T00:00:00Z" });
    }
    gets.push(req.url);
    res.writeHead(200, { "Content-Type": "application/octet-stream" });
    res.end("streamed");
  });
  const c = createConveyorClient({ baseUrl: url, token: "t" });
  const retries = [];
  await c.uploadFile(TEAM, new Uint8Array([1]), "r.bin", { onProgress: () => {}, onRetry: (wait, why) => retries.push([wait, why.status]) });
  assert.deepEqual(retries, [[0, 429]]);
  const res = await c.openFile(TEAM, "f", { delivery: "stream" });
  assert.equal(await res.text(), "streamed");
  assert.deepEqual(gets, [`/api/v1/teams/${TEAM}/files/f/content?delivery=stream`]);
});
