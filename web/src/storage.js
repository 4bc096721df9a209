// Where a shopper's state lives: only the origin's own storage (IndexedDB in browsers), a file in
// Node, or memory. Every backend has load() -> state | null, save(state), clear().
//
//   'memory'                      nothing survives the page / process
//   'auto'                        IndexedDB when available, else memory
//   { type: 'indexeddb', name? }  database `name` (default 'vitrine'), store 'state', key = userKey
//   { type: 'file', path }        Node: a JSON file, replaced atomically on every save
//   { load, save, clear }         your own backend (async functions)
import { VitrineError } from './errors.js';
import { isNode } from './loader.js';

export async function openStorage(spec, key) {
  if (typeof key !== 'string' || key === '') throw new VitrineError('userKey must be a non-empty string', 'InvalidArgument');
  if (spec === 'memory') return memoryStorage();
  if (spec === 'auto') {
    if (!globalThis.indexedDB) return memoryStorage();
    try {
      return await indexedDbStorage('vitrine', key);
    } catch {
      return memoryStorage();  // e.g. storage disabled in a private window: keep working, remember nothing
    }
  }
  if (spec && typeof spec === 'object') {
    if (typeof spec.load === 'function' && typeof spec.save === 'function' && typeof spec.clear === 'function') return spec;
    if (spec.type === 'indexeddb') {
      if (!globalThis.indexedDB) throw new VitrineError('IndexedDB is not available here', 'FailedPrecondition');
      return indexedDbStorage(spec.name ?? 'vitrine', key);
    }
    if (spec.type === 'file') {
      if (!isNode) throw new VitrineError("storage type 'file' needs Node.js", 'FailedPrecondition');
      if (typeof spec.path !== 'string' || spec.path === '') throw new VitrineError('file storage needs a path', 'InvalidArgument');
      return fileStorage(spec.path, key);
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

// One shopper per file: the file records its userKey, and a different key is refused.
async function fileStorage(path, key) {
  const fs = await import(/* @vite-ignore */ 'node:' + 'fs/promises');
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
      if (doc?.userKey !== key) {
        throw new VitrineError(`state file ${path} belongs to userKey '${doc?.userKey}', not '${key}' (one file per shopper)`,
                               'FailedPrecondition');
      }
      return doc.state;
    },
    async save(state) {
      const tmp = `${path}.${process.pid}.${++tmpCounter}.${Math.random().toString(36).slice(2)}.tmp`;
      await fs.writeFile(tmp, JSON.stringify({ userKey: key, state }));
      await fs.rename(tmp, path);  // atomic: a crash leaves the old or the new file, never half
    },
    async clear() {
      await fs.rm(path, { force: true });
    },
  };
}

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(new VitrineError(`IndexedDB: ${r.error?.message ?? 'request failed'}`, 'Internal'));
  });
}

async function indexedDbStorage(name, key) {
  const open = globalThis.indexedDB.open(name, 1);
  open.onupgradeneeded = () => open.result.createObjectStore('state');
  const db = await request(open);
  const tx = async (mode, fn) => {
    const t = db.transaction('state', mode);
    const done = new Promise((resolve, reject) => {
      t.oncomplete = resolve;
      t.onerror = t.onabort = () => reject(new VitrineError(`IndexedDB: ${t.error?.message ?? 'aborted'}`, 'Internal'));
    });
    const [result] = await Promise.all([request(fn(t.objectStore('state'))), done]);  // durable once complete
    return result;
  };
  return {
    async load() { return (await tx('readonly', (s) => s.get(key))) ?? null; },
    async save(s) { await tx('readwrite', (st) => st.put(s, key)); },
    async clear() { await tx('readwrite', (s) => s.delete(key)); },
  };
}

/**
 * Serializes a task's writes to its storage: save(snapshot) and clear() run one after the other in
 * call order (a failed write does not block later ones); idle() resolves when all are done.
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
    const next = this._tail.then(task, task);
    this._tail = next.catch(() => {});
    return next;
  }
}
