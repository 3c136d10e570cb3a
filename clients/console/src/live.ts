// live: the team's event stream (clients/ts `events`, which reconnects and
// resumes with Last-Event-ID by itself) feeding the vue-query caches, so job
// status and progress move without polling.

import type { ConveyorEvent, Job } from "@conveyor/client";
import { ConveyorProblem } from "@conveyor/client";
import type { QueryClient } from "@tanstack/vue-query";
import { useQueryClient } from "@tanstack/vue-query";
import { onScopeDispose, ref, toValue, watch, type MaybeRefOrGetter, type Ref } from "vue";
import { conveyor, keys } from "./api";

/** LiveState is how the stream stands: connecting, live, reconnecting, or off (refused). */
export type LiveState = "connecting" | "live" | "reconnecting" | "off";

type JobPage = { items: Job[]; next_cursor: string | null };

/**
 * micros is an RFC 3339 time in microseconds since the epoch: the API's
 * updated_at has microseconds, which Date.parse would drop, and two
 * snapshots of a job may be less than a millisecond apart.
 */
function micros(t: string): number {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$/.exec(t);
  if (!m) return Date.parse(t) * 1000;
  return Date.parse(m[1]! + m[3]!) * 1000 + Number((m[2] ?? "").padEnd(6, "0").slice(0, 6));
}

const STATUS_RANK: Record<Job["status"], number> = { queued: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2 };

/** isNewer reports whether job b is a later state than a (the stream may repeat or reorder snapshots). */
export function isNewer(b: Job, a: Job | undefined): boolean {
  if (!a) return true;
  const tb = micros(b.updated_at);
  const ta = micros(a.updated_at);
  if (tb !== ta) return tb > ta;
  if (b.attempts !== a.attempts) return b.attempts > a.attempts;
  if (b.status !== a.status) return STATUS_RANK[b.status] > STATUS_RANK[a.status];
  return b.progress > a.progress;
}

// The newest snapshot of each job seen, by query client: a job's page or
// list read again (after an event named a job the list lacked, say) may be
// answered from a replica that has not yet replayed the worker's latest
// change, or read just before it, and arrive after the events that carried
// it; no further event comes for a finished job, so such a read must not
// move the job back.
const newest = new WeakMap<QueryClient, Map<string, Job>>();
const MAX_TRACKED_JOBS = 2000;

/**
 * latest records job as seen and returns it, or the snapshot seen before
 * when that one is newer.
 */
function latest(qc: QueryClient, job: Job): Job {
  let seen = newest.get(qc);
  if (!seen) newest.set(qc, (seen = new Map()));
  const cur = seen.get(job.id);
  if (cur && isNewer(cur, job)) return cur;
  // The same snapshot may come as another object (the cache copies what
  // it is given): it is the one to compare with from now on.
  seen.delete(job.id); // re-inserted last: the oldest entry goes first
  seen.set(job.id, job);
  if (seen.size > MAX_TRACKED_JOBS) seen.delete(seen.keys().next().value!);
  return job;
}

/**
 * keepJobsCurrent watches the query cache: a job or a page of jobs read
 * from the API that holds an older snapshot of a job than one already seen
 * (from the event stream) gets the newer one back. It returns the function
 * that stops watching.
 */
export function keepJobsCurrent(qc: QueryClient): () => void {
  return qc.getQueryCache().subscribe((e) => {
    if (e.type !== "updated" || e.action.type !== "success") return;
    const key = e.query.queryKey;
    const data: unknown = e.query.state.data;
    if (!data) return;
    if (key[0] === "job" && key.length === 3) {
      const job = data as Job;
      const best = latest(qc, job);
      if (best !== job) qc.setQueryData(key, best);
    } else if (key[0] === "jobs") {
      const page = data as JobPage;
      if (!Array.isArray(page.items)) return;
      let changed = false;
      const items = page.items.map((j) => {
        const best = latest(qc, j);
        if (best !== j) changed = true;
        return best;
      });
      if (changed) qc.setQueryData(key, { ...page, items });
    }
  });
}

/** applyEvent updates the caches for one event. */
export function applyEvent(qc: QueryClient, teamId: string, ev: ConveyorEvent): void {
  switch (ev.type) {
    case "job.updated": {
      const job = ev.job;
      if (!job) return;
      if (latest(qc, job) !== job) return; // an older snapshot than one seen
      const key = keys.job(teamId, job.id);
      const cur = qc.getQueryData<Job>(key);
      if (cur && !isNewer(job, cur)) return;
      qc.setQueryData(key, job);
      let known = false;
      for (const [k, page] of qc.getQueriesData<JobPage>({ queryKey: keys.jobs(teamId) })) {
        if (!page) continue;
        const i = page.items.findIndex((j) => j.id === job.id);
        if (i < 0) continue;
        known = true;
        const old = page.items[i];
        if (old && !isNewer(job, old)) continue;
        const items = page.items.slice();
        items[i] = job;
        qc.setQueryData(k, { ...page, items });
      }
      // A job nobody has listed yet (started elsewhere): re-read the lists.
      if (!known) void qc.invalidateQueries({ queryKey: keys.jobs(teamId) });
      if (job.status === "succeeded") void qc.invalidateQueries({ queryKey: keys.outputs(teamId, job.id) });
      return;
    }
    case "file.created":
    case "file.deleted":
      void qc.invalidateQueries({ queryKey: keys.files(teamId) });
      if (ev.type === "file.deleted" && ev.file) qc.removeQueries({ queryKey: keys.file(teamId, ev.file.id) });
      return;
    case "reset":
      // Events were missed: re-read everything of the team.
      void qc.invalidateQueries({ queryKey: keys.files(teamId) });
      void qc.invalidateQueries({ queryKey: keys.jobs(teamId) });
      void qc.invalidateQueries({ queryKey: ["job", teamId] });
      void qc.invalidateQueries({ queryKey: ["file", teamId] });
      return;
  }
}

const MAX_REOPEN_MS = 30_000;

/**
 * useTeamLive follows teamId's event stream while the calling component
 * lives, and returns its state. The client reconnects by itself; when the
 * stream is refused (an expired token, say) it is reopened here after a
 * growing pause, and given up on a 404 (no such team, or not the user's).
 */
export function useTeamLive(teamId: MaybeRefOrGetter<string | undefined>): Ref<LiveState> {
  const qc = useQueryClient();
  const state = ref<LiveState>("off");
  let ctl: AbortController | undefined;
  const unwatch = keepJobsCurrent(qc);

  async function follow(id: string, signal: AbortSignal) {
    let failures = 0;
    let lastEventId: string | undefined;
    for (let attempt = 0; attempt < 1000 && !signal.aborted; attempt++) {
      state.value = attempt === 0 ? "connecting" : "reconnecting";
      const stream = conveyor.events(id, {
        signal,
        ...(lastEventId ? { lastEventId } : {}),
        onReconnect: () => (state.value = "reconnecting"),
      });
      try {
        await stream.opened;
        state.value = "live";
        failures = 0;
        if (attempt > 0 && !lastEventId) applyEvent(qc, id, { id: "", type: "reset", team_id: id, occurred_at: new Date().toISOString() });
        for await (const ev of stream) {
          state.value = "live";
          applyEvent(qc, id, ev);
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ConveyorProblem && (err.status === 404 || err.status === 403)) {
          state.value = "off";
          return;
        }
      } finally {
        lastEventId = stream.lastEventId ?? lastEventId;
        stream.close();
      }
      if (signal.aborted) return;
      state.value = "reconnecting";
      failures++;
      const wait = Math.min(1000 * 2 ** Math.min(failures, 5), MAX_REOPEN_MS);
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  watch(
    () => toValue(teamId),
    (id) => {
      ctl?.abort();
      ctl = undefined;
      state.value = "off";
      if (!id) return;
      ctl = new AbortController();
      void follow(id, ctl.signal);
    },
    { immediate: true },
  );
  onScopeDispose(() => {
    ctl?.abort();
    unwatch();
  });
  return state;
}
