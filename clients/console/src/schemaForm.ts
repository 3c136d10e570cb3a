// schemaForm: turns a processor's params JSON Schema (GET /processors) into
// form fields, checks values against it, and builds the job's params. It
// handles what processors publish: strings (length, pattern), numbers and
// integers (minimum, maximum), booleans, enums, and arrays of enum values.

export type FieldKind = "string" | "number" | "integer" | "boolean" | "enum" | "multi-enum";

/** Field is one control of the generated form. */
export interface Field {
  key: string;
  kind: FieldKind;
  label: string;
  description: string;
  required: boolean;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  options?: (string | number | boolean)[];
  minItems?: number;
}

/** FormValue is what a control holds: "" or null for empty. */
export type FormValue = string | number | boolean | null | (string | number | boolean)[];

type Schema = Record<string, unknown>;

const isObj = (v: unknown): v is Schema => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** humanize turns max_width into "Max width". */
export function humanize(key: string): string {
  const words = key.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").trim().toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function typeOf(s: Schema): string | undefined {
  const t = s["type"];
  if (typeof t === "string") return t;
  if (Array.isArray(t)) return t.find((x) => x !== "null") as string | undefined;
  return undefined;
}

/**
 * fieldsOf lists the fields of an object schema, in its properties' order.
 * A property of a shape it cannot render (nested objects, free arrays) is
 * left out: the processor's default applies.
 */
export function fieldsOf(schema: unknown): Field[] {
  if (!isObj(schema) || !isObj(schema["properties"])) return [];
  const required = new Set(Array.isArray(schema["required"]) ? (schema["required"] as unknown[]).filter((x) => typeof x === "string") : []);
  const out: Field[] = [];
  for (const [key, raw] of Object.entries(schema["properties"] as Schema)) {
    if (!isObj(raw)) continue;
    const base = {
      key,
      label: typeof raw["title"] === "string" ? raw["title"] : humanize(key),
      description: typeof raw["description"] === "string" ? raw["description"] : "",
      required: required.has(key),
      ...("default" in raw ? { default: raw["default"] } : {}),
    };
    const t = typeOf(raw);
    if (Array.isArray(raw["enum"])) {
      out.push({ ...base, kind: "enum", options: raw["enum"] as (string | number | boolean)[] });
      continue;
    }
    if (t === "array" && isObj(raw["items"]) && Array.isArray(raw["items"]["enum"])) {
      const f: Field = { ...base, kind: "multi-enum", options: raw["items"]["enum"] as (string | number | boolean)[] };
      const mi = num(raw["minItems"]);
      if (mi !== undefined) f.minItems = mi;
      out.push(f);
      continue;
    }
    if (t === "string") {
      const f: Field = { ...base, kind: "string" };
      const a = num(raw["minLength"]);
      const b = num(raw["maxLength"]);
      if (a !== undefined) f.minLength = a;
      if (b !== undefined) f.maxLength = b;
      if (typeof raw["pattern"] === "string") f.pattern = raw["pattern"];
      out.push(f);
      continue;
    }
    if (t === "number" || t === "integer") {
      const f: Field = { ...base, kind: t };
      const lo = num(raw["minimum"]);
      const hi = num(raw["maximum"]);
      if (lo !== undefined) {
        if (raw["exclusiveMinimum"] === true) f.exclusiveMinimum = lo;
        else f.minimum = lo;
      }
      if (hi !== undefined) {
        if (raw["exclusiveMaximum"] === true) f.exclusiveMaximum = hi;
        else f.maximum = hi;
      }
      // JSON Schema 2019+ spells exclusive bounds as numbers.
      const xlo = num(raw["exclusiveMinimum"]);
      const xhi = num(raw["exclusiveMaximum"]);
      if (xlo !== undefined) f.exclusiveMinimum = xlo;
      if (xhi !== undefined) f.exclusiveMaximum = xhi;
      out.push(f);
      continue;
    }
    if (t === "boolean") out.push({ ...base, kind: "boolean" });
  }
  return out;
}

/** initialValues is each field's default, or empty. */
export function initialValues(fields: Field[]): Record<string, FormValue> {
  const v: Record<string, FormValue> = {};
  for (const f of fields) {
    const d = f.default;
    switch (f.kind) {
      case "boolean":
        v[f.key] = typeof d === "boolean" ? d : false;
        break;
      case "multi-enum":
        v[f.key] = Array.isArray(d) ? (d as (string | number | boolean)[]).slice() : [];
        break;
      case "enum":
        v[f.key] = d === undefined ? null : (d as string | number | boolean);
        break;
      case "number":
      case "integer":
        v[f.key] = typeof d === "number" ? d : "";
        break;
      default:
        v[f.key] = typeof d === "string" ? d : "";
    }
  }
  return v;
}

const isEmpty = (v: FormValue | undefined) => v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);

/** validateField returns what is wrong with one value, or "" when it is fine. */
export function validateField(f: Field, v: FormValue | undefined): string {
  if (isEmpty(v)) {
    if (f.kind === "multi-enum" && f.minItems) return `Pick at least ${f.minItems}.`;
    return f.required ? "Required." : "";
  }
  switch (f.kind) {
    case "number":
    case "integer": {
      const n = typeof v === "number" ? v : Number(v);
      if (typeof v === "boolean" || Array.isArray(v) || !Number.isFinite(n)) return "Must be a number.";
      if (f.kind === "integer" && !Number.isInteger(n)) return "Must be a whole number.";
      if (f.minimum !== undefined && n < f.minimum) return `Must be at least ${f.minimum}.`;
      if (f.maximum !== undefined && n > f.maximum) return `Must be at most ${f.maximum}.`;
      if (f.exclusiveMinimum !== undefined && n <= f.exclusiveMinimum) return `Must be more than ${f.exclusiveMinimum}.`;
      if (f.exclusiveMaximum !== undefined && n >= f.exclusiveMaximum) return `Must be less than ${f.exclusiveMaximum}.`;
      return "";
    }
    case "string": {
      const s = String(v);
      const len = [...s].length;
      if (f.minLength !== undefined && len < f.minLength) return `Must be at least ${f.minLength} character${f.minLength === 1 ? "" : "s"}.`;
      if (f.maxLength !== undefined && len > f.maxLength) return `Must be at most ${f.maxLength} character${f.maxLength === 1 ? "" : "s"}.`;
      if (f.pattern !== undefined) {
        try {
          if (!new RegExp(f.pattern, "u").test(s)) return "Not in the expected form.";
        } catch {
          return ""; // a pattern JavaScript cannot read: the API checks it
        }
      }
      return "";
    }
    case "enum":
      return f.options?.some((o) => o === v) ? "" : "Pick one of the choices.";
    case "multi-enum": {
      const arr = Array.isArray(v) ? v : [];
      if (f.minItems !== undefined && arr.length < f.minItems) return `Pick at least ${f.minItems}.`;
      return arr.every((x) => f.options?.includes(x)) ? "" : "Pick from the choices.";
    }
    default:
      return "";
  }
}

/** validate returns the problems of the form, by field key (empty when it can be sent). */
export function validate(fields: Field[], values: Record<string, FormValue>): Record<string, string> {
  const errs: Record<string, string> = {};
  for (const f of fields) {
    const e = validateField(f, values[f.key]);
    if (e) errs[f.key] = e;
  }
  return errs;
}

/** toParams builds the job's params: typed values, empty optional fields left out (the processor's default applies). */
export function toParams(fields: Field[], values: Record<string, FormValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = values[f.key];
    if (f.kind === "boolean") {
      if (typeof v === "boolean") out[f.key] = v;
      continue;
    }
    if (isEmpty(v)) continue;
    if (f.kind === "number" || f.kind === "integer") out[f.key] = typeof v === "number" ? v : Number(v);
    else if (f.kind === "multi-enum") out[f.key] = (v as unknown[]).slice();
    else out[f.key] = v;
  }
  return out;
}
