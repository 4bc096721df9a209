// On-device fine-tuning in wasm: a model trained natively, saved, loaded in wasm and fine-tuned for
// 10 steps gives the same losses and weights as the same 10 steps natively (vitrine-train), in both
// variants. Also the facade's errors, fit() progress and cancellation, and save()/reload.
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createRuntime, VitrineError } from '../../web/src/index.js';

const dir = process.env.VITRINE_PARITY_MODELS ? path.join(process.env.VITRINE_PARITY_MODELS, 'train/mlp_onnx') : '';
const required = process.env.VITRINE_REQUIRE_MODELS === '1';
const trainTool = fileURLToPath(new URL('../../build/native/engine/tools/vitrine-train', import.meta.url));
const available = dir !== '' && fs.existsSync(path.join(dir, 'mlp.onnx')) && fs.existsSync(trainTool);
const skip = !available && !required && 'needs VITRINE_PARITY_MODELS and the native build';

function readNpy(file) {
  const b = fs.readFileSync(file);
  const headerLen = b.readUInt16LE(8);
  return new Float32Array(b.buffer.slice(b.byteOffset + 10 + headerLen, b.byteOffset + b.length));
}

describe('fine-tuning in wasm', { skip }, () => {
  let work, base, nativeTuned, nativeLosses, x, y;
  before(() => {
    assert.ok(available, 'parity data or native vitrine-train missing');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-train-'));
    base = path.join(work, 'base.safetensors');
    nativeTuned = path.join(work, 'tuned.safetensors');
    const data = ['--input', path.join(dir, 'x.npy'), '--target', path.join(dir, 'y.npy')];
    execFileSync(trainTool, [path.join(dir, 'mlp.onnx'), ...data, '--steps', '5', '--lr', '0.05', '--save', base], { stdio: 'pipe' });
    const out = execFileSync(trainTool, [base, ...data, '--steps', '10', '--lr', '0.05', '--print-losses', '--save', nativeTuned],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    nativeLosses = [...out.matchAll(/^step \d+ loss (\S+)$/gm)].map((m) => Number(m[1]));
    assert.equal(nativeLosses.length, 10);
    x = readNpy(path.join(dir, 'x.npy'));
    y = readNpy(path.join(dir, 'y.npy'));
  });
  after(() => work && fs.rmSync(work, { recursive: true, force: true }));

  for (const variant of ['simd', 'simd-threads']) {
    test(`10 steps in ${variant} equal the native 10 steps`, async () => {
      const rt = await createRuntime({ variant, threads: 2 });
      const model = await rt.loadModel(base);
      const before = model.run(x).logits.data;
      const trainer = model.createTrainer({ optimizer: 'adam', learningRate: 0.05 });
      assert.deepEqual(trainer.parameterNames.length, 4);
      const losses = [];
      for (let i = 0; i < 10; i++) losses.push(trainer.step(x, y));
      losses.forEach((l, i) => assert.ok(Math.abs(l - nativeLosses[i]) <= 1e-5 * (1 + Math.abs(l)), `step ${i}: ${l} vs ${nativeLosses[i]}`));
      assert.equal(trainer.steps, 10);
      const tuned = model.run(x).logits.data;  // the model sees its new weights
      assert.notDeepEqual(Array.from(tuned), Array.from(before));
      const reference = await rt.loadModel(nativeTuned);
      const want = reference.run(x).logits.data;
      let err = 0;
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(want[i] - tuned[i]));
      assert.ok(err <= 1e-4, `outputs differ from the natively tuned model by ${err}`);
      // save() captures the tuned weights.
      const reloaded = await rt.loadModel(model.save());
      assert.deepEqual(Array.from(reloaded.run(x).logits.data), Array.from(tuned));
      trainer.dispose();
      [model, reference, reloaded].forEach((m) => m.dispose());
      rt.dispose();
    });
  }

  test('fit() reports progress, can be cancelled, and bad options and targets are clear errors', async () => {
    const rt = await createRuntime({ variant: 'simd' });
    const model = await rt.loadModel(base);
    assert.throws(() => model.createTrainer({ lr: 0.1 }), /unknown trainer option 'lr'/);
    assert.throws(() => model.createTrainer({ loss: 'hinge' }), /unknown loss 'hinge'/);
    assert.throws(() => model.createTrainer({ optimizer: 'lbfgs' }), /unknown optimizer 'lbfgs'/);
    assert.throws(() => model.createTrainer({ freeze: ['nope'] }), VitrineError);
    const trainer = model.createTrainer({ learningRate: 0.01 });
    assert.throws(() => trainer.step(x, new Float32Array(7)), /target has 7 values for a batch of 32/);
    const badLabels = new Float32Array(32).fill(5);
    assert.throws(() => trainer.step(x, badLabels), /target 5.* is not a class id in \[0, 3\)/);
    const controller = new AbortController();
    const seen = [];
    const batches = Array.from({ length: 6 }, () => ({ inputs: x, target: y }));
    const result = await trainer.fit({
      batches, epochs: 2,
      onProgress: (p) => { seen.push(p.step); if (p.step === 3) controller.abort(); },
      signal: controller.signal,
    });
    assert.equal(result.cancelled, true);
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(result.losses.length, 3);
    trainer.dispose();
    assert.throws(() => trainer.step(x, y), /disposed/);
    model.dispose();
    rt.dispose();
  });
});

// The PyTorch training runs (scripts/models/export_train_goldens.py), repeated in wasm from the
// same initial weights: 20 steps give PyTorch's losses.
const trainDir = process.env.VITRINE_PARITY_MODELS ? path.join(process.env.VITRINE_PARITY_MODELS, 'train') : '';
const cases = [
  { name: 'mlp_adam', options: { optimizer: 'adam', learningRate: 0.01 }, inputs: (d) => readNpy(path.join(d, 'x.npy')) },
  { name: 'cnn_adam', options: { optimizer: 'adam', learningRate: 0.01 }, inputs: (d) => readNpy(path.join(d, 'x_nhwc.npy')) },
  { name: 'gru_adam', options: { optimizer: 'adam', learningRate: 0.01 }, inputs: (d) => readNpy(path.join(d, 'ids.npy')) },
  {
    name: 'mf_bpr', options: { loss: 'bpr', optimizer: 'sgd', learningRate: 0.5, momentum: 0.9, weightDecay: 0.01 },
    inputs: (d) => ({ users: readNpy(path.join(d, 'users.npy')), pos: readNpy(path.join(d, 'pos.npy')), neg: readNpy(path.join(d, 'neg.npy')) }),
    target: () => new Float32Array(16),
  },
];
for (const variant of ['simd', 'simd-threads']) {
  describe(`PyTorch training parity in ${variant}`, () => {
    for (const c of cases) {
      const d = path.join(trainDir, c.name);
      const have = trainDir !== '' && fs.existsSync(path.join(d, 'model.safetensors'));
      test(`${c.name}: 20 steps give PyTorch's losses`, { skip: !have && !required && 'no goldens' }, async () => {
        assert.ok(have, `training golden ${c.name} missing`);
        const rt = await createRuntime({ variant, threads: 2 });
        const model = await rt.loadModel(path.join(d, 'model.safetensors'));
        const trainer = model.createTrainer(c.options);
        const want = readNpy(path.join(d, 'losses.npy'));
        const inputs = c.inputs(d);
        const target = c.target ? c.target() : readNpy(path.join(d, 'y.npy'));
        for (let s = 0; s < 20; s++) {
          const loss = trainer.step(inputs, target);
          assert.ok(Math.abs(loss - want[s]) <= 1e-4 * (1 + Math.abs(want[s])), `step ${s}: ${loss} vs PyTorch ${want[s]}`);
        }
        trainer.dispose();
        model.dispose();
        rt.dispose();
      });
    }
  });
}
