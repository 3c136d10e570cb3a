import { describe, expect, it } from "vitest";
import { userChange } from "./users";

describe("userChange", () => {
  it("asks before disabling, and says what happens to the user's API keys", () => {
    const c = userChange({ name: "Rita", email: "rita@example.com", disabled: false });
    expect(c.title).toBe("Disable user?");
    expect(c.ok).toBe("Disable user");
    expect(c.message).toContain("Rita is refused at once");
    expect(c.message).toContain("API keys they created keep working");
    expect(c.done).toBe("Disabled Rita");
  });
  it("asks before enabling a disabled user", () => {
    const c = userChange({ name: "", email: "rita@example.com", disabled: true });
    expect(c.title).toBe("Enable user?");
    expect(c.ok).toBe("Enable user");
    expect(c.message).toContain("rita@example.com can use Conveyor again");
    expect(c.done).toBe("Enabled rita@example.com");
  });
});
