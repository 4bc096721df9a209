// The image tagger facade in both wasm variants: the shipped Fashion-MNIST tagger on real test
// images (accuracy, same predictions as the native engine), every input kind Node can give,
// bad input, similar products, few-shot tags (learn / train / cancel / export / persistence),
// worker mode, and npm nsfwjs's MobileNetV2 through the TF.js layers importer (same outputs as
// TensorFlow.js) used as a frozen feature extractor.
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { createImageTagger, createRuntime, RemoteImageTagger, VitrineError, toPixels } from '../../web/src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const modelPath = path.join(root, 'models/tagger/fashion-mnist.safetensors');
const tool = path.join(root, 'build/native/engine/tools/vitrine-tag');
const LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const requireModels = process.env.VITRINE_REQUIRE_MODELS === '1';

const dataDir = execFileSync('bash', [path.join(root, 'scripts/tagger/prepare-data.sh')], { encoding: 'utf8' }).trim();
function readIdx(images, labels, count) {
  const img = fs.readFileSync(path.join(dataDir, images));
  const lab = fs.readFileSync(path.join(dataDir, labels));
  const n = Math.min(count, img.readUInt32BE(4));
  return Array.from({ length: n }, (_, i) => ({
    pixels: new Uint8Array(img.buffer, img.byteOffset + 16 + i * 784, 784),
    label: lab[8 + i],
  }));
}
const TEST = readIdx('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 10000);
const TRAIN = readIdx('train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 2000);
const gray = (pixels, width = 28, height = 28) => ({ data: pixels, width, height, format: 'gray' });

function tmpFile(name) {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-tag-')), name);
}
async function rejects(promise, code, pattern) {
  await assert.rejects(promise, (e) => e instanceof VitrineError && e.code === code && pattern.test(e.message),
                       `expected ${code} ${pattern}`);
}
const argmax = (a, from, n) => {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[from + j] > a[from + best]) best = j;
  return best;
};

for (const variant of ['simd', 'simd-threads']) {
  describe(`image tagger in the ${variant} variant`, async () => {
    const runtime = await createRuntime({ variant, threads: variant === 'simd' ? 1 : 2 });
    after(() => runtime.dispose());

    test('tags Fashion-MNIST test photos: classes, groups, accuracy on 2,000 images', async () => {
      const progress = [];
      const tagger = await runtime.createImageTagger({ model: modelPath, onProgress: (p) => progress.push(p.stage) });
      assert.ok(progress.includes('model'));
      const info = await tagger.info();
      assert.deepEqual(info.labels, LABELS);
      assert.deepEqual(info.groups.map((g) => g.name), ['tops', 'bottoms', 'dresses', 'outerwear', 'footwear', 'bags']);
      assert.equal(info.input.height, 28);
      assert.equal(info.input.background, 'dark');
      const tags = await tagger.tag(gray(TEST[0].pixels), { topK: 2 });
      const classes = tags.filter((t) => t.type === 'class');
      assert.equal(classes.length, 2);
      assert.equal(classes[0].label, LABELS[TEST[0].label]);  // an ankle boot ...
      const groups = tags.filter((t) => t.type === 'group');
      assert.equal(groups[0].label, 'footwear');              // ... is footwear
      for (let i = 1; i < tags.length; i++) assert.ok(tags[i - 1].score >= tags[i].score);
      const some = await tagger.tag(gray(TEST[0].pixels), { topK: 10, threshold: 0.01 });
      for (const t of some) assert.ok(t.score >= 0.01);
      let correct = 0;
      const batch = 250;
      for (let b = 0; b < 2000; b += batch) {
        const part = TEST.slice(b, b + batch);
        const res = await tagger.tagBatch(part.map((t) => gray(t.pixels)), { topK: 1 });
        res.forEach((r, i) => { if (r.find((t) => t.type === 'class').label === LABELS[part[i].label]) correct++; });
      }
      assert.ok(correct / 2000 >= 0.92, `accuracy on the first 2,000 test images: ${correct / 2000}`);
      await tagger.dispose();
      await tagger.dispose();
      await rejects(tagger.tag(gray(TEST[0].pixels)), 'FailedPrecondition', /disposed/);
    });

    test('every Node input kind gives the same tags; letterbox, stride, colour and inversion', async () => {
      const tagger = await runtime.createImageTagger({ model: modelPath });
      const px = TEST[1].pixels;
      const base = await tagger.embed(gray(px));
      // RGB, RGBA, ImageData-like (Uint8ClampedArray = RGBA), padded rows.
      const rgb = new Uint8Array(784 * 3), rgba = new Uint8ClampedArray(784 * 4), padded = new Uint8Array(28 * 32);
      for (let i = 0; i < 784; i++) {
        rgb.fill(px[i], i * 3, i * 3 + 3);
        rgba.fill(px[i], i * 4, i * 4 + 3);
        rgba[i * 4 + 3] = 255;
        padded[Math.floor(i / 28) * 32 + (i % 28)] = px[i];
      }
      const variants = [
        { data: rgb, width: 28, height: 28, format: 'rgb' },
        { data: rgba, width: 28, height: 28 },
        { pixels: padded, width: 28, height: 28, format: 'gray', rowBytes: 32 },
      ];
      for (const v of variants) {
        const e = await tagger.embed(v);
        for (let j = 0; j < e.length; j++) assert.ok(Math.abs(e[j] - base[j]) < 1e-3 * (1 + Math.abs(base[j])), `${v.format} ${j}`);
      }
      // A "product photo": the same garment dark on white, 3x larger -> inverted and area-resized.
      const big = new Uint8Array(84 * 84);
      for (let y = 0; y < 84; y++) for (let x = 0; x < 84; x++) big[y * 84 + x] = 255 - px[Math.floor(y / 3) * 28 + Math.floor(x / 3)];
      const t1 = (await tagger.tag(gray(px), { topK: 1 }))[0].label;
      const t2 = (await tagger.tag(gray(big, 84, 84), { topK: 1 }))[0].label;
      assert.equal(t2, t1);
      // A wide photo: 'crop' keeps the centre square (the garment itself, unchanged); the default
      // 'letterbox' shrinks it into a band padded with background.
      const wide = new Uint8Array(56 * 28).fill(0);
      for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) wide[y * 56 + 14 + x] = px[y * 28 + x];
      const cropped = await tagger.embed(gray(wide, 56, 28), { fit: 'crop' });
      for (let j = 0; j < cropped.length; j++) assert.ok(Math.abs(cropped[j] - base[j]) < 1e-4 * (1 + Math.abs(base[j])));
      const boxed = await tagger.embed(gray(wide, 56, 28));
      assert.ok(boxed.some((v, j) => Math.abs(v - base[j]) > 1e-3));
      // A real colour photo (scikit-learn's china.jpg) goes through without error.
      const photoDir = process.env.VITRINE_PARITY_MODELS && path.join(process.env.VITRINE_PARITY_MODELS, 'photos');
      if (photoDir && fs.existsSync(path.join(photoDir, 'china.npy'))) {
        const npy = fs.readFileSync(path.join(photoDir, 'china.npy'));
        const headerLen = npy.readUInt16LE(8);
        const shape = /\(([^)]*)\)/.exec(npy.toString('latin1', 10, 10 + headerLen))[1].split(',').map((s) => parseInt(s, 10));
        const f = new Float32Array(npy.buffer.slice(npy.byteOffset + 10 + headerLen));
        const tags = await tagger.tag({ data: Uint8Array.from(f), width: shape[1], height: shape[0], format: 'rgb' }, { topK: 3 });
        assert.ok(tags.length >= 3 && tags.every((t) => t.score >= 0 && t.score <= 1));
      } else if (requireModels) {
        assert.fail('photo goldens missing (VITRINE_PARITY_MODELS)');
      }
      await tagger.dispose();
    });

    test('bad images and options are clear errors; the tagger stays usable', async () => {
      const tagger = await runtime.createImageTagger({ model: modelPath });
      const px = TEST[2].pixels;
      await rejects(tagger.tag(gray(px, 28, 29)), 'InvalidArgument', /needs 812/);
      await rejects(tagger.tag({ data: px, width: 0, height: 28, format: 'gray' }), 'InvalidArgument', /positive integers/);
      await rejects(tagger.tag({ data: new Uint8Array(0), width: 1, height: 1, format: 'gray' }), 'InvalidArgument', /needs 1/);
      await rejects(tagger.tag({ data: px, width: 28, height: 28 }), 'InvalidArgument', /format/);
      await rejects(tagger.tag({ data: px, width: 28, height: 28, format: 'bgr' }), 'InvalidArgument', /unknown pixel format/);
      await rejects(tagger.tag({ data: Array.from(px), width: 28, height: 28, format: 'gray' }), 'InvalidArgument', /Uint8Array/);
      await rejects(tagger.tag(null), 'InvalidArgument', /expected an image/);
      await rejects(tagger.tag('cat.jpg'), 'InvalidArgument', /expected an image/);
      await rejects(tagger.tag(gray(px), { topK: 0 }), 'InvalidArgument', /topK/);
      await rejects(tagger.tag(gray(px), { threshold: 2 }), 'InvalidArgument', /threshold/);
      await rejects(tagger.tag(gray(px), { fit: 'zoom' }), 'InvalidArgument', /fit/);
      await rejects(tagger.tagBatch([]), 'InvalidArgument', /non-empty/);
      await rejects(tagger.similar(gray(px)), 'FailedPrecondition', /catalogue is empty/);
      await rejects(tagger.forgetTag('never-learned'), 'NotFound', /never-learned/);
      await rejects(tagger.learn([gray(px)], ''), 'InvalidArgument', /tag/);
      await rejects(tagger.train(), 'FailedPrecondition', /at least two tags/);
      await rejects(tagger.importHead(new Uint8Array([1, 2, 3])), 'DataLoss', /./);
      await rejects(runtime.createImageTagger({ model: new Uint8Array([1, 2, 3, 4]) }), 'DataLoss', /./);
      await rejects(runtime.createImageTagger({ model: modelPath, fit: 'zoom' }), 'InvalidArgument', /fit/);
      await rejects(runtime.createImageTagger({ model: modelPath, description: { input: { height: 28 } } }), 'InvalidArgument', /width/);
      await rejects(runtime.createImageTagger({ model: path.join(root, 'models/recommend/movielens.safetensors') }),
                    'InvalidArgument', /tagger/);
      assert.equal((await tagger.tag(gray(px), { topK: 1 })).length >= 1, true);  // still fine
      assert.throws(() => toPixels({ data: px, width: 28, height: 28, format: 'gray', rowBytes: 10 }), /rowBytes/);
      await tagger.dispose();
    });

    test('similar products come from the catalogue by embedding', async () => {
      const tagger = await runtime.createImageTagger({ model: modelPath });
      const catalogue = TEST.slice(100, 400);
      assert.equal(await tagger.addToCatalog(catalogue.map((t, i) => ({ id: `sku-${i}`, image: gray(t.pixels) }))), 300);
      const query = TEST[0];
      const found = await tagger.similar(gray(query.pixels), 5);
      assert.equal(found.length, 5);
      for (let i = 1; i < 5; i++) assert.ok(found[i - 1].score >= found[i].score);
      const sameClass = found.filter((f) => catalogue[Number(f.id.slice(4))].label === query.label).length;
      assert.ok(sameClass >= 4, `similar items of the same class: ${sameClass}/5`);
      // The item itself is its own best match; exclude drops it.
      const self = await tagger.similar(gray(catalogue[7].pixels), 2);
      assert.equal(self[0].id, 'sku-7');
      assert.ok(self[0].score > 0.999);
      const others = await tagger.similar(gray(catalogue[7].pixels), 2, { exclude: 'sku-7' });
      assert.notEqual(others[0].id, 'sku-7');
      await tagger.removeFromCatalog('sku-7');
      await assert.rejects(tagger.removeFromCatalog('sku-7'), /sku-7/);
      await rejects(tagger.addToCatalog([{ id: 'x', embedding: new Float32Array(3) }]), 'InvalidArgument', /embedding/);
      await tagger.dispose();
    });

    test('few-shot tags: learn, train in < 1 s with progress, cancel, export, persist, forget', async () => {
      const file = tmpFile('tagger.json');
      const storage = { type: 'file', path: file };
      const tagger = await runtime.createImageTagger({ model: modelPath, storage });
      // A store's own tags: "footwear-sport" (sneakers) vs "footwear-formal" (ankle boots) vs "bags".
      const pick = (label, n) => TRAIN.filter((t) => t.label === label).slice(0, n).map((t) => gray(t.pixels));
      assert.equal(await tagger.learn(pick(7, 10), 'sport'), 10);
      assert.equal(await tagger.learn(pick(9, 10), 'formal'), 10);
      await tagger.learn(pick(8, 10), 'bag');
      const steps = [];
      const result = await tagger.train({ onProgress: (p) => steps.push(p) });
      assert.deepEqual(result.tags, ['sport', 'formal', 'bag']);
      assert.equal(result.examples, 30);
      assert.ok(result.ms < 1000, `head training took ${result.ms} ms`);
      assert.ok(steps.length >= 2 && steps.at(-1).step === steps.at(-1).steps);
      assert.ok(steps.at(-1).loss < steps[0].loss);
      // Held-out images of those classes get the right custom tag.
      const held = TEST.filter((t) => [7, 8, 9].includes(t.label)).slice(0, 60);
      const want = { 7: 'sport', 9: 'formal', 8: 'bag' };
      let right = 0;
      for (const t of held) {
        const custom = (await tagger.tag(gray(t.pixels), { topK: 1 })).find((x) => x.type === 'custom');
        if (custom.label === want[t.label]) right++;
      }
      assert.ok(right >= 55, `custom tags right on ${right}/60`);
      // Cancellation: an aborted signal stops training with a Cancelled error; the old head stays.
      const controller = new AbortController();
      const p = tagger.train({ steps: 5000, onProgress: (s) => { if (s.step >= 20) controller.abort(); }, signal: controller.signal });
      await rejects(p, 'Cancelled', /cancelled/);
      assert.deepEqual((await tagger.info()).customTags, ['sport', 'formal', 'bag']);
      // Export -> import into another tagger gives the same custom scores.
      const head = await tagger.exportHead();
      assert.ok(head instanceof Uint8Array && head.length > 100);
      const probe = gray(held[0].pixels);
      const before = (await tagger.tag(probe, { topK: 3 })).filter((t) => t.type === 'custom');
      const other = await runtime.createImageTagger({ model: modelPath });
      await other.importHead(head);
      assert.deepEqual((await other.tag(probe, { topK: 3 })).filter((t) => t.type === 'custom'), before);
      await other.dispose();
      // A reload from the same file keeps the examples and the head.
      await tagger.dispose();
      const again = await runtime.createImageTagger({ model: modelPath, storage });
      assert.deepEqual((await again.info()).examples, { sport: 10, formal: 10, bag: 10 });
      assert.deepEqual((await again.tag(probe, { topK: 3 })).filter((t) => t.type === 'custom'), before);
      await again.forgetTag('bag');
      assert.deepEqual((await again.info()).examples, { sport: 10, formal: 10 });
      await again.forget();
      assert.deepEqual((await again.info()).customTags, []);
      assert.ok(!fs.existsSync(file) || JSON.parse(fs.readFileSync(file, 'utf8')) === null);
      await again.dispose();
      // A damaged state file: start empty instead of failing.
      fs.writeFileSync(file, JSON.stringify({ userKey: 'tagger', state: { version: 1, examples: { a: ['!!'] }, embeddingDim: 5 } }));
      const fresh = await runtime.createImageTagger({ model: modelPath, storage });
      assert.deepEqual((await fresh.info()).examples, {});
      await fresh.dispose();
    });
  });
}

test('wasm predicts exactly what the native engine predicts on all 10,000 test images', async (t) => {
  if (!fs.existsSync(tool)) {
    if (requireModels) assert.fail(`${tool} missing`);
    return t.skip('native tool not built');
  }
  const out = tmpFile('native.txt');
  const report = JSON.parse(execFileSync(tool, ['eval', modelPath, '--images', path.join(dataDir, 't10k-images-idx3-ubyte'),
                                                '--labels', path.join(dataDir, 't10k-labels-idx1-ubyte'), '--predictions', out, '--threads', '1'],
                                         { encoding: 'utf8' }));
  const native = fs.readFileSync(out, 'utf8').trim().split('\n').map(Number);
  assert.equal(native.length, 10000);
  for (const variant of ['simd', 'simd-threads']) {
    const runtime = await createRuntime({ variant });
    const tagger = await runtime.createImageTagger({ model: modelPath, invert: 'never' });
    let same = 0, correct = 0;
    for (let b = 0; b < TEST.length; b += 500) {
      const part = TEST.slice(b, b + 500);
      const res = await tagger.tagBatch(part.map((x) => gray(x.pixels)), { topK: 1 });
      res.forEach((r, i) => {
        const label = LABELS.indexOf(r.find((x) => x.type === 'class').label);
        if (label === native[b + i]) same++;
        if (label === part[i].label) correct++;
      });
    }
    assert.equal(same, 10000, `${variant}: ${same}/10000 predictions equal native`);
    assert.ok(Math.abs(correct / 10000 - report.accuracy) < 1e-9, `${variant} accuracy ${correct / 10000} vs native ${report.accuracy}`);
    await tagger.dispose();
    runtime.dispose();
  }
});

test('worker mode: same tags, relayed training progress, cancellation', async () => {
  const local = await createImageTagger({ model: modelPath });
  const remote = await createImageTagger({ model: modelPath, worker: true, variant: 'simd' });
  assert.ok(remote instanceof RemoteImageTagger);
  const probe = gray(TEST[3].pixels);
  assert.deepEqual(await remote.tag(probe), await local.tag(probe));
  const pick = (label) => TRAIN.filter((t) => t.label === label).slice(0, 5).map((t) => gray(t.pixels));
  await remote.learn(pick(1), 'pants');
  await remote.learn(pick(3), 'dress');
  const seen = [];
  const r = await remote.train({ onProgress: (p) => seen.push(p.step) });
  assert.deepEqual(r.tags, ['pants', 'dress']);
  assert.ok(seen.length >= 2);
  const controller = new AbortController();
  const p = remote.train({ steps: 100000, signal: controller.signal, onProgress: (s) => { if (s.step >= 30) controller.abort(); } });
  await rejects(p, 'Cancelled', /cancelled/);
  await rejects(remote.train({ onProgress: 5 }), 'InvalidArgument', /onProgress/);
  await remote.dispose();
  await local.dispose();
});

describe('bring your own backbone: nsfwjs MobileNetV2 (TF.js layers)', () => {
  const dir = process.env.VITRINE_NSFWJS;
  let golden;
  before(() => {
    if (!dir) return;
    golden = JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8'));
  });
  const description = {
    input: { height: 224, width: 224, channels: 3, mean: [0, 0, 0], std: [1, 1, 1], background: 'light' },
    labels: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'],
    outputs: { probabilities: 'dense_3' },
  };
  const f32 = (name) => {
    const b = fs.readFileSync(path.join(dir, name));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };

  test('the importer gives TensorFlow.js\'s outputs (<= 1e-4) in wasm, and a frozen 1280-d extractor', async (t) => {
    if (!dir) {
      if (requireModels) assert.fail('VITRINE_NSFWJS is not set');
      return t.skip('no nsfwjs model (VITRINE_NSFWJS)');
    }
    const inputs = f32('inputs.f32'), probs = f32('probabilities.f32'), feats = f32('features.f32');
    const runtime = await createRuntime({ variant: 'simd' });
    const model = { format: 'tfjs-layers', path: path.join(dir, 'model.json') };
    const full = await runtime.createImageTagger({ model, description });
    // Feed TF.js's exact inputs (already in the model's [0, 1] scale) through the handle's raw path.
    const h = full._handle;
    const n = 224 * 224 * 3;
    assert.equal(h.beginBatch(2), 0);
    for (let i = 0; i < 2; i++) assert.equal(h.setInput(i, inputs.subarray(i * n, (i + 1) * n)), 0, h.lastError());
    assert.equal(h.run(), 0, h.lastError());
    const got = h.probabilities();
    let worst = 0;
    for (let i = 0; i < probs.length; i++) worst = Math.max(worst, Math.abs(got[i] - probs[i]));
    assert.ok(worst <= 1e-4, `max |vitrine - tfjs| probabilities ${worst}`);
    await full.dispose();

    const extractor = await runtime.createImageTagger({
      model: { ...model, outputLayer: golden.feature_layer },
      description: { input: description.input, outputs: { embedding: golden.feature_layer } },
    });
    assert.equal((await extractor.info()).embeddingDim, 1280);
    const e = extractor._handle;
    assert.equal(e.beginBatch(2), 0);
    for (let i = 0; i < 2; i++) assert.equal(e.setInput(i, inputs.subarray(i * n, (i + 1) * n)), 0);
    assert.equal(e.run(), 0, e.lastError());
    const emb = e.embeddings();
    worst = 0;
    for (let i = 0; i < feats.length; i++) worst = Math.max(worst, Math.abs(emb[i] - feats[i]));
    assert.ok(worst <= 1e-4, `max |vitrine - tfjs| features ${worst}`);
    // Transfer learning on top: 20 Fashion-MNIST photos per class (upscaled to 224, RGB) -> a
    // 10-tag head trained in wasm in < 1 s after embedding.
    const perClass = 20;
    const start = performance.now();
    for (let c = 0; c < 10; c++) {
      const imgs = TRAIN.filter((x) => x.label === c).slice(0, perClass).map((x) => gray(x.pixels));
      await extractor.learn(imgs, LABELS[c]);
    }
    const embedMs = performance.now() - start;
    const r = await extractor.train();
    assert.equal(r.examples, 200);
    assert.ok(r.ms < 1000, `head training on 200 MobileNetV2 embeddings took ${r.ms} ms (embedding took ${embedMs} ms)`);
    const tags = await extractor.tag(gray(TEST[0].pixels), { topK: 1 });
    assert.equal(tags.length, 1);
    assert.equal(tags[0].type, 'custom');
    await extractor.dispose();
    runtime.dispose();
  });
});

test('bring your own ONNX backbone (NCHW, ImageNet normalization): classes, embeddings and a few-shot head', async (t) => {
  const parity = process.env.VITRINE_PARITY_MODELS;
  const onnx = parity && path.join(parity, 'squeezenet1_1.onnx');
  if (!onnx || !fs.existsSync(onnx)) {
    if (requireModels) assert.fail('squeezenet1_1.onnx missing (VITRINE_PARITY_MODELS)');
    return t.skip('no ONNX parity models');
  }
  const runtime = await createRuntime({ variant: 'simd' });
  const input = { height: 224, width: 224, channels: 3, layout: 'nchw', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
                  background: 'light' };
  const labels = Array.from({ length: 1000 }, (_, i) => `imagenet-${i}`);
  const classifier = await runtime.createImageTagger({ model: onnx, description: { input, labels, outputs: { logits: 'logits' } } });
  const photo = gray(TEST[0].pixels);
  const tags = await classifier.tag(photo, { topK: 5 });
  assert.equal(tags.length, 5);
  assert.ok(tags.every((x) => x.type === 'class' && labels.includes(x.label)));
  const total = tags.reduce((a, x) => a + x.score, 0);
  assert.ok(total > 0 && total <= 1.0001);
  await classifier.dispose();
  // The same network as a frozen feature extractor with a head on top.
  const extractor = await runtime.createImageTagger({ model: onnx, description: { input, outputs: { embedding: 'logits' } } });
  assert.equal((await extractor.info()).embeddingDim, 1000);
  const pick = (label) => TRAIN.filter((x) => x.label === label).slice(0, 4).map((x) => gray(x.pixels));
  await extractor.learn(pick(1), 'trousers');
  await extractor.learn(pick(8), 'bags');
  const r = await extractor.train();
  assert.deepEqual(r.tags, ['trousers', 'bags']);
  const custom = (await extractor.tag(gray(TRAIN.filter((x) => x.label === 8)[10].pixels))).filter((x) => x.type === 'custom');
  assert.equal(custom.length, 2);
  await extractor.dispose();
  // A description that does not fit the network is refused with the shapes named.
  await rejects(runtime.createImageTagger({ model: onnx, description: { input: { ...input, layout: 'nhwc' }, outputs: { embedding: 'logits' } } }),
                'InvalidArgument', /does not match/);
  runtime.dispose();
});
