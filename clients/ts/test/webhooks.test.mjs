// Unit tests of verifyWebhook: deliveries signed the Standard Webhooks way
// (computed here with node:crypto, not with the library the helper uses).

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { WebhookSignatureError, verifyWebhook } from "../dist/webhooks.js";

const secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const secretB = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const body = JSON.stringify({ type: "job.failed", timestamp: "2026-12-04T02:00:00Z", data: { id: "j1" } });

function sign(secret, id, ts, payload) {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return "v1," + createHmac("sha256", key).update(`${id}.${ts}.${payload}`).digest("base64");
}

function headers(id, ts, sig) {
  return { "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": sig };
}

const now = () => Math.floor(Date.now() / 1000);

test("verifyWebhook returns the event of a correctly signed delivery", () => {
  const ts = now();
  const ev = verifyWebhook(secretA, body, headers("msg_1", ts, sign(secretA, "msg_1", ts, body)));
  assert.deepEqual(ev, { id: "msg_1", type: "job.failed", timestamp: "2026-12-04T02:00:00Z", data: { id: "j1" } });
});

test("verifyWebhook reads fetch Headers and node's header records alike", () => {
  const ts = now();
  const h = headers("msg_2", ts, sign(secretA, "msg_2", ts, body));
  assert.equal(verifyWebhook(secretA, body, new Headers(h)).id, "msg_2");
  const upper = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toUpperCase(), [v]]));
  assert.equal(verifyWebhook(secretA, body, upper).id, "msg_2");
});

test("during a rotation either secret verifies a header listing both signatures", () => {
  const ts = now();
  const both = `${sign(secretB, "msg_3", ts, body)} ${sign(secretA, "msg_3", ts, body)}`;
  for (const s of [secretA, secretB, [secretB, secretA]]) {
    assert.equal(verifyWebhook(s, body, headers("msg_3", ts, both)).type, "job.failed");
  }
});

test("verifyWebhook refuses a changed body, another secret, a stale timestamp or no signature", () => {
  const ts = now();
  const good = sign(secretA, "msg_4", ts, body);
  const cases = [
    [secretA, body.replace("j1", "j2"), headers("msg_4", ts, good)],
    [secretB, body, headers("msg_4", ts, good)],
    [secretA, body, headers("msg_4", ts - 600, sign(secretA, "msg_4", ts - 600, body))],
    [secretA, body, headers("msg_4", ts, "")],
  ];
  for (const [secret, b, h] of cases) {
    assert.throws(() => verifyWebhook(secret, b, h), WebhookSignatureError);
  }
  assert.throws(() => verifyWebhook([], body, headers("msg_4", ts, good)));
});
