#!/usr/bin/env node
// The main job (until the browser demo lands): a "movie store" session in Node with the shipped
// MovieLens recommender, the way a storefront would use it. A shopper views and buys a few films;
// the engine folds the history in on the device and ranks the catalogue, with explanations.
// The shopper's state persists in a file between runs (--state), `--forget` erases it.
//
//   node web/demo/cli.mjs [--like "Matrix, The" --like "Toy Story" ...] [--variant auto|simd|simd-threads]
//                         [--threads N] [--state FILE] [--forget] [--k 10] [--diversity 0.3]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { init, runtimeInfo, createRecommender } from '../src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const all = (name) => args.flatMap((a, i) => (a === `--${name}` && i + 1 < args.length ? [args[i + 1]] : []));

const options = { variant: opt('variant', 'auto') };
if (opt('threads')) options.threads = Number(opt('threads'));
const statePath = opt('state', path.join(process.env.VITRINE_CACHE || path.join(os.homedir(), '.cache/vitrine'), 'demo-shopper.json'));
fs.mkdirSync(path.dirname(statePath), { recursive: true });

const started = performance.now();
await init(options);
console.log(`engine loaded in ${(performance.now() - started).toFixed(0)} ms:`, runtimeInfo());

const modelDir = path.join(root, 'models/recommend');
const catalog = JSON.parse(fs.readFileSync(path.join(modelDir, 'movielens-catalog.json'), 'utf8')).items;
const byId = new Map(catalog.map((m) => [m.id, m]));
const label = (id) => { const m = byId.get(id); return m ? `${m.title} (${m.year ?? '?'})` : id; };

const t0 = performance.now();
const rec = await createRecommender({
  model: path.join(modelDir, 'movielens.safetensors'),
  storage: { type: 'file', path: statePath },
  catalog,
});
const info = await rec.info();
console.log(`recommender: ${info.kind}, ${info.items} films, ${(info.bytes / 1e6).toFixed(1)} MB in memory, ` +
            `loaded in ${(performance.now() - t0).toFixed(0)} ms; state file ${statePath}`);

if (args.includes('--forget')) {
  await rec.forget();
  console.log('forgot the shopper: state erased');
}

// Films named with --like (title substring, case-insensitive), else a default taste on a first run.
const likes = all('like');
if (likes.length === 0 && (await rec.info()).events === 0) likes.push('Matrix, The', 'Star Wars: Episode V', 'Toy Story', 'Fight Club');
for (const wanted of likes) {
  const hit = catalog.find((m) => m.title.toLowerCase().includes(wanted.toLowerCase()));
  if (!hit) { console.log(`no film matching "${wanted}" in the catalogue`); continue; }
  await rec.observe({ item: hit.id, type: 'view' });
  console.log(`viewed: ${label(hit.id)}`);
}
console.log(`history (${(await rec.info()).events} events, kept across runs): ` +
            (await rec.exportState()).events.map((e) => label(e.item)).join('; '));

const fold = await rec.personalize();
const k = Number(opt('k', 10));
const t1 = performance.now();
const top = await rec.recommend({ k, diversity: Number(opt('diversity', 0)) });
const rankMs = performance.now() - t1;
console.log(`\nrecommended (fold-in ${fold.ms.toFixed(2)} ms, ranking ${info.items} films ${rankMs.toFixed(2)} ms):`);
top.forEach((r, i) => {
  const because = r.because ? `  — because you viewed ${label(r.because.id)}` : '';
  console.log(`${String(i + 1).padStart(2)}. ${label(r.id)} [${byId.get(r.id)?.categories.join(', ')}]${because}`);
});
const comedies = await rec.recommend({ k: 3, categories: ['Comedy'], explain: false });
console.log(`\ncomedies for you: ${comedies.map((r) => label(r.id)).join('; ')}`);
const seed = top[0]?.id;
if (seed) console.log(`similar to ${label(seed)}: ${(await rec.similarItems(seed, 5)).map((r) => label(r.id)).join('; ')}`);
await rec.dispose();
