// Hostile input through the wasm module, in both variants: every crafted model file of the
// regression corpus (tests/fixtures/hostile/, the same files the native HostileModel tests load)
// ends in a VitrineError, never a trap, an abort or a thrown non-Error; reviews built to hit
// quadratic passes take linear time; and afterwards the same runtime still loads and runs a model
// correctly.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createRuntime, VitrineError } from '../../web/src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const corpusDir = path.join(here, '..', 'fixtures', 'hostile');
const corpus = fs.existsSync(corpusDir) ? fs.readdirSync(corpusDir).filter((f) => !f.startsWith('.') && !f.endsWith('.md')).sort() : [];

// A safetensors file whose JSON header is `header` (string or bytes), with `declared` as its length field.
function safetensors(header, declared) {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + h.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declared ?? h.length), true);
  out.set(h, 8);
  return out;
}

// JS-made files the corpus cannot hold (too large to check in) or that depend on the wasm heap.
function generated() {
  const big = new Uint8Array(64 << 20).fill(0x20);  // 64 MiB header: `{"__metadata__":{"k":"aaaa…"}}`
  const head = new TextEncoder().encode('{"__metadata__":{"k":"');
  big.set(head, 0);
  big.fill(0x61, head.length, big.length - 3);
  big.set(new TextEncoder().encode('"}}'), big.length - 3);
  const nested = '['.repeat(100000) + ']'.repeat(100000);
  return {
    'header of 64 MiB': safetensors(big),
    'header length past the end': safetensors('{}', 1e9),
    'header length 2^63': safetensors('{}', 2n ** 63n),
    'deeply nested header': safetensors(`{"__metadata__":{"k":"v"},"x":${nested}}`),
    'tensor of 2^40 elements': safetensors('{"w":{"dtype":"F32","shape":[1048576,1048576],"data_offsets":[0,0]}}'),
    'offsets wrapping in 32 bits': safetensors('{"w":{"dtype":"F32","shape":[1073741824],"data_offsets":[0,4294967296]}}'),
  };
}

// Zeros of the model's declared input shapes (batch 1).
function zeroInputs(model) {
  const inputs = {};
  model.inputNames.forEach((name, i) => {
    const shape = model.inputShapes[i].map((d, k) => (k === 0 || d < 1 ? 1 : d));
    const n = shape.reduce((a, b) => a * b, 1);
    if (n > 1 << 24) return;
    inputs[name] = { data: new Float32Array(n), shape };
  });
  return inputs;
}

async function expectCleanFailure(runtime, name, bytes) {
  let model;
  try {
    model = await runtime.loadModel(bytes);
  } catch (e) {
    assert.ok(e instanceof VitrineError, `${name}: threw ${e?.constructor?.name} ${e?.message ?? e}, not a VitrineError`);
    return e.code;
  }
  try {  // it imported: one run must succeed or fail cleanly
    model.run(zeroInputs(model));
    return 'ran';
  } catch (e) {
    assert.ok(e instanceof VitrineError, `${name}: run threw ${e?.constructor?.name} ${e?.message ?? e}, not a VitrineError`);
    return e.code;
  } finally {
    model.dispose();
  }
}

// A model that must still work afterwards: y = relu(x · Wᵀ) in ONNX, checked against JS.
async function expectRuntimeWorks(runtime) {
  const layer = runtime.createDenseLayer({ inFeatures: 3, outFeatures: 2, weights: new Float32Array([1, 2, 3, 4, 5, 6]) });
  assert.deepEqual(Array.from(layer.forward(new Float32Array([1, 1, 1]))), [6, 15]);
  layer.dispose();
  const rv = await runtime.createReviewAnalyzer();
  assert.equal((await rv.analyze('Delicious, fresh and a great price. I love it!')).positive, true);
  assert.equal((await rv.analyze('Stale, awful taste. A waste of money, never again.')).positive, false);
  await rv.dispose();
}

for (const variant of ['simd', 'simd-threads']) {
  describe(`hostile input in the ${variant} variant`, async () => {
    const runtime = await createRuntime({ variant, threads: 2 });
    after(() => runtime.dispose());

    test('the regression corpus of crafted model files ends in VitrineErrors', async () => {
      assert.ok(corpus.length >= 8, `expected the regression corpus in ${corpusDir}, found ${corpus.length} files`);
      const codes = {};
      for (const file of corpus) codes[file] = await expectCleanFailure(runtime, file, fs.readFileSync(path.join(corpusDir, file)));
      assert.ok(Object.values(codes).filter((c) => c !== 'ran').length >= 8, JSON.stringify(codes));
      await expectRuntimeWorks(runtime);
    });

    test('oversized and wrapping headers end in VitrineErrors', async () => {
      for (const [name, bytes] of Object.entries(generated())) {
        const code = await expectCleanFailure(runtime, name, bytes);
        assert.notEqual(code, 'ran', name);
      }
      await expectRuntimeWorks(runtime);
    });

    test('limits: documented defaults, raised or lowered per runtime, named in the error', async () => {
      const limits = runtime.info().limits;
      assert.deepEqual(limits, { maxTensorElements: 2 ** 27, maxTotalBytes: 768 * 2 ** 20, maxNodes: 1e6, maxAttributes: 1e4,
                                 maxMetadataKeys: 1e4, maxHeaderBytes: 16 * 2 ** 20, maxImagePixels: 2 ** 25 });
      const small = await createRuntime({ variant, threads: 1, limits: { maxImagePixels: 100, maxHeaderBytes: 1000 } });
      try {
        await assert.rejects(small.createReviewAnalyzer(), (e) => e instanceof VitrineError && e.code === 'ResourceExhausted' &&
                             /max_header_bytes/.test(e.message));
        small.setLimits({ maxHeaderBytes: 16 * 2 ** 20 });
        const tagger = await small.createImageTagger();
        assert.equal((await tagger.tag({ data: new Uint8Array(100), width: 10, height: 10, format: 'gray' })).length > 0, true);
        await assert.rejects(tagger.tag({ data: new Uint8Array(101 * 4), width: 101, height: 1, format: 'rgba' }),
                      (e) => e instanceof VitrineError && e.code === 'ResourceExhausted' && /max_image_pixels/.test(e.message));
        await tagger.dispose();
        const rv = await small.createReviewAnalyzer();
        assert.equal((await rv.analyze('Delicious!')).positive, true);
        await rv.dispose();
        assert.throws(() => small.setLimits({ maxNodes: 0 }), (e) => e.code === 'InvalidArgument' && /maxNodes/.test(e.message));
        assert.throws(() => small.setLimits({ maxWidgets: 5 }), (e) => e.code === 'InvalidArgument' && /unknown limit 'maxWidgets'/.test(e.message));
        assert.throws(() => small.setLimits(null), (e) => e.code === 'InvalidArgument');
      } finally {
        small.dispose();
      }
      await assert.rejects(createRuntime({ variant, limits: { maxNodes: -1 } }), (e) => e instanceof VitrineError && e.code === 'InvalidArgument');
    });

    test('reviews built to hit quadratic passes take linear time', async () => {
      const rv = await runtime.createReviewAnalyzer();
      runtime.setThreads(1);
      const rate = async (text) => {  // best of 3 seconds per byte, analyze() with aspects
        let best = Infinity;
        const repeats = Math.max(1, Math.round(20000 / text.length));
        for (let r = 0; r < 3; r++) {
          const t0 = performance.now();
          for (let i = 0; i < repeats; i++) await rv.analyze(text, { maxBytes: 1 << 20 });
          best = Math.min(best, (performance.now() - t0) / repeats / Buffer.byteLength(text));
        }
        return best;
      };
      let normal = '';
      while (normal.length < 400) normal += 'The coffee was not bad, but the <b>bag</b> arrived late! Great taste. ';
      for (let i = 0; i < 20; i++) await rv.analyze(normal);  // warm-up
      const base = await rate(normal);
      const repeat = (unit) => unit.repeat(Math.floor(20000 / unit.length));
      let word = '';
      for (let i = 0; word.length < 20000; i++) word += 'abcdefghij'[(i * 7) % 10] + 'xyzq'[(i * 3) % 4];
      const hostile = { 'one 20 KB word': word, 'unclosed tags': repeat('<a'), 'empty clauses': repeat('.'),
                        'one-word clauses': repeat('ok.'), 'apostrophes': `a${repeat("'")}`, 'emoji': repeat('😋'),
                        'negations': repeat('not '), 'markup': repeat('<br/>') };
      for (const [name, text] of Object.entries(hostile)) {
        const r = await rate(text);
        if (process.env.VITRINE_VERBOSE) console.log(`${variant} ${name}: ${(r / base).toFixed(2)}x`);
        // Quadratic passes are ~100-1000x slower per byte at 20 KB; the bench measures the 1.5x target.
        assert.ok(r < 5 * base, `${name}: ${(r * 1e6).toFixed(3)} µs/byte vs ${(base * 1e6).toFixed(3)} µs/byte for 400 bytes`);
      }
      const junk = new Uint8Array(20000).map((_, i) => (i * 131 + 7) & 0xff);  // random bytes, invalid UTF-8
      assert.ok((await rv.analyze(junk)).invalidBytes > 0);
      runtime.setThreads(runtime.info().maxThreads);
      await rv.dispose();
    });
  });
}
