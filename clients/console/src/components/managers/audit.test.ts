import { describe, expect, it } from "vitest";
import { actionLabel, actorLabel, detailEntries, teamLabels } from "./audit";

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

describe("teamLabels", () => {
  const ev = (team_id: string, action: string, details: Record<string, unknown> = {}, target_type = "team") => ({
    id: `${team_id}-${action}`,
    team_id,
    actor: { type: "user" as const, id: "u", name: "Ada" },
    action,
    target_type,
    target_id: target_type === "team" ? team_id : "x",
    details,
    created_at: "2026-01-01T00:00:00Z",
  });
  it("prefers the listed name, then the newest recorded one, then a short id", () => {
    const events = [
      ev("aaaaaaaa-1", "team.deleted", { name: "Old imaging" }),
      ev("aaaaaaaa-1", "team.renamed", { name: "Old imaging", previous_name: "Imaging" }),
      ev("bbbbbbbb-2", "member.added", { email: "x@example.com" }, "user"),
      ev("cccccccc-3", "team.renamed", { name: "Survey" }),
      ev("dddddddd-4", "team.renamed", { name: "Gone, not deleted here" }),
    ];
    expect(teamLabels(events, { "cccccccc-3": "Field survey" })).toEqual({
      "aaaaaaaa-1": "Old imaging (deleted)",
      "bbbbbbbb-2": "team bbbbbbbb…",
      "cccccccc-3": "Field survey",
      "dddddddd-4": "Gone, not deleted here",
    });
  });
});
