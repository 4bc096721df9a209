#!/usr/bin/env node
// npm run bench -- train-cli [--epochs 8] [--passes 3]
// Training throughput of the recommender kinds on MovieLens (rating >= 4, every user as a training
// user): the wasm engine as `vitrine train recommend` runs it (RecTrainerHandle; simd with 1 thread,
// simd-threads with 2) against the native tool (`vitrine-recommend train`, 1 and 2 threads), the
// same histories, settings and seed, passes interleaved. events/s = training positives × epochs /
// seconds. (The PyTorch DDP rows are not measured: that recipe is not built yet.)
// Writes bench/results/train-cli.json and prints a table.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { histories } from '../../cli/recommend.mjs';
import { readEvents } from '../../cli/events.mjs';
import { createRuntime } from '../../web/src/index.js';
import { arg, median, root } from '../common.mjs';

const epochs = Number(arg('epochs', 8));
const passes = Number(arg('passes', 3));
const ratings = execFileSync('bash', [path.join(root, 'scripts/data/movielens.sh')], { encoding: 'utf8' }).trim();
const ev = await readEvents(ratings, { minWeight: 4, columns: { weight: 'rating', time: 'timestamp' } });
const lists = histories(ev).histories.filter((h) => h.length > 0);
const events = lists.reduce((s, h) => s + h.length, 0);
const itemIds = ev.items.ids;
const offsets = new Int32Array(lists.length + 1);
lists.forEach((h, i) => { offsets[i + 1] = offsets[i] + h.length; });
const flat = new Int32Array(offsets[lists.length]);
lists.forEach((h, i) => flat.set(h, offsets[i]));

const KINDS = {
  'mult-dae': { kind: 'mult-dae', dim: 200, dropout: 0.5, learningRate: 1e-3, batchSize: 100 },
  'mf-bpr': { kind: 'mf-bpr', dim: 64, learningRate: 5e-3, batchSize: 1024 },
};
const tool = path.join(root, 'build/native/engine/tools/vitrine-recommend');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-train-cli-'));
fs.writeFileSync(path.join(tmp, 'histories.txt'), lists.map((h) => h.join(' ')).join('\n') + '\n');
fs.writeFileSync(path.join(tmp, 'items.txt'), itemIds.join('\n') + '\n');

const runtimes = { 1: await createRuntime({ variant: 'simd', threads: 1 }), 2: await createRuntime({ variant: 'simd-threads', threads: 2 }) };
function wasm(k, threads) {
  const trainer = new runtimes[threads]._module.RecTrainerHandle();
  try {
    const r = trainer.train({ histories: flat, offsets, itemIds, options: { ...k, epochs, evalEvery: epochs + 1, seed: 20261128 } });
    if (r === null) throw new Error(trainer.lastError());
    return r.seconds;
  } finally {
    trainer.delete();
  }
}
function native(k, threads) {
  const flags = ['train', '--histories', path.join(tmp, 'histories.txt'), '--items', path.join(tmp, 'items.txt'), '--save', path.join(tmp, 'm.safetensors'),
    '--kind', k.kind, '--dim', String(k.dim), '--epochs', String(epochs), '--lr', String(k.learningRate), '--batch-size', String(k.batchSize),
    '--threads', String(threads), '--seed', '20261128'];
  if (k.dropout !== undefined) flags.push('--dropout', String(k.dropout));
  const out = execFileSync(tool, flags, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(out.trim().split('\n').pop()).seconds;
}

const times = {};
const engines = [['wasm', 1, wasm], ['wasm', 2, wasm], ...(fs.existsSync(tool) ? [['native', 1, native], ['native', 2, native]] : [])];
for (let p = 0; p < passes; p++) {
  for (const [name, k] of Object.entries(KINDS)) {
    const order = p % 2 ? [...engines].reverse() : engines;
    for (const [engine, threads, fn] of order) {
      const key = `${name}|${engine}|${threads}`;
      (times[key] ??= []).push(fn(k, threads));
      process.stderr.write(`pass ${p + 1}: ${key} ${times[key].at(-1).toFixed(2)} s\n`);
    }
  }
}
const records = Object.entries(times).map(([key, secs]) => {
  const [kind, engine, threads] = key.split('|');
  const s = median(secs);
  return { kind, engine, threads: Number(threads), epochs, events, median_s: s, runs_s: secs, events_per_s: (events * epochs) / s };
});
const result = {
  benchmark: 'train-cli', command: `npm run bench -- train-cli --epochs ${epochs} --passes ${passes}`, date: new Date().toISOString(),
  data: `MovieLens latest-small (r-cran-dslabs), rating >= 4: ${lists.length} users, ${itemIds.length} items, ${events} positives`,
  settings: KINDS, machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version }, records,
};
fs.writeFileSync(path.join(root, 'bench/results/train-cli.json'), JSON.stringify(result, null, 2) + '\n');
console.log(`${result.data}; ${epochs} epochs, median of ${passes} interleaved passes`);
console.log('kind       engine  threads  seconds  events/s   vs native same threads');
for (const r of records) {
  const nat = records.find((x) => x.kind === r.kind && x.engine === 'native' && x.threads === r.threads);
  console.log(`${r.kind.padEnd(10)} ${r.engine.padEnd(7)} ${String(r.threads).padStart(7)} ${r.median_s.toFixed(2).padStart(8)} ${Math.round(r.events_per_s).toString().padStart(9)}` +
    (nat && r.engine !== 'native' ? `   ${(nat.median_s / r.median_s).toFixed(2)}x` : ''));
}
for (const r of Object.values(runtimes)) r.dispose();
process.exit(0);
