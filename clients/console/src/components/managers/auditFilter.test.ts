import { describe, expect, it } from "vitest";
import { auditFilterErrors, auditQuery, auditQueryKey, emptyAuditFilter } from "./auditFilter";

describe("auditQuery", () => {
  it("filters nothing when the form is empty", () => {
    expect(auditQuery(emptyAuditFilter())).toEqual({});
    expect(auditFilterErrors(emptyAuditFilter())).toEqual({});
  });

  it("sends the action and the actor trimmed, the actor lowercased", () => {
    const q = auditQuery({ ...emptyAuditFilter(), action: " member.added ", actor: " 0190F3A2-7C1E " });
    expect(q).toEqual({ action: "member.added", actor: "0190f3a2-7c1e" });
  });

  it("takes in the whole of the last day: until is the start of the next one, in local time", () => {
    const q = auditQuery({ ...emptyAuditFilter(), from: "2026-03-01", to: "2026-03-31" });
    expect(q.since).toBe(new Date(2026, 2, 1).toISOString());
    expect(q.until).toBe(new Date(2026, 3, 1).toISOString());
  });

  it("keys different filters differently", () => {
    expect(auditQueryKey({ action: "member.added" })).not.toBe(auditQueryKey({ actor: "member.added" }));
    expect(auditQueryKey({})).toBe(auditQueryKey(auditQuery(emptyAuditFilter())));
  });
});

describe("auditFilterErrors", () => {
  it("refuses what the API would", () => {
    const e = auditFilterErrors({ action: "Member added", actor: "ada@example.com", from: "", to: "" });
    expect(e.action).toBeTruthy();
    expect(e.actor).toBeTruthy();
  });

  it("refuses a start after the end, and allows one day", () => {
    expect(auditFilterErrors({ ...emptyAuditFilter(), from: "2026-03-02", to: "2026-03-01" }).to).toBeTruthy();
    expect(auditFilterErrors({ ...emptyAuditFilter(), from: "2026-03-01", to: "2026-03-01" })).toEqual({});
  });
});
