#!/usr/bin/env node
// Checks the code samples in gen/codesamples (written by codesamples.mjs, shown
// in the docs as x-codeSamples) so that none can rot:
//
//   1. they are what the templates make of the current spec (none missing,
//      stale or left over);
//   2. every curl sample parses (bash -n);
//   3. every Go sample compiles against clients/go (go vet, in the samples' own
//      module, which replaces the SDK with ../../../clients/go) and is gofmt-ed;
//   4. every TypeScript sample type-checks against clients/ts (tsc --noEmit,
//      strict, with the client's source as "@conveyor/client").
//
//   5. Negative controls: one sample per language is broken the way drift
//      breaks it (an SDK method renamed, a client option renamed, a quote
//      lost), and the same checks must reject it, naming what broke. A check
//      that cannot fail would not pass them.
//
//   6. The templates handle operations generically: the operations of
//      codesamples/testdata/more-operations.yaml (shapes the spec does not
//      have yet: text, CSV and redirect-only answers, raw, form and multipart
//      bodies, inline and nested schemas, enum, date-time and header
//      parameters, no auth, API-key-only auth) are added to a copy of the
//      spec; the Go and TypeScript clients are generated from that copy into a
//      scratch folder, and every operation's samples must pass 2-4 there.
//
// Usage: node check-codesamples.mjs
// Needs: Go, and npm ci in tools/npm and clients/ts (make deps).

import { spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { renderSamples, sampleFiles } from "./codesamples/index.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const samplesDir = join(root, "gen", "codesamples");
const tsc = join(root, "clients", "ts", "node_modules", "typescript", "bin", "tsc");
const openapiTs = join(root, "clients", "ts", "node_modules", "openapi-typescript", "bin", "cli.js");
const goEnv = { ...process.env, GOWORK: "off", GOFLAGS: `${process.env.GOFLAGS ?? ""} -mod=readonly`.trim() };

const failures = [];
const fail = (msg) => failures.push(msg);

/** Runs cmd; resolves to its exit status and combined output. */
function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", (err) => reject(new Error(`${cmd}: ${err.message}`)));
    child.on("close", (status) => resolve({ status, out }));
  });
}

function listFiles(d, base = d) {
  if (!existsSync(d)) return [];
  return readdirSync(d).flatMap((name) => {
    const p = join(d, name);
    return statSync(p).isDirectory() ? listFiles(p, base) : [relative(base, p)];
  });
}

const ofKind = (files, re) => Object.keys(files).filter((f) => re.test(f));

/** Checks 2-4 on the samples in dir (a gen/codesamples); where names it in messages. */
async function checkSamples(dir, files, where) {
  const curl = ofKind(files, /^curl\//);
  const [bash, vet, fmt, ts] = await Promise.all([
    Promise.all(curl.map((f) => run("bash", ["-n", join(dir, f)]).then((r) => ({ f, ...r })))),
    run("go", ["vet", "./..."], { cwd: join(dir, "go"), env: goEnv }),
    run("gofmt", ["-l", "."], { cwd: join(dir, "go") }),
    run(process.execPath, [tsc, "-p", join(dir, "ts", "tsconfig.json")]),
  ]);
  for (const r of bash) if (r.status !== 0) fail(`${where}: bash -n ${r.f}:\n${r.out}`);
  if (vet.status !== 0) fail(`${where}: go vet ./... in go/:\n${vet.out}`);
  if (fmt.status !== 0 || fmt.out.trim()) fail(`${where}: gofmt -l in go/ lists:\n${fmt.out}`);
  if (ts.status !== 0) fail(`${where}: tsc -p ts/tsconfig.json:\n${ts.out}`);
}

/** 5: breaks one sample per language and reports whether each check rejected it. */
async function negativeControls(files) {
  const tmp = mkdtempSync(join(tmpdir(), "codesamples-control-"));
  try {
    // Go: the sample calls an SDK method that does not exist (renamed, say).
    const goRel = ofKind(files, /^go\/[^/]+\/main\.go$/).find((f) => /\bc\.[A-Z]\w*\(/.test(files[f]));
    const brokenGo = join(tmp, "main.go");
    writeFileSync(brokenGo, files[goRel].replace(/\bc\.([A-Z]\w*)\(/, "c.$1Renamed("));
    writeFileSync(join(tmp, "overlay.json"), JSON.stringify({ Replace: { [join(samplesDir, goRel)]: brokenGo } }));
    // TypeScript: the sample passes an option the client does not have (renamed, say).
    const tsRel = ofKind(files, /^ts\/[^/]+\.ts$/)[0];
    const tsDir = join(tmp, "ts");
    mkdirSync(tsDir);
    writeFileSync(join(tsDir, basename(tsRel)), files[tsRel].replace("baseUrl:", "baseURL:"));
    writeFileSync(join(tsDir, "package.json"), files["ts/package.json"]);
    writeFileSync(join(tsDir, "tsconfig.json"), JSON.stringify({ extends: join(samplesDir, "ts", "tsconfig.json"), include: ["*.ts"] }));
    // curl: the sample lost a closing quote.
    const curlRel = ofKind(files, /^curl\//)[0];
    const brokenCurl = join(tmp, basename(curlRel));
    writeFileSync(brokenCurl, files[curlRel].replace(/"\$CONVEYOR_URL([^"]*)"/, '"$CONVEYOR_URL$1'));

    const [goRes, tsRes, curlRes] = await Promise.all([
      run("go", ["vet", `-overlay=${join(tmp, "overlay.json")}`, `./${basename(dirname(goRel))}/`], { cwd: join(samplesDir, "go"), env: goEnv }),
      run(process.execPath, [tsc, "-p", join(tsDir, "tsconfig.json")]),
      run("bash", ["-n", brokenCurl]),
    ]);
    return [
      { lang: "Go", rel: goRel, rejected: goRes.status !== 0 && /Renamed undefined/.test(goRes.out), out: goRes.out },
      { lang: "TypeScript", rel: tsRel, rejected: tsRes.status !== 0 && tsRes.out.includes(basename(tsRel)) && /'baseURL'/.test(tsRes.out), out: tsRes.out },
      { lang: "curl", rel: curlRel, rejected: curlRes.status !== 0 && /unexpected EOF/.test(curlRes.out), out: curlRes.out },
    ];
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** 6: samples for more shapes of operation, against clients generated for them. */
async function moreOperations(spec) {
  const more = parse(readFileSync(join(here, "codesamples", "testdata", "more-operations.yaml"), "utf8"));
  const moreSpec = structuredClone(spec);
  Object.assign(moreSpec.paths, more.paths);
  Object.assign(moreSpec.components.schemas, more.components.schemas);
  const ids = Object.values(more.paths).flatMap((item) => Object.values(item).map((op) => op?.operationId).filter(Boolean));
  const scratch = mkdtempSync(join(tmpdir(), "codesamples-more-"));
  try {
    // The repository's layout, so that the samples' relative paths hold.
    const sdk = join(scratch, "clients", "go");
    mkdirSync(sdk, { recursive: true });
    for (const f of readdirSync(join(root, "clients", "go"))) {
      if ((/\.go$/.test(f) && !/_test\.go$/.test(f) && f !== "client.gen.go") || f === "go.mod" || f === "go.sum") {
        copyFileSync(join(root, "clients", "go", f), join(sdk, f));
      }
    }
    const client = join(scratch, "clients", "ts");
    mkdirSync(join(client, "src"), { recursive: true });
    // Every hand-written module of the client (the schema is generated below).
    for (const f of readdirSync(join(root, "clients", "ts", "src"))) {
      if (/\.ts$/.test(f) && f !== "schema.gen.ts") {
        copyFileSync(join(root, "clients", "ts", "src", f), join(client, "src", f));
      }
    }
    copyFileSync(join(root, "clients", "ts", "package.json"), join(client, "package.json"));
    symlinkSync(join(root, "clients", "ts", "node_modules"), join(client, "node_modules"), "dir");
    mkdirSync(join(scratch, "tools", "npm"), { recursive: true });
    symlinkSync(join(here, "node_modules"), join(scratch, "tools", "npm", "node_modules"), "dir");

    const specFile = join(scratch, "openapi.json");
    writeFileSync(specFile, JSON.stringify(moreSpec));
    const config = readFileSync(join(root, "clients", "go", "oapi-codegen.yaml"), "utf8").replace(/^output:.*$/m, `output: ${join(sdk, "client.gen.go")}`);
    writeFileSync(join(scratch, "oapi-codegen.yaml"), config);
    const [goGen, tsGen] = await Promise.all([
      run("go", ["tool", "oapi-codegen", "-config", join(scratch, "oapi-codegen.yaml"), specFile], { cwd: root }),
      run(process.execPath, [openapiTs, specFile, "-o", join(client, "src", "schema.gen.ts")]),
    ]);
    if (goGen.status !== 0) throw new Error(`oapi-codegen on the spec with more operations:\n${goGen.out}`);
    if (tsGen.status !== 0) throw new Error(`openapi-typescript on the spec with more operations:\n${tsGen.out}`);

    const rendered = renderSamples(moreSpec);
    const dir = join(scratch, "gen", "codesamples");
    const files = sampleFiles(rendered, scratch);
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), content);
    }
    const before = failures.length;
    await checkSamples(dir, files, "with more operations");
    if (failures.length > before && process.env.KEEP_SCRATCH) {
      console.error(`scratch folder kept: ${scratch}`);
      return { ids, total: rendered.length, kept: true };
    }
    return { ids, total: rendered.length };
  } finally {
    if (!process.env.KEEP_SCRATCH || !failures.length) rmSync(scratch, { recursive: true, force: true });
  }
}

for (const [what, path] of [
  ["tsc", tsc],
  ["openapi-typescript", openapiTs],
]) {
  if (!existsSync(path)) {
    console.error(`${what} is missing (${relative(root, path)}): run \`make deps\` (npm ci in clients/ts)`);
    process.exit(1);
  }
}

// 1. Fresh: what the templates make of the spec, no more, no less.
const spec = parse(readFileSync(join(root, "openapi", "v1", "openapi.yaml"), "utf8"));
const rendered = renderSamples(spec);
const files = sampleFiles(rendered, root);
const have = new Set(listFiles(samplesDir).filter((f) => /^(curl|go|ts)\//.test(f)));
for (const [rel, content] of Object.entries(files)) {
  if (!have.has(rel)) fail(`missing: gen/codesamples/${rel}`);
  else if (readFileSync(join(samplesDir, rel), "utf8") !== content) fail(`stale: gen/codesamples/${rel}`);
  have.delete(rel);
}
for (const rel of have) fail(`left over: gen/codesamples/${rel}`);
if (failures.length) {
  console.error("code samples check FAILED:\n  " + failures.join("\n  "));
  console.error("run `make generate` (tools/npm/codesamples.mjs) and commit gen/codesamples");
  process.exit(1);
}

// 2-6, side by side.
const [, controls, more] = await Promise.all([checkSamples(samplesDir, files, "gen/codesamples"), negativeControls(files), moreOperations(spec)]);
for (const c of controls) {
  if (!c.rejected) fail(`negative control: a broken ${c.lang} sample (a copy of gen/codesamples/${c.rel}) was not rejected:\n${c.out}`);
}

if (failures.length) {
  console.error("code samples check FAILED:\n  " + failures.join("\n  "));
  process.exit(1);
}
const why = (out) => out.split("\n").find((l) => /Renamed undefined|'baseURL'|unexpected EOF/.test(l))?.trim() ?? "";
for (const c of controls) console.log(`negative control: a broken copy of ${c.rel} is rejected: ${why(c.out).slice(0, 160)}`);
console.log(
  `code samples ok: ${rendered.length} operations: ${ofKind(files, /^curl\//).length} curl commands parse, ` +
    `${ofKind(files, /^go\/[^/]+\/main\.go$/).length} Go programs compile (go vet), ` +
    `${ofKind(files, /^ts\/[^/]+\.ts$/).length} TypeScript modules type-check (tsc, strict); ` +
    `so do those of ${more.ids.length} more operations of other shapes (${more.total} in all, against clients generated for them)`,
);
