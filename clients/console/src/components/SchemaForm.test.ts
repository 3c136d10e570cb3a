import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import { Quasar } from "quasar";
import SchemaForm from "./SchemaForm.vue";

const schema = {
  type: "object",
  properties: {
    max_width: { type: "integer", minimum: 1, maximum: 4096, default: 256, description: "Largest width." },
    format: { type: "string", enum: ["png", "jpeg"], default: "png" },
    header: { type: "boolean", default: true },
    note: { type: "string", maxLength: 3 },
  },
};

function make(s: unknown = schema) {
  return mount(SchemaForm, { props: { schema: s, idPrefix: "t" }, global: { plugins: [Quasar] } });
}

describe("SchemaForm", () => {
  it("renders a labelled control per property, with the defaults", () => {
    const w = make();
    const labels = w.findAll("label").map((l) => l.text());
    expect(labels.some((t) => t.includes("Max width"))).toBe(true);
    expect(labels.some((t) => t.includes("Format"))).toBe(true);
    expect(w.text()).toContain("Header");
    expect(w.text()).toContain("Largest width. min 1, max 4096");
    const num = w.find('input[type="number"]');
    expect((num.element as HTMLInputElement).value).toBe("256");
    expect(num.attributes("min")).toBe("1");
    expect(num.attributes("max")).toBe("4096");
  });

  it("submits typed params when valid", async () => {
    const w = make();
    await w.find('input[type="number"]').setValue("64");
    await w.find("form").trigger("submit");
    expect(w.emitted("submit")).toEqual([[{ max_width: 64, format: "png", header: true }]]);
  });

  it("shows the field's error and does not submit when invalid", async () => {
    const w = make();
    await w.find('input[type="number"]').setValue("5000");
    await w.find("form").trigger("submit");
    expect(w.emitted("submit")).toBeUndefined();
    expect(w.text()).toContain("Must be at most 4096.");
  });

  it("says when there is nothing to fill in", () => {
    const w = make({ type: "object", properties: {} });
    expect(w.text()).toContain("This processor takes no parameters.");
  });
});
