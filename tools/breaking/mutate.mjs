// Scratch mutations of an OpenAPI document for the self-test of the
// breaking-change gate (tools/breaking/check.sh --self-test).
//
//   node mutate.mjs MUTATION IN.yaml OUT.yaml
//
// Each mutation picks its target from the document itself (the first match in
// document order), so the self-test keeps working as the spec grows; it prints
// one line saying what it changed, and fails if it finds no target.
// Uses the `yaml` package installed in tools/npm (make deps-npm).
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';

const require = createRequire(new URL('../npm/package.json', import.meta.url));
const YAML = require('yaml');

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const PROBE = 'gate_probe';

const [mutation, inFile, outFile] = process.argv.slice(2);
if (!mutation || !inFile || !outFile) {
  console.error('usage: node mutate.mjs MUTATION IN.yaml OUT.yaml');
  process.exit(2);
}
const doc = YAML.parse(readFileSync(inFile, 'utf8'));

function* operations() {
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      if (item && typeof item[method] === 'object') yield { path, method, op: item[method], item };
    }
  }
}

// The schema object a node stands for: follows local $refs (components/schemas).
function deref(node) {
  const seen = new Set();
  while (node && typeof node.$ref === 'string') {
    if (seen.has(node.$ref)) throw new Error(`$ref cycle at ${node.$ref}`);
    seen.add(node.$ref);
    if (!node.$ref.startsWith('#/')) throw new Error(`non-local $ref ${node.$ref}`);
    node = node.$ref.slice(2).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((n, key) => n?.[key], doc);
  }
  return node;
}

function refName(node) {
  return typeof node?.$ref === 'string' ? node.$ref.split('/').pop() : '(inline)';
}

function label({ path, method, op }) {
  return `${method.toUpperCase()} ${path} (${op.operationId ?? 'no operationId'})`;
}

// The operation the remove/deprecate mutations act on: the first one that shares
// its path with another operation (so removing it removes an operation, not a
// path), else the first one.
function pickOperation() {
  const all = [...operations()];
  return all.find((o) => METHODS.filter((m) => o.item[m]).length > 1) ?? all[0];
}

function* jsonBodies(content) {
  for (const [media, m] of Object.entries(content ?? {})) {
    if (/json/.test(media) && m?.schema) yield m.schema;
  }
}

// Success (2xx) JSON response schemas, with the operation they belong to.
function* successSchemas() {
  for (const o of operations()) {
    for (const [status, resp] of Object.entries(o.op.responses ?? {})) {
      if (!/^2/.test(status)) continue;
      for (const s of jsonBodies(deref(resp)?.content)) yield { o, status, schema: s };
    }
  }
}

// Object schemas reachable from a schema (itself, allOf parts, properties, items), depth first.
function* objectSchemas(schema, seen = new Set()) {
  const s = deref(schema);
  if (!s || typeof s !== 'object' || seen.has(s)) return;
  seen.add(s);
  if (s.properties) yield { s, name: refName(schema) };
  for (const part of s.allOf ?? []) yield* objectSchemas(part, seen);
  for (const p of Object.values(s.properties ?? {})) yield* objectSchemas(p, seen);
  if (s.items) yield* objectSchemas(s.items, seen);
}

function done(message) {
  writeFileSync(outFile, YAML.stringify(doc, { aliasDuplicateObjects: false }));
  console.log(`  mutation: ${message}`);
  process.exit(0);
}

function fail(message) {
  console.error(`mutate.mjs ${mutation}: ${message}`);
  process.exit(2);
}

switch (mutation) {
  case 'remove-operation': {
    const o = pickOperation() ?? fail('no operation');
    delete o.item[o.method];
    if (!METHODS.some((m) => o.item[m])) delete doc.paths[o.path];
    done(`removed ${label(o)}`);
    break;
  }
  case 'deprecate-operation': {
    const o = pickOperation() ?? fail('no operation');
    o.op.deprecated = true;
    done(`deprecated ${label(o)}`);
    break;
  }
  case 'remove-path': {
    const path = Object.keys(doc.paths ?? {})[0] ?? fail('no path');
    delete doc.paths[path];
    done(`removed the path ${path} and its operations`);
    break;
  }
  case 'add-required-request-property': {
    for (const o of operations()) {
      for (const s of jsonBodies(deref(o.op.requestBody)?.content)) {
        for (const { s: obj, name } of objectSchemas(s)) {
          obj.properties[PROBE] = { type: 'string', maxLength: 16 };
          obj.required = [...(obj.required ?? []), PROBE];
          done(`added required property ${PROBE} to ${name}, the request body of ${label(o)}`);
        }
      }
    }
    fail('no JSON request body with an object schema');
    break;
  }
  case 'remove-optional-request-property': {
    for (const o of operations()) {
      for (const s of jsonBodies(deref(o.op.requestBody)?.content)) {
        for (const { s: obj, name } of objectSchemas(s)) {
          const prop = Object.keys(obj.properties).find((p) => !(obj.required ?? []).includes(p));
          if (!prop) continue;
          delete obj.properties[prop];
          done(`removed optional property ${name}.${prop} from the request body of ${label(o)}`);
        }
      }
    }
    fail('no JSON request body with an optional property');
    break;
  }
  case 'remove-required-response-property':
  case 'remove-optional-response-property': {
    const wantRequired = mutation === 'remove-required-response-property';
    for (const { o, status, schema } of successSchemas()) {
      for (const { s: obj, name } of objectSchemas(schema)) {
        const required = obj.required ?? [];
        const prop = Object.keys(obj.properties).find((p) => required.includes(p) === wantRequired);
        if (!prop) continue;
        delete obj.properties[prop];
        if (wantRequired) obj.required = required.filter((p) => p !== prop);
        done(`removed ${wantRequired ? 'required' : 'optional'} property ${name}.${prop}, in the ${status} response of ${label(o)}`);
      }
    }
    fail(`no success response with a${wantRequired ? ' required' : 'n optional'} property`);
    break;
  }
  case 'add-optional-response-property': {
    for (const { o, status, schema } of successSchemas()) {
      for (const { s: obj, name } of objectSchemas(schema)) {
        obj.properties[PROBE] = { type: 'string', maxLength: 16, description: 'Added by the self-test.' };
        done(`added optional property ${name}.${PROBE}, in the ${status} response of ${label(o)}`);
      }
    }
    fail('no success response with an object schema');
    break;
  }
  default:
    fail('unknown mutation');
}
