// Turns npm nsfwjs's pretrained MobileNetV2 (DATA.md: TF.js Keras-layers model.json + one
// uint8-quantized weight shard, both wrapped as base64 inside UMD .js files) into the standard
// TF.js files (model.json + group1-shard1of1.bin) under OUT_DIR, and records TensorFlow.js's own
// outputs on two fixed 224x224 inputs as golden values for Vitrine's Keras importer:
//   inputs.f32 (2, 224, 224, 3), probabilities.f32 (2, 5), features.f32 (2, 1280) (the pooled
//   features, layer flatten_1), golden.json (shapes, versions).
//
//   node scripts/tagger/prepare-nsfwjs.mjs OUT_DIR     (needs npm ci in tests/tagger)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const refs = path.join(root, 'tests/tagger');
const require = createRequire(path.join(refs, 'package.json'));
const out = process.argv[2];
if (!out) {
  console.error('usage: node scripts/tagger/prepare-nsfwjs.mjs OUT_DIR');
  process.exit(2);
}
const pkgDir = path.join(refs, 'node_modules/nsfwjs');
const nsfwVersion = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
const modelDir = path.join(pkgDir, 'dist/models/mobilenet_v2');
const modelJson = require(path.join(modelDir, 'model.min.js'));
const shardB64 = require(path.join(modelDir, 'group1-shard1of1.min.js'));
if (typeof shardB64 !== 'string' || !modelJson.modelTopology) throw new Error('unexpected nsfwjs model layout');
const shard = Buffer.from(shardB64, 'base64');
const manifest = modelJson.weightsManifest.map((g) => ({ ...g, paths: ['group1-shard1of1.bin'] }));
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify({ ...modelJson, format: 'layers-model', weightsManifest: manifest }));
fs.writeFileSync(path.join(out, 'group1-shard1of1.bin'), shard);

const tf = require('@tensorflow/tfjs');
await tf.setBackend('cpu');
const model = await tf.loadLayersModel(
  tf.io.fromMemory({
    modelTopology: modelJson.modelTopology,
    weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights),
    weightData: shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength),
  }),
);
// Two inputs in [0, 1] (nsfwjs feeds pixels / 255): a seeded random image and a smooth pattern.
const n = 224 * 224 * 3;
const inputs = new Float32Array(2 * n);
let s = 20261128 >>> 0;
const rand = () => {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
for (let i = 0; i < n; i++) inputs[i] = rand();
for (let y = 0; y < 224; y++)
  for (let x = 0; x < 224; x++)
    for (let c = 0; c < 3; c++) inputs[n + (y * 224 + x) * 3 + c] = 0.5 + 0.5 * Math.sin((x * (c + 1)) / 17 + y / 23);
const x = tf.tensor4d(inputs, [2, 224, 224, 3]);
const probabilities = await model.predict(x).data();
const features = tf.model({ inputs: model.inputs, outputs: model.getLayer('flatten_1').output });
const pooled = await features.predict(x).data();
fs.writeFileSync(path.join(out, 'inputs.f32'), Buffer.from(inputs.buffer));
fs.writeFileSync(path.join(out, 'probabilities.f32'), Buffer.from(new Float32Array(probabilities).buffer));
fs.writeFileSync(path.join(out, 'features.f32'), Buffer.from(new Float32Array(pooled).buffer));
fs.writeFileSync(
  path.join(out, 'golden.json'),
  JSON.stringify({
    nsfwjs: nsfwVersion,
    tfjs: tf.version.tfjs,
    backend: tf.getBackend(),
    inputs: [2, 224, 224, 3],
    probabilities: [2, probabilities.length / 2],
    features: [2, pooled.length / 2],
    labels: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'],
    feature_layer: 'flatten_1',
  }, null, 2) + '\n',
);
console.error(`nsfwjs ${nsfwVersion} MobileNetV2 -> ${out} (TF.js ${tf.version.tfjs}, ${tf.getBackend()})`);
