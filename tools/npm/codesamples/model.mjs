// The language-neutral model of an operation that the code-sample templates
// (./templates/*.mjs) render: its parameters with example values, its request
// body as an example value, how it authenticates and what kind of answer it
// gives. Everything here is derived from the spec alone, generically, so a new
// operation gets samples without anyone writing them.

import { createHash } from "node:crypto";

export const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Every operation of the spec, in document order. */
export function operations(spec) {
  const out = [];
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    for (const method of METHODS) {
      if (item?.[method]) out.push({ path, method, item, op: item[method] });
    }
  }
  return out;
}

/** Follows a local $ref ("#/components/...") to what it points at. */
export function resolve(spec, node) {
  const seen = new Set();
  while (node && typeof node.$ref === "string") {
    if (seen.has(node.$ref)) throw new Error(`circular $ref ${node.$ref}`);
    seen.add(node.$ref);
    if (!node.$ref.startsWith("#/")) throw new Error(`only local $refs are supported, not ${node.$ref}`);
    node = node.$ref
      .slice(2)
      .split("/")
      .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
      .reduce((n, key) => n?.[key], spec);
    if (node === undefined) throw new Error(`dangling $ref`);
  }
  return node;
}

/** The component schema name of a `#/components/schemas/X` $ref, else undefined. */
export function refName(schema) {
  const m = /^#\/components\/schemas\/([^/]+)$/.exec(schema?.$ref ?? "");
  return m ? m[1] : undefined;
}

/** A stable, made-up UUID for an id called `name` (the same in every sample). */
export function exampleId(name) {
  const h = createHash("sha256").update(`conveyor example ${name}`).digest("hex");
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const isJson = (mediaType) => /^application\/([a-z0-9.+-]*\+)?json$/i.test(mediaType.split(";")[0].trim());

/**
 * An example value for a schema: its `example`, else its `default`, else the
 * first of its `enum`, else one built from its type. Objects get their
 * required properties and their optional `format: uuid` ones (ids, which a
 * caller nearly always passes).
 */
export function exampleValue(spec, schema, name = "value", depth = 0) {
  const s = resolve(spec, schema) ?? {};
  if (s.example !== undefined) return s.example;
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  if (depth > 8) return null;
  if (s.allOf) {
    return Object.assign({}, ...s.allOf.map((part) => exampleValue(spec, part, name, depth + 1)));
  }
  if (s.oneOf || s.anyOf) return exampleValue(spec, (s.oneOf ?? s.anyOf)[0], name, depth + 1);
  const type = s.type ?? (s.properties ? "object" : undefined);
  switch (type) {
    case "object": {
      const out = {};
      const required = new Set(s.required ?? []);
      for (const [prop, ps] of Object.entries(s.properties ?? {})) {
        const p = resolve(spec, ps) ?? {};
        if (p.readOnly) continue;
        if (required.has(prop) || p.format === "uuid") out[prop] = exampleValue(spec, ps, prop, depth + 1);
      }
      return out;
    }
    case "array": {
      const n = Math.max(s.minItems ?? 0, 0);
      return Array.from({ length: Math.min(n, 1) }, () => exampleValue(spec, s.items ?? {}, name, depth + 1));
    }
    case "integer":
    case "number": {
      let v = 1;
      if (typeof s.minimum === "number" && v < s.minimum) v = s.minimum;
      if (typeof s.maximum === "number" && v > s.maximum) v = s.maximum;
      return v;
    }
    case "boolean":
      return true;
    case "string":
    default:
      switch (s.format) {
        case "uuid":
          return exampleId(name);
        case "date-time":
          return "2026-01-02T15:04:05Z";
        case "date":
          return "2026-01-02";
        case "email":
          return "ada@example.com";
        case "uri":
        case "url":
          return "https://example.com/";
        case "binary":
          return "@" + exampleFileName(name);
        default:
          return name === "name" ? "example" : name.replace(/_/g, "-");
      }
  }
}

/** A file name for a binary part or a download called `name`. */
export function exampleFileName(name) {
  return name === "file" || name === "content" ? "scan.tiff" : `${name}.bin`;
}

function parameter(spec, raw, opId) {
  const p = resolve(spec, raw);
  const schema = p.schema ?? {};
  const s = resolve(spec, schema) ?? {};
  let example = p.example;
  if (example === undefined && p.examples) example = resolve(spec, Object.values(p.examples)[0])?.value;
  const value = example ?? exampleValue(spec, schema, p.name);
  return {
    name: p.name,
    in: p.in,
    required: p.in === "path" || p.required === true,
    // Shown in samples: required ones, and optional ones the spec gives an example for.
    shown: p.in === "path" || p.required === true || example !== undefined || s.example !== undefined,
    hasExample: example !== undefined || s.example !== undefined,
    schema,
    resolved: s,
    value,
    // For the Go client: component parameters get an alias type; inline enums a named type.
    componentType: /^#\/components\/parameters\//.test(raw.$ref ?? "") ? raw.$ref.split("/").pop() : undefined,
    opId,
  };
}

function successOf(spec, op, method) {
  const codes = Object.keys(op.responses ?? {}).filter((c) => /^[23]\d\d$/.test(c)).sort();
  for (const code of codes) {
    const r = resolve(spec, op.responses[code]);
    const content = r?.content ?? {};
    const json = Object.keys(content).find(isJson);
    if (json) return { code: Number(code), kind: "json", mediaType: json, schema: content[json].schema, codes };
  }
  for (const code of codes) {
    const r = resolve(spec, op.responses[code]);
    const types = Object.keys(r?.content ?? {});
    if (!types.length) continue;
    const mediaType = types[0];
    const kind = /^text\/event-stream/i.test(mediaType) ? "events" : /^text\//i.test(mediaType) ? "text" : "binary";
    return { code: Number(code), kind, mediaType, codes };
  }
  const code = codes.map(Number).find((c) => c < 300) ?? Number(codes[0] ?? 204);
  // A GET answered by a redirect (3xx) with no body is a download: clients
  // follow it to what it points at.
  return { code, kind: code >= 300 && code < 400 && method === "get" ? "redirect" : "empty", codes };
}

function bodyOf(spec, op) {
  if (!op.requestBody) return undefined;
  const rb = resolve(spec, op.requestBody);
  const types = Object.keys(rb.content ?? {});
  const mediaType = types.find(isJson) ?? types.find((t) => /^multipart\/form-data/i.test(t)) ?? types[0];
  if (!mediaType) return undefined;
  const media = rb.content[mediaType];
  let example = media.example;
  if (example === undefined && media.examples) example = resolve(spec, Object.values(media.examples)[0])?.value;
  const kind = isJson(mediaType)
    ? "json"
    : /^multipart\/form-data/i.test(mediaType)
      ? "multipart"
      : /^application\/x-www-form-urlencoded/i.test(mediaType)
        ? "form"
        : "raw";
  let value = example ?? exampleValue(spec, media.schema ?? {}, "body");
  if (kind === "multipart" || kind === "form") {
    // Every required part, binary ones as files.
    const s = resolve(spec, media.schema ?? {}) ?? {};
    value = {};
    const required = new Set(s.required ?? []);
    for (const [prop, ps] of Object.entries(s.properties ?? {})) {
      const p = resolve(spec, ps) ?? {};
      if (!required.has(prop) && example?.[prop] === undefined) continue;
      value[prop] = p.format === "binary" ? { file: exampleFileName(prop) } : (example?.[prop] ?? exampleValue(spec, ps, prop));
    }
  }
  return {
    mediaType,
    kind,
    required: rb.required === true,
    schema: media.schema ?? {},
    value,
    fromExample: example !== undefined,
    onlyType: types.length === 1,
  };
}

function authOf(spec, op) {
  const reqs = op.security ?? spec.security ?? [];
  if (!reqs.length || reqs.every((r) => Object.keys(r).length === 0)) return "none";
  const schemes = spec.components?.securitySchemes ?? {};
  const names = Object.keys(reqs[0]);
  const scheme = resolve(spec, schemes[names[0]]) ?? {};
  if (scheme.type === "http" && /^bearer$/i.test(scheme.scheme ?? "")) return "bearer";
  if (scheme.type === "oauth2" || scheme.type === "openIdConnect") return "bearer";
  if (scheme.type === "apiKey" && scheme.in === "header") return { header: scheme.name };
  return "bearer";
}

/** The model of every operation, in document order. */
export function buildModels(spec) {
  const server = spec.servers?.[0]?.url ?? "";
  const basePath = /^https?:\/\//.test(server) ? new URL(server).pathname.replace(/\/+$/, "") : server.replace(/\/+$/, "");
  const ids = new Set();
  return operations(spec).map(({ path, method, item, op }) => {
    if (!op.operationId) throw new Error(`${method.toUpperCase()} ${path} has no operationId`);
    if (ids.has(op.operationId)) throw new Error(`operationId ${op.operationId} is used twice`);
    ids.add(op.operationId);
    // Operation parameters override path-item ones with the same name and place.
    const byKey = new Map();
    for (const raw of [...(item.parameters ?? []), ...(op.parameters ?? [])]) {
      const p = parameter(spec, raw, op.operationId);
      byKey.set(`${p.in}:${p.name}`, p);
    }
    const params = [...byKey.values()];
    const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => {
      const p = params.find((x) => x.in === "path" && x.name === name);
      if (!p) throw new Error(`${op.operationId}: path parameter {${name}} is not declared`);
      return p;
    });
    return {
      operationId: op.operationId,
      summary: op.summary ?? op.operationId,
      method,
      path,
      basePath,
      pathParams,
      queryParams: params.filter((p) => p.in === "query"),
      headerParams: params.filter((p) => p.in === "header"),
      cookieParams: params.filter((p) => p.in === "cookie"),
      body: bodyOf(spec, op),
      success: successOf(spec, op, method),
      auth: authOf(spec, op),
      spec,
    };
  });
}

/** The path with every {param} replaced by its example value (URL-escaped). */
export function examplePath(model) {
  return model.path.replace(/\{([^}]+)\}/g, (_, name) => {
    const p = model.pathParams.find((x) => x.name === name);
    return encodeURIComponent(String(p.value));
  });
}

/** The query string (with its "?") of the parameters shown in samples, or "". */
export function exampleQuery(model) {
  const q = new URLSearchParams();
  for (const p of model.queryParams.filter((x) => x.shown)) {
    for (const v of Array.isArray(p.value) ? p.value : [p.value]) q.append(p.name, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}
