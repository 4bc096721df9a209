#!/usr/bin/env node
// npm run bench -- mobilenet [--runs N] [--passes P] [--model PATH] [--verbose]
// Latency of one MobileNetV2 inference (1×3×224×224 fp32, torchvision architecture) in Vitrine's
// wasm variants and in two peers running in the same Node process model, on the same machine, in
// the same run:
//   vitrine          simd (1 thread), simd-threads (1 and 2 threads), the .onnx file
//   onnxruntime-web  wasm backend, 1 and 2 threads, the same .onnx file
//   tfjs-wasm        @tensorflow/tfjs-backend-wasm, 1 and 2 threads, MobileNetV2 rebuilt with the
//                    tf.layers API (random weights), run as built ("layers": Conv, BatchNorm, ReLU6
//                    as separate layers) and BatchNorm-folded with fused Conv+ReLU6 ops ("fused",
//                    what tfjs-converter would produce from a frozen graph)
// Every configuration runs in its own child process (this file with --child). Medians, p10 and p90
// over --runs timed runs after 5 warm-up runs; the input copy in and the logits copy out are timed.
// The whole list runs --passes times in turn (default 3); a configuration's figure is the median of
// its pass medians, and each ratio the median of its per-pass ratios, both with their spread.
// Also checks that Vitrine's logits match onnxruntime-web's on the same input (1e-4 max abs).
// Then profiles Vitrine per operator (model.setProfiling: XNNPACK's per-operator timer) in wasm
// simd on 1 thread and simd-threads on 2, and natively (vitrine-run --profile), and sums the
// operators by kind (1×1 convolutions, depthwise, ...) with their GFLOP/s: where the time goes.
// Peers are dev dependencies in bench/package.json (scripts/bench.sh installs them).
// Writes bench/results/mobilenet.json and prints a table plus Vitrine/peer latency ratios.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { arg, args, flag, loadTfjsWasm, npyFile as writeNpy, quantile, readNpyFloat32, root, timeIt as timeCalls } from '../common.mjs';

const self = fileURLToPath(import.meta.url);

const runs = Number(arg('runs', 40));
const passes = Math.max(1, Number(arg('passes', 3)));
const warmup = 5;
const cache = process.env.VITRINE_CACHE || path.join(os.homedir(), '.cache/vitrine');
// Default: the parity models folder of scripts/prepare-test-models.sh (exports them when missing).
const defaultModelDir = () => spawnSync('bash', [path.join(root, 'scripts/prepare-test-models.sh')],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).stdout.trim();
const modelPath = path.resolve(arg('model', '') || path.join(args.includes('--child') ? '.' : defaultModelDir(), 'mobilenet_v2.onnx'));
const SHAPE = [1, 3, 224, 224];
const TORCHVISION_PARAMS = 3504872;  // sum(p.numel() for p in torchvision.models.mobilenet_v2().parameters())
const TOLERANCE = 1e-4;

// ---------------------------------------------------------------------------------------------
// statistics and timing (used by the children)


const timeIt = (fn) => timeCalls(fn, runs, warmup);
const median = (v) => quantile([...v].sort((a, b) => a - b), 0.5);

function readInput(file) {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

// NCHW (1,3,224,224) → NHWC (1,224,224,3)
function toNHWC(x) {
  const [, c, h, w] = SHAPE;
  const y = new Float32Array(x.length);
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < h * w; i++) y[i * c + ch] = x[ch * h * w + i];
  }
  return y;
}

// ---------------------------------------------------------------------------------------------
// children: one configuration each; they write { records, output?, info } to --out

async function childVitrine({ variant, threads, input }) {
  const { createRuntime } = await import('../../web/src/index.js');
  const runtime = await createRuntime({ variant, threads: variant === 'simd' ? 1 : 2 });
  runtime.setThreads(threads);
  const info = runtime.info();
  if (info.threads !== threads) throw new Error(`vitrine runs ${info.threads} threads, asked for ${threads}`);
  const model = await runtime.loadModel(modelPath);
  const name = model.outputNames[0];
  const run = () => model.run(input)[name].data;
  const output = run();
  const t = await timeIt(run);
  model.dispose();
  runtime.dispose();
  return { records: [{ engine: 'vitrine', variant, threads, ...t }], output: Array.from(output), info };
}

// Per-operator times: medians over --runs profiled runs (after the warm-up) of each operator.
async function childVitrineProfile({ variant, threads, input }) {
  const { createRuntime } = await import('../../web/src/index.js');
  const runtime = await createRuntime({ variant, threads: variant === 'simd' ? 1 : 2 });
  runtime.setThreads(threads);
  const model = await runtime.loadModel(modelPath);
  model.setProfiling(true);
  const samples = [];
  for (let i = 0; i < warmup + runs; i++) {
    model.run(input);
    if (i >= warmup) samples.push(model.profile());
  }
  model.dispose();
  runtime.dispose();
  return { profile: summarizeProfile(samples), info: { variant, threads } };
}

function summarizeProfile(samples) {
  return {
    runs: samples.length,
    total_ms: median(samples.map((s) => s.reduce((a, r) => a + r.ms, 0))),
    ops: samples[0].map((r, k) => ({ ...r, ms: median(samples.map((s) => s[k].ms)) })),
  };
}

// The kind of work an operator does, for the profile's summary.
function opKind({ op, node }) {
  if (op.includes('DWConv')) return 'depthwise 3×3 convolution';
  if (node.startsWith('dense') || op === 'engine dense') return 'classifier (dense 1280→1000, one row)';
  if (op.startsWith('Fully Connected') && node.startsWith('conv2d')) return '1×1 convolution (GEMM)';
  if (op.startsWith('Convolution') && op.includes('IGEMM')) return 'first 3×3 convolution (IGEMM)';
  return 'other (input transpose, adds, mean, reshapes)';
}

function byKind(profile) {
  const kinds = new Map();
  for (const r of profile.ops) {
    const k = opKind(r);
    const e = kinds.get(k) ?? { kind: k, ops: 0, ms: 0, flops: 0 };
    e.ops += 1;
    e.ms += r.ms;
    e.flops += r.flops;
    kinds.set(k, e);
  }
  return [...kinds.values()].sort((a, b) => b.ms - a.ms);
}

async function childOrt({ threads, input }) {
  const ort = await import('onnxruntime-web');  // resolves to dist/ort.node.min.mjs under Node
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['wasm'], graphOptimizationLevel: 'all',
  });
  const [inName] = session.inputNames;
  const [outName] = session.outputNames;
  const run = async () => (await session.run({ [inName]: new ort.Tensor('float32', input, SHAPE) }))[outName].data;
  const output = await run();
  const t = await timeIt(run);
  await session.release();
  return {
    records: [{ engine: 'onnxruntime-web', variant: 'wasm', threads, ...t, binary: 'ort-wasm-simd-threaded' }],
    output: Array.from(output),
    info: { numThreads: ort.env.wasm.numThreads, version: ort.env.versions?.web },
  };
}

// torchvision's MobileNetV2 (width 1.0): (expansion t, channels c, repeats n, first stride s)
const SETTINGS = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];

function mobilenetV2Plan() {
  const blocks = [{ units: [{ kind: 'conv', filters: 32, k: 3, stride: 2, relu6: true }], residual: false }];
  let inC = 32;
  for (const [t, c, n, s] of SETTINGS) {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const units = [];
      if (t !== 1) units.push({ kind: 'conv', filters: inC * t, k: 1, stride: 1, relu6: true });
      units.push({ kind: 'dw', k: 3, stride, relu6: true });
      units.push({ kind: 'conv', filters: c, k: 1, stride: 1, relu6: false });
      blocks.push({ units, residual: stride === 1 && inC === c });
      inC = c;
    }
  }
  blocks.push({ units: [{ kind: 'conv', filters: 1280, k: 1, stride: 1, relu6: true }], residual: false });
  return blocks;
}

// Keras-style model: Conv (no bias) → BatchNorm(eps 1e-5) → ReLU6, residual adds, global average
// pool, dropout 0.2, dense 1000. 'same' padding: for the stride-2 3×3 convs TF pads 0 before and
// 1 after instead of torchvision's 1 and 1 (same shapes, FLOPs and parameters).
function buildLayersModel(tf, plan) {
  const uniform = (lo, hi) => tf.initializers.randomUniform({ minval: lo, maxval: hi });
  const kaiming = tf.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal' });
  const apply = (x, u) => {
    const conv = u.kind === 'conv'
      ? tf.layers.conv2d({ filters: u.filters, kernelSize: u.k, strides: u.stride, padding: 'same', useBias: false, kernelInitializer: kaiming })
      : tf.layers.depthwiseConv2d({ kernelSize: u.k, strides: u.stride, padding: 'same', useBias: false, depthwiseInitializer: kaiming });
    // BatchNorm statistics and affine parameters as in scripts/models/export_torchvision.py
    const bn = tf.layers.batchNormalization({
      epsilon: 1e-5, gammaInitializer: uniform(0.5, 1.5), betaInitializer: uniform(-0.2, 0.2),
      movingMeanInitializer: uniform(-0.5, 0.5), movingVarianceInitializer: uniform(0.5, 1.5),
    });
    u.conv = conv;
    u.bn = bn;
    let y = bn.apply(conv.apply(x));
    if (u.relu6) y = tf.layers.reLU({ maxValue: 6 }).apply(y);
    return y;
  };
  const input = tf.input({ shape: [SHAPE[2], SHAPE[3], SHAPE[1]] });
  let x = input;
  for (const block of plan) {
    let y = x;
    for (const u of block.units) y = apply(y, u);
    x = block.residual ? tf.layers.add().apply([x, y]) : y;
  }
  x = tf.layers.globalAveragePooling2d({}).apply(x);
  x = tf.layers.dropout({ rate: 0.2 }).apply(x);
  const dense = tf.layers.dense({ units: 1000, kernelInitializer: tf.initializers.randomNormal({ stddev: 0.01 }) });
  x = dense.apply(x);
  return { model: tf.model({ inputs: input, outputs: x }), dense };
}

// The same network with BatchNorm folded into the convolutions and ReLU6 fused: tf.fused ops.
function buildFusedForward(tf, plan, dense) {
  for (const block of plan) {
    for (const u of block.units) {
      const [kernel] = u.conv.getWeights();
      const [gamma, beta, mean, variance] = u.bn.getWeights();
      tf.tidy(() => {
        const scale = gamma.div(variance.add(u.bn.epsilon).sqrt());
        const s = u.kind === 'conv' ? scale : scale.reshape([1, 1, -1, 1]);
        u.w = tf.keep(kernel.mul(s));
        u.b = tf.keep(beta.sub(mean.mul(scale)));
      });
    }
  }
  const [denseKernel, denseBias] = dense.getWeights();
  return (x) => tf.tidy(() => {
    for (const block of plan) {
      let y = x;
      for (const u of block.units) {
        const options = { x: y, filter: u.w, strides: u.stride, pad: 'same', bias: u.b, activation: u.relu6 ? 'relu6' : 'linear' };
        y = u.kind === 'conv' ? tf.fused.conv2d(options) : tf.fused.depthwiseConv2d(options);
      }
      x = block.residual ? tf.add(x, y) : y;
    }
    return tf.fused.matMul({ a: tf.mean(x, [1, 2]), b: denseKernel, bias: denseBias });
  });
}

async function childTfjs({ threads, input }) {
  const { tf, wasm } = await loadTfjsWasm(threads);

  const plan = mobilenetV2Plan();
  const { model, dense } = buildLayersModel(tf, plan);
  const size = (ws) => ws.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  const params = size(model.trainableWeights);
  if (params !== TORCHVISION_PARAMS) throw new Error(`tfjs MobileNetV2 has ${params} parameters, torchvision ${TORCHVISION_PARAMS}`);
  const fused = buildFusedForward(tf, plan, dense);

  const nhwc = toNHWC(input);
  const inShape = [1, SHAPE[2], SHAPE[3], SHAPE[1]];
  const readOut = (f) => () => {
    const x = tf.tensor4d(nhwc, inShape);
    const y = f(x);
    const data = y.dataSync();
    x.dispose();
    y.dispose();
    return data;
  };
  const runLayers = readOut((x) => model.predict(x));
  const runFused = readOut(fused);
  const a = runLayers();
  const b = runFused();
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
    maxRef = Math.max(maxRef, Math.abs(a[i]));
  }
  if (!(maxAbs <= 1e-3 * Math.max(1, maxRef))) throw new Error(`tfjs fused and layers outputs differ by ${maxAbs}`);
  const before = tf.memory().numTensors;
  const binary = threads > 1 ? 'threaded-simd (forced)' : 'simd';
  const records = [
    { engine: 'tfjs-wasm', variant: 'layers', threads, ...(await timeIt(runLayers)), binary },
    { engine: 'tfjs-wasm', variant: 'fused', threads, ...(await timeIt(runFused)), binary },
  ];
  if (tf.memory().numTensors !== before) throw new Error('tfjs leaks tensors');
  return { records, info: { params, threads: wasm.getThreadsCount(), fused_vs_layers_max_abs: maxAbs, logits_max_abs: maxRef } };
}

async function child() {
  const engine = arg('child');
  const options = { variant: arg('variant'), threads: Number(arg('threads')), input: readInput(arg('input')) };
  const fn = { vitrine: childVitrine, 'vitrine-profile': childVitrineProfile, 'onnxruntime-web': childOrt, 'tfjs-wasm': childTfjs }[engine];
  const result = await fn(options);
  fs.writeFileSync(arg('out'), JSON.stringify(result));
  process.exit(0);  // peers may leave worker threads running
}

// ---------------------------------------------------------------------------------------------
// parent


function ensureModel() {
  if (fs.existsSync(modelPath)) return;
  if (path.basename(modelPath) !== 'mobilenet_v2.onnx') throw new Error(`model ${modelPath} does not exist`);
  console.error(`[mobilenet] ${modelPath} missing: exporting it with scripts/models/export_torchvision.py`);
  const r = spawnSync('/usr/bin/python3', [path.join(root, 'scripts/models/export_torchvision.py'), path.dirname(modelPath),
    '--models', 'mobilenet_v2'], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0 || !fs.existsSync(modelPath)) throw new Error('model export failed (needs python3-torch, python3-torchvision)');
}

function benchInput() {
  const npy = modelPath.replace(/\.onnx$/, '.input.npy');
  if (fs.existsSync(npy)) {
    const x = readNpyFloat32(npy);
    if (x.length === SHAPE.reduce((a, b) => a * b)) return { x, source: path.basename(npy) };
  }
  let s = 20261128;  // mulberry32
  const rand = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { x: Float32Array.from({ length: SHAPE.reduce((a, b) => a * b) }, () => rand() * 2 - 1), source: 'uniform(-1, 1), seed 20261128' };
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function version(pkg) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'bench/node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

async function parent() {
  ensureModel();
  const { x, source } = benchInput();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-bench-mobilenet-'));
  const inputFile = path.join(tmp, 'input.f32');
  fs.writeFileSync(inputFile, Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const loadavgStart = os.loadavg();

  // Grouped by thread count so that the configurations compared with each other run close in time.
  const configs = [
    { engine: 'vitrine', variant: 'simd', threads: 1 },
    { engine: 'vitrine', variant: 'simd-threads', threads: 1 },
    { engine: 'onnxruntime-web', threads: 1 },
    { engine: 'tfjs-wasm', threads: 1 },
    { engine: 'vitrine', variant: 'simd-threads', threads: 2 },
    { engine: 'onnxruntime-web', threads: 2 },
    { engine: 'tfjs-wasm', threads: 2 },
    { engine: 'vitrine-profile', variant: 'simd', threads: 1 },
    { engine: 'vitrine-profile', variant: 'simd-threads', threads: 2 },
  ];
  const profiles = {};
  const passRecords = [];  // one per configuration and pass
  const outputs = {};
  const notes = [];
  const infos = {};
  let failed = false;
  const runChild = (c, pass) => {
    const label = `${c.engine}${c.variant ? ' ' + c.variant : ''}, ${c.threads} thread${c.threads > 1 ? 's' : ''}` +
      (pass === null ? '' : ` (pass ${pass + 1}/${passes})`);
    const out = path.join(tmp, 'out.json');
    fs.rmSync(out, { force: true });
    const childArgs = [self, '--child', c.engine, '--threads', String(c.threads), '--runs', String(runs),
      '--model', modelPath, '--input', inputFile, '--out', out, ...(c.variant ? ['--variant', c.variant] : [])];
    const t0 = Date.now();
    const r = spawnSync(process.execPath, childArgs, { cwd: root, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
    if (flag('verbose')) process.stderr.write(r.stdout + r.stderr);
    if (r.status !== 0 || !fs.existsSync(out)) {
      const why = (r.error?.message ?? r.stderr.trim().split('\n').filter((l) => /Error|error/.test(l))[0] ?? `exit ${r.status}`).slice(0, 300);
      console.error(`[mobilenet] ${label}: FAILED (${why})`);
      if (!flag('verbose')) process.stderr.write(r.stderr.split('\n').slice(-15).join('\n') + '\n');
      notes.push(`${label}: failed: ${why}`);
      if (c.engine.startsWith('vitrine')) failed = true;
      return;
    }
    const result = JSON.parse(fs.readFileSync(out, 'utf8'));
    if (result.profile) {
      profiles[`wasm ${c.variant} ${c.threads}t`] = result.profile;
      console.error(`[mobilenet] ${label}: profiled, operators sum to ${result.profile.total_ms.toFixed(2)} ms`);
      return;
    }
    passRecords.push(...result.records.map((rec) => ({ ...rec, pass })));
    if (result.output) outputs[`${c.engine}/${c.variant ?? ''}/${c.threads}`] = result.output;
    infos[`${c.engine}/${c.variant ?? ''}/${c.threads}`] = result.info;
    const summary = result.records.map((rec) => `${rec.variant} ${rec.median_ms.toFixed(2)} ms`).join(', ');
    console.error(`[mobilenet] ${label}: ${summary}  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  };
  // Native XNNPACK ceiling: the same model and input through build/native's vitrine-run --bench.
  const tool = path.join(root, 'build/native/engine/tools/vitrine-run');
  const npyFile = path.join(tmp, 'input.npy');
  fs.writeFileSync(npyFile, writeNpy(x, SHAPE));
  if (!fs.existsSync(tool)) notes.push('native: build/native/engine/tools/vitrine-run not built');
  const runNative = (threads, pass) => {
    if (!fs.existsSync(tool)) return;
    const r = spawnSync(tool, [modelPath, '--input', npyFile, '--threads', String(threads), '--bench', String(runs)],
      { encoding: 'utf8' });
    const line = (r.stdout || '').split('\n').find((l) => l.startsWith('{'));
    if (r.status !== 0 || !line) {
      notes.push(`native, ${threads} thread(s): failed: ${(r.stderr || '').trim().slice(0, 200)}`);
      return;
    }
    const m = JSON.parse(line);
    passRecords.push({ engine: 'native', variant: 'xnnpack', threads, median_ms: m.median_ms, p10_ms: m.p10_ms,
      p90_ms: m.p90_ms, runs: m.runs, pass });
    console.error(`[mobilenet] native xnnpack, ${threads} thread(s) (pass ${pass + 1}/${passes}): ${m.median_ms.toFixed(2)} ms`);
  };
  // The whole list runs --passes times in turn, so that every engine meets the machine's slow and
  // fast moments alike; ratios are taken within a pass.
  for (let pass = 0; pass < passes; pass++) {
    for (const c of configs.filter((c) => c.engine !== 'vitrine-profile')) runChild(c, pass);
    for (const threads of [1, 2]) runNative(threads, pass);
  }
  for (const c of configs.filter((c) => c.engine === 'vitrine-profile')) runChild(c, null);
  if (fs.existsSync(tool)) {
    for (const threads of [1, 2]) {
      const p = spawnSync(tool, [modelPath, '--input', npyFile, '--threads', String(threads), '--profile', String(runs)],
        { encoding: 'utf8', maxBuffer: 16 << 20 });
      if (p.status !== 0) {
        notes.push(`native profile, ${threads} thread(s): failed: ${(p.stderr || '').trim().slice(0, 200)}`);
        continue;
      }
      const prof = JSON.parse(p.stdout);
      profiles[`native ${threads}t`] = { runs: prof.runs, total_ms: prof.total_ms, ops: prof.ops };
    }
  }
  // Per configuration: the median of its pass medians, with their spread.
  const keyOf = (r) => `${r.engine}|${r.variant}|${r.threads}`;
  const records = [];
  for (const key of [...new Set(passRecords.map(keyOf))]) {
    const mine = passRecords.filter((r) => keyOf(r) === key);
    const ms = mine.map((r) => r.median_ms);
    records.push({
      ...mine[0], pass: undefined, median_ms: median(ms), p10_ms: median(mine.map((r) => r.p10_ms)),
      p90_ms: median(mine.map((r) => r.p90_ms)), pass_medians_ms: ms, spread_ms: [Math.min(...ms), Math.max(...ms)],
    });
  }
  fs.rmSync(tmp, { recursive: true, force: true });

  // correctness: every Vitrine configuration against onnxruntime-web (1 thread) and PyTorch
  const correctness = [];
  const reference = outputs['onnxruntime-web//1'] ?? outputs['onnxruntime-web//2'];
  const torchFile = modelPath.replace(/\.onnx$/, '.output.npy');
  const torch = source.endsWith('.input.npy') && fs.existsSync(torchFile) ? readNpyFloat32(torchFile) : null;
  for (const [key, out] of Object.entries(outputs)) {
    if (!key.startsWith('vitrine/')) continue;
    const [, variant, threads] = key.split('/');
    const entry = { variant, threads: Number(threads) };
    if (reference) entry.max_abs_vs_onnxruntime_web = maxAbsDiff(out, reference);
    if (torch) entry.max_abs_vs_pytorch = maxAbsDiff(out, torch);
    entry.pass = reference ? entry.max_abs_vs_onnxruntime_web <= TOLERANCE : null;
    if (entry.pass === false) failed = true;
    correctness.push(entry);
  }
  if (reference && torch) notes.push(`onnxruntime-web vs PyTorch: max abs ${maxAbsDiff(reference, torch).toExponential(2)}`);
  if (!reference) notes.push('no onnxruntime-web output: Vitrine correctness not checked');

  // ratios: Vitrine / peer at the same thread count (< 1: Vitrine is faster), per pass, then the
  // median of the pass ratios with their spread
  const ratios = [];
  for (const v of records.filter((r) => r.engine === 'vitrine')) {
    for (const p of records.filter((r) => r.engine !== 'vitrine' && r.threads === v.threads)) {
      const perPass = [];
      for (let pass = 0; pass < passes; pass++) {
        const a = passRecords.find((r) => keyOf(r) === keyOf(v) && r.pass === pass);
        const b = passRecords.find((r) => keyOf(r) === keyOf(p) && r.pass === pass);
        if (a && b) perPass.push(a.median_ms / b.median_ms);
      }
      if (!perPass.length) continue;
      ratios.push({
        threads: v.threads, vitrine_variant: v.variant, peer: p.engine, peer_variant: p.variant,
        vitrine_ms: v.median_ms, peer_ms: p.median_ms, ratio: median(perPass),
        spread: [Math.min(...perPass), Math.max(...perPass)], pass_ratios: perPass,
      });
    }
  }
  // issue 21's targets: Vitrine simd on 1 thread, simd-threads on 2
  const criteria = [[1, 'simd', 'onnxruntime-web', 'wasm', 0.5], [1, 'simd', 'tfjs-wasm', 'fused', 0.7],
    [2, 'simd-threads', 'onnxruntime-web', 'wasm', 0.6], [2, 'simd-threads', 'tfjs-wasm', 'fused', 0.85]].map(([threads, variant, peer, peerVariant, target]) => {
    const q = ratios.find((r) => r.threads === threads && r.vitrine_variant === variant && r.peer === peer && r.peer_variant === peerVariant);
    return { criterion: `${threads} thread${threads > 1 ? 's' : ''}: vitrine ${variant} <= ${target}x ${peer} ${peerVariant}`, target,
      ratio: q?.ratio ?? null, spread: q?.spread ?? null, met: q ? q.ratio <= target : null };
  });

  const tfInfo = infos['tfjs-wasm//1'] ?? infos['tfjs-wasm//2'];
  notes.push(
    'native: build/native/engine/tools/vitrine-run --bench (XNNPACK compiled natively with gcc, same model and input; ' +
      'the ceiling, reported as a ratio but not a peer)',
    `input: ${source}; timed: input copy in, inference, logits copy out; ${warmup} warm-up runs; one child process per configuration`,
    'vitrine simd-threads: createRuntime({ variant, threads: 2 }) then setThreads(n); simd: threads 1',
    'onnxruntime-web: dist/ort.node.min.mjs (the package\'s "node" export) finds its .wasm next to itself; ' +
      'no env.wasm.wasmPaths needed; env.wasm.numThreads = 2 works under Node (worker_threads); graphOptimizationLevel all',
    'tfjs-wasm: MobileNetV2 rebuilt with tf.layers (random weights, BatchNorm eps 1e-5, \'same\' padding: stride-2 3×3 convs ' +
      'pad 0/1 instead of torchvision\'s 1/1, same shapes, FLOPs and parameters); input NHWC. "layers" = model.predict() ' +
      '(Conv, BatchNorm, ReLU6 run as separate kernels); "fused" = the same weights BatchNorm-folded into tf.fused.conv2d / ' +
      'tf.fused.depthwiseConv2d with ReLU6 fused (what a tfjs-converter graph model runs); both checked to agree' +
      (tfInfo ? ` (max abs ${tfInfo.fused_vs_layers_max_abs.toExponential(2)})` : ''),
    'tfjs-wasm threads: tfjs-backend-wasm 4.x never uses threads under Node (WASM_HAS_MULTITHREAD_SUPPORT is false when ' +
      'IS_NODE, tensorflow/tfjs#3830) and its C++ caps the pool at min(requested, logical cores / 2) = 1 on a 2-core machine, ' +
      'also in a browser. The 2-thread record forces the threaded-simd binary: flag set, its Emscripten workers started ' +
      'from temp files instead of Blob URLs, os.cpus() doubled during backend start; getThreadsCount() is checked to be 2. ' +
      'The 1-thread record is the stock Node path (simd binary).',
  );

  const cpus = os.cpus();
  const result = {
    benchmark: 'mobilenet',
    command: 'npm run bench -- mobilenet',
    date: new Date().toISOString(),
    machine: {
      cpus: cpus.length, cpu: cpus[0]?.model, node: process.version,
      loadavg_start: loadavgStart.map((l) => +l.toFixed(2)), loadavg_end: os.loadavg().map((l) => +l.toFixed(2)),
    },
    model: {
      file: modelPath, bytes: fs.statSync(modelPath).size,
      sha256: crypto.createHash('sha256').update(fs.readFileSync(modelPath)).digest('hex'),
      architecture: 'torchvision mobilenet_v2 (width 1.0), 1×3×224×224 fp32 input, 1000 classes',
      params: TORCHVISION_PARAMS, tfjs_params: tfInfo?.params ?? null,
    },
    peers: {
      'onnxruntime-web': version('onnxruntime-web'),
      '@tensorflow/tfjs': version('@tensorflow/tfjs'),
      '@tensorflow/tfjs-backend-wasm': version('@tensorflow/tfjs-backend-wasm'),
    },
    settings: { runs, passes, warmup },
    records,
    ratios,
    criteria,
    correctness: { tolerance: TOLERANCE, results: correctness },
    profile: {
      what: 'per-operator medians over --runs profiled runs (XNNPACK\'s per-operator timer; model.setProfiling in wasm, ' +
        'vitrine-run --profile natively); flops = 2 × multiply-adds of the node; XNNPACK fuses each ReLU6 into its ' +
        'convolution and runs 1×1 convolutions as fully-connected GEMMs',
      by_kind: Object.fromEntries(Object.entries(profiles).map(([k, p]) => [k, { total_ms: p.total_ms, kinds: byKind(p) }])),
      runs: profiles,
    },
    notes,
  };
  fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bench/results/mobilenet.json'), JSON.stringify(result, null, 2) + '\n');

  const f = (v, w = 9) => v.toFixed(2).padStart(w);
  console.log(`MobileNetV2 1×3×224×224 fp32, median of ${passes} pass medians (each of ${runs} runs after ${warmup} warm-up; ` +
    `${cpus.length}× ${cpus[0]?.model}, Node ${process.version})`);
  console.log('engine            variant        threads  median ms    p10 ms    p90 ms   pass spread ms');
  for (const r of [...records].sort((a, b) => a.threads - b.threads)) {
    console.log(`${r.engine.padEnd(17)} ${r.variant.padEnd(14)} ${String(r.threads).padStart(7)}  ` +
      `${f(r.median_ms)} ${f(r.p10_ms)} ${f(r.p90_ms)}   ${r.spread_ms[0].toFixed(2)}..${r.spread_ms[1].toFixed(2)}`);
  }
  console.log('\nratio vitrine_ms / peer_ms at the same thread count, median of the pass ratios [min..max] (< 1: Vitrine faster)');
  console.log('threads  vitrine        peer                        ratio   spread');
  for (const r of ratios) {
    console.log(`${String(r.threads).padStart(7)}  ${r.vitrine_variant.padEnd(13)}  ${(`${r.peer} ${r.peer_variant}`).padEnd(26)} ` +
      `${r.ratio.toFixed(2).padStart(6)}   ${r.spread[0].toFixed(2)}..${r.spread[1].toFixed(2)}`);
  }
  console.log('\ntargets (issue 21):');
  for (const c of criteria) console.log(`  ${c.criterion}: ${c.ratio === null ? 'not measured' : `${c.ratio.toFixed(2)} (${c.met ? 'met' : 'not met'})`}`);
  const speedup = (engine, variant) => {
    const one = records.find((r) => r.engine === engine && r.variant === variant && r.threads === 1);
    const two = records.find((r) => r.engine === engine && r.variant === variant && r.threads === 2);
    return one && two ? `${engine} ${variant} ${(one.median_ms / two.median_ms).toFixed(2)}×` : null;
  };
  console.log('\n2-thread speed-up: ' + [speedup('vitrine', 'simd-threads'), speedup('onnxruntime-web', 'wasm'),
    speedup('tfjs-wasm', 'layers'), speedup('tfjs-wasm', 'fused')].filter(Boolean).join(', '));
  console.log('\ncorrectness (logits, same input):');
  for (const c of correctness) {
    const parts = [];
    if (c.max_abs_vs_onnxruntime_web !== undefined) parts.push(`vs onnxruntime-web max abs ${c.max_abs_vs_onnxruntime_web.toExponential(2)}`);
    if (c.max_abs_vs_pytorch !== undefined) parts.push(`vs PyTorch ${c.max_abs_vs_pytorch.toExponential(2)}`);
    console.log(`  vitrine ${c.variant} ${c.threads}t: ${parts.join(', ')}  ${c.pass === null ? '' : c.pass ? 'ok' : `FAIL (> ${TOLERANCE})`}`);
  }
  if (tfInfo) console.log(`tfjs MobileNetV2 parameters: ${tfInfo.params.toLocaleString('en-US')} (torchvision: ${TORCHVISION_PARAMS.toLocaleString('en-US')})`);
  const kindRows = Object.entries(result.profile.by_kind);
  if (kindRows.length) {
    console.log('\nwhere the time goes (sum of operator medians by kind: ms, GFLOP/s):');
    const kinds = [...new Set(kindRows.flatMap(([, b]) => b.kinds.map((k) => k.kind)))];
    console.log('kind'.padEnd(46) + kindRows.map(([name]) => name.padStart(24)).join(''));
    for (const kind of kinds) {
      const cells = kindRows.map(([, b]) => {
        const k = b.kinds.find((x) => x.kind === kind);
        return (k ? `${k.ms.toFixed(2)} ms ${k.flops ? (k.flops / k.ms / 1e6).toFixed(1) : '-'} GF/s` : '').padStart(24);
      });
      console.log(kind.padEnd(46) + cells.join(''));
    }
    console.log('total'.padEnd(46) + kindRows.map(([, b]) => `${b.total_ms.toFixed(2)} ms`.padStart(24)).join(''));
  }
  for (const n of notes.filter((n) => /failed|pending|not checked/.test(n))) console.log(`note: ${n}`);
  console.log('wrote bench/results/mobilenet.json');
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
