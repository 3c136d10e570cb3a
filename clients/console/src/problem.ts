// problem: turns anything a call rejected with into what ProblemAlert shows.

import { ConveyorProblem, type FieldError } from "@conveyor/client";

/** ShownProblem is an error as the console shows it. */
export interface ShownProblem {
  title: string;
  status?: number;
  detail?: string;
  type?: string;
  requestId?: string;
  fields: FieldError[];
}

/** describeError returns what to show for err: the problem document of a ConveyorProblem, or a network error's message. */
export function describeError(err: unknown): ShownProblem {
  if (err instanceof ConveyorProblem) {
    const shown: ShownProblem = { title: err.title, status: err.status, type: err.type, fields: err.errors ?? [] };
    if (err.detail) shown.detail = err.detail;
    if (err.request_id) shown.requestId = err.request_id;
    return shown;
  }
  if (err instanceof DOMException && err.name === "AbortError") {
    return { title: "Cancelled", detail: "The request was cancelled.", fields: [] };
  }
  if (err instanceof Error) {
    return { title: "The request did not complete", detail: `${err.message} (a network failure, or the browser refused to send it)`, fields: [] };
  }
  return { title: "Something went wrong", detail: String(err), fields: [] };
}

/** fieldLabel turns a JSON pointer (/params/max_width) into a readable field name (params › max_width). */
export function fieldLabel(pointer: string): string {
  const parts = pointer
    .replace(/^#?\//, "")
    .split("/")
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  return parts.length ? parts.join(" › ") : pointer || "(request)";
}
