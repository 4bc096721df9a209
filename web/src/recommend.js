// Personalized recommendations on the device: the shopper's events stay in their browser (or Node
// process); the engine folds them into a user vector and ranks the catalogue.
//
//   const rec = await createRecommender({ model: '/models/movielens-dae.safetensors',
//                                         storage: 'auto', onProgress });
//   await rec.observe({ item: '318', type: 'view' });
//   const top = rec.recommend({ k: 10, diversity: 0.3 });  // [{ id, score, because }]
import { check, VitrineError } from './errors.js';
import { isNode } from './loader.js';
import { modelReadOptions, readModelBytes, readRegisteredModel } from './model.js';
import { openStorage, StateWriter } from './storage.js';

/** Default weight of each event type (the model sees the largest weight per item). */
export const DEFAULT_EVENT_WEIGHTS = Object.freeze({ view: 1, click: 1, rate: 1, cart: 2, wishlist: 2, purchase: 3 });
const STATE_VERSION = 1;

function fail(message, code = 'InvalidArgument') {
  throw new VitrineError(message, code);
}

export class Recommender {
  /** @internal use createRecommender() */
  constructor(module, bytes, options, storage, saved) {
    // Options first: nothing is allocated in the engine until they are valid.
    this._weights = { ...DEFAULT_EVENT_WEIGHTS, ...(options.eventWeights ?? {}) };
    for (const [type, w] of Object.entries(this._weights)) {
      if (!(Number.isFinite(w) && w > 0)) fail(`eventWeights.${type} must be a finite number > 0, got ${w}`);
    }
    this._maxEvents = options.maxEvents ?? 1000;
    if (!(Number.isInteger(this._maxEvents) && this._maxEvents > 0)) fail(`maxEvents must be a positive integer, got ${options.maxEvents}`);
    this._catalog = indexCatalog(options.catalog);
    this._events = [];
    this._dormant = [];  // saved events of items this model lacks: kept and saved, not used for ranking
    this._dropped = 0;
    this._dirty = true;
    this._writer = new StateWriter(storage);
    this._observing = Promise.resolve();
    this._module = module;
    this._handle = new module.RecommenderHandle();
    try {
      const precision = options.precision ?? 'f32';
      this._check(this._handle.load(bytes, precision));
      this.precision = precision;
      if (saved) {
        try {
          this._restore(saved);
        } catch {
          this._dropped = Array.isArray(saved?.events) ? saved.events.length : 1;  // unreadable: start empty, count it
        }
      }
    } catch (e) {
      this._handle.delete();
      this._handle = null;
      throw e;
    }
  }

  /** { kind, items, dim, bytes, precision, events } */
  info() {
    const h = this._live();
    return { kind: h.kind(), items: h.numItems(), dim: h.dim(), bytes: h.bytes(), precision: this.precision,
             events: this._events.length, dormantEvents: this._dormant.length, droppedOnLoad: this._dropped };
  }

  /** Every item id of the model, in the model's order. */
  itemIds() {
    const h = this._live();
    return this._allIds(h).slice();
  }

  _allIds(h) {
    if (!this._ids) this._ids = Array.from({ length: h.numItems() }, (_, i) => h.itemId(i));
    return this._ids;
  }

  /** Whether the model knows this item id. */
  hasItem(id) {
    const h = this._live();
    return typeof id === 'string' && h.findItem(id) >= 0;
  }

  /**
   * Records one shopper event and persists it before resolving (so a reload or crash loses
   * nothing that was acknowledged).
   * @param {{ item: string, type?: string, weight?: number, time?: number }} event
   */
  async observe(event) {
    this._live();
    const e = this._validate(event);
    // One observe at a time: each save holds exactly the acknowledged events plus this one, so a
    // failed save takes back only its own event and never one that another call acknowledged.
    const record = async () => {
      this._events.push(e);
      const evicted = this._events.length > this._maxEvents ? this._events.splice(0, this._events.length - this._maxEvents) : [];
      this._dirty = true;
      try {
        await this._persist();
      } catch (err) {
        const at = this._events.lastIndexOf(e);  // not stored, so not recorded: a retry records it once
        if (at >= 0) {  // (unless forget() or importState() replaced the events meanwhile)
          this._events.splice(at, 1);
          this._events.unshift(...evicted);
        }
        throw err;
      }
      return this._events.length;
    };
    const done = this._observing.then(record, record);
    this._observing = done.catch(() => {});
    return done;
  }

  /** Folds the recorded events into the user vector now (recommend() does it when needed). */
  personalize() {
    const h = this._live();
    const t0 = now();
    const { items, weights } = this._history(this._events);
    this._check(h.foldIn(items, weights));
    this._dirty = false;
    return { events: this._events.length, ms: now() - t0 };
  }

  /**
   * The k best items for the shopper.
   * @param {{ k?: number, exclude?: string[], excludeSeen?: boolean, filter?: (id: string) => boolean,
   *           categories?: string[], diversity?: number, explain?: boolean }} [options]
   * @returns {{ id: string, score: number, because?: { id: string, similarity: number } }[]}
   */
  recommend(options = {}) {
    const h = this._live();
    if (this._dirty) this.personalize();
    return this._rank(h, this._events, options);
  }

  /**
   * Ranks for a given history without touching the shopper's state (what-if, evaluation).
   * @param {(string | { item: string, type?: string, weight?: number })[]} history oldest first
   */
  recommendFor(history, options = {}) {
    const h = this._live();
    if (!Array.isArray(history)) fail('history must be an array of item ids or events');
    const events = history.map((e) => this._validate(typeof e === 'string' ? { item: e } : e));
    const { items, weights } = this._history(events);
    this._check(h.foldIn(items, weights));
    this._dirty = true;  // the handle now holds this history's vector, not the shopper's
    return this._rank(h, events, options);
  }

  /** The k items most similar to `id` (cosine of the model's item vectors). */
  similarItems(id, k = 10, options = {}) {
    const h = this._live();
    const index = this._index(id);
    const mask = this._mask(h, new Int32Array(0), { ...options, excludeSeen: false });
    this._check(h.similar(index, Math.min(checkK(k), h.numItems()), mask));
    return this._results(h, null);
  }

  /**
   * The shopper's state as plain JSON (events only; the model is not part of it), oldest first.
   * Events of items this model lacks (saved with another model) are kept in it.
   */
  exportState() {
    this._live();
    const all = this._dormant.length ? [...this._dormant, ...this._events].sort((a, b) => a.time - b.time) : this._events;
    return { version: STATE_VERSION, events: all.map((e) => ({ ...e })) };
  }

  /**
   * Replaces the shopper's state with an exported one. Events of items this model lacks are kept
   * (info().dormantEvents) for a model that has them; damaged entries are dropped and counted.
   */
  async importState(state) {
    this._live();
    this._restore(state);
    await this._persist();
  }

  /** Erases the shopper's events from memory and from storage. */
  async forget() {
    this._live();
    this._events = [];
    this._dormant = [];
    this._dirty = true;
    await this._writer.clear();
  }

  /** Releases the engine handle (storage is kept; call forget() first to erase it). */
  async dispose() {
    const h = this._handle;
    if (!h) return;
    this._handle = null;  // at once: a second dispose() or a late call sees it disposed
    this._module = null;
    await this._writer.idle();
    h.delete();
  }

  // ---- internals ----

  _rank(h, events, options) {
    const known = ['k', 'exclude', 'excludeSeen', 'filter', 'categories', 'diversity', 'explain', 'pool'];
    for (const key of Object.keys(options)) if (!known.includes(key)) fail(`recommend: unknown option '${key}'`);
    const n = h.numItems();
    const k = Math.min(checkK(options.k ?? 10), n);
    const diversity = options.diversity ?? 0;
    if (!(typeof diversity === 'number' && diversity >= 0 && diversity <= 1)) fail(`diversity must be in [0, 1], got ${diversity}`);
    const pool = options.pool ?? Math.max(50, 5 * k);
    if (!(Number.isInteger(pool) && pool >= 1)) fail(`pool must be a positive integer, got ${options.pool}`);
    const seen = this._history(events).items;  // item indices, resolved once for the mask and explanations
    const mask = this._mask(h, seen, options);
    this._check(h.recommend(k, mask, diversity, Math.min(pool, n)));
    return this._results(h, options.explain === false || seen.length === 0 ? null : seen);
  }

  _results(h, explainWith) {
    const items = h.resultItems();
    const scores = h.resultScores();
    const out = [];
    for (let i = 0; i < items.length; i++) {
      const r = { id: h.itemId(items[i]), score: scores[i] };
      if (explainWith) {
        const e = h.explain(items[i], explainWith);
        if (e.item >= 0) r.because = { id: h.itemId(e.item), similarity: e.similarity };
      }
      out.push(r);
    }
    return out;
  }

  _mask(h, seen, options) {
    const n = h.numItems();
    const exclude = options.exclude ?? [];
    if (!Array.isArray(exclude)) fail('exclude must be an array of item ids');
    const filter = options.filter;
    if (filter !== undefined && typeof filter !== 'function') fail('filter must be a function (id) => boolean');
    const categories = options.categories;
    if (categories !== undefined && !(Array.isArray(categories) && categories.every((c) => typeof c === 'string'))) {
      fail('categories must be an array of strings');
    }
    if (categories && !this._catalog) fail('categories need a catalog (createRecommender({ catalog }))', 'FailedPrecondition');
    const excludeSeen = options.excludeSeen ?? true;
    const outOfStock = this._outOfStock(h);
    const needed = exclude.length || filter || categories || (excludeSeen && seen.length) || outOfStock.length;
    if (!needed) return null;
    const mask = new Uint8Array(n);
    if (excludeSeen) for (const i of seen) mask[i] = 1;
    for (const id of exclude) mask[this._index(id)] = 1;
    for (const i of outOfStock) mask[i] = 1;
    if (filter || categories) {
      const ids = this._allIds(h);
      const wanted = categories ? new Set(categories) : null;
      for (let i = 0; i < n; i++) {
        if (mask[i]) continue;
        if (wanted && !(this._catalog.categories.get(ids[i]) ?? []).some((c) => wanted.has(c))) mask[i] = 1;
        else if (filter && !filter(ids[i])) mask[i] = 1;
      }
    }
    return mask;
  }

  // The catalogue's out-of-stock items as indices (ids the model lacks are ignored), resolved once.
  _outOfStock(h) {
    if (!this._outOfStockIdx) {
      this._outOfStockIdx = [...(this._catalog?.outOfStock ?? [])].map((id) => h.findItem(id)).filter((i) => i >= 0);
    }
    return this._outOfStockIdx;
  }

  _validate(event) {
    const e = this._validateShape(event);
    this._index(e.item);
    return e;
  }

  // An event's fields, without asking whether the model has its item.
  _validateShape(event) {
    if (event === null || typeof event !== 'object') fail(`event must be an object { item, type?, weight?, time? }, got ${event}`);
    const { item, type = 'view', weight, time } = event;
    if (typeof item !== 'string' || item === '') fail(`event.item must be a non-empty string id, got ${JSON.stringify(item)}`);
    if (typeof type !== 'string' || !Object.hasOwn(this._weights, type)) fail(`unknown event type '${type}' (${Object.keys(this._weights).join(', ')}; or pass eventWeights)`);
    const w = weight ?? this._weights[type];
    if (!(typeof w === 'number' && Number.isFinite(w) && w > 0)) fail(`event weight must be a finite number > 0, got ${weight}`);
    const t = time ?? Date.now();
    if (!(typeof t === 'number' && Number.isFinite(t))) fail(`event time must be a finite number (ms), got ${time}`);
    return { item, type, weight: w, time: t };
  }

  _index(id) {
    const h = this._live();
    if (typeof id !== 'string') fail(`item id must be a string, got ${typeof id}`);
    const i = h.findItem(id);
    if (i < 0) fail(`unknown item id '${id}'`, 'NotFound');
    return i;
  }

  _history(events) {
    const items = new Int32Array(events.length);
    const weights = new Float32Array(events.length);
    events.forEach((e, i) => { items[i] = this._index(e.item); weights[i] = e.weight; });
    return { items, weights };
  }

  _restore(state) {
    if (state === null || typeof state !== 'object' || state.version !== STATE_VERSION || !Array.isArray(state.events)) {
      fail(`state must be an object from exportState() (version ${STATE_VERSION})`);
    }
    const events = [], dormant = [];
    let dropped = 0;
    for (const e of state.events) {
      try {
        const v = this._validateShape(e);
        (this._live().findItem(v.item) >= 0 ? events : dormant).push(v);
      } catch {
        dropped++;  // a damaged entry
      }
    }
    this._events = events.slice(-this._maxEvents);
    this._dormant = dormant.slice(-this._maxEvents);
    this._dropped = dropped;
    this._dirty = true;
  }

  _persist() {
    const snapshot = this.exportState();
    return this._writer.save(snapshot);
  }

  _check(status) {
    check(status, () => this._handle.lastError());
  }

  _live() {
    if (!this._handle) fail('recommender was disposed', 'FailedPrecondition');
    return this._handle;
  }
}

function checkK(k) {
  if (!(Number.isInteger(k) && k >= 1 && k <= 0x7fffffff)) fail(`k must be a positive integer, got ${k}`);
  return k;
}

function now() {
  return globalThis.performance?.now?.() ?? Date.now();
}

// catalog: [{ id, title?, categories?: string[], inStock?: boolean }]
function indexCatalog(catalog) {
  if (catalog === undefined || catalog === null) return null;
  if (!Array.isArray(catalog)) fail('catalog must be an array of { id, categories?, inStock? }');
  const categories = new Map();
  const outOfStock = new Set();
  for (const entry of catalog) {
    if (!entry || typeof entry.id !== 'string') fail('catalog entries need a string id');
    if (entry.categories !== undefined) {
      if (!Array.isArray(entry.categories)) fail(`catalog entry '${entry.id}': categories must be an array`);
      categories.set(entry.id, entry.categories);
    }
    if (entry.inStock === false) outOfStock.add(entry.id);
  }
  return { categories, outOfStock };
}

/**
 * Loads a recommender model and the shopper's saved state.
 * @param {object} runtime a Runtime (index.js)
 */
export async function createRecommenderOn(runtime, options = {}) {
  if (options === null || typeof options !== 'object') fail('options must be an object');
  const bytes = options.model === undefined ? await readRegisteredModel('recommend/movielens', options.onProgress)
                                            : await readModelBytes(options.model, modelReadOptions(options));
  if (options.worker) fail('worker: true is for createRecommender(); a runtime\'s recommenders run on its own thread');
  const storage = await openStorage(options.storage ?? (isNode ? 'memory' : 'auto'), 'recommend', options.userKey ?? 'default');
  const saved = await storage.load();
  options.onProgress?.({ stage: 'state', loaded: saved ? 1 : 0, total: 1 });
  return new Recommender(runtime._module, bytes, options, storage, saved);
}
