// @conveyor/client/webhooks: verification of Conveyor's webhook deliveries,
// on the Standard Webhooks reference library (npm `standardwebhooks`): the
// webhook-signature header
// is "v1,<base64 HMAC-SHA256 of id.timestamp.body>", one per active secret,
// and deliveries older or newer than five minutes are refused.

import { Webhook } from "standardwebhooks";

/** Thrown by verifyWebhook when no secret verifies a delivery or its timestamp is too far off. */
export class WebhookSignatureError extends Error {
  override readonly name = "WebhookSignatureError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** One delivery's body, with the webhook-id that is the same on every retry of one event. */
export interface WebhookEvent<T = unknown> {
  /** The webhook-id header: drop an id you have already handled. */
  id: string;
  /** The event type, e.g. "job.failed". */
  type: string;
  /** When the event happened (RFC 3339). */
  timestamp: string;
  data: T;
}

/** Request headers as fetch (`Headers`) or node:http (`IncomingHttpHeaders`) give them. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

const names = ["webhook-id", "webhook-timestamp", "webhook-signature"] as const;

function pick(headers: WebhookHeaders): Record<(typeof names)[number], string> {
  const out = { "webhook-id": "", "webhook-timestamp": "", "webhook-signature": "" };
  for (const n of names) {
    let v: string | string[] | null | undefined;
    if (typeof (headers as Headers).get === "function") {
      v = (headers as Headers).get(n);
    } else {
      const rec = headers as Record<string, string | string[] | undefined>;
      const key = Object.keys(rec).find((k) => k.toLowerCase() === n);
      v = key === undefined ? undefined : rec[key];
    }
    out[n] = Array.isArray(v) ? v.join(" ") : (v ?? "");
  }
  return out;
}

/**
 * Verifies a delivery with the endpoint's secret ("whsec_…"), or with any of
 * several while one is being rotated, and returns its event. `body` must be
 * the raw request body, exactly as received. Throws WebhookSignatureError
 * when no secret verifies the signature or the timestamp is too far off.
 */
export function verifyWebhook<T = unknown>(secrets: string | readonly string[], body: string, headers: WebhookHeaders): WebhookEvent<T> {
  const list = typeof secrets === "string" ? [secrets] : secrets;
  if (list.length === 0) throw new Error("verifyWebhook: no secret");
  const h = pick(headers);
  let last: unknown;
  for (const secret of list) {
    try {
      const ev = new Webhook(secret).verify(body, h) as Omit<WebhookEvent<T>, "id">;
      return { id: h["webhook-id"], type: ev.type, timestamp: ev.timestamp, data: ev.data };
    } catch (err) {
      last = err;
    }
  }
  throw new WebhookSignatureError(`webhook signature does not verify: ${last instanceof Error ? last.message : String(last)}`, { cause: last });
}
