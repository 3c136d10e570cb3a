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

/** isNewer reports whether job b is a later state than a (the stream may repeat or reorder snapshots). */
export function isNewer(b: Job, a: Job | undefined): boolean {
  if (!a) return true;
  const tb = Date.parse(b.updated_at);
  const ta = Date.parse(a.updated_at);
  if (tb !== ta) return tb > ta;
  return b.status !== a.status || b.progress !== a.progress || b.attempts !== a.attempts;
}

/** applyEvent updates the caches for one event. */
export function applyEvent(qc: QueryClient, teamId: string, ev: ConveyorEvent): void {
  switch (ev.type) {
    case "job.updated": {
      const job = ev.job;
      if (!job) return;
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
  onScopeDispose(() => ctl?.abort());
  return state;
}
