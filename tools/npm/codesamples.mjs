#!/usr/bin/env node
// Writes the code samples of every operation of openapi/v1/openapi.yaml into
// gen/codesamples/ (or the folder given as the first argument), replacing
// what was there:
//
//   curl/<operationId>.sh      the curl command         (bash -n)
//   go/<operationId>/main.go   a Go program, one module  (go vet)
//   ts/<operationId>.ts        a TypeScript module       (tsc --noEmit, strict)
//
// The same samples are the x-codeSamples of the docs (build-docs.mjs).
// check-codesamples.mjs compiles and type-checks them; `make generate` runs
// this, so check-generated catches stale samples. The templates are in
// codesamples/templates/.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { renderSamples, sampleFiles } from "./codesamples/index.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const outDir = resolve(process.argv[2] ?? join(root, "gen", "codesamples"));

const spec = parse(readFileSync(join(root, "openapi", "v1", "openapi.yaml"), "utf8"));
const rendered = renderSamples(spec);
const files = sampleFiles(rendered, root);

for (const sub of ["curl", "go", "ts"]) rmSync(join(outDir, sub), { recursive: true, force: true });
for (const [rel, content] of Object.entries(files)) {
  const path = join(outDir, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content, rel.endsWith(".sh") ? { mode: 0o755 } : undefined);
}
console.log(`${outDir}: ${rendered.length} operations x curl, Go, TypeScript`);
