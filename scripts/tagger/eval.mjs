// npm run eval -- tagger [--quick]: the shipped Fashion-MNIST tagger and its baselines on the fixed
// split of ../shared/DATA.md (train on the 60k minus the last 5,000 = validation; test = the 10k),
// plus few-shot heads trained by the facade on 5 / 10 / 20 examples per class. Writes
// bench/results/eval-tagger.json and prints a table.
//
//   1. default tagger: top-1 test accuracy natively (vitrine-tag eval) and in wasm (simd, the same
//      predictions image by image), per-class accuracy, coarse-group accuracy;
//   2. baseline run here: an MLP (784 -> 256 -> 10, batch norm, dropout) trained by the same
//      engine trainer without augmentation (vitrine-tag train --widths "");
//   3. few-shot: a fresh softmax head over the 10 classes from k examples per class drawn from the
//      training split (5 seeded draws), on (a) the default tagger's 128-d embeddings and (b) npm
//      nsfwjs's pretrained MobileNetV2 1280-d features (a backbone that never saw Fashion-MNIST:
//      all ten classes are held out of its training), tested on the 10k (a) / first 2,000 (b).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { createRuntime } from '../../web/src/index.js';
import { mulberry32 } from '../../bench/common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const quick = process.argv.includes('--quick');
const modelPath = path.join(root, 'models/tagger/fashion-mnist.safetensors');
const tool = path.join(root, 'build/native/engine/tools/vitrine-tag');
const LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
const dataDir = sh('bash', [path.join(root, 'scripts/tagger/prepare-data.sh')]);
const nsfwDir = sh('bash', [path.join(root, 'scripts/tagger/prepare-nsfwjs.sh')]);
const log = (m) => console.error(`[eval tagger] ${m}`);

function readIdx(images, labels) {
  const img = fs.readFileSync(path.join(dataDir, images));
  const lab = fs.readFileSync(path.join(dataDir, labels));
  const n = img.readUInt32BE(4);
  return Array.from({ length: n }, (_, i) => ({ pixels: new Uint8Array(img.buffer, img.byteOffset + 16 + i * 784, 784), label: lab[8 + i] }));
}
const TRAIN = readIdx('train-images-idx3-ubyte', 'train-labels-idx1-ubyte').slice(0, 55000);  // the last 5,000 validate
const TEST = readIdx('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte');
const gray = (p) => ({ data: p, width: 28, height: 28, format: 'gray' });
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs) => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / Math.max(1, xs.length - 1));

const byClass = LABELS.map((_, c) => TRAIN.map((t, i) => (t.label === c ? i : -1)).filter((i) => i >= 0));
function draw(k, seed) {
  const rand = mulberry32(seed);
  return byClass.map((idx) => {
    const pool = idx.slice();
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rand() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, k);
  });
}

const result = { evaluation: 'tagger', command: `npm run eval -- tagger${quick ? ' --quick' : ''}`, date: new Date().toISOString(),
                 machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
                 data: { source: "Fashion-MNIST (Debian's dataset-fashion-mnist)", train: 55000, validation: '5,000 (last of the 60k training images)', test: 10000 } };

// 1. Default tagger, native.
const predFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-eval-tag-')), 'pred.txt');
const native = JSON.parse(sh(tool, ['eval', modelPath, '--images', path.join(dataDir, 't10k-images-idx3-ubyte'),
                                    '--labels', path.join(dataDir, 't10k-labels-idx1-ubyte'), '--predictions', predFile]));
const nativePred = fs.readFileSync(predFile, 'utf8').trim().split('\n').map(Number);
const perClass = LABELS.map((label, c) => {
  const idx = TEST.map((t, i) => (t.label === c ? i : -1)).filter((i) => i >= 0);
  return { label, accuracy: idx.filter((i) => nativePred[i] === c).length / idx.length };
});
const GROUP_OF = [0, 1, 0, 2, 3, 4, 0, 4, 5, 4];  // tops bottoms tops dresses outerwear footwear tops footwear bags footwear
const groupAcc = TEST.filter((t, i) => GROUP_OF[nativePred[i]] === GROUP_OF[t.label]).length / TEST.length;
log(`default tagger native: ${native.accuracy}`);

// Wasm (simd, 1 thread): the same predictions.
const runtime = await createRuntime({ variant: 'simd', threads: 1 });
const tagger = await runtime.createImageTagger({ model: modelPath, invert: 'never' });
let same = 0, correct = 0;
for (let b = 0; b < TEST.length; b += 500) {
  const part = TEST.slice(b, b + 500);
  const res = await tagger.tagBatch(part.map((t) => gray(t.pixels)), { topK: 1 });
  res.forEach((r, i) => {
    const c = LABELS.indexOf(r.find((x) => x.type === 'class').label);
    if (c === nativePred[b + i]) same++;
    if (c === part[i].label) correct++;
  });
}
log(`default tagger wasm: ${correct / TEST.length}, ${same}/10000 equal to native`);
result.default_tagger = {
  model: 'models/tagger/fashion-mnist.safetensors', bytes: fs.statSync(modelPath).size,
  test_accuracy: native.accuracy, wasm_test_accuracy: correct / TEST.length, wasm_equal_native: same,
  group_accuracy: groupAcc, per_class: perClass,
};

// 2. Baseline: an MLP trained by the same engine (no augmentation).
if (!quick) {
  const mlpFile = path.join(path.dirname(predFile), 'mlp.safetensors');
  const t0 = Date.now();
  const trained = JSON.parse(sh(tool, ['train', '--images', path.join(dataDir, 'train-images-idx3-ubyte'),
                                       '--labels', path.join(dataDir, 'train-labels-idx1-ubyte'), '--save', mlpFile,
                                       '--widths', '', '--embedding-dim', '256', '--epochs', '10', '--shift', '0', '--no-flip']));
  const mlp = JSON.parse(sh(tool, ['eval', mlpFile, '--images', path.join(dataDir, 't10k-images-idx3-ubyte'),
                                   '--labels', path.join(dataDir, 't10k-labels-idx1-ubyte')]));
  result.baselines = [{ name: 'MLP 784-256-10 (engine trainer, no augmentation, 10 epochs, best validation epoch)',
                        test_accuracy: mlp.accuracy, best_epoch: trained.best_epoch, seconds: (Date.now() - t0) / 1000 }];
  log(`MLP baseline: ${mlp.accuracy}`);
}

// 3. Few-shot heads.
async function fewShot(name, t, testSet, ks, draws, embedAll) {
  const testEmb = await embedAll(t, testSet);
  const rows = [];
  for (const k of ks) {
    const accs = [], ms = [];
    for (let d = 0; d < draws; d++) {
      await t.forget();
      const picks = draw(k, 1000 * k + d);
      for (let c = 0; c < 10; c++) await t.learn(picks[c].map((i) => gray(TRAIN[i].pixels)), LABELS[c]);
      const r = await t.train();
      ms.push(r.ms);
      const tags = await t.classifyEmbeddings(testEmb, { topK: 1 });
      accs.push(tags.filter((x, i) => x[0].label === LABELS[testSet[i].label]).length / testSet.length);
    }
    rows.push({ per_class: k, accuracy_mean: mean(accs), accuracy_sd: sd(accs), draws, head_train_ms_median: ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)] });
    log(`${name} ${k}-shot: ${mean(accs).toFixed(4)} ± ${sd(accs).toFixed(4)}`);
  }
  return rows;
}
const embedAll = async (t, set) => {
  const out = [];
  for (let b = 0; b < set.length; b += 100) out.push(...(await t.embedBatch(set.slice(b, b + 100).map((x) => gray(x.pixels)))));
  return out;
};
const ks = [5, 10, 20];
result.few_shot = [];
result.few_shot.push({ backbone: 'default tagger (128-d embedding; it was trained on these classes)', test_images: TEST.length,
                       rows: await fewShot('default', tagger, TEST, ks, quick ? 2 : 5, embedAll) });
await tagger.dispose();
runtime.dispose();

const rt2 = await createRuntime({ variant: 'simd-threads', threads: os.cpus().length });
const mobilenet = await rt2.createImageTagger({
  model: { format: 'tfjs-layers', path: path.join(nsfwDir, 'model.json'), outputLayer: 'flatten_1' },
  description: { input: { height: 224, width: 224, channels: 3, mean: [0, 0, 0], std: [1, 1, 1], background: 'light' },
                 outputs: { embedding: 'flatten_1' } },
  invert: 'always',  // Fashion-MNIST is light-on-dark: show the backbone dark garments on white, like product photos
});
const mnTest = TEST.slice(0, quick ? 500 : 2000);
result.few_shot.push({ backbone: "npm nsfwjs 4.3.0 MobileNetV2 (pretrained, 1280-d pooled features, input 224x224 RGB; never saw Fashion-MNIST)",
                       test_images: mnTest.length, rows: await fewShot('mobilenet', mobilenet, mnTest, ks, quick ? 1 : 3, embedAll) });
await mobilenet.dispose();
rt2.dispose();

fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/results/eval-tagger.json'), JSON.stringify(result, null, 2) + '\n');
const pct = (x) => (100 * x).toFixed(2) + '%';
console.log(`Fashion-MNIST test set (10,000 images), ${result.command}`);
console.log(`default tagger (${(result.default_tagger.bytes / 1024).toFixed(0)} KiB): native ${pct(native.accuracy)}, wasm ${pct(correct / TEST.length)} ` +
            `(${same}/10000 predictions equal), coarse groups ${pct(groupAcc)}`);
for (const r of perClass) console.log(`  ${r.label.padEnd(12)} ${pct(r.accuracy)}`);
for (const b of result.baselines ?? []) console.log(`baseline ${b.name}: ${pct(b.test_accuracy)}`);
console.log('few-shot head (softmax over the 10 classes, trained in wasm)   k=5            k=10           k=20');
for (const f of result.few_shot) {
  console.log(`  ${f.backbone.slice(0, 58).padEnd(60)} ${f.rows.map((r) => `${pct(r.accuracy_mean)}±${(100 * r.accuracy_sd).toFixed(1)}`.padEnd(15)).join('')}`);
}
console.log('wrote bench/results/eval-tagger.json');
