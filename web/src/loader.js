// Loads one wasm variant of the engine: `simd-threads` where threads are possible (Node, or a
// cross-origin-isolated page), else `simd`. Never fails for lack of threads: it falls back.
import { useStatusNames, VitrineError } from './errors.js';
import { trustedScriptUrl } from './trusted.js';

export const VARIANTS = Object.freeze(['simd', 'simd-threads']);
const MAX_DEFAULT_THREADS = 8;

export const isNode =
  typeof process === 'object' && !!process.versions && typeof process.versions.node === 'string';

// A minimal module whose only function returns a v128 constant: it validates only where the
// engine's SIMD instructions exist.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,       // type: () -> v128
  0x03, 0x02, 0x01, 0x00,                         // function 0 has type 0
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c,       // code: v128.const
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0x0b,                                           // end
]);

/** Whether this JS engine runs WebAssembly SIMD. */
export function simdSupported() {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

/**
 * Whether the threaded variant can run here, and why not if it cannot.
 * @returns {{ possible: boolean, reason: string }}
 */
export function threadSupport() {
  if (typeof SharedArrayBuffer === 'undefined') {
    return { possible: false, reason: 'SharedArrayBuffer is unavailable' };
  }
  if (isNode) return { possible: true, reason: 'Node.js' };
  if (globalThis.crossOriginIsolated === true) {
    return { possible: true, reason: 'cross-origin isolated page' };
  }
  return {
    possible: false,
    reason: 'page is not cross-origin isolated (serve it with COOP: same-origin and COEP: require-corp)',
  };
}

async function hardwareThreads() {
  if (isNode) {
    const os = await import(/* @vite-ignore */ /* webpackIgnore: true */ 'node:' + 'os');
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  }
  return globalThis.navigator?.hardwareConcurrency || 1;
}

// Every file of the two wasm variants, spelled out so that bundlers (Vite, webpack 5, esbuild with
// asset URLs) see static `new URL(..., import.meta.url)` references and ship the files with the app.
const DIST = {
  'vitrine-simd.mjs': new URL('../dist/vitrine-simd.mjs', import.meta.url),
  'vitrine-simd.wasm': new URL('../dist/vitrine-simd.wasm', import.meta.url),
  'vitrine-simd-threads.mjs': new URL('../dist/vitrine-simd-threads.mjs', import.meta.url),
  'vitrine-simd-threads.wasm': new URL('../dist/vitrine-simd-threads.wasm', import.meta.url),
  'vitrine-simd-threads.worker.js': new URL('../dist/vitrine-simd-threads.worker.js', import.meta.url),
};

function distUrl(file) {
  return DIST[file];
}

async function readWasm(url, onProgress) {
  if (isNode && url.protocol === 'file:') {
    const fs = await import(/* @vite-ignore */ /* webpackIgnore: true */ 'node:' + 'fs/promises');
    const bytes = await fs.readFile(url);
    onProgress?.({ stage: 'wasm', loaded: bytes.byteLength, total: bytes.byteLength });
    return bytes;
  }
  return fetchBytes(url, 'wasm', onProgress);
}

// Browsers: the wasm compiled while it downloads (WebAssembly.compileStreaming), which needs the
// server to send `Content-Type: application/wasm`; with any other type the bytes are read and
// compiled. Returns a WebAssembly.Module.
async function compileWasm(url, onProgress) {
  const response = await fetchOk(url);
  const type = (response.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (typeof WebAssembly.compileStreaming !== 'function' || type !== 'application/wasm' || !response.body) {
    return WebAssembly.compile(await readBody(response, url, 'wasm', onProgress, Infinity));
  }
  // A copy of the stream counts the bytes for onProgress; the original goes to the compiler.
  const counted = readBody(response.clone(), url, 'wasm', onProgress, Infinity, false);
  try {
    const module = await WebAssembly.compileStreaming(response);
    await counted;
    return module;
  } catch (e) {
    counted.catch(() => {});
    if (e instanceof VitrineError) throw e;
    throw new VitrineError(`cannot compile ${url}: ${e?.message ?? e}`, 'DataLoss');
  }
}

const compiled = new Map();  // variant -> Promise<WebAssembly.Module>, in browsers

/**
 * Browsers: the variant's compiled WebAssembly.Module, compiled once per page (later calls share
 * it: every task's worker and every runtime of the page instantiate the same module instead of
 * downloading and compiling it again). Progress is reported to the first caller.
 * @returns {Promise<WebAssembly.Module>}
 */
export function compileVariant(variant, onProgress) {
  if (!VARIANTS.includes(variant)) return Promise.reject(new VitrineError(`unknown variant '${variant}'`, 'InvalidArgument'));
  let module = compiled.get(variant);
  if (!module) {
    module = compileWasm(distUrl(`vitrine-${variant}.wasm`), onProgress);
    compiled.set(variant, module);
    module.catch(() => compiled.delete(variant));  // a later call tries again
  }
  return module;
}

/**
 * GETs `url` (same-origin credentials) and returns its bytes, reporting
 * { stage, loaded, total } as they arrive (total 0 when the server sends no length). More than
 * `maxBytes` (declared or received) is refused with ResourceExhausted and the download stopped.
 */
export async function fetchBytes(url, stage, onProgress, maxBytes = Infinity) {
  return readBody(await fetchOk(url), url, stage, onProgress, maxBytes);
}

// GET `url` (same-origin credentials); NotFound unless the answer is 2xx.
async function fetchOk(url) {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new VitrineError(`cannot load ${url}: HTTP ${response.status}`, 'NotFound');
  return response;
}

// The body of `response` (see fetchBytes); with keep = false the chunks are only counted.
async function readBody(response, url, stage, onProgress, maxBytes, keep = true) {
  const total = Number(response.headers.get('content-length')) || 0;
  const refuse = (size) => new VitrineError(`${url} has ${size} bytes or more, more than maxBytes = ${maxBytes} ` +
                                            '(raise maxBytes to load it)', 'ResourceExhausted');
  if (total > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw refuse(total);
  }
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > maxBytes) throw refuse(bytes.length);
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (keep) chunks.push(value);
    loaded += value.byteLength;
    if (loaded > maxBytes) {
      await reader.cancel().catch(() => {});
      throw refuse(loaded);
    }
    onProgress?.({ stage, loaded, total });
  }
  if (!keep) return null;
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const c of chunks) { bytes.set(c, offset); offset += c.byteLength; }
  return bytes;
}

/**
 * The variant to load for a request ('auto' | 'simd' | 'simd-threads') given threadSupport().
 * Threads are never required: without them the answer is 'simd', with the reason.
 * @returns {{ variant: 'simd'|'simd-threads', reason: string }}
 */
export function chooseVariant(requested, support) {
  if (requested === 'auto') {
    return support.possible
      ? { variant: 'simd-threads', reason: `threads available (${support.reason})` }
      : { variant: 'simd', reason: `single thread: ${support.reason}` };
  }
  if (requested === 'simd-threads' && !support.possible) {
    return { variant: 'simd', reason: `simd-threads requested but ${support.reason}; fell back to simd` };
  }
  return { variant: requested, reason: `${requested} requested` };
}

/**
 * Loads and instantiates one variant.
 * @param {{ variant?: 'auto'|'simd'|'simd-threads', threads?: number, wasmModule?: WebAssembly.Module,
 *           onProgress?: (p: {stage: string, loaded: number, total: number}) => void }} options
 *   wasmModule: the chosen variant already compiled (a worker gets it from its page).
 * @returns {Promise<{ module: any, variant: string, reason: string, maxThreads: number }>}
 */
export async function loadModule(options = {}) {
  const requested = options.variant ?? 'auto';
  if (requested !== 'auto' && !VARIANTS.includes(requested)) {
    throw new VitrineError(`unknown variant '${requested}' (use 'auto', 'simd' or 'simd-threads')`,
      'InvalidArgument');
  }
  if (!simdSupported()) {
    throw new VitrineError('Vitrine needs WebAssembly SIMD, which this browser lacks ' +
      '(Chrome/Edge 91+, Firefox 89+, Safari 16.4+, Node.js 16.4+)', 'Unimplemented');
  }
  const { variant, reason } = chooseVariant(requested, threadSupport());

  if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1 && options.threads <= 64)) {
    throw new VitrineError(`threads must be an integer in [1, 64], got ${options.threads}`, 'InvalidArgument');
  }
  const hw = await hardwareThreads();
  const maxThreads = variant === 'simd-threads' ? options.threads ?? Math.min(hw, MAX_DEFAULT_THREADS) : 1;

  const name = `vitrine-${variant}`;
  options.onProgress?.({ stage: 'start', loaded: 0, total: 0 });
  // The wasm downloads (and compiles) while the glue module loads; in browsers once per page.
  const given = typeof WebAssembly.Module === 'function' && options.wasmModule instanceof WebAssembly.Module ? options.wasmModule : null;
  const [wasm, factory] = await Promise.all([
    given ? { module: given } : isNode ? readWasm(distUrl(`${name}.wasm`), options.onProgress).then((bytes) => ({ bytes }))
      : compileVariant(variant, options.onProgress).then((module) => ({ module })),
    import(/* @vite-ignore */ /* webpackIgnore: true */ distUrl(`${name}.mjs`).href).then((m) => m.default),
  ]);
  // In browsers the pthread workers are found through the same table (a bundler may have renamed
  // the files) and vouched for by Vitrine's Trusted Types policy (Emscripten hands the pthread
  // worker's URL straight to `new Worker`); Node keeps Emscripten's own lookup next to the module.
  const locate = isNode ? {} : { locateFile: (file, prefix) => (file.endsWith('.worker.js') && DIST[file]
                                   ? trustedScriptUrl(DIST[file].href) : DIST[file]?.href ?? prefix + file),
                                 mainScriptUrlOrBlob: distUrl(`${name}.mjs`).href };
  const aborted = { reason: null };
  options.onProgress?.({ stage: 'instantiate', loaded: 0, total: 1 });
  // A compiled module is instantiated here (Emscripten's instantiateWasm hook); should that fail,
  // Emscripten would wait forever, so the failure also rejects `failed`.
  let fail;
  const failed = new Promise((_, reject) => { fail = reject; });
  const source = wasm.module ? {
    instantiateWasm: (imports, receive) => {
      WebAssembly.instantiate(wasm.module, imports).then((instance) => receive(instance, wasm.module), fail);
      return {};
    },
  } : { wasmBinary: wasm.bytes };
  const module = await Promise.race([failed, factory({
    ...source,
    onAbort: (what) => { aborted.reason = String(what); },
    ...locate,
    // The calling thread is one of the threads. Emscripten waits for a pool of at least one worker
    // (with none it never resolves), so threads: 1 keeps one idle worker.
    vitrinePoolSize: Math.max(1, maxThreads - 1),
    print: () => {},
    printErr: (text) => { if (isNode) process.stderr.write(`[vitrine] ${text}\n`); else console.warn(text); },
  })]).catch((e) => {
    if (e instanceof VitrineError) throw e;
    throw new VitrineError(`cannot start the engine: ${e?.message ?? e}`, 'Internal');
  });
  if (isNode) module.vitrineUnrefThreads();
  guardModule(module, aborted);
  useStatusNames(module.statusNames());
  options.onProgress?.({ stage: 'ready', loaded: 1, total: 1 });
  return { module, variant, reason, maxThreads };
}

const EMBIND_OWN = new Set(['constructor', 'isAliasOf', 'clone', 'delete', 'isDeleted', 'deleteLater']);

// Nothing but a VitrineError leaves an engine call: every method of the module's classes and every
// module function is wrapped once. A trap (RuntimeError) or abort means the instance's state can no
// longer be trusted: it becomes an 'Internal' VitrineError, and every later call fails with
// 'FailedPrecondition' instead of running on a broken heap. Embind's own argument errors (wrong JS
// types) become 'InvalidArgument'; any other thrown value (not an Error) becomes 'Internal'.
function guardModule(module, aborted) {
  const convert = (e) => {
    if (e instanceof VitrineError) return e;
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof WebAssembly.RuntimeError || aborted.reason !== null) {
      aborted.reason ??= message;
      return new VitrineError(`the engine stopped on an internal error (${message}); this runtime cannot be used again, ` +
                              'create a new one (and please report the input that caused it)', 'Internal');
    }
    if (e instanceof Error) return new VitrineError(`engine call refused: ${message}`, 'InvalidArgument');
    return new VitrineError(`engine call failed with a non-Error value: ${message}`, 'Internal');
  };
  const wrap = (fn, name) => function guarded(...args) {
    if (aborted.reason !== null) {
      throw new VitrineError(`this runtime stopped after an internal error (${aborted.reason}); create a new one`, 'FailedPrecondition');
    }
    try {
      return fn.apply(this, args);
    } catch (e) {
      const err = convert(e);
      if (err !== e) err.cause = e;
      throw err;
    }
  };
  for (const key of Object.keys(module)) {
    const value = module[key];
    if (typeof value !== 'function') continue;
    const proto = value.prototype;
    if (proto && typeof proto.delete === 'function' && typeof proto.isAliasOf === 'function') {  // an Embind class
      for (const name of Object.getOwnPropertyNames(proto)) {
        const d = Object.getOwnPropertyDescriptor(proto, name);
        if (EMBIND_OWN.has(name) || typeof d.value !== 'function') continue;
        proto[name] = wrap(d.value, name);
      }
    } else if (typeof value.argCount === 'number') {  // an Embind function
      module[key] = wrap(value, key);
    }
  }
}
