// The dense op through the wasm module, in both variants, against a JS reference.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';

import { createRuntime, init, runtimeInfo, VitrineError } from '../../web/src/index.js';
import { chooseVariant } from '../../web/src/loader.js';
import { rng, randomArray, denseReference, denseBackwardReference, closeness } from './reference.mjs';

for (const variant of ['simd', 'simd-threads']) {
  describe(`dense in the ${variant} variant`, async () => {
    const runtime = await createRuntime({ variant, threads: 2 });
    after(() => runtime.dispose());

    test('runtimeInfo tells the truth about variant and threads', () => {
      const info = runtime.info();
      assert.equal(info.variant, variant);
      assert.equal(info.simd, true);
      if (variant === 'simd') {
        assert.equal(info.threads, 1);
        assert.equal(info.maxThreads, 1);
        assert.equal(info.threadsSupported, false);
        assert.throws(() => runtime.setThreads(2), /thread count 2 outside \[1, 1\]/);
      } else {
        assert.equal(info.threads, 2);
        assert.equal(info.threadsSupported, true);
        runtime.setThreads(1);
        assert.equal(runtime.info().threads, 1);
        runtime.setThreads(2);
        assert.equal(runtime.info().threads, 2);
        assert.throws(() => runtime.setThreads(3), VitrineError);
      }
    });

    test('forward matches the reference on random shapes', () => {
      const rand = rng(20261128);
      for (let trial = 0; trial < 10; trial++) {
        const n = 1 + Math.floor(rand() * 40), inF = 1 + Math.floor(rand() * 90),
          outF = 1 + Math.floor(rand() * 70);
        const w = randomArray(outF * inF, rand), b = randomArray(outF, rand), x = randomArray(n * inF, rand);
        const layer = runtime.createDenseLayer({ inFeatures: inF, outFeatures: outF, weights: w, bias: b });
        const y = layer.forward(x);
        assert.equal(y.length, n * outF);
        const c = closeness(y, denseReference(x, w, b, n, inF, outF));
        assert.ok(c <= 1, `shape n=${n} in=${inF} out=${outF}: closeness ${c}`);
        layer.dispose();
      }
    });

    test('a large dense matches the reference (multi-threaded kernels)', () => {
      const rand = rng(5);
      const n = 64, inF = 512, outF = 384;
      const w = randomArray(outF * inF, rand), b = randomArray(outF, rand), x = randomArray(n * inF, rand);
      const layer = runtime.createDenseLayer({ inFeatures: inF, outFeatures: outF, weights: w, bias: b });
      const c = closeness(layer.forward(x), denseReference(x, w, b, n, inF, outF), 1e-3, 1e-4);
      assert.ok(c <= 1, `closeness ${c}`);
      layer.dispose();
    });

    test('backward gives dx, dW, db of the reference', () => {
      const rand = rng(99);
      const n = 7, inF = 13, outF = 5;
      const w = randomArray(outF * inF, rand), b = randomArray(outF, rand), x = randomArray(n * inF, rand);
      const dy = randomArray(n * outF, rand);
      const layer = runtime.createDenseLayer({ inFeatures: inF, outFeatures: outF, weights: w, bias: b });
      assert.throws(() => layer.backward(dy), /needs a successful forward\(\) first/);
      layer.forward(x);
      const g = layer.backward(dy);
      const ref = denseBackwardReference(x, w, dy, n, inF, outF);
      assert.ok(closeness(g.gradInput, ref.dx) <= 1);
      assert.ok(closeness(g.gradWeights, ref.dw) <= 1);
      assert.ok(closeness(g.gradBias, ref.db) <= 1);
      layer.dispose();
    });

    test('weights set after creation are used (packed weights refresh)', () => {
      const layer = runtime.createDenseLayer({ inFeatures: 2, outFeatures: 2 });
      assert.deepEqual(Array.from(layer.forward([1, 2])), [0, 0]);
      layer.setWeights([1, 0, 0, 1]);
      layer.setBias([0.5, -0.5]);
      assert.deepEqual(Array.from(layer.forward([1, 2, 3, 4])), [1.5, 1.5, 3.5, 3.5]);
      layer.setWeights([0, 1, 1, 0]);
      assert.deepEqual(Array.from(layer.forward([1, 2])), [2.5, 0.5]);
      layer.dispose();
    });

    test('malformed calls throw a JS Error with a readable message, and the module stays usable', () => {
      const layer = runtime.createDenseLayer({ inFeatures: 3, outFeatures: 2 });
      const bad = [
        [() => layer.forward(new Float32Array(5)), /5 values, not a positive multiple of the layer's 3/],
        [() => layer.forward(new Float32Array(0)), /0 values/],
        [() => layer.forward([1, NaN, 3]), /non-finite value \(nan\) at index 1/],
        [() => layer.forward('abc'), /must be a Float32Array or an array of numbers/],
        [() => layer.setWeights(new Float32Array(5)), /dense weights has 5 values, expected 6/],
        [() => layer.setBias([1, 2, 3]), /dense bias has 3 values, expected 2/],
        [() => layer.setWeights([1, 2, 3, 4, 5, Infinity]), /non-finite value \(inf\) at index 5/],
        [() => runtime.createDenseLayer({ inFeatures: 0, outFeatures: 2 }), /inFeatures must be an integer/],
        [() => runtime.createDenseLayer({ inFeatures: 2 }), /outFeatures must be an integer/],
        [() => runtime.createDenseLayer(), /options/],
      ];
      for (const [call, message] of bad) {
        assert.throws(call, (e) => e instanceof Error && e instanceof VitrineError && message.test(e.message),
          `expected ${message}`);
      }
      try { layer.forward(new Float32Array(4)); } catch (e) { assert.equal(e.code, 'InvalidArgument'); }
      layer.forward([1, 2, 3]);
      const g = layer.backward([1, 1]);
      assert.equal(g.gradInput.length, 3);
      assert.throws(() => layer.backward([1, 1, 1]), /output gradient has 3 values, expected 2/);
      layer.dispose();
      layer.dispose();
      assert.throws(() => layer.forward([1, 2, 3]), /disposed/);
      // Still usable after all of that.
      const again = runtime.createDenseLayer({ inFeatures: 1, outFeatures: 1, weights: [2], bias: [1] });
      assert.deepEqual(Array.from(again.forward([3])), [7]);
      again.dispose();
    });
  });
}

describe('variant choice', () => {
  test('auto picks threads when possible and falls back without failing', () => {
    assert.equal(chooseVariant('auto', { possible: true, reason: 'Node.js' }).variant, 'simd-threads');
    const noIso = chooseVariant('auto', { possible: false, reason: 'page is not cross-origin isolated' });
    assert.equal(noIso.variant, 'simd');
    assert.match(noIso.reason, /not cross-origin isolated/);
    const forced = chooseVariant('simd-threads', { possible: false, reason: 'SharedArrayBuffer is unavailable' });
    assert.equal(forced.variant, 'simd');
    assert.match(forced.reason, /fell back to simd/);
    assert.equal(chooseVariant('simd', { possible: true, reason: 'Node.js' }).variant, 'simd');
  });

  test('every (variant, threads) pair loads and computes', async () => {
    const x = Float32Array.from({ length: 3 * 5 }, (_, i) => Math.sin(i));
    const w = Float32Array.from({ length: 4 * 5 }, (_, i) => Math.cos(i));
    for (const variant of ['auto', 'simd', 'simd-threads']) {
      for (const threads of [undefined, 1, 2, 3]) {
        const what = `${variant}, threads ${threads}`;
        let timer;
        const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: createRuntime hung`)), 20000); });
        const rt = await Promise.race([createRuntime({ variant, threads }), timeout]).finally(() => clearTimeout(timer));
        const info = rt.info();
        const threaded = variant !== 'simd';
        assert.equal(info.variant, threaded ? 'simd-threads' : 'simd', what);
        assert.equal(info.maxThreads, threaded ? threads ?? Math.min(os.availableParallelism(), 8) : 1, what);
        const layer = rt.createDenseLayer({ inFeatures: 5, outFeatures: 4, weights: w });
        const y = layer.forward(x);
        for (let r = 0; r < 3; r++) {
          for (let o = 0; o < 4; o++) {
            let s = 0;
            for (let i = 0; i < 5; i++) s += x[r * 5 + i] * w[o * 5 + i];
            assert.ok(Math.abs(y[r * 4 + o] - s) < 1e-5, what);
          }
        }
        layer.dispose();
        rt.dispose();
      }
    }
  });

  test('unknown variants and bad thread counts are refused', async () => {
    await assert.rejects(createRuntime({ variant: 'gpu' }), /unknown variant 'gpu'/);
    await assert.rejects(createRuntime({ variant: 'simd-threads', threads: 0 }), /threads must be an integer/);
    await assert.rejects(createRuntime({ variant: 'simd', threads: 1.5 }), /threads must be an integer/);
    await assert.rejects(createRuntime({ threads: 65 }), /threads must be an integer/);
  });

  test('the default runtime in Node is simd-threads and reports progress', async () => {
    assert.throws(() => runtimeInfo(), /init\(\)/);
    const stages = [];
    const rt = await init({ threads: 2, onProgress: (p) => stages.push(p.stage) });
    assert.equal(await init(), rt);
    const info = runtimeInfo();
    assert.equal(info.variant, 'simd-threads');
    assert.equal(info.threads, 2);
    assert.deepEqual([stages[0], stages.at(-1)], ['start', 'ready']);
    assert.ok(stages.includes('wasm'));
    rt.dispose();
  });
});
