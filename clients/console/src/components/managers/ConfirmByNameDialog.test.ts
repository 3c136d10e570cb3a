import { afterEach, describe, expect, it } from "vitest";
import { mount, type VueWrapper } from "@vue/test-utils";
import { Quasar } from "quasar";
import { nextTick } from "vue";
import ConfirmByNameDialog from "./ConfirmByNameDialog.vue";

let w: VueWrapper | undefined;
afterEach(() => {
  w?.unmount();
  w = undefined;
  document.body.innerHTML = "";
});

async function open(name = "Imaging") {
  w = mount(ConfirmByNameDialog, {
    props: { modelValue: false, title: "Delete team", name, message: "Everything goes.", confirmLabel: "Delete team" },
    global: { plugins: [Quasar] },
    attachTo: document.body,
  });
  await w.setProps({ modelValue: true });
  await nextTick();
  await nextTick();
}
const q = <T extends Element>(testid: string) => document.body.querySelector<T>(`[data-testid="${testid}"]`);
async function type(text: string) {
  const input = q<HTMLInputElement>("confirm-name-input")!.querySelector("input") ?? q<HTMLInputElement>("confirm-name-input")!;
  input.value = text;
  input.dispatchEvent(new Event("input"));
  await nextTick();
}
const submit = () => q<HTMLButtonElement>("confirm-name-submit")!;

describe("ConfirmByNameDialog", () => {
  it("keeps the destructive button disabled until the name is typed exactly", async () => {
    await open();
    expect(q("confirm-name-dialog")).not.toBeNull();
    expect(q("confirm-name-expected")!.textContent).toBe("Imaging");
    expect(submit().hasAttribute("disabled")).toBe(true);
    await type("imaging");
    expect(submit().hasAttribute("disabled")).toBe(true);
    await type("Imagin");
    expect(submit().hasAttribute("disabled")).toBe(true);
    await type("Imaging");
    expect(submit().hasAttribute("disabled")).toBe(false);
  });

  it("confirms on submit only once the name matches", async () => {
    await open();
    const form = q("confirm-name-dialog")!.querySelector("form")!;
    form.dispatchEvent(new Event("submit", { cancelable: true }));
    await nextTick();
    expect(w!.emitted("confirm")).toBeUndefined();
    await type("Imaging");
    form.dispatchEvent(new Event("submit", { cancelable: true }));
    await nextTick();
    expect(w!.emitted("confirm")).toHaveLength(1);
  });

  it("does not confirm twice while the action is in flight", async () => {
    await open();
    await type("Imaging");
    await w!.setProps({ busy: true });
    q("confirm-name-dialog")!.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await nextTick();
    expect(w!.emitted("confirm")).toBeUndefined();
  });

  it("starts empty each time it opens", async () => {
    await open();
    await type("Imaging");
    await w!.setProps({ modelValue: false });
    await w!.setProps({ modelValue: true });
    await nextTick();
    await nextTick();
    expect(submit().hasAttribute("disabled")).toBe(true);
  });
});
