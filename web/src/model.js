// A model loaded into the engine (ONNX or a Vitrine .safetensors model file): run it on
// Float32Array inputs.
import { EngineObject } from './handle.js';
import { VitrineError } from './errors.js';
import { fetchBytes, isNode } from './loader.js';
import { Trainer } from './trainer.js';

/** Downloads and files larger than this are refused unless a call raises `maxBytes` (256 MiB). */
export const DEFAULT_MAX_MODEL_BYTES = 256 * 1024 * 1024;

/**
 * Reads model bytes from a URL, a file path (Node), an ArrayBuffer or a typed array.
 * options: onProgress; maxBytes (default DEFAULT_MAX_MODEL_BYTES: a larger download or file is
 * refused with ResourceExhausted before it is read whole); integrity ('sha256-<base64>', as in
 * Subresource Integrity: a mismatch is DataLoss).
 * @returns {Promise<Uint8Array>}
 */
export async function readModelBytes(source, options = {}) {
  const { onProgress, integrity } = options;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MODEL_BYTES;
  if (!(Number.isInteger(maxBytes) && maxBytes > 0)) throw new VitrineError(`maxBytes must be a positive integer, got ${maxBytes}`, 'InvalidArgument');
  const expected = integrity === undefined ? null : parseIntegrity(integrity);
  const bytes = await readBytes(source, onProgress, maxBytes);
  if (bytes.length > maxBytes) throw tooLarge(describe(source), bytes.length, maxBytes);
  if (expected) {
    const subtle = globalThis.crypto?.subtle;
    if (!subtle) throw new VitrineError('integrity needs Web Crypto (a secure context: https or localhost)', 'FailedPrecondition');
    const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
    if (toBase64(digest) !== expected) {
      throw new VitrineError(`model ${describe(source)} does not match its integrity (got sha256-${toBase64(digest)}, expected sha256-${expected})`, 'DataLoss');
    }
  }
  return bytes;
}

/** What a task factory's options say about reading its model: onProgress, integrity, maxModelBytes. */
export function modelReadOptions(options) {
  return { onProgress: options.onProgress, integrity: options.integrity, maxBytes: options.maxModelBytes };
}

function parseIntegrity(integrity) {
  const m = typeof integrity === 'string' ? /^sha256-([A-Za-z0-9+/]{43}=)$/.exec(integrity.trim()) : null;
  if (!m) throw new VitrineError(`integrity must be 'sha256-<base64 of 32 bytes>', got ${JSON.stringify(integrity)}`, 'InvalidArgument');
  return m[1];
}

function toBase64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function describe(source) {
  return typeof source === 'string' || source instanceof URL ? String(source) : `(${source?.byteLength ?? '?'} bytes)`;
}

function tooLarge(what, size, maxBytes) {
  return new VitrineError(`model ${what} has ${size} bytes, more than maxBytes = ${maxBytes} (raise maxBytes to load it)`, 'ResourceExhausted');
}

async function readBytes(source, onProgress, maxBytes) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  let url = source instanceof URL ? source : null;
  if (typeof source === 'string') {
    if (/^(https?|file|blob|data):/i.test(source)) url = new URL(source);
    else if (isNode) url = (await import(/* @vite-ignore */ /* webpackIgnore: true */ 'node:' + 'url')).pathToFileURL(source);
    else url = new URL(source, globalThis.location?.href);
  }
  if (!url) throw new VitrineError('model must be a URL, a file path (Node), an ArrayBuffer or a Uint8Array', 'InvalidArgument');
  if (isNode && url.protocol === 'file:') {
    const fs = await import(/* @vite-ignore */ /* webpackIgnore: true */ 'node:' + 'fs/promises');
    try {
      const { size } = await fs.stat(url);
      if (size > maxBytes) throw tooLarge(url.pathname, size, maxBytes);
      const bytes = new Uint8Array(await fs.readFile(url));
      onProgress?.({ stage: 'model', loaded: bytes.byteLength, total: bytes.byteLength });
      return bytes;
    } catch (e) {
      if (e instanceof VitrineError) throw e;
      throw new VitrineError(`cannot read model file ${url.pathname}: ${e.code ?? e.message}`, 'NotFound');
    }
  }
  return fetchBytes(url, 'model', onProgress, maxBytes);
}

// A TF.js model ({ format: 'tfjs-layers' | 'tfjs-graph', url | path: model.json }): its model.json
// text and its weight shards concatenated in manifest order. Weight
// shards are read only from the model.json's own folder (same origin, no '..' or absolute paths);
// all files together stay under maxModelBytes.
export async function readTfjsModel(spec, options) {
  const fail = (message, code = 'InvalidArgument') => { throw new VitrineError(message, code); };
  const where = spec.url ?? spec.path;
  if (typeof where !== 'string' && !(where instanceof URL)) fail("a TF.js model needs url (or path in Node) of its model.json");
  let budget = options.maxModelBytes ?? DEFAULT_MAX_MODEL_BYTES;
  const read = async (source) => {
    const bytes = await readModelBytes(source, { onProgress: options.onProgress, maxBytes: budget });
    budget -= bytes.length;
    return bytes;
  };
  const text = new TextDecoder().decode(await read(where));
  let json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`model.json is not JSON: ${e.message}`, 'DataLoss');
  }
  const url = where instanceof URL ? where : /^(https?|file|blob|data):/i.test(where) ? new URL(where)
    : isNode ? null : new URL(where, globalThis.location?.href);
  const nodePath = url ? null : await import(/* @vite-ignore */ /* webpackIgnore: true */ 'node:' + 'path');
  const folder = url ? new URL('.', url) : nodePath.resolve(nodePath.dirname(where));
  const manifest = json?.weightsManifest ?? [];
  if (!Array.isArray(manifest)) fail('model.json: weightsManifest must be an array', 'DataLoss');
  const paths = manifest.flatMap((group) => group?.paths ?? []);
  if (paths.length > 10000) fail(`model.json lists ${paths.length} weight files; the limit is 10000`, 'ResourceExhausted');
  const shards = [];
  for (const p of paths) {
    if (typeof p !== 'string' || p === '' || /^[a-z][a-z0-9+.-]*:|^[\\/]/i.test(p)) {
      fail(`model.json: weight path ${JSON.stringify(p)} must be relative to the model's folder`, 'DataLoss');
    }
    let source;
    if (url) {
      source = new URL(p, folder);
      if (source.origin !== folder.origin || !source.pathname.startsWith(folder.pathname)) {
        fail(`model.json: weight path ${JSON.stringify(p)} leaves the model's folder`, 'DataLoss');
      }
    } else {
      source = nodePath.resolve(folder, p);
      if (!source.startsWith(folder + nodePath.sep)) fail(`model.json: weight path ${JSON.stringify(p)} leaves the model's folder`, 'DataLoss');
    }
    shards.push(await read(source));
  }
  const total = shards.reduce((s, b) => s + b.length, 0);
  const weights = new Uint8Array(total);
  let at = 0;
  for (const b of shards) {
    weights.set(b, at);
    at += b.length;
  }
  return { text, weights };
}

const REGISTRY_URL = new URL('../../models/registry.json', import.meta.url);
// The shipped files, spelled out for bundlers (static asset URLs); models/registry.json names them.
const SHIPPED = {
  'recommend/movielens.safetensors': new URL('../../models/recommend/movielens.safetensors', import.meta.url),
  'tagger/fashion-mnist.safetensors': new URL('../../models/tagger/fashion-mnist.safetensors', import.meta.url),
  'reviews/fine-foods.safetensors': new URL('../../models/reviews/fine-foods.safetensors', import.meta.url),
};
const CACHE_NAME = 'vitrine-models';
let registryLoad = null;

/** The URL of a shipped model file ('tagger/fashion-mnist.safetensors', ...) inside this package. */
export function shippedModelUrl(file) {
  const url = SHIPPED[file];
  if (!url) throw new VitrineError(`this package does not ship ${file}`, 'NotFound');
  return url;
}

/** models/registry.json: the shipped models with their sizes and SHA-256 digests. */
export async function modelRegistry() {
  if (!registryLoad) {
    registryLoad = readModelBytes(REGISTRY_URL, { maxBytes: 1 << 20 }).then((b) => JSON.parse(new TextDecoder().decode(b)));
    registryLoad.catch(() => { registryLoad = null; });
  }
  return registryLoad;
}

async function sha256Hex(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;  // not a secure context: nothing to check with
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The terms of a shipped default model: { name, demo, licence } (models/registry.json), which the
 * tasks' info() repeats while they use it.
 */
export async function registeredModelTerms(name) {
  const entry = (await modelRegistry()).models?.[name];
  if (!entry) throw new VitrineError(`no model '${name}' in models/registry.json`, 'NotFound');
  return { name, demo: entry.demo === true, licence: entry.licence ?? null,
           note: 'a demo model trained on public data, not on your store: train your own with `npx vitrine train`' };
}

/**
 * Reads a shipped default model by registry name ('tagger/fashion-mnist', ...): checks its size and
 * SHA-256 against models/registry.json (DataLoss on a mismatch) and, in browsers, keeps it in
 * Cache Storage ('vitrine-models', keyed by URL and digest) so that later page loads read it
 * without the network; a damaged cache entry is dropped and fetched again.
 * @returns {Promise<Uint8Array>}
 */
export async function readRegisteredModel(name, onProgress) {
  const registry = await modelRegistry();
  const entry = registry.models?.[name];
  if (!entry) throw new VitrineError(`no model '${name}' in models/registry.json`, 'NotFound');
  const url = shippedModelUrl(entry.file);
  const key = `${url.href}?vitrine-sha256=${entry.sha256}`;
  let cache = null;
  if (globalThis.caches && !isNode) cache = await caches.open(CACHE_NAME).catch(() => null);
  if (cache) {
    const hit = await cache.match(key).catch(() => null);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      if (bytes.length === entry.bytes && (await sha256Hex(bytes)) === entry.sha256) {
        onProgress?.({ stage: 'model', loaded: bytes.length, total: bytes.length, cached: true });
        return bytes;
      }
      await cache.delete(key).catch(() => {});
    }
  }
  const bytes = await readModelBytes(url, { onProgress });
  const digest = await sha256Hex(bytes);
  if (bytes.length !== entry.bytes || (digest !== null && digest !== entry.sha256)) {
    throw new VitrineError(`model ${entry.file} does not match models/registry.json (${bytes.length} bytes, sha256 ${digest}; ` +
                           `expected ${entry.bytes} bytes, ${entry.sha256})`, 'DataLoss');
  }
  if (cache && digest !== null) await cache.put(key, new Response(bytes)).catch(() => {});
  return bytes;
}

// { name: [d0, d1, ...] } with positive integer dimensions, or a VitrineError.
// The typed array that carries each dtype (bool: Uint8Array of 0/1).
const ARRAY_TYPES = {
  f32: Float32Array, i64: BigInt64Array, i32: Int32Array, u8: Uint8Array, i8: Int8Array, bool: Uint8Array,
  f64: Float64Array, f16: Uint16Array,  // f16: IEEE half bits
  i16: Int16Array, u16: Uint16Array, u32: Uint32Array, u64: BigUint64Array,
};

/** A plain array of numbers (or BigInts for i64) as `ArrayType`, refusing values it cannot hold. */
function fromNumbers(ArrayType, values, name) {
  if (ArrayType === Float32Array || ArrayType === Float64Array) return ArrayType.from(values);
  if (ArrayType === Uint16Array) {
    throw new VitrineError(`input '${name}' is f16: pass a Uint16Array of IEEE half bits`, 'InvalidArgument');
  }
  if (ArrayType === BigInt64Array) {
    return BigInt64Array.from(values, (v) => {
      if (typeof v === 'bigint') return v;
      if (!Number.isSafeInteger(v)) throw new VitrineError(`input '${name}' holds ${v}, not a safe integer`, 'InvalidArgument');
      return BigInt(v);
    });
  }
  const out = new ArrayType(values.length);
  values.forEach((v, i) => {
    if (typeof v === 'boolean') v = v ? 1 : 0;  // bool inputs may be given as true / false
    out[i] = v;
    if (out[i] !== v) throw new VitrineError(`input '${name}' holds ${v}, which a ${ArrayType.name} cannot hold`, 'InvalidArgument');
  });
  return out;
}

function checkInputShapes(shapes) {
  if (shapes === null || typeof shapes !== 'object' || Array.isArray(shapes)) {
    throw new VitrineError('inputShapes must be an object { inputName: [d0, d1, ...] }', 'InvalidArgument');
  }
  for (const [name, dims] of Object.entries(shapes)) {
    if (!Array.isArray(dims) || dims.length > 6 || !dims.every((d) => Number.isSafeInteger(d) && d >= 1)) {
      throw new VitrineError(`inputShapes.${name} must be 0 to 6 positive integers ([] for a scalar), got ${JSON.stringify(dims)}`, 'InvalidArgument');
    }
  }
  return shapes;
}

/** Runs of a model that carry outputs back into inputs in the engine (Model.createStream). */
export class ModelStream {
  /** @internal use Model.createStream() */
  constructor(model, options) {
    if (!options || typeof options !== 'object' || !options.carry || typeof options.carry !== 'object') {
      throw new VitrineError('createStream needs { carry: { outputName: inputName } }', 'InvalidArgument');
    }
    this._model = model;
    this._pairs = Object.entries(options.carry).map(([output, input]) => {
      const out = model.outputNames.indexOf(output), inp = model.inputNames.indexOf(input);
      if (out < 0) throw new VitrineError(`carry: unknown output '${output}' (outputs: ${model.outputNames.join(', ')})`, 'NotFound');
      if (inp < 0) throw new VitrineError(`carry: unknown input '${input}' (inputs: ${model.inputNames.join(', ')})`, 'NotFound');
      if (model.outputDtypes[out] !== model.inputDtypes[inp]) {
        throw new VitrineError(`carry: output '${output}' is ${model.outputDtypes[out]}, input '${input}' takes ${model.inputDtypes[inp]}`, 'InvalidArgument');
      }
      return { output, input, out, inp };
    });
    if (new Set(this._pairs.map((p) => p.inp)).size !== this._pairs.length) {
      throw new VitrineError('carry: an input is named twice', 'InvalidArgument');
    }
    /** The input names each run() takes (the model's inputs less the carried ones). */
    this.inputNames = model.inputNames.filter((n) => !this._pairs.some((p) => p.input === n));
    this._created = options.initial ?? {};
    this._initial = this._created;
    for (const key of Object.keys(this._initial)) {
      if (!this._pairs.some((p) => p.input === key)) throw new VitrineError(`initial: '${key}' is not a carried input`, 'InvalidArgument');
    }
    this._fresh = true;
  }

  /**
   * Runs on `inputs` (the non-carried inputs; a carried one given here replaces the state) and
   * returns the outputs that are not carried.
   * @returns {Record<string, { data: TypedArray, shape: number[] }>}
   */
  run(inputs) {
    const model = this._model;
    const h = model._live();
    if (!this._fresh && model._runs !== this._lastRun) {
      throw new VitrineError('the model ran outside this stream since its last run (its carried state is gone); call reset()',
        'FailedPrecondition');
    }
    if (inputs === null || typeof inputs !== 'object' || ArrayBuffer.isView(inputs) || Array.isArray(inputs)) {
      if (this.inputNames.length !== 1) {
        throw new VitrineError(`stream takes inputs ${JSON.stringify(this.inputNames)}: pass an object keyed by name`, 'InvalidArgument');
      }
      inputs = { [this.inputNames[0]]: inputs };
    }
    const all = { ...inputs };
    for (const p of this._pairs) {
      if (all[p.input] !== undefined) continue;
      if (this._fresh) {
        all[p.input] = this._initial[p.input] ?? { data: zerosOf(model.inputDtypes[p.inp], model.inputShapes[p.inp]), shape: model.inputShapes[p.inp] };
      }
    }
    // Carried inputs keep what the engine holds: set every other input.
    const normalized = model._normalizeInputs(all, new Set(this._pairs.map((p) => p.input)));
    normalized.forEach(({ data, shape }, index) => {
      if (data !== KEEP) model._check(h.setInput(index, data, shape));
    });
    model._runs = (model._runs ?? 0) + 1;
    this._lastRun = model._runs;
    this._fresh = true;  // until the carry below succeeds, the next run starts over
    model._check(h.run());
    const result = {};
    model.outputNames.forEach((name, index) => {
      if (!this._pairs.some((p) => p.out === index)) result[name] = { data: h.output(index), shape: h.outputShape(index) };
    });
    for (const p of this._pairs) model._check(h.carry(p.out, p.inp));
    this._fresh = false;
    return result;
  }

  /** The carried values the next run will read (copies), by input name. */
  state() {
    const h = this._model._live();
    const out = {};
    for (const p of this._pairs) {
      const data = this._fresh ? null : h.input(p.inp);
      out[p.input] = data === null ? null : { data, shape: h.inputShape(p.inp) };
    }
    return out;
  }

  /**
   * Starts over: from `initial` (by carried input name) when given, else from the stream's initial
   * state (createStream's `initial`, or zeros).
   */
  reset(initial) {
    if (initial !== undefined && (initial === null || typeof initial !== 'object')) {
      throw new VitrineError('reset(initial): initial must be an object { carriedInput: values }', 'InvalidArgument');
    }
    for (const key of Object.keys(initial ?? {})) {
      if (!this._pairs.some((p) => p.input === key)) throw new VitrineError(`initial: '${key}' is not a carried input`, 'InvalidArgument');
    }
    this._initial = initial ?? this._created;
    this._fresh = true;
  }
}

// A carried input that keeps its value in the engine (ModelStream.run).
const KEEP = Symbol('keep');

function zerosOf(dtype, shape) {
  const ArrayType = ARRAY_TYPES[dtype];
  return new ArrayType(shape.reduce((a, b) => a * b, 1));
}

export class Model extends EngineObject {
  /** @internal use Runtime.loadModel() */
  constructor(module, bytes, inputShapes) {
    super('model');
    this._module = module;
    this._handle = new module.ModelHandle();
    try {
      const shapes = inputShapes === undefined ? '' : JSON.stringify(checkInputShapes(inputShapes));
      this._check(bytes.tfjsGraph !== undefined ? this._handle.loadTfjsGraph(bytes.tfjsGraph, bytes.weights, shapes)
        : this._handle.load(bytes, shapes));
    } catch (e) {
      this.dispose();
      throw e;
    }
    /** Input names, in order. */
    this.inputNames = this._handle.inputNames();
    /** Output names, in order. */
    this.outputNames = this._handle.outputNames();
    /** Input shapes at load (inputShapes option or the file's sizes; a flat array input takes these, any batch). */
    this.inputShapes = this._handle.inputShapes();
    /**
     * Input shapes as the model declares them: -1 where run() accepts any size ({ data, shape }
     * inputs). An ONNX model is re-imported for new sizes of its symbolic dimensions (cached per
     * shape, weights shared); a new batch size alone only reshapes.
     */
    this.declaredShapes = this._handle.declaredShapes();
    /** Input and output dtypes: 'f32', 'i64', 'i32', 'u8', 'i8', 'bool', 'f64' or 'f16' (Uint16Array of half bits). */
    this.inputDtypes = this._handle.inputDtypes();
    this.outputDtypes = this._handle.outputDtypes();
    /** Metadata strings of a Vitrine model file (task, labels, ...); empty for ONNX. */
    this.metadata = this._handle.metadata();
  }

  /**
   * Runs the model.
   * @param inputs a typed array (single-input models; batch inferred from its length), or an object
   *   mapping input names to typed arrays or { data, shape }. Each input takes the array of its
   *   dtype (inputDtypes): Float32Array (f32), BigInt64Array (i64), Int32Array (i32), Uint8Array
   *   (u8, bool), Int8Array (i8), Float64Array (f64), Uint16Array of half bits (f16); a plain array of
   *   numbers is converted.
   * @returns {Record<string, { data: TypedArray, shape: number[] }>} outputs in their dtypes' arrays
   */
  run(inputs) {
    const h = this._live();
    this._normalizeInputs(inputs).forEach(({ data, shape }, index) => this._check(h.setInput(index, data, shape)));
    this._runs = (this._runs ?? 0) + 1;
    this._check(h.run());
    const result = {};
    this.outputNames.forEach((name, index) => {
      result[name] = { data: h.output(index), shape: h.outputShape(index) };
    });
    return result;
  }

  /**
   * A stream of runs that carry a recurrent state (Silero VAD's `stateN` -> `state`, an RNN's
   * `hn` -> `h`): after each run the carried outputs become the next run's inputs inside the engine,
   * with no copy to or from JavaScript. One stream runs a model at a time (a model.run() or another
   * stream's run in between makes this stream's next run fail; reset() starts it over).
   * @param {object} options
   * @param {Record<string, string>} options.carry output name -> input name
   * @param {Record<string, TypedArray | { data, shape }>} [options.initial] the carried inputs'
   *   first values (default: zeros at the input's load-time shape)
   * @returns {ModelStream}
   */
  createStream(options) {
    this._live();
    return new ModelStream(this, options);
  }

  /**
   * A trainer that fine-tunes this model's weights in place (see Trainer).
   * @param {object} [options] loss, optimizer, learningRate, momentum, weightDecay, clipNorm,
   *   labelSmoothing, schedule, warmupSteps, totalSteps, output, freeze (name prefixes)
   */
  createTrainer(options = {}) {
    this._live();
    return new Trainer(this._module, this, options);
  }

  /**
   * Per-operator timing for finding where a model's time goes. While on, every run times each
   * operator (XNNPACK's timer inside its runtimes, a clock around engine kernels); turning it on or
   * off rebuilds the model's runtimes.
   * @param {boolean} on
   */
  setProfiling(on) {
    if (typeof on !== 'boolean') throw new VitrineError('setProfiling takes true or false', 'InvalidArgument');
    this._check(this._live().setProfiling(on));
  }

  /**
   * The last run's operators in run order, while profiling is on (setProfiling): `op` is the XNNPACK
   * operator and its kernel kind ("Convolution (NHWC, F32) DWConv") or "engine <op>"; `node` the
   * graph node it runs where known (convolutions, dense layers, matrix products, engine kernels);
   * `flops` 2 × multiply-adds for those, else 0. XNNPACK fuses some nodes (a Clip after a
   * convolution) into the operator before them. XNNPACK times in whole microseconds (rounded
   * down) from the platform's clock (performance.now(): coarse in pages that are not cross-origin
   * isolated). Throws FailedPrecondition when profiling is off or the last run failed.
   * @returns {{ op: string, node: string, ms: number, flops: number, segment: number }[]}
   */
  profile() {
    const h = this._live();
    const rows = h.profile();
    if (rows === null) this._check(h.lastCode());
    return rows;
  }

  /** The model with its current weights as a Vitrine model file (.safetensors bytes). */
  save() {
    const bytes = this._live().save();
    if (bytes === null) this._check(1);
    return bytes;
  }

  /**
   * @internal [{ data: TypedArray, shape: number[] }] in input order; an absent input named in
   * `keep` gives { data: KEEP } (ModelStream: the engine keeps its value).
   */
  _normalizeInputs(inputs, keep = null) {
    const byName = ArrayBuffer.isView(inputs) || Array.isArray(inputs)
      ? (this.inputNames.length === 1 ? { [this.inputNames[0]]: inputs } : null)
      : inputs;
    if (!byName || typeof byName !== 'object') {
      throw new VitrineError(`model takes inputs ${JSON.stringify(this.inputNames)}: pass an object keyed by name`,
        'InvalidArgument');
    }
    for (const key of Object.keys(byName)) {
      if (!this.inputNames.includes(key)) {
        throw new VitrineError(`unknown input '${key}' (inputs: ${this.inputNames.join(', ')})`, 'NotFound');
      }
    }
    const normalized = [];
    this.inputNames.forEach((name, index) => {
      let value = byName[name];
      if (value === undefined && keep?.has(name)) {
        normalized.push({ data: KEEP, shape: null });
        return;
      }
      if (value === undefined) throw new VitrineError(`missing input '${name}'`, 'InvalidArgument');
      let data = value;
      let shape = null;
      if (!ArrayBuffer.isView(value) && !Array.isArray(value)) {
        data = value.data;
        shape = value.shape;
      }
      const dtype = this.inputDtypes[index];
      const ArrayType = ARRAY_TYPES[dtype];
      if (Array.isArray(data)) data = fromNumbers(ArrayType, data, name);
      if (!(data instanceof ArrayType)) {
        throw new VitrineError(`input '${name}' (${dtype}) must be a ${ArrayType.name} (or { data, shape })`, 'InvalidArgument');
      }
      if (!shape) {
        const declared = this.inputShapes[index];
        const perItem = declared.slice(1).reduce((a, b) => a * b, 1);
        if (data.length === 0 || data.length % perItem !== 0) {
          throw new VitrineError(`input '${name}' has ${data.length} values, not a positive multiple of ` +
            `${perItem} (shape ${JSON.stringify(declared)} with any batch size)`, 'InvalidArgument');
        }
        shape = [data.length / perItem, ...declared.slice(1)];
      }
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new VitrineError(`input '${name}': shape must be an array of non-negative integers`, 'InvalidArgument');
      }
      normalized.push({ data, shape });
    });
    return normalized;
  }

  /** Frees the model's engine memory. Safe to call twice. */
  dispose() {
    this._release();
  }
}
