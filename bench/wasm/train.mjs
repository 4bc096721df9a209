#!/usr/bin/env node
// npm run bench -- train [--runs N] [--models cnn,mf] [--skip-tfjs-gather] [--verbose]
// Training throughput (optimizer steps per second) of two small models, in one run, on the same
// architectures, initial weights and batches in every engine:
//   cnn  28×28×1 images, batch 32: conv2d 3×3→8 (pad 1) → relu → max_pool2d 2×2 → conv2d 3×3→16
//        (pad 1) → relu → max_pool2d 2×2 → flatten (7·7·16 = 784) → dense 784→10; softmax
//        cross-entropy on class ids; Adam, lr 1e-3
//   mf   matrix factorization with BPR: user table (1000, 32), item table (5000, 32), batch 256
//        (user, pos, neg) triples; score = reduce_mean(u ⊙ v, axis 1, keepdims) for pos and neg,
//        concat → (N, 2), loss -log σ(pos − neg); SGD lr 0.05, momentum 0.9
// Engines:
//   vitrine  the facade (createRuntime → loadModel(bytes) → model.createTrainer → trainer.step):
//            simd (1 thread), simd-threads (1 and 2 threads); the model file is written here (a
//            Vitrine .safetensors with seeded random weights)
//   native   build/native/engine/tools/vitrine-train on the same model file and .npy batch, full-batch
//            steps: per step = (t(23 steps) − t(3 steps)) / 20 (subtracts process start, load, save),
//            3 repetitions → median; it runs on all hardware threads (its Context is created with 0)
//   tfjs-cpu @tensorflow/tfjs, tf.setBackend('cpu') (single-threaded), the same architecture in tf ops
//            with tf.train.adam / tf.train.momentum. CNN: "ops" (tf ops + optimizer.minimize) and
//            "layers" (tf.sequential + model.trainOnBatch). MF: "onehot" (lookups as oneHot · table)
//            and "gather" (tf.gather, as tf.layers.embedding; very slow backward on the cpu backend,
//            --skip-tfjs-gather leaves it out)
// Each wasm / tfjs configuration runs in its own child process (this file with --child). A step is
// timed end to end: inputs copied in (typed arrays → engine tensors), forward, loss, backward,
// update, the loss read back. Medians over --runs timed steps after 3 warm-up steps, the same batch
// every step. The first-step losses of all engines are compared (same weights, same batch).
// Writes bench/results/train.json and prints a table plus Vitrine/TF.js steps/s ratios.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { arg, args, flag, median, mulberry32, npyFile, quantile, root } from '../common.mjs';

const self = fileURLToPath(import.meta.url);

const runs = Number(arg('runs', 40));
const warmup = 3;
const SEED = 20261128;
const NATIVE_STEPS = [3, 23];
const NATIVE_REPEATS = 3;
const LOSS_TOLERANCE = 1e-4;  // first-step loss, relative

// ---------------------------------------------------------------------------------------------
// the models: architecture, seeded weights and one batch, shared by every engine

const uniform = (rand, n, bound) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * bound);
const randomIds = (rand, n, count) => Float32Array.from({ length: n }, () => Math.floor(rand() * count));

// Vitrine layouts: conv weights (O, KH, KW, C), dense weights (out, in).
function cnnSpec() {
  const rand = mulberry32(SEED);
  const N = 32;
  const he = (fanIn) => Math.sqrt(6 / fanIn);
  const tensors = {
    'conv1.w': { shape: [8, 3, 3, 1], data: uniform(rand, 8 * 9, he(9)) },
    'conv1.b': { shape: [8], data: new Float32Array(8) },
    'conv2.w': { shape: [16, 3, 3, 8], data: uniform(rand, 16 * 9 * 8, he(72)) },
    'conv2.b': { shape: [16], data: new Float32Array(16) },
    'fc.w': { shape: [10, 784], data: uniform(rand, 10 * 784, Math.sqrt(1 / 784)) },
    'fc.b': { shape: [10], data: new Float32Array(10) },
  };
  const architecture = {
    inputs: [{ name: 'image', shape: [N, 28, 28, 1] }],
    nodes: [
      { op: 'conv2d', name: 'conv1', inputs: ['image', 'conv1.w', 'conv1.b'], attrs: { strides: [1, 1], pads: [1, 1, 1, 1], groups: 1 } },
      { op: 'relu', name: 'relu1', inputs: ['conv1'], attrs: {} },
      { op: 'max_pool2d', name: 'pool1', inputs: ['relu1'], attrs: { kernel: [2, 2], strides: [2, 2] } },
      { op: 'conv2d', name: 'conv2', inputs: ['pool1', 'conv2.w', 'conv2.b'], attrs: { strides: [1, 1], pads: [1, 1, 1, 1], groups: 1 } },
      { op: 'relu', name: 'relu2', inputs: ['conv2'], attrs: {} },
      { op: 'max_pool2d', name: 'pool2', inputs: ['relu2'], attrs: { kernel: [2, 2], strides: [2, 2] } },
      { op: 'flatten', name: 'flat', inputs: ['pool2'], attrs: { axis: 1 } },
      { op: 'dense', name: 'fc', inputs: ['flat', 'fc.w', 'fc.b'], attrs: {} },
    ],
    outputs: [{ value: 'fc', name: 'logits' }],
  };
  const inputs = { image: { shape: [N, 28, 28, 1], data: Float32Array.from({ length: N * 784 }, () => rand()) } };
  const target = { shape: [N], data: randomIds(rand, N, 10) };
  return {
    name: 'cnn', batch: N, tensors, architecture, inputs, target,
    trainer: { loss: 'softmax_cross_entropy', optimizer: 'adam', learningRate: 1e-3 },
    cli: ['--loss', 'softmax_cross_entropy', '--optimizer', 'adam', '--lr', '0.001'],
    description: 'conv3x3(1→8,pad1)+relu+maxpool2 → conv3x3(8→16,pad1)+relu+maxpool2 → flatten 784 → dense 10; ' +
      'softmax CE; Adam lr 1e-3; batch 32 of 28×28×1',
  };
}

function mfSpec() {
  const rand = mulberry32(SEED + 1);
  const N = 256, USERS = 1000, ITEMS = 5000, D = 32;
  const tensors = {
    user_embeddings: { shape: [USERS, D], data: uniform(rand, USERS * D, 0.1) },
    item_embeddings: { shape: [ITEMS, D], data: uniform(rand, ITEMS * D, 0.1) },
  };
  const mean = { axes: [1], keepdims: 1 };
  const architecture = {
    inputs: [{ name: 'users', shape: [N] }, { name: 'pos', shape: [N] }, { name: 'neg', shape: [N] }],
    nodes: [
      { op: 'embedding', name: 'eu', inputs: ['users', 'user_embeddings'], attrs: {} },
      { op: 'embedding', name: 'ep', inputs: ['pos', 'item_embeddings'], attrs: {} },
      { op: 'embedding', name: 'en', inputs: ['neg', 'item_embeddings'], attrs: {} },
      { op: 'mul', name: 'up', inputs: ['eu', 'ep'], attrs: {} },
      { op: 'mul', name: 'un', inputs: ['eu', 'en'], attrs: {} },
      { op: 'reduce_mean', name: 'sp', inputs: ['up'], attrs: mean },
      { op: 'reduce_mean', name: 'sn', inputs: ['un'], attrs: mean },
      { op: 'concat', name: 'scores', inputs: ['sp', 'sn'], attrs: { axis: 1 } },
    ],
    outputs: [{ value: 'scores', name: 'scores' }],
  };
  const inputs = {
    users: { shape: [N], data: randomIds(rand, N, USERS) },
    pos: { shape: [N], data: randomIds(rand, N, ITEMS) },
    neg: { shape: [N], data: randomIds(rand, N, ITEMS) },
  };
  const target = { shape: [N], data: new Float32Array(N) };  // ignored by bpr; the facade wants one
  return {
    name: 'mf', batch: N, tensors, architecture, inputs, target,
    trainer: { loss: 'bpr', optimizer: 'sgd', learningRate: 0.05, momentum: 0.9 },
    cli: ['--loss', 'bpr', '--optimizer', 'sgd', '--lr', '0.05', '--momentum', '0.9'],
    description: 'BPR matrix factorization: users (1000, 32), items (5000, 32), batch 256 (user, pos, neg); ' +
      'score = mean(u ⊙ v) per pair; SGD lr 0.05 momentum 0.9',
  };
}

const SPECS = { cnn: cnnSpec, mf: mfSpec };

// A Vitrine model file: safetensors (8-byte LE header length, JSON header padded with spaces to a
// multiple of 8, raw little-endian F32 data) with the architecture in __metadata__.
function vitrineModelFile(spec) {
  const header = {
    __metadata__: { format: 'vitrine', format_version: '1', architecture: JSON.stringify(spec.architecture) },
  };
  let offset = 0;
  for (const [name, t] of Object.entries(spec.tensors)) {
    if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`tensor ${name}: size mismatch`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const t of Object.values(spec.tensors)) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, at);  // little-endian hosts
    at += t.data.byteLength;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}


// ---------------------------------------------------------------------------------------------
// statistics and timing (children)


async function timeSteps(step) {
  const losses = [];
  for (let i = 0; i < warmup; i++) losses.push(await step());
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    losses.push(await step());
    times.push(performance.now() - t0);
  }
  const s = [...times].sort((a, b) => a - b);
  const median = quantile(s, 0.5);
  if (!losses.every(Number.isFinite)) throw new Error(`non-finite loss: ${losses.join(', ')}`);
  return {
    timing: { steps_per_s: 1000 / median, median_ms_per_step: median, p10_ms: quantile(s, 0.1), p90_ms: quantile(s, 0.9), runs },
    losses,
  };
}

// ---------------------------------------------------------------------------------------------
// children: one configuration each; they write { records, info } to --out

async function childVitrine(spec, { variant, threads }) {
  const { createRuntime } = await import('../../web/src/index.js');
  const runtime = await createRuntime({ variant, threads: variant === 'simd' ? 1 : 2 });
  runtime.setThreads(threads);
  const info = runtime.info();
  if (info.threads !== threads) throw new Error(`vitrine runs ${info.threads} threads, asked for ${threads}`);
  const model = await runtime.loadModel(vitrineModelFile(spec));
  const trainer = model.createTrainer(spec.trainer);
  const inputs = Object.fromEntries(Object.entries(spec.inputs).map(([k, v]) => [k, v.data]));
  const target = spec.target.data;
  const { timing, losses } = await timeSteps(() => trainer.step(inputs, target));
  // Where a step's time goes: copying the inputs and target in alone (trainer._feed, what step()
  // does before the engine call); evaluate() (forward + loss) right after a step, when the trainer
  // rebuilds the per-node executors of nodes whose parameters changed, and again with nothing changed.
  const feed = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    trainer._feed(inputs, target);
    feed.push(performance.now() - t0);
  }
  const evalAfterStep = [];
  const evalCached = [];
  for (let i = 0; i < 10; i++) {
    trainer.step(inputs, target);
    let t0 = performance.now();
    trainer.evaluate(inputs, target);
    evalAfterStep.push(performance.now() - t0);
    t0 = performance.now();
    trainer.evaluate(inputs, target);
    evalCached.push(performance.now() - t0);
  }
  const med = (xs) => quantile([...xs].sort((a, b) => a - b), 0.5);
  const result = {
    records: [{ engine: 'vitrine', variant, threads, ...timing }],
    info: {
      first_loss: losses[0], last_loss: losses[losses.length - 1], loss_steps: losses.length,
      parameters: trainer.parameterNames, memoryBytes: runtime.info().memoryBytes,
      feed_median_ms: med(feed),
      evaluate_after_step_median_ms: med(evalAfterStep),
      evaluate_cached_median_ms: med(evalCached),
    },
  };
  trainer.dispose();
  model.dispose();
  runtime.dispose();
  return result;
}

// TF layouts: conv filters (KH, KW, C, O), dense kernel (in, out).
const toTfConv = ({ shape: [o, kh, kw, c], data }) => {
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++) for (let i = 0; i < kh * kw * c; i++) out[i * o + a] = data[a * kh * kw * c + i];
  return { shape: [kh, kw, c, o], data: out };
};
const toTfDense = ({ shape: [o, n], data }) => {
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++) for (let i = 0; i < n; i++) out[i * o + a] = data[a * n + i];
  return { shape: [n, o], data: out };
};

async function childTfjs(spec, { variant }) {
  const require = createRequire(import.meta.url);
  const tf = require('@tensorflow/tfjs');
  if (!(await tf.setBackend('cpu'))) throw new Error('tf.setBackend("cpu") failed');
  await tf.ready();
  const T = spec.tensors;
  const variable = ({ shape, data }) => tf.variable(tf.tensor(data, shape));
  let step;
  let cleanup = () => {};
  if (spec.name === 'cnn' && variant === 'ops') {
    const w1 = variable(toTfConv(T['conv1.w'])), b1 = variable(T['conv1.b']);
    const w2 = variable(toTfConv(T['conv2.w'])), b2 = variable(T['conv2.b']);
    const w3 = variable(toTfDense(T['fc.w'])), b3 = variable(T['fc.b']);
    const opt = tf.train.adam(1e-3);
    const { shape, data } = spec.inputs.image;
    const labels = Int32Array.from(spec.target.data);
    step = () => {
      const loss = tf.tidy(() => {
        const x = tf.tensor4d(data, shape);
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
        return opt.minimize(() => {
          let h = tf.maxPool(tf.relu(tf.add(tf.conv2d(x, w1, 1, 'same'), b1)), 2, 2, 'valid');
          h = tf.maxPool(tf.relu(tf.add(tf.conv2d(h, w2, 1, 'same'), b2)), 2, 2, 'valid');
          const logits = tf.add(tf.matMul(tf.reshape(h, [shape[0], 784]), w3), b3);
          return tf.losses.softmaxCrossEntropy(y, logits);
        }, true, [w1, b1, w2, b2, w3, b3]);
      });
      const v = loss.dataSync()[0];
      loss.dispose();
      return v;
    };
    cleanup = () => { opt.dispose(); [w1, b1, w2, b2, w3, b3].forEach((v) => v.dispose()); };
  } else if (spec.name === 'cnn' && variant === 'layers') {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
        tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10 }),
      ],
    });
    const ws = [toTfConv(T['conv1.w']), T['conv1.b'], toTfConv(T['conv2.w']), T['conv2.b'], toTfDense(T['fc.w']), T['fc.b']];
    model.setWeights(ws.map(({ shape, data }) => tf.tensor(data, shape)));
    model.compile({
      optimizer: tf.train.adam(1e-3),
      loss: (yTrue, yPred) => tf.losses.softmaxCrossEntropy(yTrue, yPred),
    });
    const { shape, data } = spec.inputs.image;
    const labels = Int32Array.from(spec.target.data);
    step = async () => {
      const x = tf.tensor4d(data, shape);
      const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat());
      const loss = await model.trainOnBatch(x, y);
      x.dispose();
      y.dispose();
      return Array.isArray(loss) ? loss[0] : loss;
    };
    cleanup = () => model.dispose();
  } else if (spec.name === 'mf' && (variant === 'gather' || variant === 'onehot')) {
    // gather: tf.gather (what tf.layers.embedding does); its gradient on the cpu backend is
    // unsortedSegmentSum, which runs equal/cast/mul/sum once per table row (5000 kernel calls).
    // onehot: the lookup as oneHot(ids) · table, whose gradient is one matMul.
    const U = variable(T.user_embeddings), V = variable(T.item_embeddings);
    const [numUsers, numItems] = [U.shape[0], V.shape[0]];
    const opt = tf.train.momentum(0.05, 0.9);
    const [users, pos, neg] = ['users', 'pos', 'neg'].map((k) => spec.inputs[k].data);
    const lookup = variant === 'gather'
      ? (table, ids) => tf.gather(table, ids)
      : (table, ids) => tf.matMul(tf.oneHot(ids, table.shape[0]), table);
    step = () => {
      const loss = tf.tidy(() => {
        const u = tf.tensor1d(Int32Array.from(users), 'int32');
        const p = tf.tensor1d(Int32Array.from(pos), 'int32');
        const n = tf.tensor1d(Int32Array.from(neg), 'int32');
        return opt.minimize(() => {
          const eu = lookup(U, u);
          const sp = tf.mean(tf.mul(eu, lookup(V, p)), 1, true);
          const sn = tf.mean(tf.mul(eu, lookup(V, n)), 1, true);
          const s = tf.concat([sp, sn], 1);
          const d = tf.sub(s.slice([0, 0], [-1, 1]), s.slice([0, 1], [-1, 1]));
          // -log σ(d); tf.logSigmoid of a computed tensor throws inside minimize() (tfjs 4.22)
          return tf.mean(tf.softplus(tf.neg(d)));
        }, true, [U, V]);
      });
      const v = loss.dataSync()[0];
      loss.dispose();
      return v;
    };
    if (numUsers <= 0 || numItems <= 0) throw new Error('empty tables');
    cleanup = () => { opt.dispose(); U.dispose(); V.dispose(); };
  } else {
    throw new Error(`no tfjs variant '${variant}' for ${spec.name}`);
  }
  const { timing, losses } = await timeSteps(step);
  const numTensors = tf.memory().numTensors;
  cleanup();
  return {
    records: [{ engine: 'tfjs-cpu', variant, threads: 1, ...timing }],
    info: { first_loss: losses[0], last_loss: losses[losses.length - 1], loss_steps: losses.length, numTensors, backend: tf.getBackend(), version: tf.version.tfjs },
  };
}

async function child() {
  const spec = SPECS[arg('model')]();
  const options = { variant: arg('variant'), threads: Number(arg('threads')) };
  const fn = { vitrine: childVitrine, 'tfjs-cpu': childTfjs }[arg('child')];
  const result = await fn(spec, options);
  fs.writeFileSync(arg('out'), JSON.stringify(result));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// parent


// vitrine-train on the model file and the batch, full-batch steps; returns a record or throws.
function nativeRecord(spec, tmp, threads) {
  const tool = path.join(root, 'build/native/engine/tools/vitrine-train');
  if (!fs.existsSync(tool)) throw new Error('build/native/engine/tools/vitrine-train not built');
  const dir = fs.mkdtempSync(path.join(tmp, `native-${spec.name}-`));
  const modelFile = path.join(dir, 'model.safetensors');
  fs.writeFileSync(modelFile, vitrineModelFile(spec));
  const cli = [modelFile];
  for (const [name, t] of Object.entries(spec.inputs)) {
    const f = path.join(dir, `${name}.npy`);
    fs.writeFileSync(f, npyFile(t.data, t.shape));
    cli.push('--input', `${name}=${f}`);
  }
  const targetFile = path.join(dir, 'target.npy');
  fs.writeFileSync(targetFile, npyFile(spec.target.data, spec.target.shape));
  cli.push('--target', targetFile, ...spec.cli, '--save', path.join(dir, 'out.safetensors'), '--print-losses',
    '--threads', String(threads));
  const runOnce = (steps) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(tool, [...cli, '--steps', String(steps)], { encoding: 'utf8', maxBuffer: 16 << 20 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`vitrine-train exit ${r.status}: ${(r.stderr || '').trim().split('\n').pop()}`);
    const losses = [...r.stdout.matchAll(/^step \d+ loss (\S+)$/gm)].map((m) => Number(m[1]));
    if (losses.length !== steps) throw new Error(`vitrine-train printed ${losses.length} losses for ${steps} steps`);
    return { ms, losses };
  };
  const perStep = [];
  const totals = [];
  let losses = null;
  for (let k = 0; k < NATIVE_REPEATS; k++) {
    const short = runOnce(NATIVE_STEPS[0]);
    const long = runOnce(NATIVE_STEPS[1]);
    perStep.push((long.ms - short.ms) / (NATIVE_STEPS[1] - NATIVE_STEPS[0]));
    totals.push({ [`t${NATIVE_STEPS[0]}_ms`]: +short.ms.toFixed(2), [`t${NATIVE_STEPS[1]}_ms`]: +long.ms.toFixed(2) });
    losses = long.losses;
  }
  const m = median(perStep);
  return {
    record: {
      engine: 'native', variant: 'vitrine-train', threads, steps_per_s: 1000 / m,
      median_ms_per_step: m, runs: NATIVE_REPEATS,
      per_step_ms: perStep.map((x) => +x.toFixed(3)), process_times: totals,
    },
    info: { first_loss: losses[0], last_loss: losses[losses.length - 1], loss_steps: losses.length },
  };
}

async function parent() {
  const models = arg('models', 'cnn,mf').split(',');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-bench-train-'));
  const loadavgStart = os.loadavg();
  const records = [];
  const notes = [];
  const infos = {};
  const skipped = [];
  let failed = false;
  for (const name of models) {
    if (!SPECS[name]) throw new Error(`unknown model '${name}' (cnn, mf)`);
    const spec = SPECS[name]();
    const configs = [
      { engine: 'vitrine', variant: 'simd', threads: 1 },
      { engine: 'vitrine', variant: 'simd-threads', threads: 1 },
      ...(name === 'cnn'
        ? [{ engine: 'tfjs-cpu', variant: 'ops', threads: 1 }, { engine: 'tfjs-cpu', variant: 'layers', threads: 1 }]
        : [{ engine: 'tfjs-cpu', variant: 'onehot', threads: 1 },
          ...(flag('skip-tfjs-gather') ? [] : [{ engine: 'tfjs-cpu', variant: 'gather', threads: 1 }])]),
      { engine: 'vitrine', variant: 'simd-threads', threads: 2 },
    ];
    for (const c of configs) {
      const label = `${name}: ${c.engine} ${c.variant}, ${c.threads} thread${c.threads > 1 ? 's' : ''}`;
      const out = path.join(tmp, 'out.json');
      fs.rmSync(out, { force: true });
      const childArgs = [self, '--child', c.engine, '--model', name, '--variant', c.variant, '--threads', String(c.threads),
        '--runs', String(runs), '--out', out];
      const t0 = Date.now();
      const r = spawnSync(process.execPath, childArgs, { cwd: root, encoding: 'utf8', timeout: 900_000, maxBuffer: 64 << 20 });
      if (flag('verbose')) process.stderr.write(r.stdout + r.stderr);
      if (r.status !== 0 || !fs.existsSync(out)) {
        const lines = (r.stderr || '').trim().split('\n');
        const why = (r.error?.message ?? lines.find((l) => /Error/.test(l)) ?? lines.pop() ?? `exit ${r.status}`).slice(0, 400);
        console.error(`[train] ${label}: FAILED (${why})`);
        if (!flag('verbose')) process.stderr.write(lines.slice(-10).join('\n') + '\n');
        notes.push(`${label}: failed: ${why}`);
        skipped.push({ model: name, engine: c.engine, variant: c.variant, threads: c.threads, reason: why });
        if (c.engine === 'vitrine') failed = true;
        continue;
      }
      const result = JSON.parse(fs.readFileSync(out, 'utf8'));
      for (const rec of result.records) records.push({ model: name, ...rec });
      infos[`${name}/${c.engine}/${c.variant}/${c.threads}`] = result.info;
      const rec = result.records[0];
      console.error(`[train] ${label}: ${rec.steps_per_s.toFixed(1)} steps/s (${rec.median_ms_per_step.toFixed(2)} ms/step, ` +
        `first loss ${result.info.first_loss.toFixed(6)})  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
    for (const threads of [1, 2]) {
      try {
        const { record, info } = nativeRecord(spec, tmp, threads);
        records.push({ model: name, ...record });
        infos[`${name}/native/vitrine-train/${record.threads}`] = info;
        console.error(`[train] ${name}: native, ${record.threads} threads: ${record.steps_per_s.toFixed(1)} steps/s ` +
          `(${record.median_ms_per_step.toFixed(3)} ms/step, first loss ${info.first_loss.toFixed(6)})`);
      } catch (e) {
        console.error(`[train] ${name}: native, ${threads} threads: FAILED (${e.message})`);
        notes.push(`${name}: native: failed: ${e.message}`);
        skipped.push({ model: name, engine: 'native', variant: 'vitrine-train', reason: e.message });
      }
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });

  // first-step losses: same weights and batch everywhere, so they must agree
  const lossCheck = [];
  for (const name of models) {
    const entries = Object.entries(infos).filter(([k]) => k.startsWith(`${name}/`));
    const refKey = Object.keys(infos).find((k) => k.startsWith(`${name}/tfjs-cpu/`));
    const ref = refKey ? infos[refKey] : null;
    for (const [key, info] of entries) {
      const rel = ref ? Math.abs(info.first_loss - ref.first_loss) / Math.max(1e-12, Math.abs(ref.first_loss)) : null;
      const pass = rel === null ? null : rel <= LOSS_TOLERANCE;
      if (pass === false && key.includes('/vitrine/')) failed = true;
      // after the same number of steps the losses should still be close (informational: float
      // rounding differs between engines and grows with the steps)
      const relLast = ref && ref.loss_steps === info.loss_steps
        ? Math.abs(info.last_loss - ref.last_loss) / Math.max(1e-12, Math.abs(ref.last_loss)) : null;
      lossCheck.push({ model: name, config: key.slice(name.length + 1), first_loss: info.first_loss,
        reference: refKey ? refKey.slice(name.length + 1) : null, rel_diff_vs_tfjs: rel, pass,
        last_loss: info.last_loss, loss_steps: info.loss_steps, last_loss_rel_diff_vs_tfjs: relLast });
    }
  }

  // ratios: Vitrine steps/s ÷ TF.js steps/s on the same model (> 1: Vitrine faster)
  const ratios = [];
  for (const v of records.filter((r) => r.engine === 'vitrine' || r.engine === 'native')) {
    for (const p of records.filter((r) => r.engine === 'tfjs-cpu' && r.model === v.model)) {
      ratios.push({
        model: v.model, vitrine_engine: v.engine, vitrine_variant: v.variant, vitrine_threads: v.threads,
        tfjs_variant: p.variant, vitrine_steps_per_s: v.steps_per_s, tfjs_steps_per_s: p.steps_per_s,
        ratio: v.steps_per_s / p.steps_per_s,
      });
    }
  }

  for (const name of models) {
    const key = [`${name}/vitrine/simd/1`, `${name}/vitrine/simd-threads/1`].find((k) => infos[k]);
    const v = key ? infos[key] : null;
    const rec = v && records.find((r) => `${r.model}/${r.engine}/${r.variant}/${r.threads}` === key);
    if (v && rec) {
      notes.push(`${name}: where a Vitrine step goes (${key.split('/').slice(2).join(', ')} thread): copying inputs and target in (trainer._feed) ` +
        `${v.feed_median_ms.toFixed(3)} ms; evaluate() (forward + loss) ${v.evaluate_cached_median_ms.toFixed(3)} ms when no ` +
        `parameter changed, ${v.evaluate_after_step_median_ms.toFixed(3)} ms right after a step (the trainer rebuilds the ` +
        `executor of every node whose parameters changed: ${(v.evaluate_after_step_median_ms - v.evaluate_cached_median_ms).toFixed(3)} ms ` +
        `a step); whole step ${rec.median_ms_per_step.toFixed(3)} ms, so backward + optimizer update ≈ ` +
        `${(rec.median_ms_per_step - v.evaluate_after_step_median_ms).toFixed(3)} ms`);
    }
  }
  notes.push(
    `timed: one optimizer step end to end (inputs copied in from typed arrays, forward, loss, backward, update, loss read ` +
      `back); ${warmup} warm-up steps then ${runs} timed steps on the same batch; one child process per configuration`,
    'vitrine: model file written by this script (Vitrine safetensors, seeded uniform weights; conv/dense biases zero), ' +
      'loaded with runtime.loadModel(bytes), trained with model.createTrainer(options).step(inputs, target); ' +
      'simd-threads: createRuntime({ variant, threads: 2 }) then setThreads(n); simd: threads 1',
    `native: build/native/engine/tools/vitrine-train MODEL --input NAME=X.npy ... --target Y.npy --steps N (full batch), ` +
      `per step = (t(${NATIVE_STEPS[1]}) − t(${NATIVE_STEPS[0]})) / ${NATIVE_STEPS[1] - NATIVE_STEPS[0]} of the whole process ` +
      `(wall clock), median of ${NATIVE_REPEATS}; vitrine-train --threads 1 and 2 ` +
      `(${os.cpus().length} here)`,
    'tfjs-cpu: @tensorflow/tfjs with tf.setBackend("cpu") in Node (single-threaded, plain JS kernels); "ops" = tf ops + ' +
      'optimizer.minimize(f, true) inside tf.tidy, inputs made into tensors each step, loss read with dataSync(); ' +
      'CNN "layers" = tf.sequential (conv2d with fused relu activation) + model.trainOnBatch; same initial weights ' +
      '(transposed to TF layouts), same batch; MF ids are int32 tensors (Vitrine takes float ids); MF "gather" = ' +
      'tf.gather lookups (what tf.layers.embedding does; on the cpu backend its gradient, unsortedSegmentSum, runs ' +
      'equal/cast/mul/sum once per table row, 1000 + 2×5000 kernel calls per step), MF "onehot" = oneHot(ids) · table ' +
      '(gradient: one matMul per lookup), the faster of the two ways to write it in TF.js; ' +
      'tf.train.momentum(0.05, 0.9) = SGD with momentum (no dampening), tf.train.adam(1e-3)',
    'the machine may be shared with other work (see machine.loadavg_*): differences of ~30% between runs of the same ' +
      'configuration (e.g. simd vs simd-threads at 1 thread) are noise, not engine differences',
    `first-step losses are compared with the first tfjs-cpu configuration of the model (relative tolerance ${LOSS_TOLERANCE}): same weights and batch, so ` +
      'the forward passes must agree',
  );

  const cpus = os.cpus();
  const result = {
    benchmark: 'train',
    command: 'npm run bench -- train',
    date: new Date().toISOString(),
    machine: {
      cpus: cpus.length, cpu: cpus[0]?.model, node: process.version,
      loadavg_start: loadavgStart.map((l) => +l.toFixed(2)), loadavg_end: os.loadavg().map((l) => +l.toFixed(2)),
    },
    models: Object.fromEntries(models.map((n) => {
      const s = SPECS[n]();
      const params = Object.values(s.tensors).reduce((a, t) => a + t.data.length, 0);
      return [n, { description: s.description, batch: s.batch, parameters: params, trainer: s.trainer }];
    })),
    peers: { '@tensorflow/tfjs': Object.values(infos).find((i) => i.version)?.version ?? null },
    records,
    ratios,
    loss_check: lossCheck,
    details: infos,
    skipped,
    notes,
  };
  fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bench/results/train.json'), JSON.stringify(result, null, 2) + '\n');

  console.log(`training steps/s, median of ${runs} steps after ${warmup} warm-up (${cpus.length}× ${cpus[0]?.model}, Node ${process.version})`);
  console.log('model  engine     variant         threads   steps/s   ms/step');
  for (const r of records) {
    console.log(`${r.model.padEnd(6)} ${r.engine.padEnd(10)} ${r.variant.padEnd(15)} ${String(r.threads).padStart(7)}  ` +
      `${r.steps_per_s.toFixed(1).padStart(8)}  ${r.median_ms_per_step.toFixed(3).padStart(8)}`);
  }
  for (const s of skipped) console.log(`${s.model.padEnd(6)} ${s.engine.padEnd(10)} ${s.variant.padEnd(15)}  skipped: ${s.reason}`);
  console.log('\nratio Vitrine steps/s ÷ TF.js (cpu) steps/s (> 1: Vitrine faster)');
  console.log('model  vitrine                       tfjs-cpu   ratio');
  for (const r of ratios) {
    console.log(`${r.model.padEnd(6)} ${`${r.vitrine_engine} ${r.vitrine_variant} ${r.vitrine_threads}t`.padEnd(29)} ` +
      `${r.tfjs_variant.padEnd(9)} ${r.ratio.toFixed(2).padStart(6)}`);
  }
  console.log('\nlosses (same weights and batch every step):');
  for (const c of lossCheck) {
    console.log(`  ${c.model} ${c.config.padEnd(28)} ${c.first_loss.toFixed(6)}` +
      (c.rel_diff_vs_tfjs === null ? '' : `  rel diff vs ${c.reference} ${c.rel_diff_vs_tfjs.toExponential(1)} ${c.pass ? 'ok' : 'MISMATCH'}`) +
      `;  after ${c.loss_steps} steps ${c.last_loss.toFixed(6)}` +
      (c.last_loss_rel_diff_vs_tfjs === null ? '' : ` (rel diff ${c.last_loss_rel_diff_vs_tfjs.toExponential(1)})`));
  }
  for (const n of notes.filter((n) => /failed/.test(n))) console.log(`note: ${n}`);
  console.log('wrote bench/results/train.json');
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
