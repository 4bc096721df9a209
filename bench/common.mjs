// Helpers shared by the Node benchmarks in bench/wasm/: command-line flags, statistics, .npy files,
// seeded random numbers and the tfjs-wasm threads workaround.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `--name value` and `--flag` parsing over process.argv. */
export const args = process.argv.slice(2);
export const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
export const flag = (name) => args.includes(`--${name}`);

/**
 * The files ending in `suffix` of npm package name@version, fetched once with `npm pack` from the
 * registry into `cacheDir` (sorted paths).
 */
export function npmPackageFiles(name, version, cacheDir, suffix) {
  const dir = path.join(cacheDir, `${name.replace('/', '+')}-${version}`);
  if (!fs.existsSync(path.join(dir, '.complete'))) {
    fs.mkdirSync(dir, { recursive: true });
    const tgz = execFileSync('npm', ['pack', `${name}@${version}`, '--silent', '--pack-destination', dir], { encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['xzf', path.join(dir, tgz), '-C', dir]);
    fs.rmSync(path.join(dir, tgz));
    fs.writeFileSync(path.join(dir, '.complete'), '');
  }
  const found = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(suffix)) found.push(p);
    }
  };
  walk(dir);
  return found.sort();
}

/** Linear-interpolated quantile of an ascending array. */
export function quantile(sorted, q) {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Median, p10 and p90 of run times (ms). */
export function stats(times) {
  const s = [...times].sort((a, b) => a - b);
  return { median_ms: quantile(s, 0.5), p10_ms: quantile(s, 0.1), p90_ms: quantile(s, 0.9), runs: s.length };
}

/** Runs fn `warmup` times, then times `runs` calls (awaited). */
export async function timeIt(fn, runs, warmup) {
  for (let i = 0; i < warmup; i++) await fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return stats(times);
}

/**
 * Times two functions interleaved (a, b, a, b, ...) over `runs` passes after a warm-up, each sample
 * averaging enough calls to last about `sampleMs` (sub-millisecond models are otherwise timer and
 * scheduling noise). Returns [stats(a), stats(b)] of per-call milliseconds.
 */
export async function timeInterleaved(fa, fb, runs, warmup = 3, sampleMs = 5) {
  for (let i = 0; i < warmup; i++) { await fa(); await fb(); }
  const once = async (f) => { const t0 = performance.now(); await f(); return performance.now() - t0; };
  const calls = Math.max(1, Math.ceil(sampleMs / Math.max(1e-3, Math.min(await once(fa), await once(fb)))));
  const ta = [], tb = [];
  for (let r = 0; r < runs; r++) {
    for (const [f, out] of [[fa, ta], [fb, tb]]) {
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) await f();
      out.push((performance.now() - t0) / calls);
    }
  }
  return [{ ...stats(ta), calls_per_sample: calls }, { ...stats(tb), calls_per_sample: calls }];
}

// One record per configuration: the median of its passes' medians, their spread and every pass's
// median (and the largest output error `err` of any pass); a configuration that failed in every
// pass keeps its error.
export function aggregatePasses(rows) {
  const keyOf = (r) => [r.part, r.engine ?? 'vitrine', r.variant, r.form ?? '', r.direction ?? '', r.threads, r.items ?? '', r.events ?? '', r.precision ?? ''].join('/');
  const groups = new Map();
  for (const r of rows) {
    if (!groups.has(keyOf(r))) groups.set(keyOf(r), []);
    groups.get(keyOf(r)).push(r);
  }
  return [...groups.values()].map((g) => {
    const good = g.filter((r) => !r.error);
    if (!good.length) return { ...g[0], pass: undefined };
    const med = (f) => quantile(good.map(f).sort((a, b) => a - b), 0.5);
    const meds = good.map((r) => r.median_ms).sort((a, b) => a - b);
    const errs = good.map((r) => r.err).filter((e) => e !== undefined);
    return { ...good[0], ...(errs.length ? { err: errs.some((e) => !(e <= Infinity)) ? NaN : Math.max(...errs) } : {}),
      pass: undefined, median_ms: med((r) => r.median_ms), p10_ms: med((r) => r.p10_ms), p90_ms: med((r) => r.p90_ms),
      passes: good.length, failed_passes: g.length - good.length, spread_ms: [meds[0], meds[meds.length - 1]],
      pass_medians_ms: good.map((r) => r.median_ms) };
  });
}

export function median(xs) {
  return quantile([...xs].sort((a, b) => a - b), 0.5);
}

const NPY_DESCR = { Float32Array: '<f4', BigInt64Array: '<i8', Int32Array: '<i4', Uint8Array: '|u1', Int8Array: '|i1' };

/** A C-order .npy file (format 1.0) for `data` of `shape`: the typed array's dtype, or `descr` (e.g. '|b1'). */
export function npyFile(data, shape, descr = NPY_DESCR[data.constructor.name]) {
  if (!descr) throw new Error(`npyFile: no .npy dtype for ${data.constructor.name}`);
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** The data of a float32 C-order .npy file (format 1.0 or 2.0). */
export function readNpyFloat32(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file} is not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const offset = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, offset);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) throw new Error(`${file}: not C-order float32`);
  return new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + buf.byteLength));
}

/** A seeded uniform [0, 1) generator (mulberry32): the benchmarks' synthetic data. */
export function mulberry32(seed) {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// tfjs-backend-wasm never uses threads under Node (WASM_HAS_MULTITHREAD_SUPPORT is hard-wired to
// false there, tensorflow/tfjs#3830), and its C++ caps the pool at logical cores / 2. For the
// 2-thread configuration we force the threaded binary and let its Emscripten workers start under
// Node: Blob URLs become temp files, the bundle's module-level names the worker needs are defined,
// and os.cpus() reports twice the cores while the backend starts.
export function forceTfjsThreads(tf, threads) {
  const require = createRequire(import.meta.url);
  const { Worker } = require('node:worker_threads');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-bench-tfjs-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  let count = 0;
  const NodeBlob = globalThis.Blob;
  globalThis.Blob = class extends NodeBlob {
    constructor(parts, options) {
      super(parts, options);
      this._text = parts.every((p) => typeof p === 'string') ? parts.join('') : null;
    }
  };
  const createObjectURL = URL.createObjectURL;
  URL.createObjectURL = (blob) => {
    if (blob?._text == null) return createObjectURL(blob);
    if (!blob._path) {
      blob._path = path.join(dir, `blob${count++}.js`);
      const prelude = blob._text.startsWith('var WasmBackendModuleThreadedSimd')
        ? "var require$$0 = require('fs'), require$$1 = require('path'), require$$3 = require('perf_hooks'), " +
          "require$$4 = require('os'), commonjsGlobal = globalThis;\n"
        : '';
      fs.writeFileSync(blob._path, prelude + blob._text);
    }
    return blob._path;
  };
  const postMessage = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (message, ...rest) {
    if (message?.urlOrBlob?._text != null) message = { ...message, urlOrBlob: URL.createObjectURL(message.urlOrBlob) };
    return postMessage.call(this, message, ...rest);
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  const cpus = os.cpus;
  os.cpus = () => Array.from({ length: 2 * threads }, () => cpus()[0]);
  return () => { os.cpus = cpus; };
}

/** TensorFlow.js with its wasm backend on `threads` threads (above 1 forced, see forceTfjsThreads). */
export async function loadTfjsWasm(threads) {
  const require = createRequire(import.meta.url);
  const tf = require('@tensorflow/tfjs');
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  const restore = threads > 1 ? forceTfjsThreads(tf, threads) : () => {};
  wasm.setThreadsCount(threads);
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
  await tf.ready();
  restore();
  const actual = wasm.getThreadsCount();
  if (actual !== threads) throw new Error(`tfjs-backend-wasm runs ${actual} threads, asked for ${threads}`);
  return { tf, wasm };
}
