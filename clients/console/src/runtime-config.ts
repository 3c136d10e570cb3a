// runtime-config: the OIDC settings `conveyor serve` answers at
// /console/config.json ({"authority", "client_id", "scope"}), read once at
// start-up.
//
// It is loaded as a JSON module (a dynamic import with `type: "json"`), so
// the console makes no hand-written HTTP call at all: every API call goes
// through clients/ts. The server must answer it as application/json.

/** RuntimeConfig is what the console needs to sign in. */
export interface RuntimeConfig {
  /** The OIDC issuer URL. */
  authority: string;
  /** The console's (public) client id at that issuer. */
  client_id: string;
  /** Space-separated scopes to ask for (includes offline_access for silent renewal). */
  scope: string;
}

/** CONFIG_URL is where the server publishes the runtime config. */
export const CONFIG_URL = "/console/config.json";

/** parseConfig checks the shape of a loaded config and fails with a readable message. */
export function parseConfig(v: unknown): RuntimeConfig {
  const o = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  for (const k of ["authority", "client_id", "scope"] as const) {
    if (typeof o[k] !== "string" || o[k] === "") {
      throw new Error(`${CONFIG_URL}: "${k}" is missing or empty`);
    }
  }
  return { authority: o["authority"] as string, client_id: o["client_id"] as string, scope: o["scope"] as string };
}

/** loadConfig imports /console/config.json as a JSON module. */
export async function loadConfig(): Promise<RuntimeConfig> {
  const url = new URL(CONFIG_URL, window.location.origin).href;
  const mod = (await import(/* @vite-ignore */ url, { with: { type: "json" } })) as { default: unknown };
  return parseConfig(mod.default);
}
