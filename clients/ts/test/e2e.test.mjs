// End-to-end test of @conveyor/client against a running Conveyor server.
//
// Needs CONVEYOR_URL (e.g. http://127.0.0.1:8080) and CONVEYOR_TOKEN (a bearer
// token of a platform admin). The Go integration test starts the server and
// sets both; without them this test fails on purpose instead of skipping.
// Build first (`npm run build`): it imports the compiled ../dist/index.js.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { deflateSync } from "node:zlib";

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
  const { createConveyorClient, ConveyorProblem, FINAL_JOB_STATUSES } = client;
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
  await t.test("events: a file and a job, up to succeeded, on the team's stream", async () => {
    const stream = conveyor.events(team.id);
    try {
      await stream.opened; // from here on, what happens in the team is on the stream
      const f = await conveyor.uploadFile(team.id, new TextEncoder().encode("watched"), "watched.txt");
      const { data: job } = await api.POST("/teams/{team_id}/jobs", {
        params: { path: { team_id: team.id } },
        body: { file_id: f.id, processor: "inspect" },
      });
      const seen = [];
      let last;
      for await (const ev of stream) {
        assert.equal(ev.team_id, team.id);
        assert.match(ev.id, /^[0-9]+-[0-9]+$/);
        assert.ok(!Number.isNaN(Date.parse(ev.occurred_at)));
        last = ev;
        if (ev.type === "file.created") seen.push(`file.created ${ev.file.name}`);
        if (ev.type === "job.updated" && ev.job.id === job.id) {
          seen.push(`${ev.job.status} ${ev.job.progress}`);
          if (FINAL_JOB_STATUSES.includes(ev.job.status)) break;
        }
      }
      assert.equal(seen[0], "file.created watched.txt", `events: ${seen}`);
      assert.equal(seen.at(-1), "succeeded 100", `events: ${seen}`);
      const progress = seen.slice(1).map((s) => Number(s.split(" ")[1]));
      assert.deepEqual(progress, [...progress].sort((a, b) => a - b), `progress never goes back: ${seen}`);
      assert.equal(stream.lastEventId, last.id);
    } finally {
      stream.close();
    }
  });

  await t.test("events: resuming with lastEventId replays what came after it", async () => {
    const first = conveyor.events(team.id);
    await first.opened;
    await conveyor.uploadFile(team.id, new TextEncoder().encode("one"), "one.txt");
    let mark;
    for await (const ev of first) {
      if (ev.type === "file.created" && ev.file.name === "one.txt") {
        mark = ev.id;
        break; // closes the stream
      }
    }
    await conveyor.uploadFile(team.id, new TextEncoder().encode("two"), "two.txt");
    const resumed = conveyor.events(team.id, { lastEventId: mark });
    try {
      const { value: ev } = await resumed.next();
      assert.equal(ev.type, "file.created");
      assert.equal(ev.file.name, "two.txt");
    } finally {
      resumed.close();
    }
  });

  await t.test("events: an unknown team is a 404, a malformed Last-Event-ID a 400", async () => {
    await rejectsWithProblem(conveyor.events(randomUUID()).opened, 404);
    await rejectsWithProblem(conveyor.events(team.id, { lastEventId: "not-an-id" }).opened, 400);
  });

  await t.test("watchJob follows a job to its end", async () => {
    const { data: job } = await api.POST("/teams/{team_id}/jobs", {
      params: { path: { team_id: team.id } },
      body: { file_id: file.id, processor: "inspect" },
    });
    const states = [];
    for await (const j of conveyor.watchJob(team.id, job.id)) states.push(j.status);
    assert.equal(states.at(-1), "succeeded", `states: ${states}`);
  });

  await t.test("cancel and retry: thumbnail of a text file fails, is retried (202) and fails again; a failed job cannot be cancelled", async () => {
    const notImage = await conveyor.uploadFile(team.id, new TextEncoder().encode("not an image\n"), "not-an-image.txt");
    const { data: job } = await api.POST("/teams/{team_id}/jobs", {
      params: { path: { team_id: team.id } },
      body: { file_id: notImage.id, processor: "thumbnail" },
    });
    let done = await conveyor.waitForJob(team.id, job.id, { timeoutMs: 60_000, intervalMs: 100 });
    assert.equal(done.status, "failed");
    assert.equal(done.error?.code, "invalid_input");
    assert.equal(done.attempts, 1);

    const { data: retried, response } = await api.POST("/teams/{team_id}/jobs/{job_id}/retry", {
      params: { path: { team_id: team.id, job_id: job.id } },
    });
    assert.equal(response.status, 202);
    assert.equal(retried.status, "queued");
    assert.equal(retried.error, undefined, "a retried job's error is cleared");
    done = await conveyor.waitForJob(team.id, job.id, { timeoutMs: 60_000, intervalMs: 100 });
    assert.equal(done.status, "failed");
    assert.equal(done.error?.code, "invalid_input");
    assert.equal(done.attempts, 2);

    await rejectsWithProblem(conveyor.cancelJob(team.id, job.id), 409);
    await rejectsWithProblem(conveyor.retryJob(team.id, randomUUID()), 404);

    // A succeeded job can be neither retried nor cancelled.
    const { data: ok } = await api.POST("/teams/{team_id}/jobs", {
      params: { path: { team_id: team.id } },
      body: { file_id: file.id, processor: "inspect" },
    });
    assert.equal((await conveyor.waitForJob(team.id, ok.id, { timeoutMs: 60_000, intervalMs: 100 })).status, "succeeded");
    await rejectsWithProblem(conveyor.retryJob(team.id, ok.id), 409);
    await rejectsWithProblem(conveyor.cancelJob(team.id, ok.id), 409);
  });

  await t.test("outputs: a thumbnail of a PNG, listed and downloaded", async () => {
    const photo = await conveyor.uploadFile(team.id, png(64, 32), "photo.png");
    assert.equal(photo.content_type, "image/png");
    const { data: job } = await api.POST("/teams/{team_id}/jobs", {
      params: { path: { team_id: team.id } },
      body: { file_id: photo.id, processor: "thumbnail", params: { max_width: 16, max_height: 16 } },
    });
    const done = await conveyor.waitForJob(team.id, job.id, { timeoutMs: 60_000, intervalMs: 100 });
    assert.equal(done.status, "succeeded", JSON.stringify(done.error));

    const outputs = await conveyor.jobOutputs(team.id, job.id);
    assert.equal(outputs.length, 1);
    assert.equal(outputs[0].name, "thumbnail.png");
    assert.equal(outputs[0].content_type, "image/png");

    const response = await conveyor.openOutput(team.id, job.id, "thumbnail.png");
    const bytes = new Uint8Array(await response.arrayBuffer());
    assert.equal(bytes.byteLength, outputs[0].size);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
    const ihdr = new DataView(bytes.buffer, bytes.byteOffset + 16, 8);
    assert.deepEqual([ihdr.getUint32(0), ihdr.getUint32(4)], [16, 8], "16×8, the 64×32 image scaled into 16×16");

    const url = await conveyor.outputUrl(team.id, job.id, "thumbnail.png");
    assert.notEqual(new URL(url).origin, new URL(baseUrl).origin, "the presigned URL is storage's");
    const direct = await fetch(url);
    assert.equal(direct.status, 200);
    assert.equal((await direct.arrayBuffer()).byteLength, outputs[0].size);

    const streamed = await conveyor.openOutput(team.id, job.id, "thumbnail.png", { delivery: "stream" });
    assert.equal(new URL(streamed.url).origin, new URL(baseUrl).origin, "streamed through the API, on its origin");
    assert.equal(streamed.headers.get("Content-Type"), "image/png");
    assert.match(streamed.headers.get("Content-Disposition") ?? "", /^inline; .*filename\*=UTF-8''thumbnail\.png$/);
    assert.deepEqual(new Uint8Array(await streamed.arrayBuffer()), bytes, "the same bytes as storage's");

    await rejectsWithProblem(conveyor.openOutput(team.id, job.id, "no-such-output.png"), 404);
    await rejectsWithProblem(conveyor.openOutput(team.id, job.id, "no-such-output.png", { delivery: "stream" }), 404);
  });

  await t.test("openFile downloads a file's content", async () => {
    const response = await conveyor.openFile(team.id, file.id);
    assert.equal(createHash("sha256").update(new Uint8Array(await response.arrayBuffer())).digest("hex"), sha256);
  });

  await t.test("upload with progress (Node: a streamed, counted body)", async () => {
    const big = randomBytes(3 << 20);
    const calls = [];
    const uploaded = await conveyor.uploadFile(team.id, big, "big.bin", {
      onProgress: (sent, total) => calls.push([sent, total]),
    });
    assert.equal(uploaded.size, big.byteLength);
    assert.equal(uploaded.sha256, createHash("sha256").update(big).digest("hex"));
    assert.ok(calls.length > 10, `progress reported ${calls.length} times`);
    const total = calls[0][1];
    assert.ok(total > big.byteLength && total < big.byteLength + 512, `total ${total} is the body: the file and its framing`);
    for (let i = 1; i < calls.length; i++) assert.ok(calls[i][0] > calls[i - 1][0], "sent only grows");
    assert.deepEqual(calls.at(-1), [total, total]);
  });
});

/** A w×h RGB PNG, encoded here (no image library). */
function png(w, h) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) raw.set([x * 4, y * 8, 128], y * (w * 3 + 1) + 1 + x * 3);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      pngChunk("IHDR", ihdr),
      pngChunk("IDAT", deflateSync(raw)),
      pngChunk("IEND", Buffer.alloc(0)),
    ]),
  );
}

function pngChunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

function crc32(bytes) {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
