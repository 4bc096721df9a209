// Each task's methods are declared once (web/src/methods.js): the in-thread class implements every
// one of them, each returning a Promise, and the worker proxy has exactly the same methods, so a
// factory returns one kind of object wherever the task runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createRuntime, Recommender, ImageTagger, ReviewAnalyzer, RemoteRecommender, RemoteImageTagger,
         RemoteReviewAnalyzer } from '../../web/src/index.js';
import { TASK_METHODS } from '../../web/src/methods.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLASSES = { recommender: [Recommender, RemoteRecommender], tagger: [ImageTagger, RemoteImageTagger],
                  reviews: [ReviewAnalyzer, RemoteReviewAnalyzer] };
const own = (cls) => Object.getOwnPropertyNames(cls.prototype).filter((n) => n !== 'constructor' && !n.startsWith('_') && n !== 'dispose');

test('in-thread classes and worker proxies have exactly the declared methods', () => {
  assert.deepEqual(Object.keys(TASK_METHODS).sort(), Object.keys(CLASSES).sort());
  for (const [kind, [Local, Remote]] of Object.entries(CLASSES)) {
    const declared = Object.keys(TASK_METHODS[kind]).sort();
    assert.deepEqual(own(Local).sort(), declared, `${Local.name}`);
    assert.deepEqual(own(Remote).sort(), declared, `${Remote.name}`);
    assert.equal(Remote.name, `Remote${Local.name}`);
  }
});

test('every in-thread method returns a Promise, errors included', async () => {
  const runtime = await createRuntime({ variant: 'simd' });
  const tasks = {
    recommender: await runtime.createRecommender({ model: path.join(root, 'models/recommend/movielens.safetensors') }),
    tagger: await runtime.createImageTagger(),
    reviews: await runtime.createReviewAnalyzer(),
  };
  for (const [kind, task] of Object.entries(tasks)) {
    for (const method of Object.keys(TASK_METHODS[kind])) {
      if (method === 'forget') continue;  // would erase nothing here, but keep the state as it is
      const result = task[method]();  // no arguments: resolves, or rejects with a VitrineError
      assert.ok(result instanceof Promise, `${kind}.${method}() returned ${typeof result}`);
      await result.catch((e) => assert.equal(e.name, 'VitrineError', `${kind}.${method}(): ${e.stack}`));
    }
    await task.dispose();
  }
  runtime.dispose();
});

test("the demo's service worker keeps every module of the facade (for offline reloads)", async () => {
  const fs = await import('node:fs');
  const sw = fs.readFileSync(path.join(root, 'web/demo/sw.js'), 'utf8');
  const listed = JSON.parse(sw.match(/const SRC = (\[[^\]]*\])/)[1].replace(/'/g, '"'));
  const modules = fs.readdirSync(path.join(root, 'web/src')).filter((f) => f.endsWith('.js'));
  assert.deepEqual([...listed].sort(), modules.sort());
});

test('status names come from the engine, one per StatusCode', async () => {
  const runtime = await createRuntime({ variant: 'simd' });
  assert.deepEqual(runtime._module.statusNames(), ['OK', 'InvalidArgument', 'OutOfRange', 'NotFound', 'DataLoss', 'Unimplemented',
                                                   'ResourceExhausted', 'Internal', 'FailedPrecondition', 'Cancelled']);
  await assert.rejects(runtime.loadModel(new Uint8Array([1, 2, 3])), (e) => e.code === 'DataLoss');
  runtime.dispose();
});
