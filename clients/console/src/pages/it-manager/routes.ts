// The IT manager's routes (/it-manager/...), children of the app shell.
// Owned by the it-manager pages; src/router.ts only includes them.
import type { RouteRecordRaw } from "vue-router";

export const itManagerRoutes: RouteRecordRaw[] = [
  {
    path: "/it-manager/:pathMatch(.*)*",
    name: "it-manager",
    component: () => import("./IndexPage.vue"),
    meta: { title: "IT manager" },
  },
];
