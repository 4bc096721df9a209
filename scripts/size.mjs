#!/usr/bin/env node
// npm run size: what `npm pack` would publish, file by file, raw and gzip bytes; the download a
// page pays for (the JS facade + the glue + ONE wasm variant, gzip) next to the 1.5 MB budget of
// the packaging issue; models listed apart. Writes bench/results/size.json and prints a table.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUDGET = 1.5e6;

const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'],
  { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))[0];
const files = packed.files.map(({ path: p, size }) => {
  const bytes = fs.readFileSync(path.join(root, p));
  return { path: p, bytes: size, gzip: zlib.gzipSync(bytes, { level: 9 }).length };
});
const sum = (list, key) => list.reduce((a, f) => a + f[key], 0);
const isModel = (f) => f.path.startsWith('models/');
const js = files.filter((f) => f.path.startsWith('web/src/') && f.path.endsWith('.js'));
const variants = {};
for (const v of ['simd', 'simd-threads']) {
  const own = files.filter((f) => f.path.startsWith(`web/dist/vitrine-${v}.`));
  variants[v] = { files: own.map((f) => f.path), bytes: sum(js, 'bytes') + sum(own, 'bytes'), gzip: sum(js, 'gzip') + sum(own, 'gzip') };
}
const result = {
  command: 'npm run size',
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  package: { name: packed.name, version: packed.version, tarball_bytes: packed.size, unpacked_bytes: packed.unpackedSize, entries: packed.entryCount },
  budget_gzip_bytes: BUDGET,
  download_js_plus_one_variant: variants,
  models: files.filter(isModel),
  files,
};
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results/size.json'), JSON.stringify(result, null, 1) + '\n');

const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;
console.log(`npm pack: ${packed.entryCount} files, tarball ${kb(packed.size)}, unpacked ${kb(packed.unpackedSize)}\n`);
console.log('file'.padEnd(48), 'bytes'.padStart(12), 'gzip'.padStart(12));
for (const f of files) console.log(f.path.padEnd(48), kb(f.bytes).padStart(12), kb(f.gzip).padStart(12));
console.log('\nwhat a page downloads (facade JS + one variant, gzip), models not counted:');
for (const [v, s] of Object.entries(variants)) {
  console.log(`  ${v.padEnd(14)} ${kb(s.gzip).padStart(12)}  (${s.gzip <= BUDGET ? 'within' : 'OVER'} the ${(BUDGET / 1e6).toFixed(1)} MB budget)`);
}
