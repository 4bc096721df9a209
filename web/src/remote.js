// Tasks in a dedicated worker: `createRecommender({ ..., worker: true })` starts a worker (a module
// Web Worker in browsers, worker_threads under Node) with its own engine, and returns a proxy
// with the same methods as Recommender, each returning a Promise, so fold-in and ranking never
// block the page. Functions cannot cross to a worker: `filter` and custom storage objects are
// refused there (use `exclude`, `categories`, or the built-in storages); `onProgress` is relayed.
import { VitrineError } from './errors.js';
import { isNode } from './loader.js';
import { toPixelsAsync } from './image.js';

class WorkerConnection {
  static async start(runtimeOptions) {
    let worker;
    if (isNode) {
      const { Worker } = await import(/* @vite-ignore */ 'node:' + 'worker_threads');
      worker = new Worker(new URL('./worker.js', import.meta.url));
    } else {
      if (typeof Worker === 'undefined') throw new VitrineError('Web Workers are not available here', 'FailedPrecondition');
      // Written in the one form bundlers recognize, so they build the worker with its imports.
      worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    }
    const c = new WorkerConnection(worker);
    try {
      c.info = await c.request('init', [runtimeOptions]);
    } catch (e) {
      c.terminate();
      throw e;
    }
    return c;
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

  _call(method, ...args) {
    return this._callTransfer(method, args, []);
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

/** A Recommender living in a worker: the same methods, all returning Promises. */
export class RemoteRecommender extends RemoteTask {
  /** @internal */
  constructor(connection, handle) {
    super(connection, handle, 'recommender');
  }

  info() { return this._call('info'); }
  itemIds() { return this._call('itemIds'); }
  hasItem(id) { return this._call('hasItem', id); }
  observe(event) { return this._call('observe', event); }
  personalize() { return this._call('personalize'); }
  recommend(options = {}) { return this._call('recommend', options); }
  recommendFor(history, options = {}) { return this._call('recommendFor', history, options); }
  similarItems(id, k, options) { return this._call('similarItems', id, k, options); }
  exportState() { return this._call('exportState'); }
  importState(state) { return this._call('importState', state); }
  forget() { return this._call('forget'); }

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
  const c = await WorkerConnection.start({ variant, threads, limits });
  try {
    const { handle } = await c.request(op, [rest], onProgress);
    const task = new Proxy(c, handle);
    task.runtimeInfo = c.info;
    return task;
  } catch (e) {
    c.terminate();
    throw e;
  }
}

/** createRecommender({ worker: true, ... }): a worker with its own runtime and one recommender. */
export function createRemoteRecommender(options) {
  return startRemote(options, 'createRecommender', RemoteRecommender);
}

// Images become plain pixels on this thread (ImageBitmap, <img>, canvas, Blob, ImageData, raw).
// Pixels drawn here are fresh buffers and are transferred to the worker; the caller's own arrays
// are copied (structured clone), never detached. `transfer` collects what can move.
async function pixelsFor(images, transfer) {
  const list = Array.isArray(images) ? images : [images];
  const out = [];
  for (const image of list) {
    const p = await toPixelsAsync(image);
    if (p.owned) transfer.push(p.data.buffer);
    out.push({ data: p.data, width: p.width, height: p.height, format: p.format, rowBytes: p.rowBytes });
  }
  return out;
}

/** An ImageTagger living in a worker: the same methods, all returning Promises. */
export class RemoteImageTagger extends RemoteTask {
  /** @internal */
  constructor(connection, handle) {
    super(connection, handle, 'tagger');
  }

  info() { return this._call('info'); }
  async tag(image, options = {}) { return this._withPixels('tag', image, true, options); }
  async tagBatch(images, options = {}) { return this._withPixels('tagBatch', images, false, options); }
  async embed(image, options = {}) { return this._withPixels('embed', image, true, options); }
  async embedBatch(images, options = {}) { return this._withPixels('embedBatch', images, false, options); }
  async addToCatalog(items) {
    if (!Array.isArray(items)) throw new VitrineError('addToCatalog expects an array', 'InvalidArgument');
    const plain = [], transfer = [];
    for (const item of items) plain.push(item?.image ? { ...item, image: (await pixelsFor(item.image, transfer))[0] } : item);
    return this._callTransfer('addToCatalog', [plain], transfer);
  }
  removeFromCatalog(id) { return this._call('removeFromCatalog', id); }
  async similar(imageOrEmbedding, k, options = {}) {
    if (imageOrEmbedding instanceof Float32Array) return this._call('similar', imageOrEmbedding, k, options);
    const transfer = [];
    const q = (await pixelsFor(imageOrEmbedding, transfer))[0];
    return this._callTransfer('similar', [q, k, options], transfer);
  }
  async learn(images, tag) {
    const transfer = [];
    return this._callTransfer('learn', [await pixelsFor(images, transfer), tag], transfer);
  }

  async _withPixels(method, images, single, options) {
    const transfer = [];
    const pixels = await pixelsFor(images, transfer);
    return this._callTransfer(method, [single ? pixels[0] : pixels, options], transfer);
  }
  forgetTag(tag) { return this._call('forgetTag', tag); }
  classifyEmbeddings(embeddings, options = {}) { return this._call('classifyEmbeddings', embeddings, options); }
  exportHead() { return this._call('exportHead'); }
  importHead(bytes) { return this._call('importHead', bytes); }
  exportState() { return this._call('exportState'); }
  importState(state) { return this._call('importState', state); }
  forget() { return this._call('forget'); }

  /** train() in the worker: onProgress is relayed, options.signal cancels it there. */
  train(options = {}) { return this._longCall('train', [options], 0); }
}

/** A ReviewAnalyzer living in a worker: the same methods, all returning Promises. */
export class RemoteReviewAnalyzer extends RemoteTask {
  /** @internal */
  constructor(connection, handle) {
    super(connection, handle, 'review analyzer');
  }

  info() { return this._call('info'); }
  analyze(text, options = {}) { return this._call('analyze', text, options); }
  analyzeBatch(texts, options = {}) { return this._call('analyzeBatch', texts, options); }
  /** onProgress is relayed from the worker; signal cancels there. */
  summarize(texts, options = {}) { return this._longCall('summarize', [texts, options], 1); }
  fineTune(examples, options = {}) { return this._longCall('fineTune', [examples, options], 1); }
  exportModel() { return this._call('exportModel'); }
}

/** createReviewAnalyzer({ worker: true, ... }): a worker with its own runtime and one analyzer. */
export function createRemoteReviewAnalyzer(options) {
  return startRemote(options, 'createReviewAnalyzer', RemoteReviewAnalyzer);
}

/** createImageTagger({ worker: true, ... }): a worker with its own runtime and one tagger. */
export function createRemoteImageTagger(options) {
  return startRemote(options, 'createImageTagger', RemoteImageTagger);
}
