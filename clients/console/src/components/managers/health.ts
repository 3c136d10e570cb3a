// health: the platform status as people read it.

import type { components } from "@conveyor/client";

/** PlatformStatus is GET /platform/status. */
export type PlatformStatus = components["schemas"]["PlatformStatus"];

/** formatSeconds renders a duration: "0 s", "0.4 s", "12 s", "3 min 5 s", "2 h 4 min", "3 d 2 h"; null is "—". */
export function formatSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s) || s < 0) return "—";
  if (s === 0) return "0 s";
  if (s < 10) return `${Number(s.toFixed(1))} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const total = Math.round(s);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (d) return h ? `${d} d ${h} h` : `${d} d`;
  if (h) return m ? `${h} h ${m} min` : `${h} h`;
  return sec ? `${m} min ${sec} s` : `${m} min`;
}

/** formatLatency renders a check's latency in milliseconds; null (no answer) is "—". */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return ms < 10 ? `${Number(ms.toFixed(1))} ms` : `${Math.round(ms)} ms`;
}

/** whatIsWrong lists, in words, the facts in a status that an operator should look at first. */
export function whatIsWrong(st: PlatformStatus): string[] {
  const out: string[] = [];
  if (!st.database.primary.reachable) out.push("The database primary does not answer: writes fail.");
  for (const r of st.database.replicas) {
    if (!r.reachable) out.push(`Replica ${r.name} does not answer.`);
    else if (!r.taking_reads) out.push(`Replica ${r.name} takes no reads (lag ${formatSeconds(r.lag_seconds)}).`);
  }
  if (!st.redis.reachable) out.push("Redis does not answer: jobs are not dispatched, queues and workers cannot be read.");
  if (!st.s3.reachable) out.push("S3 does not answer: uploads and downloads fail.");
  if (st.redis.reachable && !st.workers.length) out.push("No worker has been seen recently: jobs wait.");
  return out;
}
