// The TypeScript template: an ES module using @conveyor/client (clients/ts).
// Operations the client has a helper for (async iterators, uploadFile,
// waitForJob, cancelJob, retryJob + watchJob, jobOutputs, openOutput and
// openFile, the events stream) use it (OVERRIDES, keyed by operationId);
// every other operation calls the typed openapi-fetch client,
// `conveyor.api.<METHOD>(path, init)`.
// Every sample is type-checked (tsc --noEmit, strict) by `make test`.

/** A TypeScript identifier: "team_id" -> "teamId". */
export function tsVar(s) {
  const parts = String(s).split(/[^A-Za-z0-9]+/).filter(Boolean);
  const v = parts.map((p, i) => (i ? p[0].toUpperCase() + p.slice(1) : p[0].toLowerCase() + p.slice(1))).join("");
  return /^[0-9]/.test(v) || ["data", "response", "conveyor", "form", "content", "events", "done", "job", "default", "delete", "new"].includes(v) ? v + "Value" : v;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** value as a TypeScript literal, indented by pad; on one line when short. */
export function literal(value, pad = "", width = 64) {
  if (value instanceof Code) return value.code;
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  const flat = oneLine(value);
  if (flat.length + pad.length <= width) return flat;
  const inner = pad + "  ";
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return `[\n${value.map((v) => inner + literal(v, inner)).join(",\n")},\n${pad}]`;
  }
  const entries = Object.entries(value);
  if (!entries.length) return "{}";
  return `{\n${entries.map(([k, v]) => `${inner}${entry(k, v, (x) => literal(x, inner))}`).join(",\n")},\n${pad}}`;
}

const key = (k) => (IDENT.test(k) ? k : JSON.stringify(k));
// `{ slug }` rather than `{ slug: slug }`.
const entry = (k, v, show) => (v instanceof Code && v.code === k ? k : `${key(k)}: ${show(v)}`);

function oneLine(value) {
  if (value instanceof Code) return value.code;
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(oneLine).join(", ")}]`;
  const entries = Object.entries(value);
  return entries.length ? `{ ${entries.map(([k, v]) => entry(k, v, oneLine)).join(", ")} }` : "{}";
}

/** Source code inside a literal (a variable, say). */
class Code {
  constructor(code) {
    this.code = code;
  }
}

class Module {
  constructor(model) {
    this.model = model;
    this.imports = new Map([["@conveyor/client", new Set(["createConveyorClient"])]]);
    this.decls = [];
    this.vars = new Map(); // path parameter name -> const
  }
  use(from, name) {
    if (!this.imports.has(from)) this.imports.set(from, new Set());
    this.imports.get(from).add(name);
  }
  /** The const holding path parameter name's example value. */
  id(name) {
    if (this.vars.has(name)) return this.vars.get(name);
    const p = this.model.pathParams.find((x) => x.name === name);
    const v = tsVar(name);
    this.decls.push(`const ${v} = ${JSON.stringify(p.value)};`);
    this.vars.set(name, v);
    return v;
  }
  /**
   * The `init` argument of conveyor.api.<METHOD>, or "" when there is nothing
   * to pass; on the call's line when it fits in 100 columns after prefix.
   */
  init(extra = {}, prefix = "") {
    const m = this.model;
    const params = {};
    if (m.pathParams.length) params.path = Object.fromEntries(m.pathParams.map((p) => [p.name, new Code(this.id(p.name))]));
    const pick = (list) =>
      Object.fromEntries(list.filter((p) => p.shown && p.name.toLowerCase() !== "idempotency-key").map((p) => [p.name, p.value]));
    const query = pick(m.queryParams);
    const header = pick(m.headerParams);
    if (Object.keys(query).length) params.query = query;
    if (Object.keys(header).length) params.header = header;
    const init = {};
    if (Object.keys(params).length) init.params = params;
    Object.assign(init, extra);
    if (!Object.keys(init).length) return "";
    return ", " + literal(init, "", 100 - prefix.length - 4);
  }
  render(body) {
    const m = this.model;
    const auth =
      m.auth === "bearer"
        ? "\n  token: process.env.CONVEYOR_TOKEN!,"
        : m.auth === "none"
          ? ""
          : `\n  headers: { ${JSON.stringify(m.auth.header)}: process.env.CONVEYOR_API_KEY! },`;
    const imports = [...this.imports]
      .sort(([a], [b]) => (a.startsWith("node:") === b.startsWith("node:") ? a.localeCompare(b) : a.startsWith("node:") ? -1 : 1))
      .map(([from, names]) => `import { ${[...names].sort().join(", ")} } from ${JSON.stringify(from)};`)
      .join("\n");
    return `${imports}

const conveyor = createConveyorClient({
  baseUrl: process.env.CONVEYOR_URL!,${auth}
});
${this.decls.length ? "\n" + this.decls.join("\n") + "\n" : ""}
${body.trim()}
`;
  }
}

/** The generic module: conveyor.api.<METHOD>(path, init). */
function generic(t) {
  const m = t.model;
  const call = `conveyor.api.${m.method.toUpperCase()}(${JSON.stringify(m.path)}`;
  const init = () => t.init(extra, `const { data } = await ${call}`);
  const extra = {};
  let pre = "";
  const body = m.body;
  if (body?.kind === "json") {
    extra.body = body.value;
  } else if (body?.kind === "multipart" || body?.kind === "form") {
    const form = body.kind === "multipart" ? "FormData" : "URLSearchParams";
    const lines = [];
    const placeholder = {};
    for (const [name, v] of Object.entries(body.value)) {
      if (v && typeof v === "object" && "file" in v) {
        t.use("node:fs/promises", "readFile");
        lines.push(`form.append(${JSON.stringify(name)}, new Blob([await readFile(${JSON.stringify(v.file)})]), ${JSON.stringify(v.file)});`);
        placeholder[name] = v.file;
      } else {
        lines.push(`form.append(${JSON.stringify(name)}, ${JSON.stringify(typeof v === "string" ? v : JSON.stringify(v))});`);
        placeholder[name] = v;
      }
    }
    pre = `const form = new ${form}();\n${lines.join("\n")}\n`;
    // The form is what is sent; the typed body only satisfies the types.
    extra.body = placeholder;
    extra.bodySerializer = new Code("() => form");
  } else if (body) {
    t.use("node:fs/promises", "readFile");
    pre = `const content = await readFile("input.bin");\n`;
    // The bytes are what is sent; the typed body only satisfies the types.
    extra.body = "";
    extra.bodySerializer = new Code("() => content");
  }
  const s = m.success;
  switch (s.kind) {
    case "json":
      return `${pre}const { data } = await ${call}${init()});
console.log(data);`;
    case "events":
      extra.parseAs = "stream";
      return `${pre}const { data } = await ${call}${init()});
// Server-Sent Events: "id: ...", "event: ...", "data: {...}" lines, then a blank line.
const events = data!.pipeThrough(new TextDecoderStream()).getReader();
for (;;) {
  const { value, done } = await events.read();
  if (done) break;
  process.stdout.write(value);
}`;
    case "text":
      extra.parseAs = "text";
      return `${pre}const { data } = await ${call}${init()});
console.log(data);`;
    case "binary":
    case "redirect":
      t.use("node:fs/promises", "writeFile");
      extra.parseAs = "arrayBuffer";
      return `${pre}// fetch follows the redirect to storage.
const { data } = await ${call}${init()});
await writeFile("output.bin", new Uint8Array(data!));`;
    default:
      return `${pre}const { response } = await ${call}${init()});
console.log(response.status);`;
  }
}

/**
 * Templates for operations the client has a helper for. Each returns the
 * code after the client is made; ids come from the model, so they match the
 * curl and Go samples.
 */
export const OVERRIDES = {
  listTeams: () => `// teams() follows next_cursor from page to page.
for await (const team of conveyor.teams()) {
  console.log(team.id, team.name);
}`,
  listFiles: (t) => `// files() follows next_cursor from page to page; the filter narrows the list.
for await (const file of conveyor.files(${t.id("team_id")}, { name_prefix: "scan" })) {
  console.log(file.id, file.name, file.size, file.content_type);
}`,
  listJobs: (t) => `// jobs() follows next_cursor from page to page.
for await (const job of conveyor.jobs(${t.id("team_id")})) {
  console.log(job.id, job.processor, job.status);
}`,
  uploadFile: (t) => {
    t.use("node:fs/promises", "readFile");
    return `// A Blob (a browser's File) or bytes; sent as multipart/form-data.
const file = await conveyor.uploadFile(${t.id("team_id")}, await readFile("scan.tiff"), "scan.tiff", {
  onProgress: (sent, total) => console.log(\`sent \${sent} of \${total} bytes\`),
});
console.log(file.id, file.sha256);`;
  },
  cancelJob: (t) => {
    t.use("@conveyor/client", "ConveyorProblem");
    return `try {
  const job = await conveyor.cancelJob(${t.id("team_id")}, ${t.id("job_id")});
  console.log(job.id, job.status);
} catch (err) {
  // The job already succeeded or failed: too late to cancel it.
  if (err instanceof ConveyorProblem && err.status === 409) console.error(err.message);
  else throw err;
}`;
  },
  retryJob: (t) => {
    const teamId = t.id("team_id");
    return `// Only a failed or cancelled job can be retried (else a 409 ConveyorProblem).
const job = await conveyor.retryJob(${teamId}, ${t.id("job_id")});
console.log(job.id, job.status, job.attempts);
// Follow it on the team's event stream, without polling, to a final state.
for await (const state of conveyor.watchJob(${teamId}, job.id)) {
  console.log(state.status, state.progress);
}`;
  },
  listJobOutputs: (t) => `// None until the job has succeeded; download one with openOutput.
const outputs = await conveyor.jobOutputs(${t.id("team_id")}, ${t.id("job_id")});
for (const output of outputs) {
  console.log(output.name, output.size, output.content_type);
}`,
  downloadJobOutput: (t) => {
    t.use("node:fs", "createWriteStream");
    t.use("node:stream", "Writable");
    const [teamId, jobId, name] = [t.id("team_id"), t.id("job_id"), t.id("name")];
    return `// openOutput follows the API's redirect to a short-lived presigned URL in
// storage, and sends none of the client's credentials there. (outputUrl gives
// the URL itself, for a link.)
const response = await conveyor.openOutput(${teamId}, ${jobId}, ${name});
await response.body!.pipeTo(Writable.toWeb(createWriteStream(${name})));`;
  },
  downloadFile: (t) => {
    t.use("node:stream", "Writable");
    return `// openFile follows the API's redirect to a short-lived presigned URL in
// storage, and sends none of the client's credentials there.
const response = await conveyor.openFile(${t.id("team_id")}, ${t.id("file_id")});
await response.body!.pipeTo(Writable.toWeb(process.stdout));`;
  },
  streamTeamEvents: (t) => {
    const teamId = t.id("team_id");
    return `// When the connection drops, the stream reconnects by itself with
// Last-Event-ID, so no event is missed. (To resume a later stream from here:
// conveyor.events(${teamId}, { lastEventId: stream.lastEventId }).)
const stream = conveyor.events(${teamId});
for await (const event of stream) {
  // A "reset" event says events were missed: re-read the files and jobs shown.
  console.log(event.type, event.id);
}`;
  },
  createJob: (t) => {
    const teamId = t.id("team_id");
    const call = `const { data: job } = await conveyor.api.POST("/teams/{team_id}/jobs"`;
    return `${call}${t.init({ body: t.model.body.value }, call)});
// Poll until the job succeeds, fails or is cancelled.
const done = await conveyor.waitForJob(${teamId}, job!.id);
console.log(done.status, done.result);`;
  },
};

/** Renders the TypeScript sample of an operation. */
export function render(model) {
  const t = new Module(model);
  const override = OVERRIDES[model.operationId];
  return t.render(override ? override(t) : generic(t));
}
