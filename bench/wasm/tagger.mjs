// npm run bench -- tagger [--runs N] [--quick]: image tagging latency in wasm, Vitrine next to
// TensorFlow.js (tfjs-backend-wasm) on the same models and inputs, each configuration in its own
// process, medians after warm-up:
//   fashion     the shipped Fashion-MNIST tagger, one 28x28 image: Vitrine's whole tag() (pixels in,
//               tags out: pre-processing, CNN, softmax, groups) and the bare model run; tfjs: the
//               same CNN rebuilt as a tf.sequential with the shipped weights, predict() + data();
//               also 64 images per call (images/s)
//   photo       tag() of a 640x427 RGBA photo-sized image (area resize + inversion + CNN)
//   mobilenet   npm nsfwjs's MobileNetV2 (TF.js layers model, 224x224x3): Vitrine's Keras import vs
//               tf.loadLayersModel of the same files; one image per call
//   head        few-shot head training: 200 examples (20 per class) of 1280-d embeddings, 150
//               full-batch Adam steps (Vitrine only: the peers have no on-device head trainer)
// Writes bench/results/tagger.json and prints a table with Vitrine/peer ratios.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

import { arg, flag, loadTfjsWasm, mulberry32, quantile, root, timeIt as timeCalls } from '../common.mjs';

const modelPath = path.join(root, 'models/tagger/fashion-mnist.safetensors');
const quick = flag('quick');
const runs = Number(arg('runs', quick ? 30 : 300));
const warmup = Math.max(5, Math.floor(runs / 10));

const timeIt = (fn, n = runs, w = warmup) => timeCalls(fn, n, w);

// The shipped model's tensors (safetensors, F16 or F32) as Float32Arrays.
function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n));
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = t.data_offsets;
    const raw = buf.subarray(8 + n + a, 8 + n + b);
    const count = t.shape.reduce((x, y) => x * y, 1);
    const f = new Float32Array(count);
    if (t.dtype === 'F32') f.set(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)));
    else for (let i = 0; i < count; i++) f[i] = half(raw.readUInt16LE(2 * i));
    out[name] = { shape: t.shape, data: f };
  }
  return { tensors: out, metadata: header.__metadata__ };
}
function half(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function fashionImages(count) {
  const dir = execFileSync('bash', [path.join(root, 'scripts/tagger/prepare-data.sh')], { encoding: 'utf8' }).trim();
  const img = fs.readFileSync(path.join(dir, 't10k-images-idx3-ubyte'));
  return Array.from({ length: count }, (_, i) => new Uint8Array(img.buffer, img.byteOffset + 16 + i * 784, 784));
}

function photo() {  // a 640x427 RGBA image: a dark garment-like blob on a light, noisy background
  const rand = mulberry32(7);
  const w = 640, h = 427, data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const inside = ((x - 320) / 150) ** 2 + ((y - 213) / 180) ** 2 < 1;
    const v = inside ? 40 + 30 * rand() : 235 + 20 * rand();
    data.set([v, v * 0.95, v * 0.9, 255], (y * w + x) * 4);
  }
  return { data, width: w, height: h };
}

async function childVitrine(threads) {
  const { createRuntime } = await import('../../web/src/index.js');
  const runtime = await createRuntime({ variant: threads > 1 ? 'simd-threads' : 'simd', threads });
  const records = [];
  const images = fashionImages(64);
  const tagger = await runtime.createImageTagger({ model: modelPath });
  const one = { data: images[0], width: 28, height: 28, format: 'gray' };
  records.push({ task: 'fashion', what: 'tag() 1 image (pixels in, tags out)', ...(await timeIt(() => tagger.tag(one))) });
  const h = tagger._handle;
  h.beginBatch(1);
  h.setImage(0, images[0], 28, 28, 'gray', 0, 'letterbox', 'never');
  records.push({ task: 'fashion', what: 'model run, 1 image', ...(await timeIt(() => h.run())) });
  const batch = images.map((d) => ({ data: d, width: 28, height: 28, format: 'gray' }));
  const b = await timeIt(() => tagger.tagBatch(batch), Math.max(10, runs / 10));
  records.push({ task: 'fashion', what: 'tagBatch() 64 images', ...b, images_per_s: 64000 / b.median_ms });
  const logits = (() => { h.beginBatch(1); h.setImage(0, images[0], 28, 28, 'gray', 0, 'letterbox', 'never'); h.run(); return Array.from(h.probabilities()); })();
  const big = photo();
  records.push({ task: 'photo', what: 'tag() 640x427 RGBA photo', ...(await timeIt(() => tagger.tag(big), Math.max(20, runs / 5))) });
  await tagger.dispose();

  const nsfw = execFileSync('bash', [path.join(root, 'scripts/tagger/prepare-nsfwjs.sh')], { encoding: 'utf8' }).trim();
  const mn = await runtime.createImageTagger({
    model: { format: 'tfjs-layers', path: path.join(nsfw, 'model.json') },
    description: { input: { height: 224, width: 224, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] },
                   labels: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'], outputs: { probabilities: 'dense_3' } },
  });
  const input = new Float32Array(fs.readFileSync(path.join(nsfw, 'inputs.f32')).buffer.slice(0, 224 * 224 * 3 * 4));
  const m = mn._handle;
  m.beginBatch(1);
  m.setInput(0, input);
  records.push({ task: 'mobilenet', what: 'MobileNetV2 224 forward, 1 image', ...(await timeIt(() => m.run(), Math.max(10, runs / 10), 3)) });
  m.run();
  const mnProbs = Array.from(m.probabilities());
  await mn.dispose();

  // Head training on 200 random 1280-d "embeddings" (20 per class, class-dependent means).
  const rand = mulberry32(11);
  const ex = await runtime.createImageTagger({
    model: { format: 'tfjs-layers', path: path.join(nsfw, 'model.json'), outputLayer: 'flatten_1' },
    description: { input: { height: 224, width: 224, channels: 3 }, outputs: { embedding: 'flatten_1' } },
  });
  const state = { version: 1, embeddingDim: 1280, head: null, examples: {} };
  for (let c = 0; c < 10; c++) {
    state.examples[`tag${c}`] = Array.from({ length: 20 }, () => {
      const e = Float32Array.from({ length: 1280 }, (_, j) => Math.max(0, (j % 10 === c ? 1 : 0) + rand() - 0.5));
      return Buffer.from(e.buffer).toString('base64');
    });
  }
  await ex.importState(state);
  const head = await timeIt(() => ex.train(), Math.max(5, runs / 30), 2);
  records.push({ task: 'head', what: 'few-shot head: 200 x 1280-d, 150 Adam steps', ...head });
  await ex.dispose();
  runtime.dispose();
  return { records, check: { fashion_probabilities: logits, mobilenet_probabilities: mnProbs } };
}

async function childTfjs(threads) {
  const { tf } = await loadTfjsWasm(threads);
  const records = [];
  const { tensors: T, metadata } = readSafetensors(modelPath);
  const images = fashionImages(64);
  const meta = JSON.parse(metadata.tagger);
  const mean = meta.input.mean[0], std = meta.input.std[0];
  const convs = Object.keys(T).filter((k) => /^conv.*\.w$/.test(k)).map((k) => k.slice(0, -2));
  const model = tf.sequential();
  let first = true;
  let block = '';
  for (const c of convs) {
    const w = T[`${c}.w`];  // (O, KH, KW, I) -> (KH, KW, I, O)
    const [o, kh, kw, ci] = w.shape;
    const k = new Float32Array(w.data.length);
    for (let a = 0; a < o; a++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) {
      k[((y * kw + x) * ci + i) * o + a] = w.data[((a * kh + y) * kw + x) * ci + i];
    }
    const blk = c.split('_')[0];
    if (block && blk !== block) model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    block = blk;
    const layer = tf.layers.conv2d({ ...(first ? { inputShape: [28, 28, 1] } : {}), filters: o, kernelSize: kh, padding: 'same', activation: 'relu',
                                     weights: [tf.tensor4d(k, [kh, kw, ci, o]), tf.tensor1d(T[`${c}.b`].data)] });
    model.add(layer);
    first = false;
  }
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  const dense = (name, activation) => {
    const w = T[`${name}.w`];  // (O, I) -> (I, O)
    const [o, i] = w.shape;
    const k = new Float32Array(w.data.length);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) k[b * o + a] = w.data[a * i + b];
    model.add(tf.layers.dense({ units: o, activation, weights: [tf.tensor2d(k, [i, o]), tf.tensor1d(T[`${name}.b`].data)] }));
  };
  dense('embed', 'relu');
  dense('classes', 'softmax');
  const norm = (list) => tf.tensor4d(Float32Array.from(list.flatMap((p) => Array.from(p, (v) => (v / 255 - mean) / std))), [list.length, 28, 28, 1]);
  const x1 = norm([images[0]]), x64 = norm(images);
  const run = (x) => { const y = model.predict(x); const d = y.dataSync(); y.dispose(); return d; };
  records.push({ task: 'fashion', what: 'model run, 1 image', ...(await timeIt(() => run(x1))) });
  const b = await timeIt(() => run(x64), Math.max(10, runs / 10));
  records.push({ task: 'fashion', what: 'tagBatch() 64 images', ...b, images_per_s: 64000 / b.median_ms });
  const fashion = Array.from(run(x1));

  const nsfw = execFileSync('bash', [path.join(root, 'scripts/tagger/prepare-nsfwjs.sh')], { encoding: 'utf8' }).trim();
  const json = JSON.parse(fs.readFileSync(path.join(nsfw, 'model.json'), 'utf8'));
  const shard = fs.readFileSync(path.join(nsfw, 'group1-shard1of1.bin'));
  const mn = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
                                                         weightData: shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength) }));
  const input = tf.tensor4d(new Float32Array(fs.readFileSync(path.join(nsfw, 'inputs.f32')).buffer.slice(0, 224 * 224 * 3 * 4)), [1, 224, 224, 3]);
  const runMn = () => { const y = mn.predict(input); const d = y.dataSync(); y.dispose(); return d; };
  records.push({ task: 'mobilenet', what: 'MobileNetV2 224 forward, 1 image', ...(await timeIt(runMn, Math.max(10, runs / 10), 3)) });
  return { records, check: { fashion_probabilities: fashion, mobilenet_probabilities: Array.from(runMn()) } };
}

if (flag('child')) {
  const engine = arg('engine'), threads = Number(arg('threads'));
  const r = engine === 'vitrine' ? await childVitrine(threads) : await childTfjs(threads);
  fs.writeFileSync(arg('out'), JSON.stringify(r));
  process.exit(0);
}

const require = createRequire(import.meta.url);
const version = (p) => require(`${p}/package.json`).version;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-bench-tagger-'));
const configs = [['vitrine', 1], ['vitrine', 2], ['tfjs-wasm', 1], ['tfjs-wasm', 2]];
const records = [];
const checks = {};
const loadStart = os.loadavg();
for (const [engine, threads] of configs) {
  const out = path.join(tmp, `${engine}-${threads}.json`);
  console.error(`[tagger] ${engine}, ${threads} thread(s) ...`);
  execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--child', '--engine', engine, '--threads', String(threads), '--out', out,
                                  '--runs', String(runs), ...(quick ? ['--quick'] : [])], { stdio: ['ignore', 'inherit', 'inherit'] });
  const r = JSON.parse(fs.readFileSync(out, 'utf8'));
  for (const rec of r.records) records.push({ engine, threads, ...rec });
  checks[`${engine}-${threads}`] = r.check;
}
const maxDiff = (a, b) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
const agreement = {
  fashion_max_abs_diff_vs_tfjs: maxDiff(checks['vitrine-1'].fashion_probabilities, checks['tfjs-wasm-1'].fashion_probabilities),
  mobilenet_max_abs_diff_vs_tfjs: maxDiff(checks['vitrine-1'].mobilenet_probabilities, checks['tfjs-wasm-1'].mobilenet_probabilities),
};
const ratios = [];
for (const rec of records.filter((r) => r.engine === 'vitrine')) {
  const peer = records.find((p) => p.engine === 'tfjs-wasm' && p.threads === rec.threads && p.task === rec.task &&
                                   (p.what === rec.what || (rec.what === 'tagBatch() 64 images' && p.what === rec.what)));
  if (peer) ratios.push({ task: rec.task, what: rec.what, threads: rec.threads, vitrine_ms: rec.median_ms, peer_ms: peer.median_ms, ratio: rec.median_ms / peer.median_ms });
}
const cpus = os.cpus();
const result = {
  benchmark: 'tagger', command: `npm run bench -- tagger${quick ? ' --quick' : ''}`, date: new Date().toISOString(),
  machine: { cpus: cpus.length, cpu: cpus[0]?.model, node: process.version, loadavg_start: loadStart, loadavg_end: os.loadavg() },
  model: { file: 'models/tagger/fashion-mnist.safetensors', bytes: fs.statSync(modelPath).size },
  peers: { '@tensorflow/tfjs': version('@tensorflow/tfjs'), '@tensorflow/tfjs-backend-wasm': version('@tensorflow/tfjs-backend-wasm') },
  runs, warmup, records, ratios, agreement,
};
fs.writeFileSync(path.join(root, 'bench/results/tagger.json'), JSON.stringify(result, null, 2) + '\n');
console.log(`Image tagging, medians (${cpus.length}x ${cpus[0]?.model}, Node ${process.version}); model ${(result.model.bytes / 1024).toFixed(0)} KiB`);
console.log('engine      threads  task       what                                           median ms   p10 ms   p90 ms');
for (const r of records) {
  console.log(`${r.engine.padEnd(11)} ${String(r.threads).padStart(7)}  ${r.task.padEnd(10)} ${r.what.padEnd(46)} ${r.median_ms.toFixed(3).padStart(9)} ${r.p10_ms.toFixed(3).padStart(8)} ${r.p90_ms.toFixed(3).padStart(8)}` +
              (r.images_per_s ? `  (${r.images_per_s.toFixed(0)} images/s)` : ''));
}
console.log('Vitrine / tfjs-wasm (same model, same threads; < 1 = Vitrine faster):');
for (const r of ratios) console.log(`  ${r.task} ${r.what}, ${r.threads} thread(s): ${r.ratio.toFixed(2)}`);
console.log(`outputs agree with tfjs: fashion max |diff| ${agreement.fashion_max_abs_diff_vs_tfjs.toExponential(2)}, ` +
            `MobileNetV2 ${agreement.mobilenet_max_abs_diff_vs_tfjs.toExponential(2)}`);
console.log('wrote bench/results/tagger.json');
