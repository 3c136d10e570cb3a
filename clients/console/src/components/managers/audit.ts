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

/**
 * teamLabels names the teams events belong to: by the teams the caller can
 * list (known), else — for a team gone from the list — by the name its own
 * events recorded (the newest one), marked "(deleted)" when its deletion
 * is among them, else by a short form of its id.
 */
export function teamLabels(events: readonly AuditEvent[], known: Readonly<Record<string, string>>): Record<string, string> {
  const labels: Record<string, string> = {};
  const recorded: Record<string, string> = {};
  const deleted = new Set<string>();
  for (const e of events) {
    if (e.target_type === "team" && e.target_id === e.team_id) {
      const name = e.details["name"];
      if (typeof name === "string" && name && !(e.team_id in recorded)) recorded[e.team_id] = name;
      if (e.action === "team.deleted") deleted.add(e.team_id);
    }
  }
  for (const e of events) {
    const id = e.team_id;
    if (id in labels) continue;
    const name = known[id] ?? recorded[id];
    labels[id] = name ? (deleted.has(id) && !(id in known) ? `${name} (deleted)` : name) : `team ${id.slice(0, 8)}…`;
  }
  return labels;
}
