// The wasm twin of `vitrine-recommend rank`: folds in each history and ranks through the npm
// facade (createRecommender -> recommendFor) in a wasm variant, writing the same file format, so
// the evaluation can check that on-device ranking equals native ranking.
//
//   node scripts/recommend/rank_wasm.mjs MODEL HISTORIES.txt K OUT.txt [--variant simd|simd-threads]
//        [--threads N] [--precision f32|f16|int8]
import fs from 'node:fs';

import { createRuntime } from '../../web/src/index.js';

const args = process.argv.slice(2);
const positional = [];
const flags = { variant: 'simd', threads: '1', precision: 'f32' };
for (let i = 0; i < args.length; i++) {
  if (args[i].startsWith('--')) flags[args[i].slice(2)] = args[++i];
  else positional.push(args[i]);
}
if (positional.length !== 4) {
  console.error('usage: node scripts/recommend/rank_wasm.mjs MODEL HISTORIES K OUT [--variant V] [--threads N] [--precision P]');
  process.exit(2);
}
const [model, histories, kText, out] = positional;
const k = Number(kText);

const runtime = await createRuntime({ variant: flags.variant, threads: Number(flags.threads) });
try {
  const rec = await runtime.createRecommender({ model, precision: flags.precision });
  const ids = await rec.itemIds();
  const index = new Map(ids.map((id, i) => [id, i]));
  const lines = fs.readFileSync(histories, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const t0 = performance.now();
  const result = [];
  for (const line of lines) {
    const history = line.trim() === '' ? [] : line.trim().split(/\s+/).map((v) => ids[Number(v)]);
    result.push((await rec.recommendFor(history, { k, explain: false })).map((r) => index.get(r.id)).join(' '));
  }
  const ms = performance.now() - t0;
  fs.writeFileSync(out, result.join('\n') + '\n');
  console.log(JSON.stringify({ users: lines.length, ms, variant: runtime.info().variant, threads: runtime.info().threads }));
  await rec.dispose();
} finally {
  runtime.dispose();
}
