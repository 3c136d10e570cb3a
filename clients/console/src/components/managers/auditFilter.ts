// auditFilter: the audit log's filter bar as query parameters of the API's
// audit lists (listAuditEvents, listPlatformAuditEvents share them).

import type { operations } from "@conveyor/client";

type ListQuery = NonNullable<operations["listAuditEvents"]["parameters"]["query"]>;

/** AuditQuery is the filter part of an audit list's query. */
export type AuditQuery = Pick<ListQuery, "action" | "actor" | "since" | "until">;

/** AuditFilterForm is what the filter bar holds: dates are the inputs' yyyy-mm-dd, in local time; "" is no filter. */
export interface AuditFilterForm {
  action: string;
  actor: string;
  from: string;
  to: string;
}

/** emptyAuditFilter filters nothing. */
export const emptyAuditFilter = (): AuditFilterForm => ({ action: "", actor: "", from: "", to: "" });

/** AUDIT_ACTIONS are the actions Conveyor records, for the action picker. */
export const AUDIT_ACTIONS = [
  "team.created",
  "team.renamed",
  "team.deleted",
  "member.added",
  "member.role_changed",
  "member.removed",
  "api_key.created",
  "api_key.revoked",
] as const;

const ACTION = /^[a-z_]+\.[a-z_]+$/;
const ACTOR = /^[0-9a-f-]+$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** localMidnight is the start of a yyyy-mm-dd day in local time, or undefined for anything else. */
function localMidnight(day: string, plusDays = 0): Date | undefined {
  const m = DATE.exec(day);
  if (!m) return undefined;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + plusDays);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** AuditFilterErrors names what is wrong with a form, by field. */
export type AuditFilterErrors = Partial<Record<keyof AuditFilterForm, string>>;

/** auditFilterErrors checks a form as the API will: an action code, an actor id, and "from" not after "to". */
export function auditFilterErrors(f: AuditFilterForm): AuditFilterErrors {
  const errors: AuditFilterErrors = {};
  const action = f.action.trim();
  const actor = f.actor.trim().toLowerCase();
  if (action && !ACTION.test(action)) errors.action = "An action code such as member.added.";
  if (actor && (!ACTOR.test(actor) || actor.length > 64)) errors.actor = "A user's or an API key's id.";
  if (f.from && !localMidnight(f.from)) errors.from = "A date.";
  if (f.to && !localMidnight(f.to)) errors.to = "A date.";
  const since = localMidnight(f.from);
  const until = localMidnight(f.to, 1);
  if (since && until && since >= until) errors.to = "Not before the start date.";
  return errors;
}

/**
 * auditQuery turns a valid form into the list's filter parameters: only
 * the filters set; "from" is the start of that day, "to" takes in the
 * whole day (until is exclusive, so it is the start of the next one).
 */
export function auditQuery(f: AuditFilterForm): AuditQuery {
  const q: AuditQuery = {};
  const action = f.action.trim();
  const actor = f.actor.trim().toLowerCase();
  if (action) q.action = action;
  if (actor) q.actor = actor;
  const since = localMidnight(f.from);
  const until = localMidnight(f.to, 1);
  if (since) q.since = since.toISOString();
  if (until) q.until = until.toISOString();
  return q;
}

/** auditQueryKey is a stable string of a query, for cache keys. */
export function auditQueryKey(q: AuditQuery): string {
  return [q.action ?? "", q.actor ?? "", q.since ?? "", q.until ?? ""].join("|");
}
