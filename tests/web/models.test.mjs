// ONNX models through the wasm module, in both variants: parity with PyTorch on torchvision models
// (folder from $VITRINE_PARITY_MODELS, see scripts/prepare-test-models.sh), clear errors for bad
// models and inputs, and no memory growth over create/dispose loops.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { createRuntime, VitrineError, modelRegistry } from '../../web/src/index.js';

const dir = process.env.VITRINE_PARITY_MODELS ?? '';
const required = process.env.VITRINE_REQUIRE_MODELS === '1';
const have = (name) => dir !== '' && fs.existsSync(path.join(dir, `${name}.onnx`));

function readNpy(file) {
  const b = fs.readFileSync(file);
  assert.equal(b.toString('latin1', 1, 6), 'NUMPY');
  const headerLen = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + headerLen);
  const descr = header.match(/'descr': '([^']*)'/)[1];
  const ArrayType = { '<f4': Float32Array, '<i8': BigInt64Array }[descr];
  assert.ok(ArrayType, `${file}: dtype ${descr}`);
  const shape = JSON.parse(header.match(/'shape': \(([^)]*)\)/)[1].replace(/,\s*$/, '').replace(/^/, '[') + ']');
  const data = new ArrayType(b.buffer.slice(b.byteOffset + 10 + headerLen, b.byteOffset + b.length));
  return { data, shape };
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= m)) m = Number.isNaN(e) ? Infinity : e;
  }
  return m;
}

for (const variant of ['simd', 'simd-threads']) {
  describe(`ONNX models in the ${variant} variant`, async () => {
    const runtime = await createRuntime({ variant, threads: 2 });
    after(() => runtime.dispose());

    for (const name of ['mobilenet_v2', 'resnet18', 'squeezenet1_1', 'tiny_cnn', 'mobilenet_v3_small', 'efficientnet_b0', 'regnet_y_400mf',
      'shufflenet_v2_x0_5', 'mnasnet0_5', 'densenet121', 'convnext_tiny']) {
      test(`${name} matches PyTorch to 1e-4`, { skip: !have(name) && !required && 'no parity models' }, async () => {
        assert.ok(have(name), `parity model ${name} missing in '${dir}'`);
        const model = await runtime.loadModel(path.join(dir, `${name}.onnx`));
        const x = readNpy(path.join(dir, `${name}.input.npy`));
        const want = readNpy(path.join(dir, `${name}.output.npy`));
        assert.deepEqual(model.inputNames, ['input']);
        for (const threads of variant === 'simd' ? [1] : [1, 2]) {
          runtime.setThreads(threads);
          const out = model.run(x.data);
          const [outName] = model.outputNames;
          assert.deepEqual(out[outName].shape, want.shape);
          const err = maxAbsDiff(out[outName].data, want.data);
          assert.ok(err <= 1e-4, `${name}, ${threads} threads: max abs error ${err}`);
        }
        model.dispose();
      });
    }

    for (const name of ['text_transformer', 'text_gru', 'text_lstm']) {
      test(`${name} (int64 ids and mask) matches PyTorch at two lengths from one load`, { skip: !have(name) && !required && 'no parity models' }, async () => {
        assert.ok(have(name), `text model ${name} missing in '${dir}'`);
        const model = await runtime.loadModel(path.join(dir, `${name}.onnx`), { inputShapes: { ids: [2, 12], mask: [2, 12] } });
        assert.deepEqual(model.inputDtypes, ['i64', 'i64']);
        assert.deepEqual(model.declaredShapes, [[-1, -1], [-1, -1]]);
        for (const length of [12, 20, 12]) {
          const stem = path.join(dir, `${name}.T${length}`);
          const ids = readNpy(`${stem}.ids.npy`), mask = readNpy(`${stem}.mask.npy`);
          const want = readNpy(`${stem}.output.npy`);
          const out = model.run({ ids, mask });
          assert.deepEqual(out.logits.shape, want.shape);
          const err = maxAbsDiff(out.logits.data, want.data);
          assert.ok(err <= 1e-4, `${name} at length ${length}: max abs error ${err}`);
        }
        model.dispose();
      });
    }

    test('inputShapes fixes symbolic dimensions: one ONNX file, two image sizes, PyTorch\'s outputs', { skip: !have('tiny_cnn_any_size') && !required && 'no parity models' }, async () => {
      const file = path.join(dir, 'tiny_cnn_any_size.onnx');
      await assert.rejects(runtime.loadModel(file), (e) => e instanceof VitrineError && /symbolic dimension 2 \('height'\)/.test(e.message));
      for (const [h, w] of [[20, 24], [33, 17]]) {
        const model = await runtime.loadModel(file, { inputShapes: { input: [1, 3, h, w] } });
        assert.deepEqual(model.inputShapes[0], [1, 3, h, w]);
        assert.deepEqual(model.declaredShapes[0], [-1, 3, -1, -1]);
        const x = readNpy(path.join(dir, `tiny_cnn_any_size.${h}x${w}.input.npy`));
        const want = readNpy(path.join(dir, `tiny_cnn_any_size.${h}x${w}.output.npy`));
        const out = model.run(x.data);
        const err = maxAbsDiff(out[model.outputNames[0]].data, want.data);
        assert.ok(err <= 1e-5, `${h}x${w}: max abs error ${err}`);
        // The same model at the other size ({ data, shape }), and back.
        const [oh, ow] = h === 20 ? [33, 17] : [20, 24];
        const other = readNpy(path.join(dir, `tiny_cnn_any_size.${oh}x${ow}.input.npy`));
        const otherWant = readNpy(path.join(dir, `tiny_cnn_any_size.${oh}x${ow}.output.npy`));
        const err2 = maxAbsDiff(model.run({ input: other })[model.outputNames[0]].data, otherWant.data);
        assert.ok(err2 <= 1e-5, `${oh}x${ow} after loading at ${h}x${w}: max abs error ${err2}`);
        assert.ok(maxAbsDiff(model.run(x.data)[model.outputNames[0]].data, want.data) <= 1e-5);
        assert.throws(() => model.run({ input: { data: new Float32Array(4 * 20 * 24), shape: [1, 4, 20, 24] } }), /dimension 1 is fixed at 3/);
        model.dispose();
      }
      await assert.rejects(runtime.loadModel(file, { inputShapes: { input: [1, 4, 20, 24] } }), /dimension 1 is fixed at 3/);
      await assert.rejects(runtime.loadModel(file, { inputShapes: { image: [1, 3, 20, 24] } }), /'image', which is not an input/);
      await assert.rejects(runtime.loadModel(file, { inputShapes: { input: [1, 3, 0, 24] } }), (e) => e.code === 'InvalidArgument');
      await assert.rejects(runtime.loadModel(file, { inputShapes: [1, 3] }), /inputShapes must be an object/);
    });

    test('profiling names each operator, its node and FLOPs, without changing outputs', { skip: !have('mobilenet_v2') && !required && 'no parity models' }, async () => {
      const model = await runtime.loadModel(path.join(dir, 'mobilenet_v2.onnx'));
      const x = readNpy(path.join(dir, 'mobilenet_v2.input.npy'));
      const [outName] = model.outputNames;
      const plain = model.run(x.data)[outName].data;
      assert.throws(() => model.profile(), (e) => e.code === 'FailedPrecondition' && /profiling is off/.test(e.message));
      assert.throws(() => model.setProfiling('yes'), (e) => e.code === 'InvalidArgument');
      model.setProfiling(true);
      assert.throws(() => model.profile(), /no completed run since profiling was turned on/);
      const t0 = performance.now();
      const profiled = model.run(x.data)[outName].data;
      const wall = performance.now() - t0;
      assert.deepEqual(profiled, plain);
      const rows = model.profile();
      const sum = (f) => rows.reduce((a, r) => a + f(r), 0);
      assert.ok(rows.every((r) => typeof r.op === 'string' && r.op && r.ms >= 0 && r.flops >= 0 && Number.isInteger(r.segment)));
      assert.ok(sum((r) => r.ms) <= wall + 0.5, `operators ${sum((r) => r.ms)} ms, run ${wall} ms`);
      // torchvision's MobileNetV2: 52 convolutions and one classifier, ~300.8 M multiply-adds.
      const named = rows.filter((r) => r.node);
      assert.equal(named.filter((r) => r.node.startsWith("conv2d '")).length, 52);
      assert.equal(named.filter((r) => r.node.startsWith("dense '")).length, 1);
      const macs = sum((r) => r.flops) / 2;
      assert.ok(macs > 2.99e8 && macs < 3.02e8, `${macs} multiply-adds`);
      assert.equal(rows.filter((r) => r.op.includes('DWConv')).length, 17);
      // A run that fails leaves no profile behind (not the previous run's).
      assert.throws(() => model.run({ input: { data: new Float32Array(3 * 224 * 225), shape: [1, 3, 224, 225] } }));
      assert.throws(() => model.profile(), /no completed run/);
      model.run(x.data);
      assert.equal(model.profile().length, rows.length);
      model.setProfiling(false);
      assert.throws(() => model.profile(), /profiling is off/);
      assert.deepEqual(model.run(x.data)[outName].data, plain);
      model.dispose();
      assert.throws(() => model.profile(), /disposed/);

      // A model re-imported for another input size profiles that size's graph.
      const cnn = await runtime.loadModel(path.join(dir, 'tiny_cnn_any_size.onnx'), { inputShapes: { input: [1, 3, 20, 24] } });
      cnn.setProfiling(true);
      const flopsAt = (h, w) => {
        cnn.run({ input: readNpy(path.join(dir, `tiny_cnn_any_size.${h}x${w}.input.npy`)) });
        return cnn.profile().reduce((a, r) => a + r.flops, 0);
      };
      const small = flopsAt(20, 24), other = flopsAt(33, 17);
      assert.ok(small > 0 && other > 0 && other !== small, `${small} vs ${other}`);
      cnn.dispose();
    });

    test('bad model bytes and bad inputs throw clear errors; the runtime stays usable', async () => {
      await assert.rejects(runtime.loadModel(new Uint8Array([1, 2, 3, 4, 5])), VitrineError);
      await assert.rejects(runtime.loadModel('/no/such/model.onnx'), /cannot read model file/);
      await assert.rejects(runtime.loadModel(42), /model must be a URL/);
      if (!have('tiny_cnn')) return;
      const bytes = fs.readFileSync(path.join(dir, 'tiny_cnn.onnx'));
      await assert.rejects(runtime.loadModel(bytes.subarray(0, bytes.length - 100)), (e) => e instanceof VitrineError && e.code === 'DataLoss');
      const model = await runtime.loadModel(bytes);
      assert.throws(() => model.run(new Float32Array(7)), /7 values, not a positive multiple of 768/);
      assert.throws(() => model.run({ image: new Float32Array(768) }), /unknown input 'image'/);
      assert.throws(() => model.run({ input: { data: new Float32Array(720), shape: [1, 3, 16, 15] } }), /'input': dimension 3 is fixed at 16 by the model, got \(1, 3, 16, 15\)/);
      const nan = new Float32Array(768);
      nan[5] = NaN;
      assert.throws(() => model.run(nan), /non-finite value \(nan\) at index 5/);
      const batch3 = model.run(new Float32Array(3 * 768).fill(0.5));
      assert.deepEqual(batch3.probs.shape, [3, 4]);
      model.dispose();
      assert.throws(() => model.run(new Float32Array(768)), /disposed/);
    });

    test('a Vitrine .safetensors model file runs like its ONNX source', { skip: !have('tiny_cnn') && !required && 'no parity models' }, async () => {
      const tool = fileURLToPath(new URL('../../build/native/engine/tools/vitrine-run', import.meta.url));
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-')), 'tiny.safetensors');
      execFileSync(tool, [path.join(dir, 'tiny_cnn.onnx'), '--save', out]);
      const fromOnnx = await runtime.loadModel(path.join(dir, 'tiny_cnn.onnx'));
      const fromFile = await runtime.loadModel(fs.readFileSync(out));
      assert.equal(fromFile.metadata.format, 'vitrine');
      assert.deepEqual(fromOnnx.metadata, {});
      const x = readNpy(path.join(dir, 'tiny_cnn.input.npy')).data;
      assert.deepEqual(Array.from(fromFile.run(x).probs.data), Array.from(fromOnnx.run(x).probs.data));
      fromOnnx.dispose();
      fromFile.dispose();
    });

    test('typed inputs and outputs: int64 ids and a bool mask in, float logits and an int64 arg max out', async () => {
      const fixture = fileURLToPath(new URL('../fixtures/typed-model/', import.meta.url));
      const want = JSON.parse(fs.readFileSync(path.join(fixture, 'expected.json'), 'utf8'));
      const model = await runtime.loadModel(path.join(fixture, 'model.onnx'));
      assert.deepEqual(model.inputDtypes, ['i64', 'bool']);
      assert.deepEqual(model.outputDtypes, ['f32', 'i64']);
      const ids = BigInt64Array.from(want.ids.flat(), BigInt);
      const keep = Uint8Array.from(want.keep.flat());
      const check = (out) => {
        assert.ok(out.logits.data instanceof Float32Array);
        assert.ok(maxAbsDiff(out.logits.data, want.logits.flat()) <= 1e-5, 'logits differ from NumPy');
        assert.ok(out.best.data instanceof BigInt64Array);
        assert.deepEqual(Array.from(out.best.data, Number), want.best);
        assert.deepEqual(out.best.shape, [2]);
      };
      check(model.run({ ids, keep }));
      check(model.run({ ids: want.ids.flat(), keep: want.keep.flat() }));  // plain arrays are converted
      const keepBytes = Uint8Array.from(want.keep.flat(), (v) => v * 7);  // any non-zero byte is true
      check(model.run({ ids, keep: keepBytes }));
      assert.throws(() => model.run({ ids: new Float32Array(10), keep }), /input 'ids' \(i64\) must be a BigInt64Array/);
      assert.throws(() => model.run({ ids: [1.5, 0, 0, 0, 0, 0, 0, 0, 0, 0], keep }), /1.5, not a safe integer/);
      assert.throws(() => model.run({ ids: [9, 0, 0, 0, 0, 0, 0, 0, 0, 0], keep }), /index 9 .* outside an axis of size 7/);
      // Saved as a Vitrine file (format version 2), it keeps its dtypes and outputs.
      const reloaded = await runtime.loadModel(model.save());
      assert.deepEqual(reloaded.inputDtypes, ['i64', 'bool']);
      check(reloaded.run({ ids, keep }));
      reloaded.dispose();
      model.dispose();
    });

    test('f64, f16 and uint64 inputs and outputs: Float64Array, Uint16Array of half bits, BigUint64Array', async () => {
      const fixture = fileURLToPath(new URL('../fixtures/wide-dtype-model/', import.meta.url));
      const want = JSON.parse(fs.readFileSync(path.join(fixture, 'expected.json'), 'utf8'));
      const model = await runtime.loadModel(path.join(fixture, 'model.onnx'));
      assert.deepEqual(model.inputDtypes, ['f64', 'f16', 'u64']);
      assert.deepEqual(model.outputDtypes, ['f64', 'f16', 'u64']);
      const out = model.run({ x: Float64Array.from(want.x), h: Uint16Array.from(want.h_bits), u: BigUint64Array.from(want.u, BigInt) });
      assert.ok(out.y.data instanceof Float64Array);
      out.y.data.forEach((v, i) => assert.ok(Math.abs(v - want.y[i]) <= 1e-6 * Math.abs(want.y[i]), `y[${i}] = ${v}, want ${want.y[i]}`));
      assert.ok(out.h2.data instanceof Uint16Array);
      assert.deepEqual(Array.from(out.h2.data), want.h2_bits);  // 120000 overflows half: +inf (0x7c00)
      assert.ok(out.m.data instanceof BigUint64Array);
      assert.deepEqual(Array.from(out.m.data, String), want.m);
      assert.throws(() => model.run({ x: Float64Array.from(want.x), h: [1, 2, 3, 4, 5, 6], u: BigUint64Array.from(want.u, BigInt) }),
        /input 'h' is f16: pass a Uint16Array of IEEE half bits/);
      // A Vitrine model file keeps f64 and u64 values, not an f64 constant: the error says so.
      assert.throws(() => model.save(), /model files hold f32 and integer constants; '.*' is f64/);
      model.dispose();
    });

    test('create/dispose loops do not grow memory', { skip: !have('squeezenet1_1') && !required && 'no parity models' }, async () => {
      const bytes = fs.readFileSync(path.join(dir, 'squeezenet1_1.onnx'));
      const x = new Float32Array(3 * 224 * 224).fill(0.1);
      for (let i = 0; i < 3; i++) { const m = await runtime.loadModel(bytes); m.run(x); m.dispose(); }
      const before = runtime.info().memoryBytes;
      for (let i = 0; i < 20; i++) { const m = await runtime.loadModel(bytes); m.run(x); m.dispose(); }
      assert.equal(runtime.info().memoryBytes, before, 'wasm memory grew over 20 load/run/dispose cycles');
    });
  });
}

test('models/registry.json lists every shipped model with its size and SHA-256', async () => {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  execFileSync(process.execPath, [path.join(repo, 'scripts/registry.mjs'), '--check']);  // throws when stale
  execFileSync(process.execPath, [path.join(repo, 'scripts/api-docs.mjs'), '--check']);  // docs/api.md follows index.d.ts
  const reg = await modelRegistry();
  assert.deepEqual(Object.keys(reg.models).sort(), ['recommend/movielens', 'reviews/fine-foods', 'tagger/fashion-mnist']);
  for (const m of Object.values(reg.models)) {
    assert.match(m.sha256, /^[0-9a-f]{64}$/);
    assert.equal(m.demo, true);  // trained on public data, not a store's
    assert.ok(m.licence && m.licence.length > 20, m.file);
  }
});

test('info() of a task on a shipped default says it is a demo and whose terms its data has; own models say null', async () => {
  const runtime = await createRuntime({ variant: 'simd', threads: 1 });
  const rec = await runtime.createRecommender({});
  const rv = await runtime.createReviewAnalyzer({});
  const tagger = await runtime.createImageTagger({});
  const expect = { recommend: /GroupLens/, reviews: /SNAP/, tagger: /MIT/ };
  for (const [task, obj] of [['recommend', rec], ['reviews', rv], ['tagger', tagger]]) {
    const { shippedModel } = await obj.info();
    assert.equal(shippedModel.demo, true, task);
    assert.match(shippedModel.licence, expect[task]);
    assert.match(shippedModel.note, /vitrine train/);
  }
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const own = await runtime.createRecommender({ model: new Uint8Array(fs.readFileSync(path.join(repo, 'models/recommend/movielens.safetensors'))) });
  assert.equal((await own.info()).shippedModel, null);
  for (const o of [rec, rv, tagger, own]) await o.dispose();
  runtime.dispose();
});
