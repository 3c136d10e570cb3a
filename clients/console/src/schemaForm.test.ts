import { describe, expect, it } from "vitest";
import { fieldsOf, humanize, initialValues, toParams, validate, validateField } from "./schemaForm";

// The schemas the processors publish (internal/processors), verbatim.
const thumbnail = JSON.parse(
  `{"type":"object","additionalProperties":false,"properties":{` +
    `"max_width":{"type":"integer","minimum":1,"maximum":4096,"default":256,"description":"Largest width of the thumbnail, in pixels."},` +
    `"max_height":{"type":"integer","minimum":1,"maximum":4096,"default":256,"description":"Largest height of the thumbnail, in pixels."},` +
    `"format":{"type":"string","enum":["png","jpeg"],"default":"png","description":"Encoding of the thumbnail: thumbnail.png or thumbnail.jpg."},` +
    `"quality":{"type":"integer","minimum":1,"maximum":100,"default":85,"description":"JPEG quality; ignored for PNG."}}}`,
);
const csvProfile = JSON.parse(
  `{"type":"object","additionalProperties":false,"properties":{` +
    `"delimiter":{"type":"string","minLength":1,"maxLength":1,"pattern":"^[^\\"\\\\r\\\\n]$","default":",","description":"The field separator."},` +
    `"header":{"type":"boolean","default":true,"description":"Whether the first record names the columns."},` +
    `"max_rows":{"type":"integer","minimum":1,"description":"Profile only the first max_rows data rows."}}}`,
);
const exportSchema = JSON.parse(
  `{"type":"object","additionalProperties":false,"properties":{"include":{"type":"array","items":{"type":"string","enum":["files","jobs"]},"minItems":1,"uniqueItems":true,"default":["files","jobs"],"description":"What to export."}}}`,
);

describe("fieldsOf", () => {
  it("reads integers with bounds, enums and defaults, in order", () => {
    const f = fieldsOf(thumbnail);
    expect(f.map((x) => [x.key, x.kind])).toEqual([
      ["max_width", "integer"],
      ["max_height", "integer"],
      ["format", "enum"],
      ["quality", "integer"],
    ]);
    expect(f[0]).toMatchObject({ label: "Max width", minimum: 1, maximum: 4096, default: 256, required: false });
    expect(f[2]).toMatchObject({ options: ["png", "jpeg"], default: "png" });
  });

  it("reads strings with length and pattern, booleans, and arrays of enum values", () => {
    const f = fieldsOf(csvProfile);
    expect(f.map((x) => x.kind)).toEqual(["string", "boolean", "integer"]);
    expect(f[0]).toMatchObject({ minLength: 1, maxLength: 1, default: "," });
    const e = fieldsOf(exportSchema);
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({ kind: "multi-enum", options: ["files", "jobs"], minItems: 1 });
  });

  it("gives no fields for an empty schema or one it cannot read, and skips nested objects", () => {
    expect(fieldsOf({ type: "object", properties: {} })).toEqual([]);
    expect(fieldsOf(null)).toEqual([]);
    expect(fieldsOf({ properties: { nested: { type: "object" }, n: { type: ["number", "null"], exclusiveMinimum: 0 } }, required: ["n"] })).toEqual([
      { key: "n", kind: "number", label: "N", description: "", required: true, exclusiveMinimum: 0 },
    ]);
  });
});

describe("validate", () => {
  const f = fieldsOf(thumbnail);
  it("accepts the defaults", () => {
    expect(validate(f, initialValues(f))).toEqual({});
  });
  it("refuses out-of-range, fractional and non-numeric integers", () => {
    const v = { ...initialValues(f), max_width: 0, max_height: "12.5", quality: "abc" };
    expect(validate(f, v)).toEqual({
      max_width: "Must be at least 1.",
      max_height: "Must be a whole number.",
      quality: "Must be a number.",
    });
    expect(validateField(f[0]!, 4097)).toBe("Must be at most 4096.");
  });
  it("checks strings' length and pattern, required fields and enum choices", () => {
    const c = fieldsOf(csvProfile);
    expect(validateField(c[0]!, ";;")).toBe("Must be at most 1 character.");
    expect(validateField(c[0]!, '"')).toBe("Not in the expected form.");
    expect(validateField(c[0]!, ";")).toBe("");
    expect(validateField({ ...c[0]!, required: true }, "")).toBe("Required.");
    expect(validateField(f[2]!, "gif")).toBe("Pick one of the choices.");
    const e = fieldsOf(exportSchema);
    expect(validateField(e[0]!, [])).toBe("Pick at least 1.");
    expect(validateField(e[0]!, ["jobs"])).toBe("");
  });
});

describe("toParams", () => {
  it("types the values and leaves out empty optional ones", () => {
    const f = fieldsOf(csvProfile);
    expect(toParams(f, { delimiter: ";", header: false, max_rows: "" })).toEqual({ delimiter: ";", header: false });
    expect(toParams(f, { delimiter: "", header: true, max_rows: "10" })).toEqual({ header: true, max_rows: 10 });
    const t = fieldsOf(thumbnail);
    expect(toParams(t, { ...initialValues(t), max_width: "64" })).toEqual({ max_width: 64, max_height: 256, format: "png", quality: 85 });
    expect(toParams(fieldsOf(exportSchema), { include: ["files"] })).toEqual({ include: ["files"] });
  });
});

it("humanize", () => {
  expect(humanize("max_rows")).toBe("Max rows");
  expect(humanize("contentType")).toBe("Content type");
});
