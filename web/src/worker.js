// The worker side of `createRecommender({ worker: true })` (see remote.js): one engine runtime per
// worker; tasks created here are addressed by a numeric handle. Runs as a module Web Worker in
// browsers and as a worker_threads Worker under Node.
import { createRuntime } from './index.js';
import { createRecommenderOn } from './recommend.js';
import { createImageTaggerOn } from './tag.js';
import { createReviewAnalyzerOn } from './review.js';
import { isNode } from './loader.js';
import { TASK_KINDS as KINDS, TASK_METHODS as METHODS } from './methods.js';

// Abort controllers of running calls (by request id), for 'cancel'.
const running = new Map();

const port = isNode ? (await import(/* @vite-ignore */ /* webpackIgnore: true */ 'node:' + 'worker_threads')).parentPort : globalThis;
const post = (message, transfer = []) => port.postMessage(message, transfer);

// The buffers of typed arrays a result holds (itself, or in an array): they were made for this
// call, so they move to the caller instead of being copied.
function transferables(result) {
  const list = ArrayBuffer.isView(result) ? [result] : Array.isArray(result) ? result.filter((r) => ArrayBuffer.isView(r)) : [];
  return [...new Set(list.map((v) => v.buffer))].filter((b) => b instanceof ArrayBuffer);
}
let runtime = null;
const objects = new Map();
let nextHandle = 1;
const CREATE = { createRecommender: createRecommenderOn, createImageTagger: createImageTaggerOn, createReviewAnalyzer: createReviewAnalyzerOn };

// A task created on `ready` (the runtime or a promise of it), kept under a new handle.
async function create(op, ready, options, id) {
  const object = await CREATE[op](ready, { ...options, onProgress: (p) => post({ id, progress: p }) });
  const h = nextHandle++;
  objects.set(h, { kind: KINDS[op], object });
  return { handle: h };
}

async function handle({ op, args }, id) {
  switch (op) {
    case 'init': {
      // [runtime options, optional first task { op, options }]: the task's model is read while the
      // engine compiles and starts, instead of after it.
      const [options, first] = args;
      const ready = createRuntime({ ...options, onProgress: (p) => post({ id, progress: p }) });
      if (first && !Object.hasOwn(CREATE, first.op)) throw Object.assign(new Error(`unknown task '${first.op}'`), { code: 'InvalidArgument' });
      const task = first ? create(first.op, ready, first.options, id) : null;
      task?.catch(() => {});  // its failure is reported below, or the engine's is
      runtime = await ready;
      return { info: runtime.info(), task: task && (await task) };
    }
    case 'createRecommender':
    case 'createImageTagger':
    case 'createReviewAnalyzer':
      if (!runtime) throw Object.assign(new Error('init first'), { code: 'FailedPrecondition' });
      return create(op, runtime, args[0], id);
    case 'call': {
      const [h, method, params] = args;
      const entry = objects.get(h);
      if (!entry) throw Object.assign(new Error(`no object ${h} in the worker (disposed?)`), { code: 'FailedPrecondition' });
      if (!Object.hasOwn(METHODS[entry.kind], method)) throw Object.assign(new Error(`unknown method '${method}'`), { code: 'InvalidArgument' });
      // Long calls: progress is relayed, cancellation arrives as a 'cancel' message.
      const long = METHODS[entry.kind][method].long;
      if (long !== undefined) {
        const controller = new AbortController();
        running.set(id, controller);
        try {
          const call = [...params];
          call[long] = { ...(call[long] ?? {}), signal: controller.signal, onProgress: (p) => post({ id, progress: p }) };
          return await entry.object[method](...call);
        } finally {
          running.delete(id);
        }
      }
      return entry.object[method](...params);
    }
    case 'cancel':
      running.get(args[0])?.abort();
      return null;
    case 'dispose': {
      const entry = objects.get(args[0]);
      objects.delete(args[0]);
      if (entry) await entry.object.dispose();
      return null;
    }
    case 'shutdown':
      for (const { object } of objects.values()) await object.dispose();
      objects.clear();
      runtime?.dispose();
      runtime = null;
      return null;
    default:
      throw Object.assign(new Error(`unknown operation '${op}'`), { code: 'InvalidArgument' });
  }
}

const onMessage = async (message) => {
  const { id } = message;
  try {
    const result = await handle(message, id);
    post({ id, result }, transferables(result));
  } catch (e) {
    post({ id, error: { message: e?.message ?? String(e), code: e?.code ?? 'Internal' } });
  }
};
if (isNode) port.on('message', onMessage);
else port.onmessage = (event) => onMessage(event.data);
