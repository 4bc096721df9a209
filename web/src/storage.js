// Where a shopper's state lives: only the origin's own storage (IndexedDB in browsers), a file in
// Node, or memory. Every backend has load() -> state | null, save(state), clear().
//
//   'memory'                      nothing survives the page / process
//   'auto'                        IndexedDB when available, else memory
//   { type: 'indexeddb', name? }  database `name` (default 'vitrine'), store 'state', key = 'task:userKey'
//   { type: 'file', path }        Node: a JSON file for one task and shopper, written to a temporary file,
//                                 flushed to disk (fsync) and renamed over the old one on every save
//   { load, save, clear }         your own backend (async functions)
// Each task's state is kept under its own name ('recommend', 'tagger'), so a recommender and a
// tagger with the same userKey never overwrite each other.
import { VitrineError } from './errors.js';
import { isNode } from './loader.js';

export async function openStorage(spec, task, key) {
  if (typeof key !== 'string' || key === '') throw new VitrineError('userKey must be a non-empty string', 'InvalidArgument');
  if (spec === 'memory') return memoryStorage();
  if (spec === 'auto') {
    if (!globalThis.indexedDB) return memoryStorage();
    try {
      return await indexedDbStorage('vitrine', task, key);
    } catch {
      return memoryStorage();  // e.g. storage disabled in a private window: keep working, remember nothing
    }
  }
  if (spec && typeof spec === 'object') {
    if (typeof spec.load === 'function' && typeof spec.save === 'function' && typeof spec.clear === 'function') return spec;
    if (spec.type === 'indexeddb') {
      if (!globalThis.indexedDB) throw new VitrineError('IndexedDB is not available here', 'FailedPrecondition');
      return indexedDbStorage(spec.name ?? 'vitrine', task, key);
    }
    if (spec.type === 'file') {
      if (!isNode) throw new VitrineError("storage type 'file' needs Node.js", 'FailedPrecondition');
      if (typeof spec.path !== 'string' || spec.path === '') throw new VitrineError('file storage needs a path', 'InvalidArgument');
      return fileStorage(spec.path, task, key);
    }
  }
  throw new VitrineError(`unknown storage ${JSON.stringify(spec)} ('memory', 'auto', { type: 'indexeddb' }, ` +
                         "{ type: 'file', path }, or an object with load/save/clear)", 'InvalidArgument');
}

function memoryStorage() {
  let state = null;
  return {
    async load() { return state === null ? null : structuredClone(state); },
    async save(s) { state = structuredClone(s); },
    async clear() { state = null; },
  };
}

let tmpCounter = 0;

// One task and shopper per file: the file records both, and another is refused. Temporary files
// are `<path>.<pid>.<n>.<random>.tmp` beside it; clear() removes those a crash left too.
async function fileStorage(path, task, key) {
  const fs = await import(/* @vite-ignore */ /* webpackIgnore: true */ 'node:' + 'fs/promises');
  const nodePath = await import(/* @vite-ignore */ /* webpackIgnore: true */ 'node:' + 'path');
  const dir = nodePath.dirname(path), base = nodePath.basename(path);
  return {
    async load() {
      let text;
      try {
        text = await fs.readFile(path, 'utf8');
      } catch (e) {
        if (e.code === 'ENOENT') return null;
        throw new VitrineError(`cannot read state file ${path}: ${e.code ?? e.message}`, 'NotFound');
      }
      let doc;
      try {
        doc = JSON.parse(text);
      } catch {
        throw new VitrineError(`state file ${path} is not valid JSON (damaged?)`, 'DataLoss');
      }
      if (doc?.userKey !== key || (doc.task !== undefined && doc.task !== task)) {
        throw new VitrineError(`state file ${path} belongs to ${doc?.task ?? 'a task'} of userKey '${doc?.userKey}', not ${task} of ` +
                               `'${key}' (one file per task and shopper)`, 'FailedPrecondition');
      }
      return doc.state;
    },
    async save(state) {
      const tmp = `${path}.${process.pid}.${++tmpCounter}.${Math.random().toString(36).slice(2)}.tmp`;
      const file = await fs.open(tmp, 'w');
      try {
        await file.writeFile(JSON.stringify({ task, userKey: key, state }));
        await file.sync();  // on disk before it replaces the old file
      } catch (e) {
        await file.close().catch(() => {});
        await fs.rm(tmp, { force: true }).catch(() => {});
        throw new VitrineError(`cannot write state file ${tmp}: ${e.code ?? e.message}`, 'Internal');
      }
      await file.close();
      try {
        await fs.rename(tmp, path);  // atomic: a crash leaves the old or the new file, never half
      } catch (e) {
        await fs.rm(tmp, { force: true }).catch(() => {});
        throw new VitrineError(`cannot replace state file ${path}: ${e.code ?? e.message}`, 'Internal');
      }
      await syncDir(fs, dir);  // the rename itself survives a power cut
    },
    async clear() {
      await fs.rm(path, { force: true });
      const names = await fs.readdir(dir).catch(() => []);
      await Promise.all(names.filter((n) => n.startsWith(`${base}.`) && n.endsWith('.tmp'))
        .map((n) => fs.rm(nodePath.join(dir, n), { force: true })));
      await syncDir(fs, dir);
    },
  };
}

async function syncDir(fs, dir) {
  let handle = null;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // some file systems cannot sync a directory: the data itself was synced
  } finally {
    await handle?.close().catch(() => {});
  }
}

// A full origin (QuotaExceededError, from IndexedDB or a custom backend) is the visitor's disk or
// the browser's share for this site, not a bug: ResourceExhausted, saying what is kept.
function isQuotaError(e) {
  return e?.name === 'QuotaExceededError' || e?.code === 22 || e?.name === 'NS_ERROR_DOM_QUOTA_REACHED';
}
function quotaError(e) {
  return new VitrineError(`the browser's storage for this site is full (${e?.name ?? 'QuotaExceededError'}: ${e?.message ?? ''}); ` +
    'this change was not saved (the state saved before it is intact); free space on the device, or ask for ' +
    'persistent storage with requestPersistentStorage()', 'ResourceExhausted');
}
const idbError = (e, what) => (isQuotaError(e) ? quotaError(e) : new VitrineError(`IndexedDB: ${e?.message ?? what}`, 'Internal'));

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(idbError(r.error, 'request failed'));
  });
}

// Keys are 'task:userKey'; a state saved by an older version under the bare userKey is still read
// when there is none under the new key (and then removed by clear()).
async function indexedDbStorage(name, task, userKey) {
  const key = `${task}:${userKey}`;
  let legacyRead = false;
  const open = globalThis.indexedDB.open(name, 1);
  open.onupgradeneeded = () => open.result.createObjectStore('state');
  const db = await request(open);
  const tx = async (mode, fn) => {
    const t = db.transaction('state', mode);
    const done = new Promise((resolve, reject) => {
      t.oncomplete = resolve;
      t.onerror = t.onabort = () => reject(idbError(t.error, 'aborted'));
    });
    const [result] = await Promise.all([request(fn(t.objectStore('state'))), done]);  // durable once complete
    return result;
  };
  return {
    async load() {
      const state = await tx('readonly', (s) => s.get(key));
      if (state !== undefined) return state;
      const legacy = await tx('readonly', (s) => s.get(userKey));
      if (legacy === undefined) return null;
      legacyRead = true;
      return legacy;
    },
    async save(s) { await tx('readwrite', (st) => st.put(s, key)); },
    async clear() {
      await tx('readwrite', (s) => s.delete(key));
      if (legacyRead) await tx('readwrite', (s) => s.delete(userKey));  // only a record this task read as its own
    },
  };
}

/**
 * Serializes a task's writes to its storage: save(snapshot) and clear() run one after the other in
 * call order (a failed write does not block later ones); idle() resolves when all are done. A full
 * origin (QuotaExceededError from any backend) becomes a ResourceExhausted VitrineError.
 */
export class StateWriter {
  constructor(storage) {
    this._storage = storage;
    this._tail = Promise.resolve();
  }

  save(snapshot) { return this._run(() => this._storage.save(snapshot)); }
  clear() { return this._run(() => this._storage.clear()); }
  idle() { return this._tail; }

  _run(task) {
    const run = () => Promise.resolve().then(task).catch((e) => { throw isQuotaError(e) ? quotaError(e) : e; });
    const next = this._tail.then(run, run);
    this._tail = next.catch(() => {});
    return next;
  }
}

/**
 * Asks the browser to keep this origin's storage (the shopper's history, learned tags, cached
 * models) under storage pressure instead of evicting it: navigator.storage.persist(). Call it from
 * the page (not a worker), best after a visitor's gesture: Firefox asks the visitor; Chromium
 * decides from the site's engagement; Safari grants it to sites added to the home screen. Never
 * throws: where the API is missing, persisted is false and reason says why.
 * @returns {Promise<{ persisted: boolean, reason: string, usage?: number, quota?: number }>}
 */
export async function requestPersistentStorage() {
  const storage = globalThis.navigator?.storage;
  if (typeof storage?.persist !== 'function') return { persisted: false, reason: 'navigator.storage.persist() is not available here' };
  let persisted = false;
  let reason;
  try {
    persisted = (await storage.persisted?.()) || (await storage.persist());
    reason = persisted ? 'granted' : 'refused by the browser or the visitor';
  } catch (e) {
    reason = `persist() failed: ${e?.message ?? e}`;
  }
  const estimate = await storage.estimate?.().catch(() => null);
  return { persisted, reason, ...(estimate ? { usage: estimate.usage, quota: estimate.quota } : {}) };
}

