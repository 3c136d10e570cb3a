import { describe, expect, it } from "vitest";
import { actionLabel, actorLabel, detailEntries } from "./audit";

describe("actionLabel", () => {
  it("reads an action code as a sentence", () => {
    expect(actionLabel("member.role_changed")).toBe("Member role changed");
    expect(actionLabel("api_key.created")).toBe("API key created");
    expect(actionLabel("team.renamed")).toBe("Team renamed");
  });
  it("keeps an odd code as it is", () => {
    expect(actionLabel("")).toBe("");
    expect(actionLabel(".")).toBe(".");
  });
});

describe("actorLabel", () => {
  it("names users, API keys and the system", () => {
    expect(actorLabel({ type: "user", id: "u1", name: "Ada" })).toBe("Ada");
    expect(actorLabel({ type: "api_key", id: "k1", name: "nightly-sync" })).toBe("API key nightly-sync");
    expect(actorLabel({ type: "system", id: "", name: "" })).toBe("Conveyor");
    expect(actorLabel({ type: "user", id: "u1", name: "" })).toBe("u1");
  });
});

describe("detailEntries", () => {
  it("lists details sorted, with readable names and values", () => {
    expect(detailEntries({ role: "member", previous_role: "manager", count: 3, extra: { a: 1 }, gone: null })).toEqual([
      { name: "count", value: "3" },
      { name: "extra", value: '{"a":1}' },
      { name: "gone", value: "—" },
      { name: "previous role", value: "manager" },
      { name: "role", value: "member" },
    ]);
    expect(detailEntries({ key_id: "k", api_key_name: "x" })).toEqual([
      { name: "API key name", value: "x" },
      { name: "key id", value: "k" },
    ]);
  });
});
