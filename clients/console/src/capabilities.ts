// capabilities: what the signed-in user may do, derived from GET /me. The API
// decides every request; the console only hides what would be refused.

import type { Me } from "@conveyor/client";

/** TeamRole is a membership's role, or "admin" for a platform admin acting in any team. */
export type TeamRole = "admin" | "manager" | "member" | "viewer";

/** Capabilities says which actions to show in one team. */
export interface Capabilities {
  /** The user's role in the team; null when they have none (the API will answer 404). */
  role: TeamRole | null;
  /** Upload, delete files, start, cancel and retry jobs. */
  canWrite: boolean;
  /** Members, API keys, webhooks, audit: the team manager's face. */
  canManage: boolean;
  /** Platform admin: the IT manager's face. */
  isAdmin: boolean;
}

/** isPlatformAdmin reports whether me is a platform admin (IT manager). */
export function isPlatformAdmin(me: Me | undefined): boolean {
  return me?.platform_role === "admin";
}

/** roleIn returns the user's role in teamId: "admin" for platform admins, else the membership's role, else null. */
export function roleIn(me: Me | undefined, teamId: string | undefined): TeamRole | null {
  if (!me) return null;
  if (isPlatformAdmin(me)) return "admin";
  const m = me.memberships.find((x) => x.team_id === teamId);
  return m ? m.role : null;
}

/** capabilitiesIn returns what me may do in teamId. */
export function capabilitiesIn(me: Me | undefined, teamId: string | undefined): Capabilities {
  const role = roleIn(me, teamId);
  return {
    role,
    canWrite: role === "admin" || role === "manager" || role === "member",
    canManage: role === "admin" || role === "manager",
    isAdmin: isPlatformAdmin(me),
  };
}

/** managesAnyTeam reports whether the team manager's face has anything for me. */
export function managesAnyTeam(me: Me | undefined): boolean {
  return isPlatformAdmin(me) || (me?.memberships.some((m) => m.role === "manager") ?? false);
}
