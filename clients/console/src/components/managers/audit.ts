// audit: audit events as people read them. Generic on purpose: a new action
// or detail shows up readably without a change here.

import type { components } from "@conveyor/client";

/** AuditEvent is one entry of a team's audit log. */
export type AuditEvent = components["schemas"]["AuditEvent"];

const ACRONYMS: Record<string, string> = { api: "API", id: "id", url: "URL" };
const words = (s: string) =>
  s
    .split("_")
    .filter(Boolean)
    .map((w) => ACRONYMS[w] ?? w)
    .join(" ");

/** actionLabel turns an action code into a sentence-case label: "member.role_changed" → "Member role changed". */
export function actionLabel(action: string): string {
  const text = action
    .split(".")
    .map(words)
    .filter(Boolean)
    .join(" ");
  return text ? text[0]!.toUpperCase() + text.slice(1) : action;
}

/** actorLabel names who acted: a user, an API key or the system. */
export function actorLabel(actor: AuditEvent["actor"]): string {
  const kind = { user: "", api_key: "API key ", system: "" }[actor.type];
  if (actor.type === "system") return actor.name || "Conveyor";
  return `${kind}${actor.name || actor.id || "unknown"}`;
}

/** detailEntries lists an event's details as readable name/value pairs, in a stable order. */
export function detailEntries(details: Record<string, unknown>): { name: string; value: string }[] {
  return Object.keys(details)
    .sort()
    .map((k) => {
      const v = details[k];
      const value = v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v);
      return { name: words(k), value };
    });
}
