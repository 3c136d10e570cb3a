// members: what the members table shows about the rule that a team keeps at
// least one manager. The API enforces the rule (409 on a change that would
// break it); the console only shows it before anyone tries.

import type { components } from "@conveyor/client";

/** Member is a team member or pending invitation, as the API lists it. */
export type Member = components["schemas"]["Member"];
/** TeamRole is a membership's role. */
export type TeamRole = components["schemas"]["TeamRole"];

/** ROLES are the membership roles, most powerful first, with what each may do. */
export const ROLES: readonly { value: TeamRole; label: string; caption: string }[] = [
  { value: "manager", label: "Manager", caption: "Members, API keys, audit log; everything a member may" },
  { value: "member", label: "Member", caption: "Upload, run and cancel jobs, read" },
  { value: "viewer", label: "Viewer", caption: "Read only" },
];

/** LAST_MANAGER_NOTE explains why the last manager's role and removal are locked. */
export const LAST_MANAGER_NOTE = "A team needs at least one manager: make someone else manager first.";

/**
 * managerCount counts the team's managers as the API does: every membership
 * with the manager role, pending invitations included.
 */
export function managerCount(members: readonly Member[]): number {
  return members.filter((m) => m.role === "manager").length;
}

/** isLastManager reports whether m is the only manager among members (changing or removing them would be refused). */
export function isLastManager(m: Member, members: readonly Member[]): boolean {
  return m.role === "manager" && managerCount(members) === 1;
}
