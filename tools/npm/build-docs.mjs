#!/usr/bin/env node
// Builds the offline API documentation site into gen/docs/ (or the folder
// given as the first argument):
//
//   index.html           a Redoc page: loads ./redoc.standalone.js and
//                        ./openapi.json; a Content-Security-Policy keeps every
//                        request on the serving origin.
//   openapi.json         openapi/v1/openapi.yaml with every operation's code
//                        samples (x-codeSamples: curl, Go, TypeScript; see
//                        codesamples.mjs). The source spec, and the one the API
//                        serves at /api/v1/openapi.json, stay without them.
//   redoc.standalone.js  Redoc's standalone bundle from node_modules/redoc, with
//                        its third-party license notices inlined and the
//                        sourceMappingURL line (the .map is not shipped) removed.
//   embed.go             package docs: embeds these files (and changelog.html,
//                        written by oasdiff) as docs.FS.
//
// The output depends only on these scripts (and the code-sample templates),
// the spec, gofmt and the installed redoc version, so running it twice gives
// identical files. Run `npm ci` in tools/npm first.

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { withCodeSamples } from "./codesamples/index.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(process.argv[2] ?? join(here, "..", "..", "gen", "docs"));
const redocDir = join(here, "node_modules", "redoc");
const MAX_BUNDLE_BYTES = 5 * 1024 * 1024;

// The docs load their own copy of the spec (with code samples); the download
// link offers the one the API serves.
const DOCS_SPEC_URL = "./openapi.json";
const SPEC_URL = "/api/v1/openapi.json";
const SYSTEM_FONTS =
  'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "Liberation Sans", sans-serif';
const MONO_FONTS = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono", monospace';

// Redoc options (https://redocly.com/docs/redoc/config). Nothing here makes a
// request; fonts are local system fonts (Redoc's standalone bundle links no
// web fonts itself; only the fonts named in the theme would be used).
const REDOC_OPTIONS = {
  downloadDefinitionUrl: SPEC_URL,
  downloadFileName: "conveyor-openapi-v1.json",
  expandResponses: "200,201,202",
  jsonSampleExpandLevel: 3,
  requiredPropsFirst: true,
  hideHostname: false,
  theme: {
    typography: {
      fontFamily: SYSTEM_FONTS,
      headings: { fontFamily: SYSTEM_FONTS },
      code: { fontFamily: MONO_FONTS },
    },
  },
};

// The page script: fetches the docs' spec, shows each operation's
// x-required-role at the top of its description (Redoc does not render
// operation extensions), then hands the document to Redoc, which shows the
// x-codeSamples as tabs under "Request samples".
const PAGE_SCRIPT = `
(function () {
  "use strict";
  var SPEC_URL = ${JSON.stringify(DOCS_SPEC_URL)};
  var OPTIONS = ${JSON.stringify(REDOC_OPTIONS)};
  var METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
  var container = document.getElementById("redoc-container");

  // Redoc's Prism has no TypeScript grammar; the TypeScript code samples
  // (x-codeSamples, lang TypeScript) are highlighted as JavaScript.
  var prism = window.Prism;
  if (prism && prism.languages.javascript && !prism.languages.typescript) {
    prism.languages.typescript = prism.languages.javascript;
  }

  function showRoles(spec) {
    var paths = spec.paths || {};
    Object.keys(paths).forEach(function (path) {
      METHODS.forEach(function (method) {
        var op = paths[path] && paths[path][method];
        if (!op || typeof op["x-required-role"] !== "string") return;
        op.description = "**Required role:** \`" + op["x-required-role"] + "\`" +
          (op.description ? "\\n\\n" + op.description : "");
      });
    });
    return spec;
  }

  fetch(SPEC_URL, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (res) {
      if (!res.ok) throw new Error("GET " + SPEC_URL + ": HTTP " + res.status);
      return res.json();
    })
    .then(function (spec) {
      Redoc.init(showRoles(spec), OPTIONS, container);
    })
    .catch(function (err) {
      container.textContent = "Could not load the API description: " + err.message;
    });
})();
`;

const scriptHash = createHash("sha256").update(PAGE_SCRIPT, "utf8").digest("base64");

// Everything stays on the serving origin. style-src needs 'unsafe-inline'
// (styled-components injects <style>); Redoc's search index runs in a blob:
// worker. The "API docs by Redocly" attribution in Redoc 2's sidebar loads a
// logo from cdn.redoc.ly: img-src blocks it before any request is made (the
// image then removes itself).
const CSP = [
  "default-src 'none'",
  `script-src 'self' 'sha256-${scriptHash}'`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src blob:",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

const INDEX_HTML = `<!DOCTYPE html>
<!-- Code generated by tools/npm/build-docs.mjs. DO NOT EDIT. -->
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>Conveyor API</title>
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<noscript>The Conveyor API documentation needs JavaScript. The API description itself is at <a href="${SPEC_URL}">${SPEC_URL}</a>.</noscript>
<div id="redoc-container"></div>
<script src="./redoc.standalone.js"></script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;

const EMBED_GO = `// Code generated by tools/npm/build-docs.mjs. DO NOT EDIT.

// Package docs holds the offline API documentation site served at /docs.
package docs

import "embed"

//go:embed index.html redoc.standalone.js openapi.json changelog.html
var FS embed.FS
`;

function bundle() {
  const pkg = JSON.parse(readFileSync(join(redocDir, "package.json"), "utf8"));
  const source = readFileSync(join(redocDir, "bundles", "redoc.standalone.js"), "utf8");
  const licenses = readFileSync(join(redocDir, "bundles", "redoc.standalone.js.LICENSE.txt"), "utf8");
  const firstLine = "/*! For license information please see redoc.standalone.js.LICENSE.txt */\n";
  const mapLine = /\n\/\/# sourceMappingURL=redoc\.standalone\.js\.map\s*$/;
  if (!source.startsWith(firstLine) || !mapLine.test(source)) {
    throw new Error(`redoc@${pkg.version}: bundles/redoc.standalone.js does not have the expected first and last lines`);
  }
  if (licenses.includes("*/") && !/^\s*(\/\*[\s\S]*?\*\/\s*)+$/.test(licenses)) {
    throw new Error(`redoc@${pkg.version}: redoc.standalone.js.LICENSE.txt is not a sequence of comments`);
  }
  const body = source.slice(firstLine.length).replace(mapLine, "\n");
  const header = `/*! redoc@${pkg.version} bundles/redoc.standalone.js (MIT, https://github.com/Redocly/redoc), copied by tools/npm/build-docs.mjs. Third-party notices follow. */\n`;
  return header + licenses.trimEnd() + "\n" + body;
}

function write(name, content) {
  const path = join(outDir, name);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
  const bytes = Buffer.byteLength(content);
  console.log(`${path}  ${bytes} bytes  sha256:${createHash("sha256").update(content).digest("hex").slice(0, 16)}`);
  return bytes;
}

const js = bundle();
if (Buffer.byteLength(js) > MAX_BUNDLE_BYTES) {
  throw new Error(`redoc.standalone.js is ${Buffer.byteLength(js)} bytes, over the ${MAX_BUNDLE_BYTES}-byte budget`);
}
mkdirSync(outDir, { recursive: true });
write("redoc.standalone.js", js);
write("index.html", INDEX_HTML);
const spec = parse(readFileSync(join(here, "..", "..", "openapi", "v1", "openapi.yaml"), "utf8"));
write("openapi.json", JSON.stringify(withCodeSamples(spec), null, 2) + "\n");
write("embed.go", EMBED_GO);
