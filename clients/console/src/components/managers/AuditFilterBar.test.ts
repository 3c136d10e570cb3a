import { afterEach, describe, expect, it } from "vitest";
import { mount, type VueWrapper } from "@vue/test-utils";
import { Quasar } from "quasar";
import { nextTick } from "vue";
import AuditFilterBar from "./AuditFilterBar.vue";

let w: VueWrapper | undefined;
afterEach(() => {
  w?.unmount();
  w = undefined;
  document.body.innerHTML = "";
});

function mountBar() {
  w = mount(AuditFilterBar, { global: { plugins: [Quasar] }, attachTo: document.body });
  return w;
}
async function type(testid: string, text: string) {
  const el = w!.get(`[data-testid="${testid}"]`).element;
  const input = (el.querySelector("input") ?? el) as HTMLInputElement;
  input.value = text;
  input.dispatchEvent(new Event("input"));
  await nextTick();
}
async function submit() {
  await w!.get("form").trigger("submit");
  await nextTick();
}

describe("AuditFilterBar", () => {
  it("labels every control", () => {
    mountBar();
    const labels = w!.findAll("label").map((l) => l.text());
    for (const l of ["Action", "Actor id", "From", "To (inclusive)"]) expect(labels.join("|")).toContain(l);
  });

  it("applies the filters set, on submit only", async () => {
    mountBar();
    await type("audit-actor-filter", "0190f3a2-7c1e");
    await type("audit-from-filter", "2026-03-01");
    expect(w!.emitted("apply")).toBeUndefined();
    await submit();
    expect(w!.emitted("apply")).toEqual([[{ actor: "0190f3a2-7c1e", since: new Date(2026, 2, 1).toISOString() }]]);
  });

  it("does not apply a start after the end, and says why", async () => {
    mountBar();
    await type("audit-from-filter", "2026-03-02");
    await type("audit-to-filter", "2026-03-01");
    await submit();
    expect(w!.emitted("apply")).toBeUndefined();
    expect(w!.text()).toContain("Not before the start date.");
  });

  it("clears back to no filter", async () => {
    mountBar();
    await type("audit-actor-filter", "not an id");
    await submit();
    expect(w!.emitted("apply")).toBeUndefined();
    await w!.get('[data-testid="audit-clear-filters"]').trigger("click");
    expect(w!.emitted("apply")).toEqual([[{}]]);
    expect(w!.text()).not.toContain("A user's or an API key's id.");
  });
});
