// The team manager's queries and changes: members, API keys and the audit
// log of one team, through the console's one client.

import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/vue-query";
import { computed, toValue, type MaybeRefOrGetter } from "vue";
import { conveyor, keys, PAGE_SIZE } from "@/api";
import { auditQueryKey, type AuditQuery } from "@/components/managers/auditFilter";
import type { Member, TeamRole } from "@/components/managers/members";

/** MAX_MEMBER_PAGES bounds how many pages of members are read (100 each). */
const MAX_MEMBER_PAGES = 50;

/** tmKeys are the team manager's vue-query keys. */
export const tmKeys = {
  members: (teamId: string) => ["tm", "members", teamId] as const,
  apiKeys: (teamId: string) => ["tm", "api-keys", teamId] as const,
  apiKeysPage: (teamId: string, cursor: string | undefined) => ["tm", "api-keys", teamId, cursor ?? ""] as const,
  audit: (teamId: string) => ["tm", "audit", teamId] as const,
  auditPage: (teamId: string, filter: AuditQuery, cursor: string | undefined) => ["tm", "audit", teamId, auditQueryKey(filter), cursor ?? ""] as const,
};

/**
 * useMembers reads every member and invitation of the team (all pages,
 * bounded): the last-manager rule needs the whole team, not one page.
 */
export function useMembers(teamId: MaybeRefOrGetter<string | undefined>) {
  return useQuery({
    queryKey: computed(() => tmKeys.members(toValue(teamId) ?? "")),
    enabled: computed(() => !!toValue(teamId)),
    queryFn: async ({ signal }): Promise<{ items: Member[]; complete: boolean }> => {
      const team_id = toValue(teamId)!;
      const items: Member[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < MAX_MEMBER_PAGES; i++) {
        const query = { limit: 100, ...(cursor ? { cursor } : {}) };
        const page = (await conveyor.api.GET("/teams/{team_id}/members", { params: { path: { team_id }, query }, signal })).data!;
        items.push(...page.items);
        if (!page.next_cursor) return { items, complete: true };
        cursor = page.next_cursor;
      }
      return { items, complete: false };
    },
  });
}

/** useMemberChanges adds members, changes roles and removes members, refreshing the list (and /me: the change may be one's own). */
export function useMemberChanges(teamId: MaybeRefOrGetter<string | undefined>) {
  const qc = useQueryClient();
  const team = () => toValue(teamId)!;
  const refresh = async () => {
    await Promise.all([
      qc.invalidateQueries({ queryKey: tmKeys.members(team()) }),
      qc.invalidateQueries({ queryKey: tmKeys.audit(team()) }),
      qc.invalidateQueries({ queryKey: keys.me }),
    ]);
  };
  const add = useMutation({
    mutationFn: async (body: { email: string; role: TeamRole }) =>
      (await conveyor.api.POST("/teams/{team_id}/members", { params: { path: { team_id: team() } }, body })).data!,
    onSuccess: refresh,
  });
  const changeRole = useMutation({
    mutationFn: async ({ userId, role }: { userId: string; role: TeamRole }) =>
      (await conveyor.api.PATCH("/teams/{team_id}/members/{user_id}", { params: { path: { team_id: team(), user_id: userId } }, body: { role } }))
        .data!,
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: async (userId: string) => {
      await conveyor.api.DELETE("/teams/{team_id}/members/{user_id}", { params: { path: { team_id: team(), user_id: userId } } });
    },
    onSettled: refresh,
  });
  return { add, changeRole, remove };
}

/** useApiKeysPage is one page of the team's API keys, newest first. */
export function useApiKeysPage(teamId: MaybeRefOrGetter<string | undefined>, cursor: MaybeRefOrGetter<string | undefined>) {
  return useQuery({
    queryKey: computed(() => tmKeys.apiKeysPage(toValue(teamId) ?? "", toValue(cursor))),
    enabled: computed(() => !!toValue(teamId)),
    queryFn: async ({ signal }) => {
      const c = toValue(cursor);
      const query = { limit: PAGE_SIZE, ...(c ? { cursor: c } : {}) };
      return (await conveyor.api.GET("/teams/{team_id}/api-keys", { params: { path: { team_id: toValue(teamId)! }, query }, signal })).data!;
    },
    placeholderData: keepPreviousData,
  });
}

/** useApiKeyChanges creates and revokes the team's API keys. */
export function useApiKeyChanges(teamId: MaybeRefOrGetter<string | undefined>) {
  const qc = useQueryClient();
  const team = () => toValue(teamId)!;
  const refresh = async () => {
    await Promise.all([qc.invalidateQueries({ queryKey: tmKeys.apiKeys(team()) }), qc.invalidateQueries({ queryKey: tmKeys.audit(team()) })]);
  };
  const create = useMutation({
    mutationFn: async (body: { name: string; role: "member" | "viewer" }) =>
      (await conveyor.api.POST("/teams/{team_id}/api-keys", { params: { path: { team_id: team() } }, body })).data!,
    onSuccess: refresh,
  });
  const revoke = useMutation({
    mutationFn: async (keyId: string) => {
      await conveyor.api.DELETE("/teams/{team_id}/api-keys/{key_id}", { params: { path: { team_id: team(), key_id: keyId } } });
    },
    onSettled: refresh,
  });
  return { create, revoke };
}

/** useAuditPage is one page of the team's audit log, newest first, narrowed by filter. */
export function useAuditPage(
  teamId: MaybeRefOrGetter<string | undefined>,
  filter: MaybeRefOrGetter<AuditQuery>,
  cursor: MaybeRefOrGetter<string | undefined>,
) {
  return useQuery({
    queryKey: computed(() => tmKeys.auditPage(toValue(teamId) ?? "", toValue(filter), toValue(cursor))),
    enabled: computed(() => !!toValue(teamId)),
    queryFn: async ({ signal }) => {
      const c = toValue(cursor);
      const query = { limit: PAGE_SIZE, ...toValue(filter), ...(c ? { cursor: c } : {}) };
      return (await conveyor.api.GET("/teams/{team_id}/audit-events", { params: { path: { team_id: toValue(teamId)! }, query }, signal }))
        .data!;
    },
    placeholderData: keepPreviousData,
  });
}
