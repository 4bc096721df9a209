#!/usr/bin/env node
// The main job for now: load the engine the way a storefront would (auto variant), print
// runtimeInfo() and run one dense layer, checking its numbers against plain JS.
//   node web/demo/cli.mjs [--variant auto|simd|simd-threads] [--threads N]
import { init, runtimeInfo, createDenseLayer } from '../src/index.js';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const options = { variant: opt('variant', 'auto') };
if (opt('threads')) options.threads = Number(opt('threads'));

const started = performance.now();
let lastPct = -1;
const runtime = await init({
  ...options,
  onProgress: ({ stage, loaded, total }) => {
    const pct = total ? Math.round((100 * loaded) / total) : 0;
    if (stage === 'wasm' && pct !== lastPct && process.stdout.isTTY) { lastPct = pct; process.stdout.write(`\rloading wasm ${pct}%`); }
  },
});
if (process.stdout.isTTY) process.stdout.write('\r');
console.log(`loaded in ${(performance.now() - started).toFixed(1)} ms`);
console.log('runtimeInfo():', runtimeInfo());

// A 3 → 2 dense layer: y = x · Wᵀ + b
const weights = new Float32Array([0.5, -1, 2, 1.5, 0.25, -0.75]);  // (2, 3)
const bias = new Float32Array([0.1, -0.2]);
const input = new Float32Array([1, 2, 3, -1, 0, 4]);               // batch of 2
const layer = await createDenseLayer({ inFeatures: 3, outFeatures: 2, weights, bias });
const y = layer.forward(input);
const expected = [];
for (let r = 0; r < 2; r++)
  for (let o = 0; o < 2; o++) {
    let acc = bias[o];
    for (let i = 0; i < 3; i++) acc += input[r * 3 + i] * weights[o * 3 + i];
    expected.push(acc);
  }
console.log('dense(x) =', Array.from(y, (v) => Number(v.toFixed(4))));
console.log('plain JS =', expected.map((v) => Number(v.toFixed(4))));
const ok = expected.every((v, i) => Math.abs(v - y[i]) < 1e-5);
console.log(ok ? 'dense result matches' : 'MISMATCH');
layer.dispose();
runtime.dispose();
process.exitCode = ok ? 0 : 1;
