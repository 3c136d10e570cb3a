import { describe, expect, it, vi } from "vitest";
import type { Job } from "@conveyor/client";

// api.ts builds the app's client, which reads the token from auth.
vi.mock("./auth", () => ({ accessToken: async () => "t" }));
const { OUTPUTS_REREADS, OUTPUTS_SETTLE_MS, outputsMayLag } = await import("./api");

const finished = "2026-01-01T00:00:00.123456Z";
const at = Date.parse(finished);
const job = (status: Job["status"], finishedAt: string | null = finished): Job => ({
  id: "j", team_id: "t", processor: "csv_profile", params: {}, status, progress: 100, attempts: 1,
  created_at: finished, updated_at: finished, finished_at: finishedAt,
});

describe("outputsMayLag", () => {
  it("reads an empty list again just after the job succeeded: a replica may not have replayed it yet", () => {
    expect(outputsMayLag(job("succeeded"), [], 1, at + 200)).toBe(true);
    expect(outputsMayLag(job("succeeded"), [], OUTPUTS_REREADS - 1, at + OUTPUTS_SETTLE_MS - 1)).toBe(true);
  });

  it("stops once the list has outputs, the job finished long enough ago, or after a bounded number of reads", () => {
    expect(outputsMayLag(job("succeeded"), [{ name: "rows.jsonl" }], 1, at + 200)).toBe(false);
    expect(outputsMayLag(job("succeeded"), [], 1, at + OUTPUTS_SETTLE_MS)).toBe(false);
    expect(outputsMayLag(job("succeeded"), [], OUTPUTS_REREADS, at + 200)).toBe(false);
  });

  it("never for a job that did not succeed, has no finish time, or a list not read yet", () => {
    expect(outputsMayLag(job("failed"), [], 1, at + 200)).toBe(false);
    expect(outputsMayLag(job("succeeded", null), [], 1, at + 200)).toBe(false);
    expect(outputsMayLag(undefined, [], 1, at + 200)).toBe(false);
    expect(outputsMayLag(job("succeeded"), undefined, 0, at + 200)).toBe(false);
  });
});
