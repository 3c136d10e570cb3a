// router: one page per route, history mode at base "/". Every route but the
// sign-in ones needs a signed-in user; the manager faces' routes come from
// their own folders (src/pages/team-manager/routes.ts, src/pages/it-manager/routes.ts).

import { createRouter, createWebHistory, type RouteRecordRaw, type Router } from "vue-router";
import AppShell from "./layouts/AppShell.vue";
import { isSignedIn, signIn, signedOutOnPurpose } from "./auth";
import { itManagerRoutes } from "./pages/it-manager/routes";
import { teamManagerRoutes } from "./pages/team-manager/routes";

declare module "vue-router" {
  interface RouteMeta {
    /** Reachable without signing in. */
    public?: boolean;
    /** The page's title, for document.title. */
    title?: string;
  }
}

export const routes: RouteRecordRaw[] = [
  { path: "/auth/callback", name: "auth-callback", component: () => import("./pages/AuthCallbackPage.vue"), meta: { public: true, title: "Signing in" } },
  { path: "/signed-out", name: "signed-out", component: () => import("./pages/SignedOutPage.vue"), meta: { public: true, title: "Signed out" } },
  {
    path: "/",
    component: AppShell,
    children: [
      { path: "", name: "workspace", component: () => import("./pages/WorkspacePage.vue"), meta: { title: "Workspace" } },
      { path: "teams/:teamId/files", name: "files", component: () => import("./pages/FilesPage.vue"), meta: { title: "Files" } },
      { path: "teams/:teamId/files/:fileId", name: "file", component: () => import("./pages/FilePage.vue"), meta: { title: "File" } },
      { path: "teams/:teamId/jobs", name: "jobs", component: () => import("./pages/JobsPage.vue"), meta: { title: "Jobs" } },
      { path: "teams/:teamId/jobs/:jobId", name: "job", component: () => import("./pages/JobPage.vue"), meta: { title: "Job" } },
      ...teamManagerRoutes,
      ...itManagerRoutes,
      { path: ":pathMatch(.*)*", name: "not-found", component: () => import("./pages/NotFoundPage.vue"), meta: { title: "Not found" } },
    ],
  },
];

/** makeRouter creates the router with the sign-in guard. */
export function makeRouter(): Router {
  const router = createRouter({ history: createWebHistory("/"), routes });
  router.beforeEach(async (to) => {
    if (to.meta.public || isSignedIn()) return true;
    if (signedOutOnPurpose()) return { name: "signed-out", query: { returnTo: to.fullPath } };
    await signIn(to.fullPath);
    return false;
  });
  router.afterEach((to) => {
    document.title = to.meta.title ? `${to.meta.title} · Conveyor` : "Conveyor";
  });
  return router;
}
