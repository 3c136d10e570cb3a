// The team manager's routes (/team-manager/...), children of the app shell.
// Owned by the team-manager pages; src/router.ts only includes them. The
// pages work on the current team (the header's team switcher).
import type { RouteRecordRaw } from "vue-router";

export const teamManagerRoutes: RouteRecordRaw[] = [
  {
    path: "/team-manager",
    component: () => import("./TeamManagerLayout.vue"),
    meta: { title: "Team manager" },
    children: [
      { path: "", name: "team-manager", redirect: { name: "tm-members" } },
      { path: "members", name: "tm-members", component: () => import("./MembersPage.vue"), meta: { title: "Members · Team manager" } },
      { path: "api-keys", name: "tm-api-keys", component: () => import("./ApiKeysPage.vue"), meta: { title: "API keys · Team manager" } },
      { path: "audit", name: "tm-audit", component: () => import("./AuditPage.vue"), meta: { title: "Audit log · Team manager" } },
      { path: ":pathMatch(.*)*", name: "tm-not-found", redirect: { name: "tm-members" } },
    ],
  },
];
