// The IT manager's queries and changes: every team with its usage, users
// and the platform's health, through the console's one client.

import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/vue-query";
import { computed, toValue, type MaybeRefOrGetter } from "vue";
import { conveyor, keys, PAGE_SIZE } from "@/api";

/** itKeys are the IT manager's vue-query keys. */
export const itKeys = {
  teams: ["it", "teams"] as const,
  teamsPage: (cursor: string | undefined) => ["it", "teams", cursor ?? ""] as const,
};

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

/** useTeamChanges creates teams, refreshing this list and the header's team switcher. */
export function useTeamChanges() {
  const qc = useQueryClient();
  const refresh = async () => {
    await Promise.all([qc.invalidateQueries({ queryKey: itKeys.teams }), qc.invalidateQueries({ queryKey: keys.teams }), qc.invalidateQueries({ queryKey: keys.me })]);
  };
  const create = useMutation({
    mutationFn: async (name: string) => (await conveyor.api.POST("/teams", { body: { name } })).data!,
    onSuccess: refresh,
  });
  return { create };
}
