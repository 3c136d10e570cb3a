// The curl template: one command, with the server in $CONVEYOR_URL and the
// credentials in $CONVEYOR_TOKEN (or $CONVEYOR_API_KEY for an API-key-only
// operation). Samples are syntax-checked with `bash -n`.

import { examplePath, exampleQuery } from "../model.mjs";

/** Quotes s for a POSIX shell, in single quotes. */
export const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** Quotes s in double quotes, keeping $VARIABLES expanded. */
const dq = (s) => `"${String(s).replace(/["\\`]/g, "\\$&")}"`;

const EXTENSIONS = { "text/csv": "csv", "application/zip": "zip", "application/gzip": "gz", "image/png": "png", "image/jpeg": "jpg" };

function outputFile(model) {
  return `output.${EXTENSIONS[model.success.mediaType?.split(";")[0]] ?? "bin"}`;
}

/** Renders the curl sample of an operation. */
export function render(model) {
  const args = [];
  const method = model.method.toUpperCase();
  const url = `$CONVEYOR_URL${model.basePath}${examplePath(model)}${exampleQuery(model)}`;
  const { success, body } = model;
  const events = success.kind === "events";
  const download = success.kind === "redirect" || success.kind === "binary";
  // -N: no buffering, each event is printed as it arrives.
  const first = `curl ${events ? "-N " : ""}${method !== "GET" || body ? `-X ${method} ` : ""}${dq(url)}`;
  const notes = [];
  if (events && model.headerParams.some((p) => /^last-event-id$/i.test(p.name))) {
    notes.push(
      "# -N prints each event as it arrives. To resume after a dropped connection,",
      '# add -H "Last-Event-ID: <id>" with the id: of the last event received.',
    );
  }
  if (download && model.auth === "bearer") {
    notes.push(
      "# -L follows the redirect to a short-lived presigned URL in storage; curl does",
      "# not send the Authorization header on to storage (only --location-trusted would).",
    );
  }
  if (model.auth === "bearer") args.push(`-H "Authorization: Bearer $CONVEYOR_TOKEN"`);
  else if (model.auth !== "none") args.push(`-H ${dq(`${model.auth.header}: $CONVEYOR_API_KEY`)}`);
  if (events) args.push(`-H "Accept: text/event-stream"`);
  for (const p of model.headerParams) {
    if (p.name.toLowerCase() === "idempotency-key") args.push(`-H "Idempotency-Key: $(uuidgen)"`);
    else if (p.shown) args.push(`-H ${shq(`${p.name}: ${p.value}`)}`);
  }
  if (body?.kind === "json") {
    args.push(`-H ${shq(`Content-Type: ${body.mediaType}`)}`);
    args.push(`-d ${shq(JSON.stringify(body.value, null, 2).replace(/\n/g, "\n  "))}`);
  } else if (body?.kind === "multipart") {
    for (const [name, v] of Object.entries(body.value)) {
      args.push(v && typeof v === "object" && "file" in v ? `-F ${shq(`${name}=@${v.file}`)}` : `-F ${shq(`${name}=${typeof v === "string" ? v : JSON.stringify(v)}`)}`);
    }
  } else if (body?.kind === "form") {
    for (const [name, v] of Object.entries(body.value)) args.push(`--data-urlencode ${shq(`${name}=${v}`)}`);
  } else if (body) {
    args.push(`-H ${shq(`Content-Type: ${body.mediaType}`)}`);
    args.push(`--data-binary @${outputFile({ success: { mediaType: body.mediaType } }).replace("output", "input")}`);
  }
  if (download) args.push(`-L -o ${outputFile(model)}`);
  return (notes.length ? notes.join("\n") + "\n" : "") + [first, ...args].join(" \\\n  ") + "\n";
}
