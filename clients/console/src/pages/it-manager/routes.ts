// The IT manager's routes (/it-manager/...), children of the app shell.
// Owned by the it-manager pages; src/router.ts only includes them.
import type { RouteRecordRaw } from "vue-router";

export const itManagerRoutes: RouteRecordRaw[] = [
  {
    path: "/it-manager",
    component: () => import("./ItManagerLayout.vue"),
    meta: { title: "IT manager" },
    children: [
      { path: "", name: "it-manager", redirect: { name: "it-teams" } },
      { path: "teams", name: "it-teams", component: () => import("./TeamsPage.vue"), meta: { title: "Teams · IT manager" } },
      { path: "users", name: "it-users", component: () => import("./UsersPage.vue"), meta: { title: "Users · IT manager" } },
      { path: "health", name: "it-health", component: () => import("./HealthPage.vue"), meta: { title: "Platform health · IT manager" } },
      { path: "audit", name: "it-audit", component: () => import("./AuditPage.vue"), meta: { title: "Audit log · IT manager" } },
      { path: ":pathMatch(.*)*", name: "it-not-found", redirect: { name: "it-teams" } },
    ],
  },
];
