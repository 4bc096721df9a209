// Product-image tagging on the device: tags (classes + coarse groups + the store's own few-shot
// tags), image embeddings and similar products. Photos never leave the page.
//
//   const tagger = await createImageTagger();                  // shipped Fashion-MNIST tagger
//   await tagger.tag(imageData, { topK: 3 });                  // [{ label, score, type }]
//   await tagger.learn(photosOfVintageItems, 'vintage');       // a few examples per tag ...
//   await tagger.learn(photosOfOtherItems, 'modern');
//   await tagger.train({ onProgress });                        // ... a new head, trained here
//   tagger.exportHead();                                       // Uint8Array (a Vitrine model file)
import { EngineObject, engineOf } from './handle.js';
import { check, VitrineError } from './errors.js';
import { isNode } from './loader.js';
import { DEFAULT_MAX_MODEL_BYTES, modelReadOptions, readModelBytes, readRegisteredModel, readTfjsModel, registeredModelTerms, shippedModelUrl } from './model.js';
import { toPixelsAsync } from './image.js';
import { openStorage, StateWriter } from './storage.js';

/** The shipped default tagger (models/tagger/, model card there). */
export const DEFAULT_TAGGER_MODEL = shippedModelUrl('tagger/fashion-mnist.safetensors');
const STATE_VERSION = 1;
const FITS = new Set(['letterbox', 'crop', 'stretch']);
const INVERTS = new Set(['auto', 'never', 'always']);

function fail(message, code = 'InvalidArgument') {
  throw new VitrineError(message, code);
}

const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

function toBase64(bytes) {
  if (isNode) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text) {
  if (isNode) return new Uint8Array(Buffer.from(text, 'base64'));
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export class ImageTagger extends EngineObject {
  /** @internal use createImageTagger() */
  constructor(module, load, options, storage, saved) {
    super('tagger');
    this._fit = options.fit ?? 'letterbox';
    this._invert = options.invert ?? 'auto';
    if (!FITS.has(this._fit)) fail(`fit must be one of ${[...FITS].join(', ')}, got ${this._fit}`);
    if (!INVERTS.has(this._invert)) fail(`invert must be one of ${[...INVERTS].join(', ')}, got ${this._invert}`);
    this._writer = new StateWriter(storage);
    this._examples = new Map();  // tag -> Float32Array[] (embeddings)
    this._catalog = new Map();   // id -> metadata given to addToCatalog
    this._training = false;
    this._handle = new module.TaggerHandle();
    try {
      load(this._handle);
      this._info = this._handle.info();
      if (saved) this._restore(saved);
    } catch (e) {
      this._release();
      throw e;
    }
  }

  /** { input, labels, groups, embeddingDim, customTags, examples, catalog } */
  async info() {
    const h = this._live();
    const examples = {};
    for (const [tag, list] of this._examples) examples[tag] = list.length;
    return { ...this._info, customTags: Array.from(h.headTags()), examples, catalog: h.indexSize(), shippedModel: this._shippedModel ?? null };
  }

  /**
   * Tags one image: the model's classes (top k), its coarse groups (multi-label) and the store's
   * own tags once train() ran, best first, each with score >= threshold.
   * @returns {Promise<{label: string, score: number, type: 'class'|'group'|'custom'}[]>}
   */
  async tag(image, options = {}) {
    const [tags] = await this.tagBatch([image], options);
    return tags;
  }

  /** tag() for several images at once (one engine call). */
  async tagBatch(images, options = {}) {
    const pixels = await this._pixelsOf(images);
    const h = this._live();
    this._setPixels(h, pixels, options);
    return this._tags(h.tag({ topK: options.topK ?? 3, threshold: options.threshold ?? 0 }));
  }

  /** The image's embedding (the model's penultimate layer). @returns {Promise<Float32Array>} */
  async embed(image, options = {}) {
    const [e] = await this.embedBatch([image], options);
    return e;
  }

  /** @returns {Promise<Float32Array[]>} */
  async embedBatch(images, options = {}) {
    const pixels = await this._pixelsOf(images);
    const h = this._live();
    if (!(this._info.embeddingDim > 0)) fail('this model has no embedding output', 'FailedPrecondition');
    this._runPixels(h, pixels, options);
    const all = h.embeddings(), d = this._info.embeddingDim;
    return pixels.map((_, i) => all.slice(i * d, (i + 1) * d));
  }

  /**
   * The store's own tags (after train()) for embeddings you kept from embed(): best first per
   * embedding. @returns {{label: string, score: number, type: 'custom'}[][]}
   */
  async classifyEmbeddings(embeddings, options = {}) {
    if (!Array.isArray(embeddings) || embeddings.length === 0) fail('expected a non-empty array of Float32Array embeddings');
    const h = this._live();
    const d = this._info.embeddingDim;
    const x = new Float32Array(embeddings.length * d);
    embeddings.forEach((e, i) => {
      if (!(e instanceof Float32Array) || e.length !== d) fail(`embedding ${i} must be a Float32Array of ${d} values`);
      x.set(e, i * d);
    });
    return this._tags(h.headClassify(x, embeddings.length, { topK: options.topK ?? 3 }));
  }

  _tags(list) {
    if (list === null) this._check(this._handle.lastCode());
    return list;
  }

  /**
   * Adds products to the similar-image catalogue: [{ id, image } | { id, embedding }]. Kept in
   * memory (re-add after a reload, or keep the embeddings yourself: they are plain Float32Arrays).
   */
  async addToCatalog(items) {
    if (!Array.isArray(items)) fail('addToCatalog expects an array of { id, image } or { id, embedding }');
    const h = this._live();
    for (const item of items) {
      if (!item || typeof item.id !== 'string' || item.id === '') fail('catalogue items need a non-empty string id');
      const e = item.embedding ?? (await this.embed(item.image));
      if (!(e instanceof Float32Array)) fail(`catalogue item '${item.id}': embedding must be a Float32Array`);
      this._check(h.indexAdd(item.id, e));
      this._catalog.set(item.id, true);
    }
    return h.indexSize();
  }

  async removeFromCatalog(id) {
    this._check(this._live().indexRemove(id));
  }

  /**
   * The k catalogue products most similar to an image (or an embedding), best first.
   * @returns {Promise<{id: string, score: number}[]>}
   */
  async similar(imageOrEmbedding, k = 5, options = {}) {
    if (!(Number.isInteger(k) && k >= 1)) fail(`k must be a positive integer, got ${k}`);
    const h = this._live();
    if (h.indexSize() === 0) fail('the catalogue is empty: addToCatalog() first', 'FailedPrecondition');
    const q = imageOrEmbedding instanceof Float32Array ? imageOrEmbedding : await this.embed(imageOrEmbedding, options);
    this._check(h.indexSearch(q, k, options.exclude ?? ''));
    const ids = h.foundIds(), scores = h.foundScores();
    return Array.from(ids, (id, i) => ({ id, score: scores[i] }));
  }

  /**
   * Stores examples of a tag (their embeddings, persisted with the store's state). Call train()
   * afterwards. @returns {Promise<number>} the tag's example count
   */
  async learn(images, tag) {
    if (typeof tag !== 'string' || tag.trim() === '') fail('learn(images, tag): tag must be a non-empty string');
    const list = Array.isArray(images) ? images : [images];
    if (list.length === 0) fail('learn(images, tag): no images');
    const embeddings = await this.embedBatch(list);
    const current = this._examples.get(tag) ?? [];
    this._examples.set(tag, current.concat(embeddings));
    await this._persist();
    return this._examples.get(tag).length;
  }

  /** Forgets one learned tag's examples (train() again to update the head). */
  async forgetTag(tag) {
    if (!this._examples.delete(tag)) fail(`no examples for tag '${tag}'`, 'NotFound');
    await this._persist();
  }

  /**
   * Trains the few-shot head on the learned examples (softmax over the learned tags, full-batch
   * Adam), yielding to the event loop between chunks of steps.
   * @param {{ steps?: number, learningRate?: number, weightDecay?: number,
   *           onProgress?: (p: {step: number, steps: number, loss: number}) => void, signal?: AbortSignal }} options
   * @returns {Promise<{ tags: string[], examples: number, steps: number, loss: number, ms: number }>}
   */
  async train(options = {}) {
    const steps = options.steps ?? 150, lr = options.learningRate ?? 0.01, wd = options.weightDecay ?? 1e-3;
    if (!(Number.isInteger(steps) && steps >= 1 && steps <= 100000)) fail(`steps must be an integer in [1, 100000], got ${steps}`);
    if (!(lr > 0 && Number.isFinite(lr))) fail(`learningRate must be > 0, got ${lr}`);
    if (!(wd >= 0 && Number.isFinite(wd))) fail(`weightDecay must be >= 0, got ${wd}`);
    if (options.onProgress !== undefined && typeof options.onProgress !== 'function') fail('onProgress must be a function');
    const h = this._live();
    if (this._training) fail('train() is already running', 'FailedPrecondition');
    const tags = [...this._examples.keys()];
    if (tags.length < 2) fail(`train() needs examples of at least two tags (have ${tags.length}): learn() more`, 'FailedPrecondition');
    const d = this._info.embeddingDim;
    const n = tags.reduce((s, t) => s + this._examples.get(t).length, 0);
    const x = new Float32Array(n * d), labels = new Int32Array(n);
    let row = 0;
    tags.forEach((t, label) => {
      for (const e of this._examples.get(t)) {
        x.set(e, row * d);
        labels[row++] = label;
      }
    });
    const t0 = performance.now();
    this._training = true;
    try {
      this._check(h.headBegin(x, n, labels, tags, steps, lr, wd));
      for (let done = 0; done < steps;) {
        if (options.signal?.aborted) {
          h.headCancel();
          fail('head training was cancelled', 'Cancelled');
        }
        const chunk = Math.min(10, steps - done);
        this._check(h.headStep(chunk));
        done += chunk;
        options.onProgress?.({ step: done, steps, loss: h.headLoss() });
        if (done < steps) await yieldToEventLoop();
      }
      this._check(h.headFinish());
    } finally {
      this._training = false;
    }
    const loss = h.headLoss();
    this._head = h.headSave();
    await this._persist();
    return { tags, examples: n, steps, loss, ms: performance.now() - t0 };
  }

  /** The trained head as a Vitrine model file (Uint8Array), or null before train(). */
  async exportHead() {
    this._live();
    return this._head ? this._head.slice() : null;
  }

  /** Installs a head exported by exportHead() (here or on another device); persisted. */
  async importHead(bytes) {
    const h = this._live();
    if (!(bytes instanceof Uint8Array)) fail('importHead expects a Uint8Array');
    this._check(h.headLoad(bytes));
    this._head = bytes.slice();
    await this._persist();
  }

  /** The store's learned state (examples and head) as a plain, JSON-safe object. */
  async exportState() {
    return this._snapshot();
  }

  _snapshot() {
    this._live();
    const examples = {};
    for (const [tag, list] of this._examples) examples[tag] = list.map((e) => toBase64(new Uint8Array(e.buffer, e.byteOffset, e.byteLength)));
    return { version: STATE_VERSION, embeddingDim: this._info.embeddingDim, examples, head: this._head ? toBase64(this._head) : null };
  }

  async importState(state) {
    this._live();
    this._restore(state);
    await this._persist();
  }

  /** Erases the learned tags, the head and the stored state. */
  async forget() {
    const h = this._live();
    this._examples.clear();
    this._head = null;
    h.headClear();
    await this._writer.clear();
  }

  async dispose() {
    const h = this._handle;
    if (!h) return;
    this._handle = null;  // at once: a second dispose() or a late call sees it disposed
    await this._writer.idle();
    h.delete();
  }

  _restore(state) {
    if (!state || state.version !== STATE_VERSION || typeof state.examples !== 'object') fail('unreadable tagger state', 'DataLoss');
    if (state.embeddingDim !== this._info.embeddingDim) {
      fail(`the state was learned with ${state.embeddingDim}-d embeddings, this model makes ${this._info.embeddingDim}`, 'DataLoss');
    }
    const examples = new Map();
    for (const [tag, list] of Object.entries(state.examples)) {
      if (!Array.isArray(list)) fail(`tagger state: examples of '${tag}' are not a list`, 'DataLoss');
      examples.set(tag, list.map((b64) => {
        const bytes = fromBase64(b64);
        if (bytes.length !== this._info.embeddingDim * 4) fail(`tagger state: a '${tag}' example has the wrong size`, 'DataLoss');
        return new Float32Array(bytes.buffer, bytes.byteOffset, this._info.embeddingDim).slice();
      }));
    }
    const h = this._live();
    if (state.head) {
      const head = fromBase64(state.head);
      this._check(h.headLoad(head));
      this._head = head;
    } else {
      h.headClear();
      this._head = null;
    }
    this._examples = examples;
  }

  async _pixelsOf(images) {
    if (!Array.isArray(images) || images.length === 0) fail('expected a non-empty array of images');
    const out = [];
    for (const image of images) out.push(await toPixelsAsync(image));
    return out;
  }

  _setPixels(h, pixels, options) {
    const fit = options.fit ?? this._fit, invert = options.invert ?? this._invert;
    this._check(h.beginBatch(pixels.length));
    pixels.forEach((p, i) => this._check(h.setImage(i, p.data, p.width, p.height, p.format, p.rowBytes, fit, invert)));
  }

  _runPixels(h, pixels, options) {
    this._setPixels(h, pixels, options);
    this._check(h.run());
  }

  _persist() {
    const snapshot = this._snapshot();
    return this._writer.save(snapshot);
  }
}


/**
 * Loads a tagger. options.model: a Vitrine tagger file (default: the shipped Fashion-MNIST model),
 * an ONNX file, or { format: 'tfjs-layers', url | path, outputLayer }; options.description
 * describes a foreign model ({ input: { height, width, channels, mean, std, layout, background },
 * labels?, groups?, outputs: { logits | probabilities | embedding: name } }).
 * @param {object|Promise<object>} runtime a Runtime (index.js), or a promise of one (see createRecommenderOn)
 */
export async function createImageTaggerOn(runtime, options = {}) {
  const ready = engineOf(runtime);
  if (options === null || typeof options !== 'object') fail('options must be an object');
  if (options.worker) fail('worker: true is for createImageTagger(); a runtime\'s taggers run on its own thread');
  const model = options.model;
  const description = options.description === undefined ? '' : JSON.stringify(options.description);
  if (options.description !== undefined && (options.description === null || typeof options.description !== 'object')) {
    fail('description must be an object');
  }
  let load;
  if (model && typeof model === 'object' && model.format === 'tfjs-layers') {
    if (!description) fail('a tfjs-layers model needs a description (input size, normalization, outputs)');
    const { text, weights } = await readTfjsModel(model, options);
    load = (h) => check(h.loadKeras(text, weights, model.outputLayer ?? '', description), () => h.lastError());
  } else {
    const bytes = model === undefined ? await readRegisteredModel('tagger/fashion-mnist', options.onProgress)
                                      : await readModelBytes(model, modelReadOptions(options));
    load = (h) => check(h.load(bytes, description), () => h.lastError());
  }
  const storage = await openStorage(options.storage ?? (isNode ? 'memory' : 'auto'), 'tagger', options.userKey ?? 'tagger');
  let saved = null;
  try {
    saved = await storage.load();
  } catch (e) {
    if (e instanceof VitrineError && e.code === 'FailedPrecondition') throw e;  // another task's or shopper's state
    saved = null;  // unreadable: start empty
  }
  options.onProgress?.({ stage: 'state', loaded: saved ? 1 : 0, total: 1 });
  const shipped = model === undefined ? await registeredModelTerms('tagger/fashion-mnist') : null;
  const module = (await ready)._module;
  let tagger;
  try {
    tagger = new ImageTagger(module, load, options, storage, saved);
  } catch (e) {
    if (!(saved && e instanceof VitrineError && e.code === 'DataLoss')) throw e;
    tagger = new ImageTagger(module, load, options, storage, null);  // unreadable state: start empty
  }
  tagger._shippedModel = shipped;
  return tagger;
}
