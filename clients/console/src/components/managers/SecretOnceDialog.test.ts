import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { nextTick } from "vue";

// A plain fake, not vi.fn: the spy's own bookkeeping would report the refused copy as unhandled.
const clip = vi.hoisted(() => ({ calls: [] as string[], refuse: false }));
vi.mock("quasar", async (importOriginal) => ({
  ...(await importOriginal<typeof import("quasar")>()),
  copyToClipboard: (text: string) => {
    clip.calls.push(text);
    return clip.refuse ? Promise.reject(new Error("denied")) : Promise.resolve();
  },
}));

const { Quasar } = await import("quasar");
const { default: SecretOnceDialog } = await import("./SecretOnceDialog.vue");

const SECRET = "cvk_" + "a".repeat(43);
let w: VueWrapper | undefined;
beforeEach(() => {
  clip.calls = [];
  clip.refuse = false;
});
afterEach(() => {
  w?.unmount();
  w = undefined;
  document.body.innerHTML = "";
});

async function open() {
  w = mount(SecretOnceDialog, { props: { name: "nightly-sync", secret: null }, global: { plugins: [Quasar] }, attachTo: document.body });
  await w.setProps({ secret: SECRET });
  await nextTick();
  await nextTick();
}
const q = (testid: string) => document.body.querySelector<HTMLElement>(`[data-testid="${testid}"]`);

describe("SecretOnceDialog", () => {
  it("shows the secret once, saying it will not be shown again", async () => {
    await open();
    expect(q("secret-dialog")!.textContent).toContain("API key “nightly-sync” created");
    expect(q("secret-dialog")!.textContent).toContain("you will not see it again");
    expect((q("api-key-secret") as HTMLInputElement).value).toBe(SECRET);
    expect((q("api-key-secret") as HTMLInputElement).readOnly).toBe(true);
  });

  it("copies the secret to the clipboard", async () => {
    await open();
    q("copy-secret")!.click();
    await flushPromises();
    expect(clip.calls).toEqual([SECRET]);
    expect(q("copy-secret")!.textContent).toContain("Copied");
    expect(q("secret-dialog")!.textContent).toContain("Copied to the clipboard.");
  });

  it("says so when the browser refuses to copy", async () => {
    clip.refuse = true;
    await open();
    q("copy-secret")!.click();
    await flushPromises();
    expect(q("secret-dialog")!.querySelector('[role="alert"]')!.textContent).toContain("copy it yourself");
    expect(q("copy-secret")!.textContent).toContain("Copy");
  });

  it("closes only when asked", async () => {
    await open();
    q("close-secret")!.click();
    await nextTick();
    expect(w!.emitted("close")).toHaveLength(1);
  });

  it("is closed without a secret", async () => {
    w = mount(SecretOnceDialog, { props: { name: "x", secret: null }, global: { plugins: [Quasar] }, attachTo: document.body });
    await nextTick();
    expect(q("secret-dialog")).toBeNull();
  });
});
