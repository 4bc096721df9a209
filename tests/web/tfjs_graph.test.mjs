// TF.js graph models through the facade, in both variants: loadModel({ format: 'tfjs-graph', path })
// reads model.json and its shards; the fixture (scripts/models/export_tfjs_graph_fixture.py) matches
// NumPy with float32 and quantized weights; shard paths must stay in the model's folder.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createRuntime, VitrineError } from '../../web/src/index.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'tfjs-graph');

function readNpy(file) {
  const b = fs.readFileSync(file);
  const headerLen = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + headerLen);
  const shape = JSON.parse('[' + header.match(/'shape': \(([^)]*)\)/)[1].replace(/,\s*$/, '') + ']');
  return { data: new Float32Array(b.buffer.slice(b.byteOffset + 10 + headerLen, b.byteOffset + b.length)), shape };
}

for (const variant of ['simd', 'simd-threads']) {
  describe(`TF.js graph models (${variant})`, () => {
    let runtime;
    const rt = async () => (runtime ??= await createRuntime({ variant, threads: variant === 'simd' ? 1 : 2 }));
    after(() => runtime?.dispose());

    for (const suffix of ['', '-f16', '-u8', '-u16']) {
      test(`model${suffix}.json matches NumPy`, async () => {
        const model = await (await rt()).loadModel({ format: 'tfjs-graph', path: path.join(dir, `model${suffix}.json`) });
        assert.deepEqual(model.inputNames, ['x']);
        assert.deepEqual(model.outputNames, ['probs']);
        assert.deepEqual(model.declaredShapes, [[-1, 6, 6, 2]]);
        const x = readNpy(path.join(dir, 'input.npy'));
        const want = readNpy(path.join(dir, `expected${suffix}.npy`));
        const got = model.run({ x }).probs;
        assert.deepEqual(got.shape, want.shape);
        got.data.forEach((v, i) => assert.ok(Math.abs(v - want.data[i]) < 1e-5, `${i}: ${v} vs ${want.data[i]}`));
        model.dispose();
      });
    }

    test('shard paths that leave the folder, and unknown formats, are refused', async () => {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-tfjs-'));
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      json.weightsManifest[0].paths = ['../weights.bin'];
      fs.writeFileSync(path.join(tmp, 'model.json'), JSON.stringify(json));
      await assert.rejects((await rt()).loadModel({ format: 'tfjs-graph', path: path.join(tmp, 'model.json') }),
        (e) => e instanceof VitrineError && /leaves the model's folder/.test(e.message));
      await assert.rejects((await rt()).loadModel({ format: 'keras', path: path.join(dir, 'model.json') }),
        (e) => e instanceof VitrineError && e.code === 'InvalidArgument');
      fs.rmSync(tmp, { recursive: true, force: true });
    });
  });
}
