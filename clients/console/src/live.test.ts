import { describe, expect, it, vi } from "vitest";
import type { Job } from "@conveyor/client";
import { QueryClient } from "@tanstack/vue-query";

// live.ts imports the app's client, which reads the token from auth.
vi.mock("./auth", () => ({ accessToken: async () => "t" }));
const { keys } = await import("./api");
const { applyEvent, isNewer, keepJobsCurrent } = await import("./live");

const T = "team-1";
const job = (id: string, status: Job["status"], progress: number, sec: number): Job => ({
  id, team_id: T, processor: "thumbnail", params: {}, status, progress, attempts: 1,
  created_at: "2026-01-01T00:00:00Z", updated_at: `2026-01-01T00:00:${String(sec).padStart(2, "0")}Z`,
});
const ev = (j: Job) => ({ id: `e-${j.id}-${j.updated_at}`, type: "job.updated" as const, team_id: T, occurred_at: j.updated_at, job: j });

describe("applyEvent", () => {
  it("moves a job on its page and in its own query, never back to an older state", () => {
    const qc = new QueryClient();
    qc.setQueryData(keys.jobsPage(T, undefined), { items: [job("a", "queued", 0, 0), job("b", "running", 10, 0)], next_cursor: null });
    applyEvent(qc, T, ev(job("a", "running", 40, 2)));
    applyEvent(qc, T, ev(job("a", "queued", 0, 1))); // late, older
    const page = qc.getQueryData<{ items: Job[] }>(keys.jobsPage(T, undefined))!;
    expect(page.items.map((j) => `${j.id} ${j.status} ${j.progress}`)).toEqual(["a running 40", "b running 10"]);
    expect(qc.getQueryData<Job>(keys.job(T, "a"))?.progress).toBe(40);
  });

  it("re-reads the lists for a job nobody listed, and the files on file events", () => {
    const qc = new QueryClient();
    const spy = vi.spyOn(qc, "invalidateQueries");
    applyEvent(qc, T, ev(job("new", "queued", 0, 0)));
    expect(spy).toHaveBeenCalledWith({ queryKey: keys.jobs(T) });
    applyEvent(qc, T, { id: "f", type: "file.created", team_id: T, occurred_at: "2026-01-01T00:00:00Z" });
    expect(spy).toHaveBeenCalledWith({ queryKey: keys.files(T) });
  });

  it("a succeeded job's outputs are read again", () => {
    const qc = new QueryClient();
    const spy = vi.spyOn(qc, "invalidateQueries");
    applyEvent(qc, T, ev(job("a", "succeeded", 100, 3)));
    expect(spy).toHaveBeenCalledWith({ queryKey: keys.outputs(T, "a") });
  });
});

describe("keepJobsCurrent", () => {
  it("a page or a job read after the events, from a replica behind the worker, does not move a job back", async () => {
    const qc = new QueryClient();
    const stop = keepJobsCurrent(qc);
    // The list was read before the thumbnail existed; its events name a job
    // the list lacks, so the list is read again...
    qc.setQueryData(keys.jobsPage(T, undefined), { items: [job("i", "succeeded", 100, 1)], next_cursor: null });
    applyEvent(qc, T, ev(job("t", "queued", 0, 2)));
    applyEvent(qc, T, ev(job("t", "running", 0, 3)));
    applyEvent(qc, T, ev(job("t", "succeeded", 100, 4)));
    // ...and that read answers with the job as the replica had it: queued.
    const stale = { items: [job("t", "queued", 0, 2), job("i", "succeeded", 100, 1)], next_cursor: null };
    await qc.fetchQuery({ queryKey: keys.jobsPage(T, undefined), queryFn: async () => stale });
    await qc.fetchQuery({ queryKey: keys.job(T, "t"), queryFn: async () => job("t", "running", 0, 3) });
    await new Promise((r) => setTimeout(r, 0)); // the cache's notifications are batched
    const page = qc.getQueryData<{ items: Job[] }>(keys.jobsPage(T, undefined))!;
    expect(page.items.map((j) => `${j.id} ${j.status}`)).toEqual(["t succeeded", "i succeeded"]);
    expect(qc.getQueryData<Job>(keys.job(T, "t"))?.status).toBe("succeeded");

    // A read newer than every event seen is kept, and an older event after it ignored.
    await qc.fetchQuery({ queryKey: keys.job(T, "i"), queryFn: async () => ({ ...job("i", "succeeded", 100, 9), progress: 100 }), staleTime: 0 });
    applyEvent(qc, T, ev(job("i", "running", 50, 5)));
    expect(qc.getQueryData<Job>(keys.job(T, "i"))?.updated_at).toBe("2026-01-01T00:00:09Z");
    stop();
  });
});

it("isNewer", () => {
  expect(isNewer(job("a", "running", 5, 2), job("a", "running", 5, 1))).toBe(true);
  expect(isNewer(job("a", "running", 5, 1), job("a", "running", 9, 2))).toBe(false);
  expect(isNewer(job("a", "succeeded", 100, 1), job("a", "running", 90, 1))).toBe(true);
  expect(isNewer(job("a", "running", 5, 1), undefined)).toBe(true);
  // updated_at is compared to the microsecond, which Date.parse drops.
  const at = (j: Job, t: string): Job => ({ ...j, updated_at: t });
  expect(isNewer(at(job("a", "queued", 0, 0), "2026-01-01T00:00:00.000100Z"), at(job("a", "running", 0, 0), "2026-01-01T00:00:00.000900Z"))).toBe(false);
  expect(isNewer(at(job("a", "running", 0, 0), "2026-01-01T00:00:00.0009Z"), at(job("a", "queued", 0, 0), "2026-01-01T00:00:00.0001Z"))).toBe(true);
  // The same instant: the later state in a job's life wins, either way round.
  expect(isNewer(job("a", "queued", 0, 1), job("a", "running", 0, 1))).toBe(false);
  expect(isNewer(job("a", "running", 0, 1), job("a", "queued", 0, 1))).toBe(true);
});
