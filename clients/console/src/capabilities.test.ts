import { describe, expect, it } from "vitest";
import type { Me } from "@conveyor/client";
import { capabilitiesIn, managesAnyTeam } from "./capabilities";

const me = (platform_role: "admin" | "user", memberships: Me["memberships"]): Me => ({
  user: { id: "u", issuer: "i", subject: "s", email: "a@example.com", name: "A" },
  auth_method: "oidc",
  platform_role,
  memberships,
});

describe("capabilitiesIn", () => {
  const m = me("user", [
    { team_id: "t1", team_name: "One", role: "viewer" },
    { team_id: "t2", team_name: "Two", role: "member" },
    { team_id: "t3", team_name: "Three", role: "manager" },
  ]);
  it("a viewer may only read", () => {
    expect(capabilitiesIn(m, "t1")).toEqual({ role: "viewer", canWrite: false, canManage: false, isAdmin: false });
  });
  it("a member writes, a manager also manages", () => {
    expect(capabilitiesIn(m, "t2")).toMatchObject({ canWrite: true, canManage: false });
    expect(capabilitiesIn(m, "t3")).toMatchObject({ canWrite: true, canManage: true });
  });
  it("outside a team, nothing; a platform admin everything, everywhere", () => {
    expect(capabilitiesIn(m, "t9")).toEqual({ role: null, canWrite: false, canManage: false, isAdmin: false });
    expect(capabilitiesIn(undefined, "t1").canWrite).toBe(false);
    expect(capabilitiesIn(me("admin", []), "t9")).toEqual({ role: "admin", canWrite: true, canManage: true, isAdmin: true });
  });
  it("managesAnyTeam", () => {
    expect(managesAnyTeam(m)).toBe(true);
    expect(managesAnyTeam(me("user", [{ team_id: "t1", team_name: "One", role: "member" }]))).toBe(false);
    expect(managesAnyTeam(me("admin", []))).toBe(true);
  });
});
