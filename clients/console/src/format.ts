// format: dates and job states as people read them.
import type { JobStatus } from "@conveyor/client";

/** formatTime renders an RFC 3339 time in the user's locale, to the second. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** statusColor is the Quasar color of a job state (AA contrast on white). */
export function statusColor(s: JobStatus): string {
  return { queued: "grey-8", running: "primary", succeeded: "positive", failed: "negative", cancelled: "brown-7" }[s];
}
