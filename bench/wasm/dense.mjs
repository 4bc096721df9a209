#!/usr/bin/env node
// npm run bench -- dense [--runs N] [--shape N,IN,OUT]
// Dense forward and backward GFLOP/s in both wasm variants (1 and 2 threads), plus the native build
// (Google Benchmark) when build/native exists. Medians over many runs after warm-up.
// Writes bench/results/dense.json (one record per variant × threads × pass) and prints a table.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createRuntime } from '../../web/src/index.js';
import { arg, median, root } from '../common.mjs';

const runs = Number(arg('runs', 40));
const warmup = 5;
const [N, IN, OUT] = arg('shape', '256,1024,1024').split(',').map(Number);


function timeIt(fn) {
  for (let i = 0; i < warmup; i++) fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return { median_ms: median(times), min_ms: Math.min(...times), runs };
}

const rand = () => Math.random() * 2 - 1;
const w = Float32Array.from({ length: OUT * IN }, rand);
const b = Float32Array.from({ length: OUT }, rand);
const x = Float32Array.from({ length: N * IN }, rand);
const dy = Float32Array.from({ length: N * OUT }, rand);
const flopsForward = 2 * N * IN * OUT;
const flopsBackward = 4 * N * IN * OUT;  // dx and dW; db is negligible

const records = [];
for (const [variant, threadCounts] of [['simd', [1]], ['simd-threads', [1, 2]]]) {
  const runtime = await createRuntime({ variant, threads: Math.max(...threadCounts) });
  const layer = runtime.createDenseLayer({ inFeatures: IN, outFeatures: OUT, weights: w, bias: b });
  for (const threads of threadCounts) {
    runtime.setThreads(threads);
    const f = timeIt(() => layer.forward(x));
    records.push({ variant, threads, pass: 'forward', ...f, gflops: flopsForward / f.median_ms / 1e6 });
    const g = timeIt(() => layer.backward(dy));
    records.push({ variant, threads, pass: 'backward', ...g, gflops: flopsBackward / g.median_ms / 1e6 });
  }
  layer.dispose();
  runtime.dispose();
}

const nativeBench = path.join(root, 'build/native/bench/native/vitrine_bench');
if (fs.existsSync(nativeBench)) {
  const out = execFileSync(nativeBench, [
    `--benchmark_filter=BM_Dense(Forward|Backward)/N:${N}/in:${IN}/out:${OUT}/`,
    '--benchmark_format=json', '--benchmark_repetitions=10', '--benchmark_report_aggregates_only=true',
    '--benchmark_min_time=0.2',
  ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  for (const r of JSON.parse(out).benchmarks) {
    if (r.aggregate_name !== 'median') continue;
    const m = /BM_Dense(Forward|Backward)\/.*threads:(\d+)/.exec(r.run_name);
    if (!m) continue;
    records.push({
      variant: 'native', threads: Number(m[2]), pass: m[1].toLowerCase(),
      median_ms: r.real_time / 1000, runs: 10, gflops: r['GFLOP/s'] / 1e9 * 1e9,
    });
  }
}

const result = {
  benchmark: 'dense',
  command: 'npm run bench -- dense',
  date: new Date().toISOString(),
  shape: { batch: N, in: IN, out: OUT },
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
  records,
};
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results/dense.json'), JSON.stringify(result, null, 2) + '\n');

console.log(`dense ${N}×${IN} · ${IN}×${OUT}ᵀ, median of ${runs} runs after ${warmup} warm-up`);
console.log('variant        threads  pass      median ms   GFLOP/s');
for (const r of records) {
  console.log(`${r.variant.padEnd(14)} ${String(r.threads).padStart(7)}  ${r.pass.padEnd(8)} ` +
    `${r.median_ms.toFixed(2).padStart(10)}  ${r.gflops.toFixed(1).padStart(8)}`);
}
const one = records.find((r) => r.variant === 'simd-threads' && r.threads === 1 && r.pass === 'forward');
const two = records.find((r) => r.variant === 'simd-threads' && r.threads === 2 && r.pass === 'forward');
console.log(`2-thread speed-up (simd-threads forward): ${(two.gflops / one.gflops).toFixed(2)}×`);
console.log('wrote bench/results/dense.json');
