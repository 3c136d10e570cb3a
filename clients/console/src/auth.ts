// auth: browser sign-in with oidc-client-ts — Authorization Code + PKCE (S256)
// against the issuer in the runtime config, tokens in sessionStorage (never
// localStorage), silent renewal with the refresh token (scope offline_access),
// sign-out through the issuer's end-session endpoint.

import { UserManager, WebStorageStateStore, type User } from "oidc-client-ts";
import { shallowRef } from "vue";
import type { RuntimeConfig } from "./runtime-config";

/** SIGNED_OUT_KEY marks, in sessionStorage, that the user signed out on purpose (the console then waits for a click to sign in again). */
const SIGNED_OUT_KEY = "conveyor.signed-out";

let manager: UserManager | undefined;

/** currentUser is the signed-in user, or null; reactive. */
export const currentUser = shallowRef<User | null>(null);

/** settingsFor returns the UserManager settings for a runtime config at an origin. */
export function settingsFor(config: RuntimeConfig, origin: string) {
  return {
    authority: config.authority,
    client_id: config.client_id,
    scope: config.scope,
    redirect_uri: `${origin}/auth/callback`,
    post_logout_redirect_uri: `${origin}/`,
    response_type: "code",
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
    stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
    automaticSilentRenew: true,
    loadUserInfo: false,
  };
}

/** initAuth creates the UserManager; call it once before the router starts. */
export async function initAuth(config: RuntimeConfig): Promise<void> {
  manager = new UserManager(settingsFor(config, window.location.origin));
  manager.events.addUserLoaded((u) => {
    currentUser.value = u;
  });
  manager.events.addUserUnloaded(() => {
    currentUser.value = null;
  });
  manager.events.addSilentRenewError(() => {
    // The refresh token no longer works (revoked, expired): sign in again.
    currentUser.value = null;
  });
  const user = await manager.getUser();
  currentUser.value = user && !user.expired ? user : null;
  if (user?.expired && user.refresh_token) {
    try {
      currentUser.value = await manager.signinSilent();
    } catch {
      await manager.removeUser();
    }
  }
}

function mgr(): UserManager {
  if (!manager) throw new Error("auth: initAuth was not called");
  return manager;
}

/** accessToken returns a valid access token, renewing it first when it has expired; "" when signed out. */
export async function accessToken(): Promise<string> {
  const m = mgr();
  let user = await m.getUser();
  if (user?.expired) {
    try {
      user = await m.signinSilent();
    } catch {
      user = null;
    }
  }
  return user?.access_token ?? "";
}

/** isSignedIn reports whether a user with a live session is held. */
export function isSignedIn(): boolean {
  return currentUser.value !== null;
}

/** signedOutOnPurpose reports whether the user signed out in this tab. */
export function signedOutOnPurpose(): boolean {
  return window.sessionStorage.getItem(SIGNED_OUT_KEY) === "1";
}

/** signIn goes to the issuer's sign-in page; returnTo is where the console comes back to. */
export async function signIn(returnTo: string): Promise<void> {
  window.sessionStorage.removeItem(SIGNED_OUT_KEY);
  await mgr().signinRedirect({ state: { returnTo } });
}

/** completeSignIn finishes the code flow at /auth/callback and returns where to go next. */
export async function completeSignIn(): Promise<string> {
  const user = await mgr().signinCallback();
  if (user) currentUser.value = user;
  const state = (user?.state ?? {}) as { returnTo?: unknown };
  const to = typeof state.returnTo === "string" && state.returnTo.startsWith("/") && !state.returnTo.startsWith("//") ? state.returnTo : "/";
  return to;
}

/** signOut ends the session at the issuer (end-session) and comes back to /. */
export async function signOut(): Promise<void> {
  const m = mgr();
  const user = await m.getUser();
  window.sessionStorage.setItem(SIGNED_OUT_KEY, "1");
  await m.removeUser();
  currentUser.value = null;
  await m.signoutRedirect(user?.id_token ? { id_token_hint: user.id_token } : {});
}
