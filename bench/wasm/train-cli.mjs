#!/usr/bin/env node
// npm run bench -- train-cli [--epochs 8] [--passes 3] [--out bench/results/train-cli.json]
// Training throughput of the recommender kinds on MovieLens (rating >= 4, every user as a training
// user): the wasm engine as `vitrine train recommend` runs it (RecTrainerHandle; simd with 1 thread,
// simd-threads with 2) against the native tool (`vitrine-recommend train`, 1 and 2 threads) and
// PyTorch DistributedDataParallel (scripts/pytorch/train_ddp.py under torchrun, gloo, 1 and 2
// processes of 1 thread each, reading the same event file), the same histories, settings and seed,
// passes interleaved. events/s = training positives × epochs / seconds, where seconds is each
// engine's own clock around its training loop: the engine's train call (wasm, native), and rank
// 0's time from a barrier before the first epoch to a barrier after the last (PyTorch: without
// process start-up, reading the events and writing the model file). threads: the CPU threads in
// all (PyTorch: processes × 1). Writes bench/results/train-cli.json and prints a table.
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
// PyTorch DDP (Debian's python3-torch), when it is installed.
const python = '/usr/bin/python3';
const hasTorch = (() => {
  try { execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
let pytorchInfo = null;
function pytorch(k, processes) {
  const flags = [path.join(root, 'scripts/pytorch/torchrun.py'), '--standalone', '--nproc_per_node', String(processes),
    path.join(root, 'scripts/pytorch/train_ddp.py'), '--events', ratings, '--columns', 'weight=rating,time=timestamp', '--min-weight', '4',
    '--kind', k.kind, '--dim', String(k.dim), '--epochs', String(epochs), '--lr', String(k.learningRate), '--batch-size', String(k.batchSize),
    '--threads', '1', '--seed', '20261128', '--out', path.join(tmp, 'm-pytorch.safetensors')];
  if (k.dropout !== undefined) flags.push('--dropout', String(k.dropout));
  const out = execFileSync(python, flags, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const r = JSON.parse(out.trim().split('\n').pop());
  if (r.events !== events || r.world_size !== processes) throw new Error(`pytorch-ddp: ${r.events} events in ${r.world_size} processes, expected ${events} in ${processes}`);
  pytorchInfo = { torch: r.torch, blas: r.blas };
  return r.seconds;
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
const engines = [['wasm', 1, wasm], ['wasm', 2, wasm], ...(fs.existsSync(tool) ? [['native', 1, native], ['native', 2, native]] : []),
  ...(hasTorch ? [['pytorch-ddp', 1, pytorch], ['pytorch-ddp', 2, pytorch]] : [])];
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
  return { kind, engine, threads: Number(threads), ...(engine === 'pytorch-ddp' ? { processes: Number(threads) } : {}), epochs, events,
    median_s: s, runs_s: secs, events_per_s: (events * epochs) / s };
});
const result = {
  benchmark: 'train-cli', command: `npm run bench -- train-cli --epochs ${epochs} --passes ${passes}`, date: new Date().toISOString(),
  data: `MovieLens latest-small (r-cran-dslabs), rating >= 4: ${lists.length} users, ${itemIds.length} items, ${events} positives`,
  settings: KINDS, machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, ...(pytorchInfo ? { pytorch: pytorchInfo } : {}) }, records,
};
fs.writeFileSync(arg('out', path.join(root, 'bench/results/train-cli.json')), JSON.stringify(result, null, 2) + '\n');
console.log(`${result.data}; ${epochs} epochs, median of ${passes} interleaved passes`);
console.log('kind       engine       threads  seconds  events/s   vs native same threads');
for (const r of records) {
  const nat = records.find((x) => x.kind === r.kind && x.engine === 'native' && x.threads === r.threads);
  console.log(`${r.kind.padEnd(10)} ${r.engine.padEnd(12)} ${String(r.threads).padStart(7)} ${r.median_s.toFixed(2).padStart(8)} ${Math.round(r.events_per_s).toString().padStart(9)}` +
    (nat && r.engine !== 'native' ? `   ${(nat.median_s / r.median_s).toFixed(2)}x` : ''));
}
for (const r of Object.values(runtimes)) r.dispose();
process.exit(0);
