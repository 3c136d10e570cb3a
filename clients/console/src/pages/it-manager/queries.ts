// The IT manager's queries and changes: every team with its usage, users
// and the platform's health, through the console's one client.

import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/vue-query";
import { computed, toValue, type MaybeRefOrGetter } from "vue";
import type { components, Team, UserAccount } from "@conveyor/client";
import { conveyor, keys, PAGE_SIZE } from "@/api";
import { auditQueryKey, type AuditQuery } from "@/components/managers/auditFilter";

/** itKeys are the IT manager's vue-query keys. */
export const itKeys = {
  teams: ["it", "teams"] as const,
  teamsPage: (cursor: string | undefined) => ["it", "teams", cursor ?? ""] as const,
  users: ["it", "users"] as const,
  usersPage: (cursor: string | undefined) => ["it", "users", cursor ?? ""] as const,
  platform: ["it", "platform"] as const,
  audit: ["it", "audit"] as const,
  auditPage: (teamId: string | undefined, filter: AuditQuery, cursor: string | undefined) =>
    ["it", "audit", teamId ?? "", auditQueryKey(filter), cursor ?? ""] as const,
};

/** useUsersPage is one page of everyone who has signed in, newest first, with their teams and last-seen time. */
export function useUsersPage(cursor: MaybeRefOrGetter<string | undefined>) {
  return useQuery({
    queryKey: computed(() => itKeys.usersPage(toValue(cursor))),
    queryFn: async ({ signal }) => {
      const c = toValue(cursor);
      const query = { limit: PAGE_SIZE, ...(c ? { cursor: c } : {}) };
      return (await conveyor.api.GET("/users", { params: { query }, signal })).data!;
    },
    placeholderData: keepPreviousData,
  });
}

/** usePlatformStatus is GET /platform/status, read again every 15 s while the page is open. */
export function usePlatformStatus() {
  return useQuery({
    queryKey: itKeys.platform,
    queryFn: async ({ signal }) => (await conveyor.api.GET("/platform/status", { signal })).data!,
    refetchInterval: 15_000,
  });
}

/** usePlatformAuditPage is one page of every team's audit events (or one team's, a deleted one's too), newest first, narrowed by filter. */
export function usePlatformAuditPage(
  teamId: MaybeRefOrGetter<string | undefined>,
  filter: MaybeRefOrGetter<AuditQuery>,
  cursor: MaybeRefOrGetter<string | undefined>,
) {
  return useQuery({
    queryKey: computed(() => itKeys.auditPage(toValue(teamId), toValue(filter), toValue(cursor))),
    queryFn: async ({ signal }) => {
      const c = toValue(cursor);
      const t = toValue(teamId);
      const query = { limit: PAGE_SIZE, ...toValue(filter), ...(c ? { cursor: c } : {}), ...(t ? { team_id: t } : {}) };
      return (await conveyor.api.GET("/audit-events", { params: { query }, signal })).data!;
    },
    placeholderData: keepPreviousData,
  });
}

/** useAllTeamsPage is one page of every team (a platform admin sees them all), with usage. */
export function useAllTeamsPage(cursor: MaybeRefOrGetter<string | undefined>) {
  return useQuery({
    queryKey: computed(() => itKeys.teamsPage(toValue(cursor))),
    queryFn: async ({ signal }) => {
      const c = toValue(cursor);
      const query = { limit: PAGE_SIZE, ...(c ? { cursor: c } : {}) };
      return (await conveyor.api.GET("/teams", { params: { query }, signal })).data!;
    },
    placeholderData: keepPreviousData,
  });
}

/** TeamVersion is a team as just read, with the ETag a change must send back. */
export interface TeamVersion {
  team: Team;
  etag: string;
}

/** readTeam reads a team with its ETag (GET /teams/{team_id}), for a change that must say which version it saw. */
export async function readTeam(teamId: string, signal?: AbortSignal): Promise<TeamVersion> {
  const { data, response } = await conveyor.api.GET("/teams/{team_id}", { params: { path: { team_id: teamId } }, ...(signal ? { signal } : {}) });
  const etag = response.headers.get("ETag");
  if (!etag) throw new Error("The team was read without an ETag: it cannot be changed safely.");
  return { team: data!, etag };
}

/** useTeamChanges creates, renames, sets the quota of and deletes teams, refreshing this list, the header's team switcher and /me. */
export function useTeamChanges() {
  const qc = useQueryClient();
  const refresh = async () => {
    await Promise.all([
      qc.invalidateQueries({ queryKey: itKeys.teams }),
      qc.invalidateQueries({ queryKey: itKeys.audit }),
      qc.invalidateQueries({ queryKey: keys.teams }),
      qc.invalidateQueries({ queryKey: keys.me }),
    ]);
  };
  const create = useMutation({
    mutationFn: async (name: string) => (await conveyor.api.POST("/teams", { body: { name } })).data!,
    onSuccess: refresh,
  });
  const rename = useMutation({
    mutationFn: async ({ teamId, name, etag }: { teamId: string; name: string; etag: string }) =>
      (await conveyor.api.PATCH("/teams/{team_id}", { params: { path: { team_id: teamId }, header: { "If-Match": etag } }, body: { name } })).data!,
    onSuccess: refresh,
  });
  const setQuota = useMutation({
    mutationFn: async ({ teamId, quota, etag }: { teamId: string; quota: components["schemas"]["TeamQuotaUpdate"]; etag: string }) =>
      (await conveyor.api.PATCH("/teams/{team_id}", { params: { path: { team_id: teamId }, header: { "If-Match": etag } }, body: { quota } })).data!,
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: async ({ teamId, etag }: { teamId: string; etag: string }) => {
      await conveyor.api.DELETE("/teams/{team_id}", { params: { path: { team_id: teamId }, header: { "If-Match": etag } } });
    },
    onSettled: refresh,
  });
  return { create, rename, setQuota, remove };
}

/** UserVersion is a user as just read, with the ETag a change must send back. */
export interface UserVersion {
  user: UserAccount;
  etag: string;
}

/** readUser reads a user with its ETag (GET /users/{user_id}), for a change that must say which version it saw. */
export async function readUser(userId: string, signal?: AbortSignal): Promise<UserVersion> {
  const { data, response } = await conveyor.api.GET("/users/{user_id}", { params: { path: { user_id: userId } }, ...(signal ? { signal } : {}) });
  const etag = response.headers.get("ETag");
  if (!etag) throw new Error("The user was read without an ETag: they cannot be changed safely.");
  return { user: data!, etag };
}

/** useUserChanges disables and enables users (PATCH /users/{user_id} with If-Match), refreshing the users and the audit log. */
export function useUserChanges() {
  const qc = useQueryClient();
  const setDisabled = useMutation({
    mutationFn: async ({ userId, disabled, etag }: { userId: string; disabled: boolean; etag: string }) =>
      (await conveyor.api.PATCH("/users/{user_id}", { params: { path: { user_id: userId }, header: { "If-Match": etag } }, body: { disabled } })).data!,
    onSettled: async () => {
      await Promise.all([qc.invalidateQueries({ queryKey: itKeys.users }), qc.invalidateQueries({ queryKey: itKeys.audit })]);
    },
  });
  return { setDisabled };
}
