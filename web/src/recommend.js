// Personalized recommendations on the device: the shopper's events stay in their browser (or Node
// process); the engine folds them into a user vector and ranks the catalogue.
//
//   const rec = await createRecommender({ model: '/models/movielens-dae.safetensors',
//                                         storage: 'auto', onProgress });
//   await rec.observe({ item: '318', type: 'view' });
//   const top = rec.recommend({ k: 10, diversity: 0.3 });  // [{ id, score, because }]
import { EngineObject, engineOf } from './handle.js';
import { VitrineError } from './errors.js';
import { isNode } from './loader.js';
import { modelReadOptions, readModelBytes, readRegisteredModel, registeredModelTerms } from './model.js';
import { openStorage, StateWriter } from './storage.js';

/** Default weight of each event type (the model sees the largest weight per item). */
export const DEFAULT_EVENT_WEIGHTS = Object.freeze({ view: 1, click: 1, rate: 1, cart: 2, wishlist: 2, purchase: 3 });
const STATE_VERSION = 1;

function fail(message, code = 'InvalidArgument') {
  throw new VitrineError(message, code);
}

export class Recommender extends EngineObject {
  /** @internal use createRecommender() */
  constructor(module, bytes, options, storage, saved) {
    super('recommender');
    // Options first: nothing is allocated in the engine until they are valid.
    this._weights = { ...DEFAULT_EVENT_WEIGHTS, ...(options.eventWeights ?? {}) };
    for (const [type, w] of Object.entries(this._weights)) {
      if (!(Number.isFinite(w) && w > 0)) fail(`eventWeights.${type} must be a finite number > 0, got ${w}`);
    }
    this._maxEvents = options.maxEvents ?? 1000;
    if (!(Number.isInteger(this._maxEvents) && this._maxEvents > 0)) fail(`maxEvents must be a positive integer, got ${options.maxEvents}`);
    if (options.catalog !== undefined && options.catalog !== null && !Array.isArray(options.catalog)) {
      fail('catalog must be an array of { id, categories?, inStock? }');
    }
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
      this._check(this._handle.setCatalog(JSON.stringify(options.catalog ?? null)));
      this.precision = this._handle.precision();  // a compact file's int8 / pq storage wins
      if (saved) {
        try {
          this._restore(saved);
        } catch {
          this._dropped = Array.isArray(saved?.events) ? saved.events.length : 1;  // unreadable: start empty, count it
        }
      }
    } catch (e) {
      this._release();
      throw e;
    }
  }

  /** { kind, items, dim, bytes, precision, events } */
  async info() {
    const h = this._live();
    return { kind: h.kind(), items: h.numItems(), dim: h.dim(), bytes: h.bytes(), precision: h.precision(),
             events: this._events.length, dormantEvents: this._dormant.length, droppedOnLoad: this._dropped,
             contentMap: h.hasContent(), addedItems: this._added ?? 0,
             shippedModel: this._shippedModel ?? null };
  }

  /** Every item id of the model, in the model's order. */
  async itemIds() {
    const h = this._live();
    return this._allIds(h).slice();
  }

  _allIds(h) {
    if (!this._ids) this._ids = Array.from({ length: h.numItems() }, (_, i) => h.itemId(i));
    return this._ids;
  }

  /** Whether the model knows this item id. */
  async hasItem(id) {
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
  async personalize() {
    return this._personalize();
  }

  _personalize() {
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
  async recommend(options = {}) {
    const h = this._live();
    if (this._dirty) this._personalize();
    return this._rank(h, this._events, options);
  }

  /**
   * Ranks for a given history without touching the shopper's state (what-if, evaluation).
   * @param {(string | { item: string, type?: string, weight?: number })[]} history oldest first
   */
  async recommendFor(history, options = {}) {
    const h = this._live();
    if (!Array.isArray(history)) fail('history must be an array of item ids or events');
    const events = history.map((e) => this._validate(typeof e === 'string' ? { item: e } : e));
    const { items, weights } = this._history(events);
    this._check(h.foldIn(items, weights));
    this._dirty = true;  // the handle now holds this history's vector, not the shopper's
    return this._rank(h, events, options);
  }

  /**
   * Re-ranks a page-given list (search results, a category page, a server's retrieval) for the
   * shopper: every candidate comes back once, the best first. Ids the model lacks keep their
   * relative order after the ranked ones, with `score: null, unknown: true`. Seen items stay
   * (excludeSeen defaults to false here); exclude, filter, categories and the catalogue's stock
   * still apply. Same options as recommend() but k (the whole list) and candidates.
   * @param {string[]} candidates
   */
  async rerank(candidates, options = {}) {
    const h = this._live();
    if (!Array.isArray(candidates)) fail('rerank: candidates must be an array of item ids');
    if (options === null || typeof options !== 'object') fail('options must be an object');
    for (const key of ['k', 'candidates']) if (key in options) fail(`rerank: '${key}' is not an option here (the whole list is ranked)`);
    if (this._dirty) this._personalize();
    const known = [], unknown = [];
    const seen = new Set();
    for (const id of candidates) {
      if (typeof id !== 'string') fail(`item id must be a string, got ${typeof id}`);
      if (seen.has(id)) continue;
      seen.add(id);
      (h.findItem(id) >= 0 ? known : unknown).push(id);
    }
    const ranked = known.length ? this._rank(h, this._events, { excludeSeen: false, ...options, candidates: known, k: known.length }) : [];
    return ranked.concat(unknown.map((id) => ({ id, score: null, unknown: true })));
  }

  /**
   * Applies an item delta (a small file made by `vitrine-recommend delta`: items removed, changed
   * and added, checked against this model's state) instead of downloading a new model.
   * source: URL, path (Node), ArrayBuffer or typed array; options.integrity ('sha256-<base64>')
   * checks the file's bytes. Events of removed items are kept aside (as with another model).
   * @returns {{ items: number, fingerprint: string }}
   */
  async applyDelta(source, options = {}) {
    this._live();
    if (options === null || typeof options !== 'object') fail('options must be an object');
    const bytes = await readModelBytes(source, modelReadOptions(options));
    const h = this._live();
    this._check(h.applyDelta(bytes));
    this._itemsChanged(h);
    await this._persist();
    return { items: h.numItems(), fingerprint: h.fingerprint() };
  }

  /**
   * Adds new products the moment they exist, without retraining: each is placed by the model's
   * content map (a compact file made with `npx vitrine compact --catalog`) from its title,
   * description, categories and year, and is recommendable at once. Kept in memory only: call
   * again after a reload (or ship an item delta). Ids the model has are refused (NotFound never).
   * @param {{ id: string, title?: string, description?: string, categories?: string[], year?: number }[]} items
   * @returns {{ added: number, items: number }}
   */
  async addItems(items) {
    const h = this._live();
    if (!Array.isArray(items)) fail('addItems: items must be an array of { id, title?, description?, categories?, year? }');
    this._check(h.addItems(JSON.stringify(items)));
    this._added = (this._added ?? 0) + items.length;
    this._itemsChanged(h);
    return { added: items.length, items: h.numItems() };
  }

  /** The k items most similar to `id` (cosine of the model's item vectors). */
  async similarItems(id, k = 10, options = {}) {
    const h = this._live();
    const index = this._index(id);
    return this._results(h.similar(index, this._request(h, { ...options, k }, null)));
  }

  /**
   * The shopper's state as plain JSON (events only; the model is not part of it), oldest first.
   * Events of items this model lacks (saved with another model) are kept in it.
   */
  async exportState() {
    return this._snapshot();
  }

  _snapshot() {
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

  // After items were added or removed: indices moved, and saved events follow their items (kept
  // aside while the model lacks them, used again once it has them).
  _itemsChanged(h) {
    this._ids = null;
    const all = [...this._dormant, ...this._events].sort((a, b) => a.time - b.time);
    this._events = all.filter((e) => h.findItem(e.item) >= 0).slice(-this._maxEvents);
    this._dormant = all.filter((e) => h.findItem(e.item) < 0).slice(-this._maxEvents);
    this._dirty = true;
  }

  // The ranking itself runs in the engine (recommend() in recommend.h); here the options become
  // its request: ids become indices, and a caller's filter function becomes a mask.
  _rank(h, events, options) {
    return this._results(h.rank(this._request(h, options, this._history(events).items)));
  }

  _request(h, options, history) {
    if (options === null || typeof options !== 'object') fail('options must be an object');
    const known = ['k', 'exclude', 'excludeSeen', 'filter', 'categories', 'diversity', 'explain', 'pool', 'candidates'];
    for (const key of Object.keys(options)) if (!known.includes(key)) fail(`recommend: unknown option '${key}'`);
    const exclude = options.exclude ?? [];
    if (!Array.isArray(exclude)) fail('exclude must be an array of item ids');
    const filter = options.filter;
    if (filter !== undefined && typeof filter !== 'function') fail('filter must be a function (id) => boolean');
    let candidates;
    if (options.candidates !== undefined) {
      if (!Array.isArray(options.candidates)) fail('candidates must be an array of item ids');
      // Ids the model lacks cannot be scored: left out (rerank() returns them after the ranked ones).
      candidates = Int32Array.from(options.candidates.map((id) => {
        if (typeof id !== 'string') fail(`item id must be a string, got ${typeof id}`);
        return h.findItem(id);
      }).filter((i) => i >= 0));
    }
    let excluded = null;
    if (filter) {
      const ids = this._allIds(h);
      excluded = new Uint8Array(ids.length);
      for (let i = 0; i < ids.length; i++) excluded[i] = filter(ids[i]) ? 0 : 1;
    }
    return { k: options.k ?? 10, history: history ?? undefined, excludeSeen: history ? options.excludeSeen ?? true : false,
             exclude: Int32Array.from(exclude, (id) => this._index(id)), excluded, categories: options.categories,
             diversity: options.diversity ?? 0, pool: options.pool, explain: history ? options.explain !== false : false,
             candidates };
  }

  _results(list) {
    if (list === null) this._check(this._handle.lastCode());
    return list;
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
    const snapshot = this._snapshot();
    return this._writer.save(snapshot);
  }
}

function now() {
  return globalThis.performance?.now?.() ?? Date.now();
}

/**
 * Loads a recommender model and the shopper's saved state.
 * @param {object|Promise<object>} runtime a Runtime (index.js), or a promise of one: the model is
 *   read (fetched, cache-checked) while the engine is still starting
 */
export async function createRecommenderOn(runtime, options = {}) {
  const ready = engineOf(runtime);
  if (options === null || typeof options !== 'object') fail('options must be an object');
  const bytes = options.model === undefined ? await readRegisteredModel('recommend/movielens', options.onProgress)
                                            : await readModelBytes(options.model, modelReadOptions(options));
  if (options.worker) fail('worker: true is for createRecommender(); a runtime\'s recommenders run on its own thread');
  const storage = await openStorage(options.storage ?? (isNode ? 'memory' : 'auto'), 'recommend', options.userKey ?? 'default');
  const saved = await storage.load();
  options.onProgress?.({ stage: 'state', loaded: saved ? 1 : 0, total: 1 });
  const rec = new Recommender((await ready)._module, bytes, options, storage, saved);
  rec._shippedModel = options.model === undefined ? await registeredModelTerms('recommend/movielens') : null;
  return rec;
}
