import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import { QSelect, Quasar } from "quasar";
import MembersTable from "./MembersTable.vue";
import { LAST_MANAGER_NOTE, isLastManager, managerCount, type Member } from "./members";

const member = (email: string, role: Member["role"], status: Member["status"] = "active"): Member => ({
  user_id: `id-${email}`,
  email,
  name: email.split("@")[0]!,
  role,
  status,
  created_at: "2026-01-02T03:04:05Z",
});

function make(members: Member[], editable = true) {
  return mount(MembersTable, { props: { members, editable, selfId: "id-ada@example.com" }, global: { plugins: [Quasar] } });
}

const row = (w: ReturnType<typeof make>, email: string) => w.find(`[data-testid="member-row-${email}"]`);
const roleDisabled = (w: ReturnType<typeof make>, email: string) =>
  row(w, email).find(".q-field").classes().includes("q-field--disabled");
const removeDisabled = (w: ReturnType<typeof make>, email: string) =>
  row(w, email).find(`[data-testid="remove-${email}"]`).attributes("disabled") !== undefined;

describe("the last-manager rule", () => {
  it("counts managers as the API does, invitations included", () => {
    const ms = [member("ada@example.com", "manager"), member("bob@example.com", "manager", "invited"), member("cy@example.com", "viewer")];
    expect(managerCount(ms)).toBe(2);
    expect(isLastManager(ms[0]!, ms)).toBe(false);
    expect(isLastManager(ms[0]!, ms.slice(0, 1))).toBe(true);
    expect(isLastManager(ms[2]!, [ms[2]!])).toBe(false);
  });

  it("locks the only manager's role and removal, and says why", () => {
    const w = make([member("ada@example.com", "manager"), member("bob@example.com", "member")]);
    expect(roleDisabled(w, "ada@example.com")).toBe(true);
    expect(removeDisabled(w, "ada@example.com")).toBe(true);
    expect(row(w, "ada@example.com").attributes("data-last-manager")).toBe("true");
    expect(row(w, "ada@example.com").text()).toContain(LAST_MANAGER_NOTE);
    expect(row(w, "ada@example.com").find(`[data-testid="remove-ada@example.com"]`).attributes("title")).toBe(LAST_MANAGER_NOTE);
    // Everyone else can still be changed.
    expect(roleDisabled(w, "bob@example.com")).toBe(false);
    expect(removeDisabled(w, "bob@example.com")).toBe(false);
    expect(row(w, "bob@example.com").text()).not.toContain(LAST_MANAGER_NOTE);
  });

  it("unlocks every manager once there are two", () => {
    const w = make([member("ada@example.com", "manager"), member("bob@example.com", "manager", "invited")]);
    for (const e of ["ada@example.com", "bob@example.com"]) {
      expect(roleDisabled(w, e)).toBe(false);
      expect(removeDisabled(w, e)).toBe(false);
    }
    expect(w.text()).not.toContain(LAST_MANAGER_NOTE);
  });

  it("still shows the rule to someone who may not change anything", () => {
    const w = make([member("ada@example.com", "manager"), member("bob@example.com", "viewer")], false);
    expect(w.find(".q-field").exists()).toBe(false);
    expect(w.find(`[data-testid="remove-bob@example.com"]`).exists()).toBe(false);
    expect(row(w, "ada@example.com").text()).toContain("Manager");
    expect(row(w, "ada@example.com").text()).toContain(LAST_MANAGER_NOTE);
  });
});

describe("MembersTable", () => {
  it("labels each role select and remove button with the member", () => {
    const w = make([member("ada@example.com", "manager"), member("bob@example.com", "member", "invited")]);
    expect(row(w, "bob@example.com").find('[role="combobox"]').attributes("aria-label")).toBe("Role of bob");
    expect(row(w, "bob@example.com").find(`[data-testid="remove-bob@example.com"]`).attributes("aria-label")).toBe("Withdraw the invitation of bob");
    expect(row(w, "ada@example.com").find(`[data-testid="remove-ada@example.com"]`).attributes("aria-label")).toBe("Remove ada");
    expect(row(w, "bob@example.com").text()).toContain("Invited");
    expect(row(w, "ada@example.com").text()).toContain("you");
  });

  it("asks to remove the member whose button is pressed", async () => {
    const ms = [member("ada@example.com", "manager"), member("bob@example.com", "member")];
    const w = make(ms);
    await row(w, "bob@example.com").find(`[data-testid="remove-bob@example.com"]`).trigger("click");
    expect(w.emitted("remove")).toEqual([[ms[1]]]);
  });

  it("asks for a role change only when the role changes", async () => {
    const ms = [member("ada@example.com", "manager"), member("bob@example.com", "member")];
    const w = make(ms);
    const select = row(w, "bob@example.com").findComponent(QSelect);
    select.vm.$emit("update:modelValue", "member");
    select.vm.$emit("update:modelValue", "viewer");
    await w.vm.$nextTick();
    expect(w.emitted("change-role")).toEqual([[ms[1], "viewer"]]);
  });

  it("locks a row while its change is in flight", async () => {
    const ms = [member("ada@example.com", "manager"), member("bob@example.com", "manager")];
    const w = make(ms);
    await w.setProps({ busyId: "id-bob@example.com" });
    expect(roleDisabled(w, "bob@example.com")).toBe(true);
    expect(removeDisabled(w, "bob@example.com")).toBe(true);
    expect(roleDisabled(w, "ada@example.com")).toBe(false);
  });

  it("says when there is nobody", () => {
    expect(make([]).find('[data-testid="members-empty"]').text()).toContain("No members yet.");
  });
});
