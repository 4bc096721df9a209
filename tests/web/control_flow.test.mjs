// Control flow and streams through the wasm module, in both variants: ONNX If (a branch picked per
// run; a scalar int64 input choosing it), and Model.createStream carrying an LSTM's state in the
// engine, checked against runs that pass the state back by hand (fixtures:
// scripts/models/export_control_flow_models.py).
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createRuntime, VitrineError } from '../../web/src/index.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'control-flow');
const bytes = (name) => new Uint8Array(fs.readFileSync(path.join(fixtures, name)));

for (const variant of ['simd', 'simd-threads']) {
  describe(`control flow (${variant})`, () => {
    let runtime;
    const rt = async () => (runtime ??= await createRuntime({ variant, threads: variant === 'simd' ? 1 : 2 }));
    after(() => runtime?.dispose());

    test('If picks its branch per run from an activation (then: relu(x) * w; else: -x)', async () => {
      const model = await (await rt()).loadModel(bytes('if_runtime.onnx'));
      const neg = model.run(Float32Array.of(-1, -2, 0.5, 1)).y.data;
      assert.deepEqual([...neg], [1, 2, -0.5, -1]);
      const x = Float32Array.of(1, -2, 3, 4);
      const pos = model.run(x).y.data;
      // w is the fixture's own initializer: relu(x) * w is zero where x < 0 and sign(w) elsewhere.
      assert.equal(pos[1], 0);
      assert.ok(pos.every((v, i) => x[i] <= 0 || v !== 0));
      assert.deepEqual([...model.run(Float32Array.of(-1, -2, 0.5, 1)).y.data], [1, 2, -0.5, -1]);
      model.dispose();
    });

    test('a scalar int64 input picks the branch; its shape () or (1) both work', async () => {
      const model = await (await rt()).loadModel(bytes('if_scalar.onnx'));
      assert.deepEqual(model.declaredShapes[1], []);
      const x = Float32Array.of(1, 2, 3, 4);
      const at16 = model.run({ x, sr: { data: BigInt64Array.of(16000n), shape: [] } }).y;
      assert.deepEqual(at16.shape, [1, 4]);
      assert.deepEqual([...at16.data], [2, 4, 6, 8]);
      const at8 = model.run({ x, sr: BigInt64Array.of(8000n) }).y;
      assert.deepEqual([...at8.data], [2, 3, 4, 5]);
      assert.throws(() => model.run({ x, sr: { data: BigInt64Array.of(1n, 2n), shape: [2] } }),
        (e) => e instanceof VitrineError && /'sr'/.test(e.message));
      model.dispose();
    });

    test('a stream carries the LSTM state in the engine: same outputs as passing it back by hand', async () => {
      const model = await (await rt()).loadModel(bytes('lstm_state.onnx'));
      const chunks = [0, 1, 2].map((k) => Float32Array.from({ length: 6 }, (_, i) => Math.sin(k * 7 + i)));
      // By hand: Y_h / Y_c copied out and back in.
      let h0 = new Float32Array(3), c0 = new Float32Array(3);
      const want = [];
      for (const x of chunks) {
        const out = model.run({ x, h0, c0 });
        want.push(out.Y.data);
        h0 = out.Y_h.data;
        c0 = out.Y_c.data;
      }
      const stream = model.createStream({ carry: { Y_h: 'h0', Y_c: 'c0' } });
      assert.deepEqual(stream.inputNames, ['x']);
      assert.deepEqual(stream.state(), { h0: null, c0: null });
      chunks.forEach((x, k) => {
        const out = stream.run(x);
        assert.deepEqual(Object.keys(out), ['Y']);
        assert.deepEqual([...out.Y.data], [...want[k]]);
      });
      assert.deepEqual([...stream.state().h0.data], [...h0]);
      // reset() starts over; an initial state may be given.
      stream.reset();
      assert.deepEqual([...stream.run(chunks[0]).Y.data], [...want[0]]);
      stream.reset({ h0, c0 });
      const resumed = stream.run({ x: chunks[0] });
      assert.deepEqual([...resumed.Y.data], [...model.run({ x: chunks[0], h0, c0 }).Y.data]);
      // model.run() in between takes the state away: the stream says so instead of reading garbage.
      assert.throws(() => stream.run(chunks[1]), (e) => e instanceof VitrineError && e.code === 'FailedPrecondition');
      stream.reset();
      assert.deepEqual([...stream.run(chunks[0]).Y.data], [...want[0]]);
      // Bad carries are refused by name.
      assert.throws(() => model.createStream({ carry: { nope: 'h0' } }), (e) => e.code === 'NotFound' && /nope/.test(e.message));
      assert.throws(() => model.createStream({ carry: { Y_h: 'h0', Y_c: 'h0' } }), (e) => e.code === 'InvalidArgument');
      assert.throws(() => model.createStream({}), (e) => e.code === 'InvalidArgument');
      model.dispose();
      assert.throws(() => stream.run(chunks[0]), VitrineError);
    });

    test('Slice with negative steps reverses', async () => {
      const model = await (await rt()).loadModel(bytes('slice_steps.onnx'));
      const x = Float32Array.from({ length: 20 }, (_, i) => i);
      const y = model.run(x).y;
      assert.deepEqual(y.shape, [3, 4]);
      assert.deepEqual([...y.data], [3, 2, 1, 0, 11, 10, 9, 8, 19, 18, 17, 16]);
      model.dispose();
    });
  });
}
