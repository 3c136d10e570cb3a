// The Go template: a complete program (package main) against the Go SDK,
// clients/go. Operations the SDK's hand-written layer has a helper for
// (iterators, UploadFile, CreateJob + WaitForJob, CancelJob, RetryJob +
// WatchJob, OpenJobOutput and OpenFile, which never send credentials to
// storage, the Events stream, ...) use it (OVERRIDES, keyed by operationId); every other operation calls the generated
// ClientWithResponses method, whose name and arguments follow oapi-codegen's
// rules. Bodies become typed struct literals when the schema allows, and a
// JSON string otherwise. Every sample is compiled (go vet) by `make test`.

import { refName, resolve } from "../model.mjs";

const SDK = "github.com/conveyorhq/conveyor/clients/go";
const UUID = "github.com/google/uuid";

class Unsupported extends Error {}

/** oapi-codegen's ToCamelCase: "file_id" -> "FileId", "If-None-Match" -> "IfNoneMatch". */
export function camel(s) {
  let out = "";
  let cap = true;
  for (const ch of String(s).trim()) {
    if (/[A-Za-z]/.test(ch)) out += cap ? ch.toUpperCase() : ch;
    else if (/[0-9]/.test(ch)) out += ch;
    cap = !/[A-Za-z0-9]/.test(ch);
  }
  return out;
}

// Go's keywords, and the names the templates use for their own variables.
const GO_RESERVED = new Set(
  ("break case chan const continue default defer else fallthrough for func go goto if import interface map package range return " +
    "select struct switch type var string error any c ctx err resp res out n f part mw body form lines problem me team file job st result")
    .split(" "),
);

/** A Go variable name: "team_id" -> "teamID". */
export function goVar(s) {
  const parts = String(s).split(/[^A-Za-z0-9]+/).filter(Boolean);
  const v = parts
    .map((p, i) => (/^id$/i.test(p) ? (i ? "ID" : "id") : i ? p[0].toUpperCase() + p.slice(1) : p[0].toLowerCase() + p.slice(1)))
    .join("");
  return /^[0-9]/.test(v) || GO_RESERVED.has(v) ? v + "Value" : v;
}

const str = (s) => JSON.stringify(String(s));

/** The builder a template writes a program with: imports, variables, helpers. */
class Program {
  constructor(model) {
    this.model = model;
    this.spec = model.spec;
    this.imports = new Set(["context", "log", "os", SDK]);
    this.helpers = new Set();
    this.decls = [];
    this.vars = new Map(); // uuid value -> variable name
  }
  use(...paths) {
    for (const p of paths) this.imports.add(p);
  }
  /** A uuid variable holding value (declared once), named after name. */
  uuidVar(name, value) {
    if (this.vars.has(value)) return this.vars.get(value);
    let v = goVar(name);
    if (!/(ID|^id)$/.test(v)) v += "ID";
    while ([...this.vars.values()].includes(v) || GO_RESERVED.has(v)) v += "2";
    this.use(UUID);
    this.decls.push(`${v} := uuid.MustParse(${str(value)})`);
    this.vars.set(value, v);
    return v;
  }
  ptr(expr) {
    this.helpers.add("ptr");
    return `ptr(${expr})`;
  }
  /** The Go expression of path parameter p. */
  pathArg(p) {
    if (p.resolved.format === "uuid") return this.uuidVar(p.name, p.value);
    return this.literal(p.schema, p.value, false);
  }
  goTime(value) {
    const d = new Date(String(value));
    if (Number.isNaN(d.getTime())) throw new Unsupported(`date-time ${value}`);
    this.use("time");
    return `time.Date(${d.getUTCFullYear()}, ${d.getUTCMonth() + 1}, ${d.getUTCDate()}, ${d.getUTCHours()}, ${d.getUTCMinutes()}, ${d.getUTCSeconds()}, 0, time.UTC)`;
  }
  /** The Go type of a primitive or $ref schema, for slices and conversions. */
  goType(schema) {
    const name = refName(schema);
    if (name) return `conveyor.${camel(name)}`;
    const s = resolve(this.spec, schema) ?? {};
    if (s.enum) throw new Unsupported("inline enum type");
    switch (s.type) {
      case "string":
        if (s.format === "uuid") return (this.use(UUID), "uuid.UUID");
        if (s.format === "date-time") return (this.use("time"), "time.Time");
        if (["binary", "byte", "date", "email"].includes(s.format)) throw new Unsupported(`string format ${s.format}`);
        return "string";
      case "integer":
        return s.format === "int32" ? "int32" : s.format === "int64" ? "int64" : "int";
      case "number":
        return s.format === "double" ? "float64" : "float32";
      case "boolean":
        return "bool";
      default:
        throw new Unsupported(`type of ${JSON.stringify(s).slice(0, 60)}`);
    }
  }
  /**
   * The Go expression of value as the schema's type (a pointer to it when
   * ptr). Throws Unsupported for what cannot be written without naming a type
   * oapi-codegen made up (inline structs and enums behind pointers).
   */
  literal(schema, value, ptr, typeName, fieldName = "value") {
    const name = typeName ?? (refName(schema) ? `conveyor.${camel(refName(schema))}` : undefined);
    const s = resolve(this.spec, schema) ?? {};
    if (value === null) {
      if (ptr) return "nil";
      throw new Unsupported("null for a non-pointer");
    }
    if (s.allOf || s.oneOf || s.anyOf || s.not) throw new Unsupported("composed schema");
    const type = s.type ?? (s.properties ? "object" : undefined);
    switch (type) {
      case "object": {
        if (typeof value !== "object" || Array.isArray(value)) throw new Unsupported("object value");
        const props = s.properties ?? {};
        if (Object.keys(props).length) {
          if (!name) throw new Unsupported("inline struct");
          const required = new Set(s.required ?? []);
          const fields = Object.entries(value).map(([k, v]) => {
            const ps = props[k];
            if (!ps) throw new Unsupported(`property ${k} not in the schema`);
            const p = resolve(this.spec, ps) ?? {};
            const field = p["x-go-name"] ?? camel(k);
            const pointer = !required.has(k) || p.nullable === true;
            if (p.format === "uuid" && typeof v === "string" && !refName(ps)) {
              const id = this.uuidVar(k, v);
              return `${field}: ${pointer ? "&" + id : id},`;
            }
            return `${field}: ${this.literal(ps, v, pointer, undefined, k)},`;
          });
          const lit = `${name}{\n${fields.join("\n")}\n}`;
          return ptr ? `&${lit}` : lit;
        }
        const ap = s.additionalProperties;
        if (!(ap === true || ap === undefined || (typeof ap === "object" && Object.keys(ap).length === 0))) {
          throw new Unsupported("typed map");
        }
        const lit = `${name ?? "map[string]interface{}"}{${Object.entries(value).map(([k, v]) => `\n${str(k)}: ${this.any(v)},`).join("")}${Object.keys(value).length ? "\n" : ""}}`;
        return ptr ? `&${lit}` : lit;
      }
      case "array": {
        if (!Array.isArray(value)) throw new Unsupported("array value");
        const items = value.map((v) => `${this.literal(s.items ?? {}, v, false)},`);
        const lit = `${name ?? `[]${this.goType(s.items ?? {})}`}{${items.length ? "\n" + items.join("\n") + "\n" : ""}}`;
        return ptr ? `&${lit}` : lit;
      }
      case "string": {
        if (typeof value !== "string") throw new Unsupported("string value");
        if (s.format === "uuid" && !name) {
          const id = this.uuidVar(fieldName, value);
          return ptr ? `&${id}` : id;
        }
        if (s.format === "date-time" && !name) return ptr ? this.ptr(this.goTime(value)) : this.goTime(value);
        if (["binary", "byte", "date"].includes(s.format)) throw new Unsupported(`string format ${s.format}`);
        if (!ptr) return str(value);
        if (name) return this.ptr(`${name}(${str(value)})`);
        if (s.enum || s.format === "email") throw new Unsupported("pointer to a made-up type");
        return this.ptr(str(value));
      }
      case "integer":
      case "number": {
        if (typeof value !== "number") throw new Unsupported("number value");
        if (!ptr) return String(value);
        return this.ptr(`${name ?? this.goType({ ...s, enum: undefined })}(${value})`);
      }
      case "boolean": {
        if (typeof value !== "boolean") throw new Unsupported("boolean value");
        if (!ptr) return String(value);
        return this.ptr(name ? `${name}(${value})` : String(value));
      }
      default:
        throw new Unsupported(`schema without a type`);
    }
  }
  /** value as an interface{} (for free-form objects). */
  any(v) {
    if (v === null) return "nil";
    if (Array.isArray(v)) return `[]interface{}{${v.map((x) => this.any(x)).join(", ")}}`;
    if (typeof v === "object") return `map[string]interface{}{${Object.entries(v).map(([k, x]) => `${str(k)}: ${this.any(x)}`).join(", ")}}`;
    return typeof v === "string" ? str(v) : String(v);
  }
  /** The params argument of the generated method (nil when nothing is set). */
  paramsArg() {
    const m = this.model;
    const others = [...m.queryParams, ...m.headerParams, ...m.cookieParams];
    if (!others.length) return [];
    const fields = [];
    for (const p of others) {
      const field = camel(p.name);
      if (p.in === "header" && p.name.toLowerCase() === "idempotency-key") {
        this.use(UUID);
        fields.push(`${field}: ${this.ptr("uuid.NewString()")},`);
        continue;
      }
      if (!p.shown) continue;
      const typeName = p.resolved.enum ? `conveyor.${p.componentType ? camel(p.componentType) : `${camel(m.operationId)}Params${camel(p.name)}`}` : undefined;
      try {
        fields.push(`${field}: ${this.literal(p.schema, p.value, !p.required, typeName, p.name)},`);
      } catch (err) {
        if (!(err instanceof Unsupported) || p.required) throw err;
      }
    }
    return [fields.length ? `&conveyor.${camel(m.operationId)}Params{\n${fields.join("\n")}\n}` : "nil"];
  }
  check(cond) {
    return `if ${cond} {\nlog.Fatal(err)\n}`;
  }
  render(body) {
    const std = [...this.imports].filter((p) => !p.includes(".")).sort();
    const ext = [...this.imports].filter((p) => p.includes(".") && p !== SDK).sort();
    const groups = [std, ext, [SDK]].filter((g) => g.length);
    const imports = groups.map((g) => g.map((p) => (p === SDK ? `conveyor ${str(p)}` : str(p))).join("\n")).join("\n\n");
    const auth =
      this.model.auth === "bearer"
        ? `, conveyor.WithToken(os.Getenv("CONVEYOR_TOKEN"))`
        : this.model.auth === "none"
          ? ""
          : `, conveyor.WithAPIKey(os.Getenv("CONVEYOR_API_KEY"))`;
    const helpers = this.helpers.has("ptr") ? "\n\nfunc ptr[T any](v T) *T { return &v }\n" : "\n";
    return `package main

import (
${imports}
)

func main() {
ctx := context.Background()
c, err := conveyor.New(os.Getenv("CONVEYOR_URL")${auth})
if err != nil {
log.Fatal(err)
}
${this.decls.length ? this.decls.join("\n") + "\n" : ""}
${body.trim()}
}${helpers}`;
  }
}

function failOnErr() {
  return "if err != nil {\nlog.Fatal(err)\n}";
}

/** The generic program: the generated method for the operation. */
function generic(g) {
  const m = g.model;
  const op = camel(m.operationId);
  const args = ["ctx", ...m.pathParams.map((p) => g.pathArg(p)), ...g.paramsArg()];
  const streamed = ["binary", "redirect", "events", "text"].includes(m.success.kind);
  let pre = "";
  let method = streamed ? `c.ClientInterface.${op}` : `c.${op}WithResponse`;
  const body = m.body;
  if (body?.kind === "json" && body.onlyType) {
    let lit;
    try {
      const refd = refName(body.schema);
      lit = g.literal(body.schema, body.value, false, refd ? undefined : `conveyor.${op}JSONRequestBody`);
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
    }
    if (lit) args.push(lit);
    else {
      g.use("strings");
      const json = JSON.stringify(body.value, null, "\t");
      method = streamed ? `c.ClientInterface.${op}WithBody` : `c.${op}WithBodyWithResponse`;
      args.push(str(body.mediaType), `strings.NewReader(${json.includes("`") ? str(json) : "`" + json + "`"})`);
    }
  } else if (body?.kind === "multipart") {
    g.use("bytes", "mime/multipart", "io");
    const parts = [];
    for (const [name, v] of Object.entries(body.value)) {
      if (v && typeof v === "object" && "file" in v) {
        parts.push(`f, err := os.Open(${str(v.file)})
${failOnErr()}
defer f.Close()
part, err := mw.CreateFormFile(${str(name)}, f.Name())
${failOnErr()}
if _, err := io.Copy(part, f); err != nil {
log.Fatal(err)
}`);
      } else {
        parts.push(`if err := mw.WriteField(${str(name)}, ${str(typeof v === "string" ? v : JSON.stringify(v))}); err != nil {
log.Fatal(err)
}`);
      }
    }
    pre = `var body bytes.Buffer
mw := multipart.NewWriter(&body)
${parts.join("\n")}
if err := mw.Close(); err != nil {
log.Fatal(err)
}
`;
    method = streamed ? `c.ClientInterface.${op}WithBody` : `c.${op}WithBodyWithResponse`;
    args.push("mw.FormDataContentType()", "&body");
  } else if (body?.kind === "form") {
    g.use("net/url", "strings");
    const sets = Object.entries(body.value).map(([k, v]) => `form.Set(${str(k)}, ${str(typeof v === "string" ? v : JSON.stringify(v))})`);
    pre = `form := url.Values{}\n${sets.join("\n")}\n`;
    method = streamed ? `c.ClientInterface.${op}WithBody` : `c.${op}WithBodyWithResponse`;
    args.push(str(body.mediaType), "strings.NewReader(form.Encode())");
  } else if (body) {
    pre = `f, err := os.Open("input.bin")
${failOnErr()}
defer f.Close()
`;
    method = streamed ? `c.ClientInterface.${op}WithBody` : `c.${op}WithBodyWithResponse`;
    args.push(str(body.mediaType), "f");
  }
  const call = `${method}(${args.join(", ")})`;
  const s = m.success;
  if (!streamed) {
    let out;
    if (s.kind === "json" && s.mediaType === "application/json") {
      g.use("encoding/json", "fmt");
      out = `if resp.JSON${s.code} == nil {
log.Fatalf("%s: %s", resp.Status(), resp.Body)
}
out, err := json.MarshalIndent(resp.JSON${s.code}, "", "  ")
${failOnErr()}
fmt.Println(string(out))`;
    } else {
      g.use("fmt");
      out = `if resp.StatusCode() >= 400 {
log.Fatalf("%s: %s", resp.Status(), resp.Body)
}
fmt.Println(resp.Status())${s.kind === "json" ? "\nfmt.Println(string(resp.Body))" : ""}`;
    }
    return `${pre}resp, err := ${call}
${failOnErr()}
${out}`;
  }
  g.use("io");
  if (s.kind !== "text") g.use("fmt");
  const head = `${pre}res, err := ${call}
${failOnErr()}
defer res.Body.Close()
if res.StatusCode < 200 || res.StatusCode > 299 {
problem, _ := io.ReadAll(res.Body)
log.Fatalf("%s: %s", res.Status, problem)
}
`;
  if (s.kind === "events") {
    g.use("bufio");
    return `${head}// One line at a time: "id: ...", "event: ...", "data: {...}", then a blank line.
lines := bufio.NewScanner(res.Body)
for lines.Scan() {
fmt.Println(lines.Text())
}
if err := lines.Err(); err != nil {
log.Fatal(err)
}`;
  }
  if (s.kind === "text") {
    return `${head}if _, err := io.Copy(os.Stdout, res.Body); err != nil {
log.Fatal(err)
}`;
  }
  return `${head}out, err := os.Create("output.bin")
${failOnErr()}
defer out.Close()
n, err := io.Copy(out, res.Body)
${failOnErr()}
fmt.Printf("wrote %d bytes to %s\\n", n, out.Name())`;
}

/** The path parameter called name's Go variable. */
const id = (g, name) => g.pathArg(g.model.pathParams.find((p) => p.name === name));

/**
 * Templates for operations the SDK has a helper for. Each returns the body of
 * main after the client is made; the uuid variables come from the model, so
 * they match the curl and TypeScript samples.
 */
export const OVERRIDES = {
  getMe: (g) => {
    g.use("fmt");
    return `me, err := c.Me(ctx)
${failOnErr()}
fmt.Println(me.User.Email, me.PlatformRole)
for _, m := range me.Memberships {
fmt.Println(m.TeamId, m.Role)
}`;
  },
  createTeam: (g) => {
    g.use("fmt");
    return `team, err := c.CreateTeam(ctx, ${str(g.model.body.value.name)})
${failOnErr()}
fmt.Println(team.Id, team.Name)`;
  },
  getTeam: (g) => {
    g.use("fmt");
    return `team, err := c.Team(ctx, ${id(g, "team_id")})
${failOnErr()}
fmt.Println(team.Id, team.Name)`;
  },
  listTeams: (g) => {
    g.use("fmt");
    return `// Teams follows next_cursor from page to page.
for team, err := range c.Teams(ctx) {
${failOnErr()}
fmt.Println(team.Id, team.Name)
}`;
  },
  listFiles: (g) => {
    g.use("fmt");
    return `// Files follows next_cursor from page to page; the params filter.
for file, err := range c.Files(ctx, ${id(g, "team_id")}, &conveyor.ListFilesParams{NamePrefix: ${g.ptr('"scan"')}}) {
${failOnErr()}
fmt.Println(file.Id, file.Name, file.Size, file.ContentType)
}`;
  },
  getFile: (g) => {
    g.use("fmt");
    return `file, err := c.File(ctx, ${id(g, "team_id")}, ${id(g, "file_id")})
${failOnErr()}
fmt.Println(file.Name, file.Size, file.Sha256, file.ContentType)`;
  },
  uploadFile: (g) => {
    g.use("fmt");
    const teamID = id(g, "team_id");
    return `f, err := os.Open("scan.tiff")
${failOnErr()}
defer f.Close()
st, err := f.Stat()
${failOnErr()}
// Streamed through the API; with WithSize over conveyor.DirectThreshold,
// sent straight to storage in parts instead.
file, err := c.UploadFile(ctx, ${teamID}, "scan.tiff", f,
conveyor.WithSize(st.Size()),
conveyor.WithProgress(func(sent int64) { log.Printf("sent %d of %d bytes", sent, st.Size()) }),
)
${failOnErr()}
fmt.Println(file.Id, file.Sha256)`;
  },
  createJob: (g) => {
    g.use("encoding/json", "fmt", "time");
    const teamID = id(g, "team_id");
    const fileID = g.uuidVar("file_id", g.model.body.value.file_id);
    return `job, err := c.CreateJob(ctx, ${teamID}, conveyor.JobCreate{FileId: &${fileID}, Processor: ${str(g.model.body.value.processor ?? "inspect")}})
${failOnErr()}
// Poll until the job succeeds, fails or is cancelled.
job, err = c.WaitForJob(ctx, ${teamID}, job.Id, time.Second)
${failOnErr()}
result, err := json.MarshalIndent(job.Result, "", "  ")
${failOnErr()}
fmt.Println(job.Status, string(result))`;
  },
  getJob: (g) => {
    g.use("fmt");
    return `job, err := c.Job(ctx, ${id(g, "team_id")}, ${id(g, "job_id")})
${failOnErr()}
fmt.Println(job.Status, job.Progress)`;
  },
  listJobs: (g) => {
    g.use("fmt");
    return `// Jobs follows next_cursor from page to page.
for job, err := range c.Jobs(ctx, ${id(g, "team_id")}) {
${failOnErr()}
fmt.Println(job.Id, job.Processor, job.Status)
}`;
  },
  cancelJob: (g) => {
    g.use("errors", "fmt", "net/http");
    return `job, err := c.CancelJob(ctx, ${id(g, "team_id")}, ${id(g, "job_id")})
var problem *conveyor.Problem
if errors.As(err, &problem) && problem.Status == http.StatusConflict {
// The job already succeeded or failed: too late to cancel it.
log.Fatal(problem)
}
${failOnErr()}
fmt.Println(job.Id, job.Status)`;
  },
  retryJob: (g) => {
    g.use("fmt");
    const teamID = id(g, "team_id");
    return `// Only a failed or cancelled job can be retried (else a *conveyor.Problem, 409).
job, err := c.RetryJob(ctx, ${teamID}, ${id(g, "job_id")})
${failOnErr()}
fmt.Println(job.Id, job.Status, job.Attempts)
// Follow it on the team's event stream, without polling, to a final state.
for j, err := range c.WatchJob(ctx, ${teamID}, job.Id) {
${failOnErr()}
fmt.Println(j.Status, j.Progress)
}`;
  },
  listJobOutputs: (g) => {
    g.use("fmt");
    return `// None until the job has succeeded; read one with c.OpenJobOutput.
outputs, err := c.JobOutputs(ctx, ${id(g, "team_id")}, ${id(g, "job_id")})
${failOnErr()}
for _, o := range outputs {
fmt.Println(o.Name, o.Size, o.ContentType)
}`;
  },
  downloadJobOutput: (g) => {
    g.use("fmt", "io");
    const name = g.model.pathParams.find((p) => p.name === "name");
    return `name := ${g.pathArg(name)} // as c.JobOutputs lists it
// OpenJobOutput follows the API's redirect to a short-lived presigned URL in
// storage, and sends none of the client's credentials there.
content, err := c.OpenJobOutput(ctx, ${id(g, "team_id")}, ${id(g, "job_id")}, name)
${failOnErr()}
defer content.Close()
out, err := os.Create(name)
${failOnErr()}
n, err := io.Copy(out, content)
${failOnErr()}
if err := out.Close(); err != nil {
log.Fatal(err)
}
fmt.Printf("wrote %d bytes to %s\\n", n, out.Name())`;
  },
  downloadFile: (g) => {
    g.use("io");
    return `// OpenFile follows the API's redirect to a short-lived presigned URL in
// storage, and sends none of the client's credentials there.
content, err := c.OpenFile(ctx, ${id(g, "team_id")}, ${id(g, "file_id")})
${failOnErr()}
defer content.Close()
if _, err := io.Copy(os.Stdout, content); err != nil {
log.Fatal(err)
}`;
  },
  streamTeamEvents: (g) => {
    g.use("fmt");
    return `// Events returns once the server has accepted the stream: everything that
// happens in the team from then on is delivered. When the connection drops,
// the stream reconnects by itself with Last-Event-ID, so no event is missed.
// To resume later from where it stopped, pass
// conveyor.WithLastEventID(stream.LastEventID()) to the next c.Events.
stream, err := c.Events(ctx, ${id(g, "team_id")})
${failOnErr()}
defer stream.Close()
for ev, err := range stream.All() {
${failOnErr()}
// A "reset" event says events were missed: re-read the files and jobs shown.
fmt.Println(ev.Type, ev.Id)
}`;
  },
};

/** Renders the Go sample of an operation (not yet gofmt-ed). */
export function render(model) {
  const g = new Program(model);
  const override = OVERRIDES[model.operationId];
  return g.render(override ? override(g) : generic(g));
}
