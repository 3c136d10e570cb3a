// The team manager's routes (/team-manager/...), children of the app shell.
// Owned by the team-manager pages; src/router.ts only includes them.
import type { RouteRecordRaw } from "vue-router";

export const teamManagerRoutes: RouteRecordRaw[] = [
  {
    path: "/team-manager/:pathMatch(.*)*",
    name: "team-manager",
    component: () => import("./IndexPage.vue"),
    meta: { title: "Team manager" },
  },
];
