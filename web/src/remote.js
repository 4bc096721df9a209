// Tasks in a dedicated worker: `createRecommender({ ..., worker: true })` starts a worker (a module
// Web Worker in browsers, worker_threads under Node) with its own engine, and returns a proxy
// with the same methods as Recommender, each returning a Promise, so fold-in and ranking never
// block the page. Functions cannot cross to a worker: `filter` and custom storage objects are
// refused there (use `exclude`, `categories`, or the built-in storages); `onProgress` is relayed.
import { VitrineError } from './errors.js';
import { chooseVariant, compileVariant, isNode, simdSupported, threadSupport } from './loader.js';
import { toPixelsAsync } from './image.js';
import { TASK_METHODS } from './methods.js';
import { startWorker } from './trusted.js';

// Once the wasm bytes are in the worker, compiling it and starting its threads takes a second or
// two even on a slow phone. In Firefox ESR 153 a threaded engine's start in a module worker stalled
// now and then under CPU load (measured: 2 to 4 starts in 40 with a busy core), and nothing in that
// worker can notice: its event loop no longer runs. So the page watches: a worker that has not
// started its engine INSTANTIATE_TIMEOUT_MS after the bytes arrived is stopped and a fresh one
// started, once; a second stall is an error.
const INSTANTIATE_TIMEOUT_MS = 20_000;

class WorkerConnection {
  // Starts a worker and its runtime, and with `first` ({ op, options }) that task too: its handle
  // is c.first.
  static async start(runtimeOptions, onProgress, first = null, attempt = 1) {
    // The page compiles the engine's wasm (once per page) while the worker loads its scripts, and
    // hands the worker the compiled module; without SIMD nothing is downloaded, and should the
    // compile fail (an unknown variant) the worker loads it itself and reports why it cannot.
    const wasmModule = isNode || !simdSupported() ? null
      : compileVariant(chooseVariant(runtimeOptions.variant ?? 'auto', threadSupport()).variant, onProgress).catch(() => null);
    let worker;
    if (isNode) {
      const { Worker } = await import(/* @vite-ignore */ /* webpackIgnore: true */ 'node:' + 'worker_threads');
      // Spelled so that bundlers do not take it for an asset (browsers take the branch below).
      worker = new Worker(new URL(/* webpackIgnore: true */ ['.', 'worker.js'].join('/'), import.meta.url));
    } else {
      if (typeof Worker === 'undefined') throw new VitrineError('Web Workers are not available here', 'FailedPrecondition');
      // Written in the one form bundlers recognize, so they build the worker with its imports;
      // startWorker passes its URL through Vitrine's Trusted Types policy where there is one.
      worker = startWorker(() => new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }));
    }
    const c = new WorkerConnection(worker);
    let timer = null;
    let stalled = false;
    const watchdog = new Promise((resolve) => { c._stalled = resolve; });
    const progress = (p) => {
      if (p?.stage === 'instantiate' && timer === null && !isNode) {
        timer = setTimeout(() => { stalled = true; c._stalled(); }, INSTANTIATE_TIMEOUT_MS);
      }
      // The engine started ('ready'): what is left is the first task's model, which may take as
      // long as its download does.
      if (p?.stage === 'ready') clearTimeout(timer);
      onProgress?.(p);
    };
    try {
      const init = { ...runtimeOptions, wasmModule: await wasmModule };
      await Promise.race([c.request('init', [init, first], progress).then(({ info, task }) => {
        c.info = info;
        c.first = task;
      }), watchdog]);
    } catch (e) {
      c.terminate();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    if (!stalled) return c;
    c.terminate();
    if (attempt > 1) {
      throw new VitrineError(`the engine's worker did not start within ${INSTANTIATE_TIMEOUT_MS} ms of loading the wasm, twice`, 'Internal');
    }
    console.warn(`[vitrine] the engine's worker did not start within ${INSTANTIATE_TIMEOUT_MS} ms of loading the wasm; starting a new one`);
    return WorkerConnection.start(runtimeOptions, onProgress, first, attempt + 1);
  }

  constructor(worker) {
    this._worker = worker;
    this._pending = new Map();
    this._next = 1;
    const onMessage = (m) => this._receive(m);
    // A worker that fails or exits fails every pending call, and every later one.
    const onError = (e) => this._dead(new VitrineError(`worker failed: ${e?.message ?? e}`, 'Internal'));
    if (isNode) {
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('messageerror', onError);
      worker.on('exit', (code) => this._dead(new VitrineError(`worker exited (code ${code})`, 'Internal')));
      worker.unref();  // an idle worker does not keep Node alive; ref()ed while requests are pending
    } else {
      worker.onmessage = (event) => onMessage(event.data);
      worker.onerror = onError;
      worker.onmessageerror = onError;
    }
  }

  request(op, args, onProgress, onId, transfer = []) {
    if (!this._worker) return Promise.reject(new VitrineError('worker was terminated', 'FailedPrecondition'));
    const id = this._next++;
    onId?.(id);
    return new Promise((resolve, reject) => {
      if (this._pending.size === 0 && isNode) this._worker.ref();
      this._pending.set(id, { resolve, reject, onProgress });
      try {
        this._worker.postMessage({ id, op, args }, transfer);
      } catch (e) {  // e.g. an argument that cannot be cloned
        this._pending.delete(id);
        if (this._pending.size === 0 && isNode) this._worker.unref();
        reject(new VitrineError(`cannot send to the worker: ${e.message}`, 'InvalidArgument'));
      }
    });
  }

  _receive({ id, result, error, progress }) {
    const p = this._pending.get(id);
    if (!p) return;
    if (progress) return typeof p.onProgress === 'function' ? p.onProgress(progress) : undefined;
    this._pending.delete(id);
    if (this._pending.size === 0 && isNode) this._worker?.unref();
    if (error) p.reject(new VitrineError(error.message, error.code));
    else p.resolve(result);
  }

  _dead(error) {
    if (!this._worker) return;
    this._failAll(error);
    this._worker.terminate?.();
    this._worker = null;
  }

  _failAll(error) {
    for (const p of this._pending.values()) p.reject(error);
    this._pending.clear();
  }

  terminate() {
    if (!this._worker) return;
    this._failAll(new VitrineError('worker was terminated', 'FailedPrecondition'));
    this._worker.terminate();
    this._worker = null;
  }
}

function noFunctions(value, where) {
  if (typeof value === 'function') {
    throw new VitrineError(`${where} is a function, which cannot be sent to a worker (use exclude/categories, ` +
                           "or create the recommender with worker: false)", 'InvalidArgument');
  }
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
    for (const [k, v] of Object.entries(value)) noFunctions(v, `${where}.${k}`);
  }
}

// What every task proxy shares: the connection, the task's handle in the worker, calls and dispose.
class RemoteTask {
  constructor(connection, handle, kind) {
    this._c = connection;
    this._handle = handle;
    this._kind = kind;
  }

  /** Disposes the task and stops its worker. */
  async dispose() {
    if (!this._c) return;
    const c = this._c;
    this._c = null;
    try {
      await c.request('shutdown', []);
    } finally {
      c.terminate();
    }
  }

  // A call whose options (args[at]) may carry onProgress (relayed from the worker) and signal
  // (cancels the call there).
  _longCall(method, args, at) {
    if (!this._c) return Promise.reject(new VitrineError(`${this._kind} was disposed`, 'FailedPrecondition'));
    const { onProgress, signal, ...rest } = args[at] ?? {};
    const call = [...args];
    call[at] = rest;
    try {
      if (onProgress !== undefined && typeof onProgress !== 'function') throw new VitrineError('onProgress must be a function', 'InvalidArgument');
      call.forEach((a, i) => noFunctions(a, `argument ${i + 1} of ${method}()`));
    } catch (e) {
      return Promise.reject(e);
    }
    if (signal?.aborted) return Promise.reject(new VitrineError(`${method}() was cancelled`, 'Cancelled'));
    let requestId = 0;
    const c = this._c;
    const done = c.request('call', [this._handle, method, call], onProgress, (id) => { requestId = id; });
    const abort = () => c.request('cancel', [requestId]).catch(() => {});
    signal?.addEventListener('abort', abort, { once: true });
    return done.finally(() => signal?.removeEventListener('abort', abort));
  }

  _callTransfer(method, args, transfer) {
    if (!this._c) return Promise.reject(new VitrineError(`${this._kind} was disposed`, 'FailedPrecondition'));
    try {
      args.forEach((a, i) => noFunctions(a, `argument ${i + 1} of ${method}()`));
    } catch (e) {
      return Promise.reject(e);
    }
    return this._c.request('call', [this._handle, method, args], undefined, undefined, transfer);
  }
}

// Relative URLs mean the page's location, not the worker script's.
function absolute(m) {
  if (m instanceof URL) return m.href;
  if (!isNode && typeof m === 'string' && globalThis.location) return new URL(m, globalThis.location.href).href;
  return m;
}

// Starts a worker with its own runtime (variant, threads), creates one task there with `op` and
// wraps it in a `Proxy` (a RemoteTask). Options must be cloneable: no functions, no custom storage.
async function startRemote(options, op, Proxy) {
  const { worker: _w, runtime: _r, onProgress, variant, threads, limits, ...rest } = options;
  if (rest.storage && typeof rest.storage === 'object' && typeof rest.storage.load === 'function') {
    throw new VitrineError('a custom storage object cannot be sent to a worker (use a built-in storage, or worker: false)',
                           'InvalidArgument');
  }
  noFunctions(rest, 'options');
  rest.model = absolute(rest.model);
  if (rest.model && typeof rest.model === 'object' && rest.model.format) rest.model = { ...rest.model, url: absolute(rest.model.url) };
  const c = await WorkerConnection.start({ variant, threads, limits }, onProgress, { op, options: rest });
  const task = new Proxy(c, c.first.handle);
  task.runtimeInfo = c.info;
  return task;
}

/** createRecommender({ worker: true, ... }): a worker with its own runtime and one recommender. */
export function createRemoteRecommender(options) {
  return startRemote(options, 'createRecommender', RemoteRecommender);
}

// Images become plain pixels on this thread (ImageBitmap, <img>, canvas, Blob, ImageData, raw).
// Pixels drawn here are fresh buffers and are transferred to the worker; the caller's own arrays
// are copied (structured clone), never detached. `transfer` collects what can move.
async function pixelsOf(image, transfer) {
  const p = await toPixelsAsync(image);
  if (p.owned) transfer.push(p.data.buffer);
  return { data: p.data, width: p.width, height: p.height, format: p.format, rowBytes: p.rowBytes };
}

// One image, an embedding (a Float32Array passes as it is) or an array of images.
async function imagesFor(images, transfer) {
  if (images instanceof Float32Array) return images;
  if (!Array.isArray(images)) return pixelsOf(images, transfer);
  const out = [];
  for (const image of images) out.push(await pixelsOf(image, transfer));
  return out;
}

async function catalogFor(items, transfer, method) {
  if (!Array.isArray(items)) throw new VitrineError(`${method} expects an array`, 'InvalidArgument');
  const out = [];
  for (const item of items) out.push(item?.image ? { ...item, image: await pixelsOf(item.image, transfer) } : item);
  return out;
}

// A proxy class for one kind of task: every method of its TASK_METHODS entry, forwarded to the
// worker as a Promise (long calls relay progress and cancel there; images become pixels here).
function proxyClass(name, kind, label) {
  const Proxy = { [name]: class extends RemoteTask {
    constructor(connection, handle) {
      super(connection, handle, label);
    }
  } }[name];
  for (const [method, spec] of Object.entries(TASK_METHODS[kind])) {
    Proxy.prototype[method] = spec.long !== undefined
      ? function (...args) { return this._longCall(method, args, spec.long); }
      : async function (...args) {
        const transfer = [];
        const at = spec.images ?? spec.items;
        if (at !== undefined && args[at] !== undefined) {
          args[at] = spec.images !== undefined ? await imagesFor(args[at], transfer, method) : await catalogFor(args[at], transfer, method);
        }
        return this._callTransfer(method, args, transfer);
      };
  }
  return Proxy;
}

/** A Recommender living in a worker: the same methods, all returning Promises. */
export const RemoteRecommender = proxyClass('RemoteRecommender', 'recommender', 'recommender');
/** An ImageTagger living in a worker: the same methods, all returning Promises. */
export const RemoteImageTagger = proxyClass('RemoteImageTagger', 'tagger', 'tagger');
/** A ReviewAnalyzer living in a worker: the same methods, all returning Promises. */
export const RemoteReviewAnalyzer = proxyClass('RemoteReviewAnalyzer', 'reviews', 'review analyzer');

/** createReviewAnalyzer({ worker: true, ... }): a worker with its own runtime and one analyzer. */
export function createRemoteReviewAnalyzer(options) {
  return startRemote(options, 'createReviewAnalyzer', RemoteReviewAnalyzer);
}

/** createImageTagger({ worker: true, ... }): a worker with its own runtime and one tagger. */
export function createRemoteImageTagger(options) {
  return startRemote(options, 'createImageTagger', RemoteImageTagger);
}
