// team: the team the console is looking at. Workspace routes carry it as
// :teamId; elsewhere it is the last one chosen in this tab.

import { computed } from "vue";
import { useRoute } from "vue-router";
import { useMe, useTeams } from "@/api";

const LAST_TEAM_KEY = "conveyor.team";

/** rememberTeam keeps teamId as this tab's current team. */
export function rememberTeam(teamId: string): void {
  window.sessionStorage.setItem(LAST_TEAM_KEY, teamId);
}

/** lastTeam is the team chosen last in this tab, if any. */
export function lastTeam(): string | undefined {
  return window.sessionStorage.getItem(LAST_TEAM_KEY) ?? undefined;
}

/** useCurrentTeam returns the current team's id (route first, then the last chosen) and its name. */
export function useCurrentTeam() {
  const route = useRoute();
  const teams = useTeams();
  const me = useMe();
  const teamId = computed<string | undefined>(() => {
    const p = route.params["teamId"];
    if (typeof p === "string" && p) return p;
    return lastTeam();
  });
  const teamName = computed(() => {
    const id = teamId.value;
    return (
      teams.data.value?.find((t) => t.id === id)?.name ?? me.data.value?.memberships.find((m) => m.team_id === id)?.team_name ?? ""
    );
  });
  return { teamId, teamName };
}
