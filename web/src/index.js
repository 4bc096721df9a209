// Vitrine: on-device recommendation, image and review models in WebAssembly.
//
//   import { init, runtimeInfo, createDenseLayer } from 'vitrine';
//   await init();                       // picks simd-threads or simd, reports progress
//   console.log(runtimeInfo());         // { variant: 'simd-threads', threads: 2, ... }
//
// Several runtimes can live side by side (createRuntime), e.g. to compare variants; the top-level
// functions use the default runtime that init() creates.
import { check, VitrineError } from './errors.js';
import { isNode, loadModule, simdSupported, threadSupport } from './loader.js';
import { DenseLayer } from './dense.js';
import { Model, readModelBytes, readTfjsModel, modelRegistry } from './model.js';
import { createRecommenderOn, Recommender, DEFAULT_EVENT_WEIGHTS } from './recommend.js';
import { createRemoteRecommender, createRemoteImageTagger, createRemoteReviewAnalyzer, RemoteRecommender, RemoteImageTagger,
         RemoteReviewAnalyzer } from './remote.js';
import { createImageTaggerOn, ImageTagger, DEFAULT_TAGGER_MODEL } from './tag.js';
import { toPixels, toPixelsAsync } from './image.js';
import { TRUSTED_TYPES_POLICY } from './trusted.js';
import { requestPersistentStorage } from './storage.js';
import { FramedRecommender, FRAME_METHODS } from './frame.js';
import { createReviewAnalyzerOn, ReviewAnalyzer, DEFAULT_REVIEW_MODEL, DEFAULT_ASPECTS } from './review.js';

export { VitrineError, simdSupported, threadSupport, Recommender, RemoteRecommender, DEFAULT_EVENT_WEIGHTS,
         ImageTagger, RemoteImageTagger, DEFAULT_TAGGER_MODEL, toPixels, toPixelsAsync,
         ReviewAnalyzer, RemoteReviewAnalyzer, DEFAULT_REVIEW_MODEL, DEFAULT_ASPECTS, modelRegistry, TRUSTED_TYPES_POLICY,
         requestPersistentStorage, FramedRecommender, FRAME_METHODS };

/** One loaded engine (one wasm instance, one thread pool). */
export class Runtime {
  /** @internal use createRuntime() */
  constructor(loaded) {
    this._module = loaded.module;
    this._variant = loaded.variant;
    this._reason = loaded.reason;
    this._disposed = false;
    this._module.setMaxThreads(loaded.maxThreads);
    this.setThreads(loaded.maxThreads);
  }

  /** @returns {{ variant: string, threads: number, maxThreads: number, threadsSupported: boolean,
   *              simd: boolean, reason: string, crossOriginIsolated: boolean }} */
  info() {
    this._alive();
    const info = this._module.runtimeInfo();
    return {
      variant: info.variant,
      threads: info.threads,
      maxThreads: info.maxThreads,
      threadsSupported: info.threadsSupported,
      simd: info.simd,
      reason: this._reason,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      memoryBytes: this._module.HEAPU8.length,
      limits: this._module.limits(),
    };
  }

  /**
   * Raises or lowers resource limits: { maxTensorElements, maxTotalBytes, maxNodes, maxAttributes,
   * maxMetadataKeys, maxHeaderBytes, maxImagePixels } (any of them; positive integers). A model,
   * image or file beyond a limit fails with a ResourceExhausted VitrineError naming it; the
   * defaults are in info().limits.
   */
  setLimits(limits) {
    this._alive();
    check(this._module.setLimits(limits), () => this._module.lastError());
  }

  /** Sets the number of threads kernels use (1 .. info().maxThreads). */
  setThreads(n) {
    this._alive();
    if (!Number.isInteger(n)) throw new VitrineError(`threads must be an integer, got ${n}`, 'InvalidArgument');
    check(this._module.setNumThreads(n), () => this._module.lastError());
  }

  /**
   * A dense (fully connected) layer y = x · Wᵀ + b on this runtime.
   * @param {{ inFeatures: number, outFeatures: number, weights?: Float32Array|number[],
   *           bias?: Float32Array|number[] }} options
   */
  createDenseLayer(options) {
    this._alive();
    return new DenseLayer(this._module, options);
  }

  /**
   * Loads a model: ONNX or a Vitrine model file from a URL, a file path (Node), an ArrayBuffer or a
   * Uint8Array; or a TensorFlow.js graph model as { format: 'tfjs-graph', url | path } of its
   * model.json (weight shards read from its folder; maxBytes bounds all files together).
   * integrity: 'sha256-<base64>' (Subresource Integrity form) to check the bytes (DataLoss on a
   * mismatch); maxBytes: the largest download or file accepted (default 256 MiB; ResourceExhausted);
   * inputShapes: { name: [d0, d1, ...] } for ONNX inputs with symbolic dimensions (a sequence
   * length, an image size), fixed for this Model.
   * @param {string|URL|ArrayBuffer|ArrayBufferView|{format: 'tfjs-graph', url?: string|URL, path?: string}} source
   * @param {{ onProgress?: (p: {stage: string, loaded: number, total: number}) => void, integrity?: string,
   *           maxBytes?: number, inputShapes?: Record<string, number[]> }} [options]
   * @returns {Promise<Model>}
   */
  async loadModel(source, options = {}) {
    this._alive();
    if (source && typeof source === 'object' && !ArrayBuffer.isView(source) && !(source instanceof ArrayBuffer) &&
        !(source instanceof URL)) {
      if (source.format !== 'tfjs-graph') {
        throw new VitrineError(`loadModel: a model described by an object needs format: 'tfjs-graph', got ${JSON.stringify(source.format)}`, 'InvalidArgument');
      }
      const { text, weights } = await readTfjsModel(source, { onProgress: options.onProgress, maxModelBytes: options.maxBytes });
      this._alive();
      return new Model(this._module, { tfjsGraph: text, weights }, options.inputShapes);
    }
    const bytes = await readModelBytes(source, options);
    this._alive();
    return new Model(this._module, bytes, options.inputShapes);
  }

  /**
   * A recommender on this runtime (see createRecommender).
   * @returns {Promise<Recommender>}
   */
  async createRecommender(options) {
    this._alive();
    return createRecommenderOn(this, options);
  }

  /**
   * An image tagger on this runtime (see createImageTagger).
   * @returns {Promise<ImageTagger>}
   */
  async createImageTagger(options = {}) {
    this._alive();
    return createImageTaggerOn(this, options);
  }

  /**
   * A review analyzer on this runtime (see createReviewAnalyzer).
   * @returns {Promise<ReviewAnalyzer>}
   */
  async createReviewAnalyzer(options = {}) {
    this._alive();
    return createReviewAnalyzerOn(this, options);
  }

  /** Releases the runtime; under Node its worker threads stop. */
  dispose() {
    if (this._disposed) return;
    this._disposed = true;
    this._module.vitrineTerminateThreads();
    this._module = null;
  }

  _alive() {
    if (this._disposed) throw new VitrineError('runtime was disposed', 'FailedPrecondition');
  }
}

/**
 * Loads an engine instance. limits: see Runtime.setLimits().
 * @param {{ variant?: 'auto'|'simd'|'simd-threads', threads?: number, limits?: Record<string, number>,
 *           onProgress?: (p: {stage: string, loaded: number, total: number}) => void }} [options]
 */
export async function createRuntime(options = {}) {
  const runtime = new Runtime(await loadModule(options));
  if (options.limits !== undefined) {
    try {
      runtime.setLimits(options.limits);
    } catch (e) {
      runtime.dispose();
      throw e;
    }
  }
  return runtime;
}

let defaultRuntime = null;
let defaultLoading = null;

/** Creates the default runtime once (later calls return the same one). */
export async function init(options = {}) {
  if (defaultRuntime) return defaultRuntime;
  if (!defaultLoading) {
    defaultLoading = createRuntime(options).then(
      (rt) => { defaultRuntime = rt; return rt; },
      (e) => { defaultLoading = null; throw e; });
  }
  return defaultLoading;
}

function requireDefault() {
  if (!defaultRuntime) throw new VitrineError('call `await init()` first', 'FailedPrecondition');
  return defaultRuntime;
}

/** Which variant runs, on how many threads, and why. Needs init(). */
export function runtimeInfo() {
  return requireDefault().info();
}

/** Sets the default runtime's thread count. */
export function setThreads(n) {
  requireDefault().setThreads(n);
}

/** Loads a model on the default runtime (see Runtime.loadModel). */
export async function loadModel(source, options) {
  return (await init()).loadModel(source, options);
}

/** A dense layer on the default runtime (see Runtime.createDenseLayer). */
export async function createDenseLayer(options) {
  return (await init()).createDenseLayer(options);
}

/**
 * Loads a recommender model file and the shopper's saved state (see web/src/recommend.js).
 * @param {{ model: string|URL|ArrayBuffer|Uint8Array, storage?: any, userKey?: string,
 *           precision?: 'f32'|'f16'|'int8', eventWeights?: Record<string, number>, maxEvents?: number,
 *           catalog?: { id: string, categories?: string[], inStock?: boolean }[],
 *           runtime?: Runtime, onProgress?: (p: {stage: string, loaded: number, total: number}) => void,
 *           worker?: boolean, variant?: string, threads?: number }} options
 *   In browsers the engine runs in a dedicated worker by default (its own runtime: variant,
 *   threads) and this returns a RemoteRecommender whose methods return Promises (see remote.js);
 *   worker: false (or a runtime, or options that cannot cross to a worker) keeps it in this thread.
 *   In Node it runs in this thread unless worker: true.
 * @returns {Promise<Recommender|RemoteRecommender>}
 */
// Whether a task runs in a worker: `worker` when given; otherwise yes in browsers (the page's thread
// never blocks), unless a runtime is given or an option cannot be sent to a worker (a function, a
// custom storage object); in Node, no.
function inWorker(options) {
  if (options?.worker !== undefined) return Boolean(options.worker);
  if (isNode || typeof Worker === 'undefined' || options?.runtime) return false;
  const cloneable = (v) => typeof v !== 'function' &&
    (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof URL ||
     Object.values(v).every(cloneable));
  const { onProgress: _p, ...rest } = options ?? {};
  return cloneable(rest);
}

export async function createRecommender(options = {}) {
  if (options?.frame !== undefined) return FramedRecommender.start(options);
  if (inWorker(options)) return createRemoteRecommender(options);
  if (options?.runtime) return options.runtime.createRecommender(options);
  return createRecommenderOn(init(), options);  // the model is read while the default engine starts
}

/**
 * Loads an image tagger: the shipped Fashion-MNIST tagger by default (models/tagger/), or your own
 * model (a Vitrine tagger file, an ONNX CNN or a TF.js layers model plus a description).
 * @param {{ model?: string|URL|ArrayBuffer|Uint8Array|{format: 'tfjs-layers', url?: string, path?: string, outputLayer?: string},
 *           description?: object, fit?: 'letterbox'|'crop'|'stretch', invert?: 'auto'|'never'|'always',
 *           storage?: 'auto'|'memory'|object, userKey?: string, runtime?: Runtime,
 *           onProgress?: (p: {stage: string, loaded: number, total: number}) => void,
 *           worker?: boolean, variant?: string, threads?: number }} options
 *   In browsers it runs in a dedicated worker by default (worker: false keeps it here) and returns a
 *   RemoteImageTagger (same methods,
 *   Promises; images are converted to pixels on the calling thread and transferred).
 * @returns {Promise<ImageTagger|RemoteImageTagger>}
 */
export async function createImageTagger(options = {}) {
  if (inWorker(options)) return createRemoteImageTagger(options);
  if (options?.runtime) return options.runtime.createImageTagger(options);
  return createImageTaggerOn(init(), options);  // the model is read while the default engine starts
}

/**
 * Loads a review analyzer: the shipped Amazon Fine Food model by default (models/reviews/).
 * @param {{ model?: string|URL|ArrayBuffer|Uint8Array, aspects?: Record<string, string[]>, maxBytes?: number,
 *           runtime?: Runtime, onProgress?: (p: {stage: string, loaded: number, total: number}) => void,
 *           worker?: boolean, variant?: string, threads?: number }} options
 *   In browsers it runs in a dedicated worker by default (RemoteReviewAnalyzer: the same methods as
 *   Promises); worker: false keeps it in this thread. In Node: this thread unless worker: true.
 * @returns {Promise<ReviewAnalyzer|RemoteReviewAnalyzer>}
 */
export async function createReviewAnalyzer(options = {}) {
  if (inWorker(options)) return createRemoteReviewAnalyzer(options);
  if (options?.runtime) return options.runtime.createReviewAnalyzer(options);
  return createReviewAnalyzerOn(init(), options);  // the model is read while the default engine starts
}
