#!/usr/bin/env node
// npm run bench -- dense [--runs N] [--passes P] [--shape N,IN,OUT] [--skip-peers] [--out FILE] [--verbose]
// One dense layer y = x · Wᵀ + b (default x 256×1024, W 1024×1024) in Vitrine and in its peers, in
// one run, on the same machine, each in every reasonable form:
//   vitrine          simd (1 thread), simd-threads (1 and 2 threads):
//                      layer        runtime.createDenseLayer() forward (and backward: dx and dW)
//                      Gemm(transB) the ONNX model Gemm(x, W[out,in], b, transB = 1) (PyTorch's nn.Linear export)
//                      Gemm         Gemm(x, Wᵀ[in,out], b)                              via runtime.loadModel()
//                      MatMul+Add   Add(MatMul(x, Wᵀ[in,out]), b)
//   onnxruntime-web  wasm backend, 1 and 2 threads: the same three ONNX models
//   tfjs-wasm        @tensorflow/tfjs-backend-wasm, 1 and 2 threads (2 forced, see common.mjs):
//                      fused(transposeB)  tf.fused.matMul({ a: x, b: W[out,in], transposeB: true, bias })
//                      fused              tf.fused.matMul({ a: x, b: Wᵀ[in,out], bias })
//                      matMul(transposeB)+add, matMul+add   the same unfused: tf.add(tf.matMul(...), bias)
//   native           the engine's Google Benchmark (BM_Dense*, one and two threads) when built
// Timed: the input in (a Float32Array each call) and the output read back to JS (Vitrine:
// run()/forward() results; ORT: session.run() output data; tfjs: tf.tensor2d(x) in, dataSync() out). Every form's output is checked
// against a float64 reference on three rows (max |error| / max |reference| <= 1e-4); a form that
// fails the check is reported but never the reference of a ratio.
// Each engine and thread count runs in its own child process (this file with --child); the whole
// list runs --passes times in turn (default 3). Per pass: median of --runs timed calls (default 30)
// after at least 5 calls and 500 ms of warm-up. Reported: the median of the pass medians with
// their spread; ratios per pass against each peer's fastest form, then their median and spread.
// Writes bench/results/dense.json (or --out) and prints a table; exits 1 when a Vitrine form fails
// or its output is off.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { aggregatePasses, arg, args, flag, loadTfjsWasm, mulberry32, quantile, root, stats } from '../common.mjs';
import { ONNX_FLOAT, nodeProto, onnxModel, pb, tensorProto, valueInfo } from '../onnx-writer.mjs';

const self = fileURLToPath(import.meta.url);
const runs = Number(arg('runs', 30));
const passes = Number(arg('passes', 3));
const [N, IN, OUT] = arg('shape', '256,1024,1024').split(',').map(Number);
const SEED = 20261203;
const WARM_CALLS = 5, WARM_MS = 500;
const TOLERANCE = 1e-4;
const PEERS = ['onnxruntime-web', 'tfjs-wasm'];
const ONNX_FORMS = ['Gemm(transB)', 'Gemm', 'MatMul+Add'];
const CRITERIA = { tfjs_1t: 1.0, ort_2t: 0.9 };  // issue 21: Vitrine / peer, medians over the passes

function data() {
  const r = mulberry32(SEED);
  const uniform = (n) => Float32Array.from({ length: n }, () => r() * 2 - 1);
  const x = uniform(N * IN), w = uniform(OUT * IN), b = uniform(OUT), dy = uniform(N * OUT);
  const wT = new Float32Array(IN * OUT);
  for (let o = 0; o < OUT; o++) for (let i = 0; i < IN; i++) wT[i * OUT + o] = w[o * IN + i];
  return { x, w, wT, b, dy };
}

// max |y - reference| / max |reference| over rows 0, N/2 and N-1 (float64 reference).
function relError({ x, w, b }, y) {
  let err = 0, scale = 0;
  for (const r of [0, N >> 1, N - 1]) {
    for (let o = 0; o < OUT; o++) {
      let s = b[o];
      for (let i = 0; i < IN; i++) s += x[r * IN + i] * w[o * IN + i];
      err = Math.max(err, Math.abs(y[r * OUT + o] - s));
      scale = Math.max(scale, Math.abs(s));
    }
  }
  return err / scale;
}

function onnxDense(form, { w, wT, b }) {
  const nodes = form === 'MatMul+Add'
    ? [pb.bytes(1, nodeProto('MatMul', ['x', 'W'], ['xw'])), pb.bytes(1, nodeProto('Add', ['xw', 'b'], ['y']))]
    : [pb.bytes(1, nodeProto('Gemm', ['x', 'W', 'b'], ['y'], form === 'Gemm(transB)' ? { transB: 1 } : {}))];
  const graph = pb.msg(  // GraphProto { node = 1, name = 2, initializer = 5, input = 11, output = 12 }
    ...nodes, pb.str(2, 'dense'),
    pb.bytes(5, form === 'Gemm(transB)' ? tensorProto('W', ONNX_FLOAT, [OUT, IN], w) : tensorProto('W', ONNX_FLOAT, [IN, OUT], wT)),
    pb.bytes(5, tensorProto('b', ONNX_FLOAT, [OUT], b)),
    pb.bytes(11, valueInfo('x', ONNX_FLOAT, [N, IN])),
    pb.bytes(12, valueInfo('y', ONNX_FLOAT, [N, OUT])),
  );
  return onnxModel(graph);
}

async function timeIt(fn) {
  const w0 = performance.now();
  for (let i = 0; i < WARM_CALLS || performance.now() - w0 < WARM_MS; i++) await fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return stats(times);
}

// ---- children ----

async function childVitrine({ variant, threads }, d) {
  const { createRuntime } = await import('../../web/src/index.js');
  const runtime = await createRuntime({ variant, threads: variant === 'simd' ? 1 : 2 });
  runtime.setThreads(threads);
  const records = [];
  const layer = runtime.createDenseLayer({ inFeatures: IN, outFeatures: OUT, weights: d.w, bias: d.b });
  const fwd = () => layer.forward(d.x);
  const err = relError(d, fwd());
  records.push({ form: 'layer', direction: 'forward', err, ...(await timeIt(fwd)) });
  records.push({ form: 'layer', direction: 'backward', ...(await timeIt(() => layer.backward(d.dy))) });
  layer.dispose();
  for (const form of ONNX_FORMS) {
    const model = await runtime.loadModel(onnxDense(form, d));
    const run = () => model.run({ x: d.x }).y.data;
    const e = relError(d, run());
    records.push({ form, direction: 'forward', err: e, ...(await timeIt(run)) });
    model.dispose();
  }
  runtime.dispose();
  return records;
}

async function childOrt({ threads }, d) {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  const records = [];
  for (const form of ONNX_FORMS) {
    const session = await ort.InferenceSession.create(onnxDense(form, d), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const feeds = { x: new ort.Tensor('float32', d.x, [N, IN]) };
    const run = async () => (await session.run(feeds)).y.data;
    const err = relError(d, await run());
    records.push({ form, direction: 'forward', err, ...(await timeIt(run)) });
    await session.release();
  }
  return records;
}

async function childTfjs({ threads }, d) {
  const { tf } = await loadTfjsWasm(threads);
  const records = [];
  const bias = tf.tensor1d(d.b);
  for (const form of ['fused(transposeB)', 'fused', 'matMul(transposeB)+add', 'matMul+add']) {
    const transposeB = form.includes('transposeB');
    const t = transposeB ? tf.tensor2d(d.w, [OUT, IN]) : tf.tensor2d(d.wT, [IN, OUT]);
    const run = () => {
      const x = tf.tensor2d(d.x, [N, IN]);  // the input arrives as a Float32Array, as in the other engines
      const y = form.startsWith('fused') ? tf.fused.matMul({ a: x, b: t, transposeB, bias })
        : tf.tidy(() => tf.add(tf.matMul(x, t, false, transposeB), bias));
      const out = y.dataSync();
      tf.dispose([x, y]);
      return out;
    };
    const err = relError(d, run());
    records.push({ form, direction: 'forward', err, ...(await timeIt(run)) });
    t.dispose();
  }
  bias.dispose();
  return records;
}

async function child() {
  const config = JSON.parse(arg('child'));
  const fn = { vitrine: childVitrine, 'onnxruntime-web': childOrt, 'tfjs-wasm': childTfjs }[config.engine];
  const records = (await fn(config, data())).map((r) => ({ engine: config.engine, variant: config.variant, threads: config.threads, ...r }));
  fs.writeFileSync(arg('out'), JSON.stringify(records));
  process.exit(0);  // peers may leave worker threads running
}

// ---- parent ----

function nativeRecords() {
  const bin = path.join(root, 'build/native/bench/native/vitrine_bench');
  if (!fs.existsSync(bin)) return [];
  const out = execFileSync(bin, [
    `--benchmark_filter=BM_Dense(Forward|Backward)/N:${N}/in:${IN}/out:${OUT}/`,
    '--benchmark_format=json', '--benchmark_repetitions=10', '--benchmark_report_aggregates_only=true',
    '--benchmark_min_time=0.2',
  ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const records = [];
  for (const r of JSON.parse(out).benchmarks) {
    if (r.aggregate_name !== 'median') continue;
    const m = /BM_Dense(Forward|Backward)\/.*threads:(\d+)/.exec(r.run_name);
    if (m) records.push({ engine: 'vitrine', variant: 'native', threads: Number(m[2]), form: 'layer', direction: m[1].toLowerCase(), median_ms: r.real_time / 1000, runs: 10 });
  }
  return records;
}

async function parent() {
  for (const [name, v] of [['runs', runs], ['passes', passes], ['shape', N], ['shape', IN], ['shape', OUT]]) {
    if (!(Number.isInteger(v) && v >= 1)) throw new Error(`--${name} must be positive integers, got ${arg(name)}`);
  }
  const configs = [];
  for (const threads of [1, 2]) {
    for (const [variant, t] of [['simd', 1], ['simd-threads', 1], ['simd-threads', 2]]) if (t === threads) configs.push({ engine: 'vitrine', variant, threads });
    if (!flag('skip-peers')) for (const engine of PEERS) configs.push({ engine, variant: 'wasm', threads });
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-bench-dense-'));
  const perPass = [], notes = [];
  let failed = false;
  for (let pass = 0; pass < passes; pass++) {
    for (const c of configs) {
      const label = `${c.engine} ${c.variant}, ${c.threads} thread(s) [pass ${pass + 1}/${passes}]`;
      const out = path.join(tmp, 'out.json');
      fs.rmSync(out, { force: true });
      const r = spawnSync(process.execPath, [self, '--child', JSON.stringify(c), '--out', out], { cwd: root, encoding: 'utf8', timeout: 600_000 });
      if (flag('verbose')) process.stderr.write(r.stdout + r.stderr);
      if (r.status !== 0 || !fs.existsSync(out)) {
        const why = ((r.stderr || '').trim().split('\n').find((l) => /Error|error/.test(l)) ?? `exit ${r.status}`).slice(0, 300);
        console.error(`[dense] ${label}: FAILED (${why})`);
        notes.push(`${label}: failed: ${why}`);
        perPass.push({ engine: c.engine, variant: c.variant, threads: c.threads, pass, error: why });
        if (c.engine === 'vitrine') failed = true;
        continue;
      }
      const recs = JSON.parse(fs.readFileSync(out, 'utf8'));
      for (const rec of recs) perPass.push({ ...rec, pass });
      console.error(`[dense] ${label}: ${recs.map((x) => `${x.form} ${x.direction === 'backward' ? 'bwd ' : ''}${x.median_ms.toFixed(2)} ms`).join(', ')}`);
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  const records = aggregatePasses(perPass);
  const native = nativeRecords();
  for (const r of [...records, ...native]) {
    if (r.error) continue;
    r.gflops = (r.direction === 'backward' ? 4 : 2) * N * IN * OUT / (r.median_ms * 1e6);
  }
  const bad = records.filter((r) => r.err !== undefined && !(r.err <= TOLERANCE));
  for (const r of bad) notes.push(`${r.engine} ${r.variant} ${r.threads}t ${r.form}: output error ${r.err} > ${TOLERANCE}`);
  if (bad.some((r) => r.engine === 'vitrine')) failed = true;

  // ratios per pass: each Vitrine forward form / each peer's fastest forward form (same threads)
  const fwd = perPass.filter((r) => !r.error && r.direction === 'forward' && r.err <= TOLERANCE);
  const ratios = [];
  for (const v of fwd.filter((r) => r.engine === 'vitrine')) {
    for (const peer of [...PEERS, 'best peer']) {
      const rows = fwd.filter((r) => r.pass === v.pass && r.threads === v.threads && (peer === 'best peer' ? PEERS.includes(r.engine) : r.engine === peer));
      if (!rows.length) continue;
      const p = rows.reduce((a, b) => (b.median_ms < a.median_ms ? b : a));
      let g = ratios.find((x) => x.variant === v.variant && x.threads === v.threads && x.form === v.form && x.peer === peer);
      if (!g) ratios.push(g = { variant: v.variant, threads: v.threads, form: v.form, peer, per_pass: [] });
      g.per_pass.push({ pass: v.pass, ratio: v.median_ms / p.median_ms, peer_engine: p.engine, peer_form: p.form });
    }
  }
  for (const g of ratios) {
    const s = g.per_pass.map((x) => x.ratio).sort((a, b) => a - b);
    g.ratio = quantile(s, 0.5);
    g.spread = [s[0], s[s.length - 1]];
  }
  const criteria = [];
  for (const [variant, threads, peer, limit] of [['simd', 1, 'tfjs-wasm', CRITERIA.tfjs_1t], ['simd-threads', 2, 'onnxruntime-web', CRITERIA.ort_2t]]) {
    for (const form of ['layer', ...ONNX_FORMS]) {
      const g = ratios.find((x) => x.variant === variant && x.threads === threads && x.form === form && x.peer === peer);
      criteria.push({ criterion: `forward ${form}, ${variant} ${threads} thread(s) ≤ ${limit}× ${peer} (its fastest form)`,
        limit, ratio: g?.ratio ?? null, spread: g?.spread ?? null, met: g ? g.ratio <= limit : null });
    }
  }

  const result = {
    benchmark: 'dense',
    command: `npm run bench -- dense${args.length ? ' ' + args.join(' ') : ''}`,
    date: new Date().toISOString(),
    shape: { batch: N, in: IN, out: OUT },
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg().map((l) => +l.toFixed(2)) },
    settings: { runs, passes, warmup_calls: WARM_CALLS, warmup_ms: WARM_MS, tolerance: TOLERANCE },
    records: [...records, ...native],
    records_per_pass: perPass,
    ratios,
    criteria,
    notes,
  };
  const outFile = path.resolve(arg('out', path.join(root, 'bench/results/dense.json')));
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');

  console.log(`dense ${N}×${IN} · ${IN}×${OUT} + bias; median of ${passes} pass medians (${runs} runs each) [pass min..max]`);
  console.log('engine            variant        threads  form               dir       median ms  pass spread ms   GFLOP/s   rel. error');
  for (const r of [...records, ...native]) {
    const head = `${r.engine.padEnd(17)} ${r.variant.padEnd(14)} ${String(r.threads).padStart(7)}  ${(r.form ?? '').padEnd(18)} ${(r.direction ?? '').padEnd(9)}`;
    if (r.error) { console.log(`${head} failed: ${r.error}`); continue; }
    const spread = r.spread_ms ? `${r.spread_ms[0].toFixed(2)}..${r.spread_ms[1].toFixed(2)}` : '';
    console.log(`${head} ${r.median_ms.toFixed(2).padStart(9)} ${spread.padStart(15)} ${r.gflops.toFixed(1).padStart(9)}   ${r.err === undefined ? '' : r.err.toExponential(1)}`);
  }
  console.log('\nratio vitrine / peer (forward, the peer\'s fastest form in the same pass; median [min..max] over passes; < 1: Vitrine faster)');
  for (const g of ratios) {
    console.log(`  ${`${g.variant} ${g.threads}t ${g.form}`.padEnd(32)} vs ${g.peer.padEnd(16)} ${g.ratio.toFixed(2)} [${g.spread[0].toFixed(2)}..${g.spread[1].toFixed(2)}]`);
  }
  console.log('\ncriteria (not asserted):');
  for (const c of criteria) console.log(`  ${c.criterion}: ${c.ratio == null ? 'not measured' : `${c.ratio.toFixed(2)} [${c.spread[0].toFixed(2)}..${c.spread[1].toFixed(2)}], ${c.met ? 'met' : 'NOT met'}`}`);
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`wrote ${path.relative(root, outFile)}`);
  if (failed) process.exitCode = 1;
}

if (arg('child')) {
  child().catch((e) => {
    console.error(e?.stack ?? e);
    process.exit(1);
  });
} else {
  await parent();
}
