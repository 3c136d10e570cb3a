import { afterEach, describe, expect, it, vi } from "vitest";
import { flushPromises, mount } from "@vue/test-utils";
import { Quasar } from "quasar";
import { QueryClient, VueQueryPlugin } from "@tanstack/vue-query";
import type { Me } from "@conveyor/client";

// api.ts builds the app's client, which reads the token from auth.
vi.mock("@/auth", () => ({ accessToken: async () => "t" }));
const { keys } = await import("@/api");
const { default: NotificationToggle } = await import("./NotificationToggle.vue");

const me = (on?: boolean): Me => ({
  user: { id: "u", issuer: "i", subject: "s", email: "ada@example.com", name: "Ada" },
  auth_method: on === undefined ? "api_key" : "oidc",
  platform_role: "user",
  memberships: [],
  ...(on === undefined ? {} : { notifications: { job_failed_email: on } }),
});

const mountWith = (m: Me, qc = new QueryClient()) =>
  mount(NotificationToggle, { props: { me: m }, global: { plugins: [Quasar, [VueQueryPlugin, { queryClient: qc }]] } });

afterEach(() => vi.unstubAllGlobals());

describe("NotificationToggle", () => {
  it("turns job-failure emails off with PATCH /me and caches the answer", async () => {
    const sent: { method: string; url: string; body: unknown }[] = [];
    vi.stubGlobal("fetch", async (req: Request) => {
      sent.push({ method: req.method, url: req.url, body: await req.json() });
      return new Response(JSON.stringify(me(false)), { status: 200, headers: { "Content-Type": "application/json" } });
    });
    const qc = new QueryClient();
    const w = mountWith(me(true), qc);
    expect(w.find('[data-testid="job-failed-email"]').text()).toContain("Email me when my jobs fail");
    expect(w.find('[role="switch"]').attributes("aria-checked")).toBe("true");
    await w.find('[role="switch"]').trigger("click");
    await flushPromises();
    expect(sent).toHaveLength(1);
    expect(sent[0]?.method).toBe("PATCH");
    expect(sent[0]?.url).toMatch(/\/api\/v1\/me$/);
    expect(sent[0]?.body).toEqual({ notifications: { job_failed_email: false } });
    expect(qc.getQueryData<Me>(keys.me)?.notifications?.job_failed_email).toBe(false);
  });

  it("shows nothing for an API key, which has no settings", () => {
    expect(mountWith(me()).find('[data-testid="job-failed-email"]').exists()).toBe(false);
  });
});
