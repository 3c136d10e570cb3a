import { describe, expect, it } from "vitest";
import { confirmsName } from "./confirm";

describe("confirmsName", () => {
  it("needs the exact name, spaces at the ends aside", () => {
    expect(confirmsName("Imaging", "Imaging")).toBe(true);
    expect(confirmsName("  Imaging ", "Imaging")).toBe(true);
    expect(confirmsName("imaging", "Imaging")).toBe(false);
    expect(confirmsName("Imagin", "Imaging")).toBe(false);
    expect(confirmsName("", "Imaging")).toBe(false);
  });
  it("never confirms an empty name", () => {
    expect(confirmsName("", "")).toBe(false);
    expect(confirmsName(" ", " ")).toBe(false);
  });
});
