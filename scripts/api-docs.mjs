// Generates docs/api.md, the API reference, from the package's TypeScript declarations
// (web/src/index.d.ts): every exported class, function, interface, type and constant with its doc
// comment and its declaration, grouped by the sections of the file. `--check` fails when
// docs/api.md is out of date (run by the tests).
//
//   node scripts/api-docs.mjs [--check]      (npm run docs)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = fs.readFileSync(path.join(root, 'web/src/index.d.ts'), 'utf8');
const lines = source.split('\n');

const out = ['# Vitrine API reference', '',
             '_Generated from `web/src/index.d.ts` by `npm run docs` (scripts/api-docs.mjs); do not edit by hand._', ''];
const toc = [];
let section = 'Runtime, models and errors';
let pendingDoc = [];
let started = false;
const startSection = (name) => {
  section = name;
  out.push(`## ${name}`, '');
  toc.push(`- [${name}](#${name.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')})`);
};
for (let i = 0; i < lines.length; i++) {
  const line = lines[i];
  const sec = /^\/\/ ---- (.+?) -+$/.exec(line);
  if (sec) {
    startSection(sec[1][0].toUpperCase() + sec[1].slice(1));
    pendingDoc = [];
    continue;
  }
  if (/^\s*\/\*\*/.test(line) && !/^\s/.test(line)) {  // a top-level doc comment
    pendingDoc = [];
    let j = i;
    for (; j < lines.length; j++) {
      pendingDoc.push(lines[j].replace(/^\s*\/?\*+\/?\s?/, '').replace(/\*\/\s*$/, '').trimEnd());
      if (lines[j].includes('*/')) break;
    }
    i = j;
    continue;
  }
  const m = /^export (?:declare )?(class|function|interface|type|const) (\w+)/.exec(line);
  if (!m) {
    if (line.trim() && !line.startsWith('//')) pendingDoc = [];
    continue;
  }
  if (!started) {
    startSection(section);
    started = true;
  }
  // The declaration: up to the matching closing brace (classes, interfaces) or the end of the statement.
  const decl = [line];
  let depth = (line.match(/{/g) || []).length - (line.match(/}/g) || []).length;
  let j = i;
  while ((depth > 0 || !/[;}]\s*$/.test(lines[j])) && j + 1 < lines.length) {
    j++;
    decl.push(lines[j]);
    depth += (lines[j].match(/{/g) || []).length - (lines[j].match(/}/g) || []).length;
    if (depth === 0 && /[;}]\s*$/.test(lines[j])) break;
  }
  i = j;
  out.push(`### ${m[1]} \`${m[2]}\``, '');
  const doc = pendingDoc.filter((d) => d !== '').join(' ').trim();
  if (doc) out.push(doc, '');
  out.push('```ts', ...decl, '```', '');
  pendingDoc = [];
}
const text = [...out.slice(0, 4), 'Contents:', '', ...toc, '', ...out.slice(4)].join('\n').replace(/\n{3,}/g, '\n\n');
const file = path.join(root, 'docs/api.md');
if (process.argv.includes('--check')) {
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) {
    console.error('docs/api.md is out of date: run npm run docs');
    process.exit(1);
  }
} else {
  fs.writeFileSync(file, text);
  console.error(`wrote docs/api.md (${out.filter((l) => l.startsWith('### ')).length} declarations)`);
}
