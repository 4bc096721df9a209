#!/usr/bin/env node
// npm run bench -- compare --old DIR [--passes 7] [--runs 30] [--variant simd|simd-threads] [--threads 1] [--only REGEX]
// Two builds of the engine in one process, interleaved: DIR is a checkout of an older commit with its
// wasm built (web/dist). For each pass and each workload both builds run the same calls back to back
// (which one goes first alternates by pass); a workload's result is the median over passes of each
// build's per-pass median, the new/old ratio per pass (median, min, max), and the old build's own
// pass-to-pass spread (its run-to-run noise) to judge the ratio against.
// Workloads go through the public facade only: a dense layer forward and backward, recommend() and
// personalize() on the shipped MovieLens model, tag() and tagBatch() on Fashion-MNIST, analyze() of
// real reviews, and the two on-device training calls (the tagger's train(), the review fineTune());
// plus the native dense benchmarks (Google Benchmark, one thread) where both builds have build/native.
// Writes bench/results/compare.json and prints a table.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { readCsv } from '../../scripts/reviews/csv.mjs';
import { arg, median, mulberry32, root, timeIt } from '../common.mjs';

const oldDir = path.resolve(arg('old', '') || process.exit(console.error('--old DIR is required') ?? 2));
const passes = Number(arg('passes', 7));
const runs = Number(arg('runs', 30));
const variant = arg('variant', 'simd');
const threads = Number(arg('threads', 1));
const only = new RegExp(arg('only', '.'));  // workloads whose name matches
const gitHead = (dir) => execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();

const models = {
  recommend: path.join(root, 'models/recommend/movielens.safetensors'),
  tagger: path.join(root, 'models/tagger/fashion-mnist.safetensors'),
  reviews: path.join(root, 'models/reviews/fine-foods.safetensors'),
};
const fashionDir = execFileSync('bash', [path.join(root, 'scripts/tagger/prepare-data.sh')], { encoding: 'utf8' }).trim();
const idx = fs.readFileSync(path.join(fashionDir, 't10k-images-idx3-ubyte'));
const images = Array.from({ length: 64 }, (_, i) => ({
  data: new Uint8Array(idx.buffer, idx.byteOffset + 16 + i * 784, 784), width: 28, height: 28, format: 'gray' }));
const reviewDir = execFileSync('bash', [path.join(root, 'scripts/reviews/prepare-data.sh')], { encoding: 'utf8' }).trim();
const reviewRows = readCsv(path.join(reviewDir, 'test.csv')).slice(0, 200);

const rand = mulberry32(11);
const DENSE = { batch: 64, in: 512, out: 512 };
const denseW = Float32Array.from({ length: DENSE.out * DENSE.in }, () => rand() * 2 - 1);
const denseX = Float32Array.from({ length: DENSE.batch * DENSE.in }, () => rand() * 2 - 1);
const denseDy = Float32Array.from({ length: DENSE.batch * DENSE.out }, () => rand() * 2 - 1);

// One engine build: its facade and the task objects every workload uses.
async function setUp(dir) {
  const { createRuntime } = await import(path.join(dir, 'web/src/index.js'));
  const runtime = await createRuntime({ variant, threads });
  const dense = runtime.createDenseLayer({ inFeatures: DENSE.in, outFeatures: DENSE.out, weights: denseW });
  const rec = await runtime.createRecommender({ model: models.recommend });
  const ids = await rec.itemIds();
  let s = 12345;
  const events = Array.from({ length: 100 }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return { item: ids[Math.floor((s / 4294967296) * ids.length)], type: 'view', weight: 1, time: i };
  });
  await rec.importState({ version: 1, events });
  await rec.personalize();
  const tagger = await runtime.createImageTagger({ model: models.tagger });
  await tagger.learn(images.slice(0, 8), 'dark');
  await tagger.learn(images.slice(8, 16), 'light');
  const reviews = await runtime.createReviewAnalyzer({ model: models.reviews });
  const labels = (await reviews.info()).labels;
  const examples = reviewRows.slice(0, 100).map((r) => ({ text: r.text, label: r.label }));
  return {
    dir, runtime,
    workloads: {
      'dense forward 64x512x512': () => dense.forward(denseX),
      'dense backward 64x512x512': () => dense.backward(denseDy),
      'recommend() k=10': () => rec.recommend({ k: 10, explain: false }),
      'personalize() 100 events': () => rec.personalize(),
      'similarItems() k=10': () => rec.similarItems(ids[0], 10),
      'tag() 1 image': () => tagger.tag(images[0]),
      'tagBatch() 64 images': () => tagger.tagBatch(images),
      'tagger train() 20 steps': () => tagger.train({ steps: 20 }),
      'analyze() 200 reviews': async () => { for (const r of reviewRows) await reviews.analyze(r.text); },
      'review fineTune() 100 examples, 1 epoch': () => reviews.fineTune(examples, { epochs: 1 }),
    },
  };
}

const engines = [await setUp(oldDir), await setUp(root)];
// The native dense benchmarks of both builds, when both were built (build/native).
const nativeBins = [oldDir, root].map((d) => path.join(d, 'build/native/bench/native/vitrine_bench'));
const native = nativeBins.every((b) => fs.existsSync(b)) && only.test('native dense');
function nativeDense(bin) {
  const out = execFileSync(bin, ['--benchmark_filter=BM_Dense(Forward|Backward)/N:(256|64)/in:(1024|256)/out:(1024|256)/threads:1',
    '--benchmark_format=json', '--benchmark_min_time=0.1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return Object.fromEntries(JSON.parse(out).benchmarks.map((r) => [`native ${r.run_name}`, r.real_time / 1000]));
}
const names = Object.keys(engines[1].workloads).filter((n) => only.test(n));
const perPass = Object.fromEntries(names.map((n) => [n, { old: [], new: [] }]));
for (let p = 0; p < passes; p++) {
  for (const name of names) {
    const order = p % 2 === 0 ? [0, 1] : [1, 0];
    for (const e of order) {
      const fn = engines[e].workloads[name];
      const n = /200 reviews|64 images|fineTune|train\(\)/.test(name) ? Math.max(5, Math.floor(runs / 4)) : runs;
      const t = await timeIt(fn, n, Math.max(2, Math.floor(n / 5)));
      perPass[name][e === 0 ? 'old' : 'new'].push(t.median_ms);
    }
  }
  if (native) {
    const order = p % 2 === 0 ? [0, 1] : [1, 0];
    for (const e of order) {
      for (const [name, ms] of Object.entries(nativeDense(nativeBins[e]))) {
        perPass[name] ??= { old: [], new: [] };
        perPass[name][e === 0 ? 'old' : 'new'].push(ms);
      }
    }
  }
  process.stderr.write(`pass ${p + 1}/${passes}\n`);
}

const spread = (xs) => (Math.max(...xs) - Math.min(...xs)) / median(xs);
const records = Object.keys(perPass).map((name) => {
  const { old: o, new: n } = perPass[name];
  const ratios = n.map((v, i) => v / o[i]);
  return {
    workload: name, old_ms: median(o), new_ms: median(n), ratio_new_over_old: median(ratios),
    ratio_min: Math.min(...ratios), ratio_max: Math.max(...ratios),
    old_pass_spread: spread(o), new_pass_spread: spread(n), old_passes_ms: o, new_passes_ms: n,
  };
});
const result = {
  benchmark: 'compare',
  command: `npm run bench -- compare --old ${oldDir.startsWith(root) ? path.relative(root, oldDir) : oldDir} --passes ${passes} --runs ${runs} --variant ${variant} --threads ${threads}`,
  date: new Date().toISOString(),
  old: { dir: oldDir, commit: gitHead(oldDir) }, new: { commit: gitHead(root) },
  variant, threads, passes, runs,
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg() },
  records,
};
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results/compare.json'), JSON.stringify(result, null, 2) + '\n');

console.log(`old ${result.old.commit} vs new ${result.new.commit}: ${variant}, ${threads} thread(s), ${passes} interleaved passes`);
console.log('workload'.padEnd(42) + 'old ms'.padStart(10) + 'new ms'.padStart(10) + '  new/old [min, max]'.padEnd(24) + 'old spread');
for (const r of records) {
  console.log(r.workload.padEnd(42) + r.old_ms.toFixed(3).padStart(10) + r.new_ms.toFixed(3).padStart(10) +
    `  ${r.ratio_new_over_old.toFixed(3)} [${r.ratio_min.toFixed(2)}, ${r.ratio_max.toFixed(2)}]`.padEnd(24) +
    `${(100 * r.old_pass_spread).toFixed(1)}%`);
}
for (const e of engines) e.runtime.dispose();
process.exit(0);
