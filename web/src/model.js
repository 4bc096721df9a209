// A model loaded into the engine (ONNX or a Vitrine .safetensors model file): run it on
// Float32Array inputs.
import { check, VitrineError } from './errors.js';
import { fetchBytes, isNode } from './loader.js';
import { Trainer } from './trainer.js';

/**
 * Reads model bytes from a URL, a file path (Node), an ArrayBuffer or a typed array.
 * @returns {Promise<Uint8Array>}
 */
export async function readModelBytes(source, onProgress) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  let url = source instanceof URL ? source : null;
  if (typeof source === 'string') {
    if (/^(https?|file|blob|data):/i.test(source)) url = new URL(source);
    else if (isNode) url = (await import(/* @vite-ignore */ 'node:' + 'url')).pathToFileURL(source);
    else url = new URL(source, globalThis.location?.href);
  }
  if (!url) throw new VitrineError('model must be a URL, a file path (Node), an ArrayBuffer or a Uint8Array', 'InvalidArgument');
  if (isNode && url.protocol === 'file:') {
    const fs = await import(/* @vite-ignore */ 'node:' + 'fs/promises');
    try {
      const bytes = new Uint8Array(await fs.readFile(url));
      onProgress?.({ stage: 'model', loaded: bytes.byteLength, total: bytes.byteLength });
      return bytes;
    } catch (e) {
      throw new VitrineError(`cannot read model file ${url.pathname}: ${e.code ?? e.message}`, 'NotFound');
    }
  }
  return fetchBytes(url, 'model', onProgress);
}

export class Model {
  /** @internal use Runtime.loadModel() */
  constructor(module, bytes) {
    this._module = module;
    this._handle = new module.ModelHandle();
    try {
      this._check(this._handle.load(bytes));
    } catch (e) {
      this.dispose();
      throw e;
    }
    /** Input names, in order. */
    this.inputNames = this._handle.inputNames();
    /** Output names, in order. */
    this.outputNames = this._handle.outputNames();
    /** Declared input shapes (dimension 0, the batch, may change). */
    this.inputShapes = this._handle.inputShapes();
    /** Metadata strings of a Vitrine model file (task, labels, ...); empty for ONNX. */
    this.metadata = this._handle.metadata();
  }

  /**
   * Runs the model.
   * @param inputs a Float32Array (single-input models; batch inferred from its length), or an object
   *   mapping input names to Float32Array or { data: Float32Array, shape: number[] }.
   * @returns {Record<string, { data: Float32Array, shape: number[] }>}
   */
  run(inputs) {
    const h = this._live();
    this._normalizeInputs(inputs).forEach(({ data, shape }, index) => this._check(h.setInput(index, data, shape)));
    this._check(h.run());
    const result = {};
    this.outputNames.forEach((name, index) => {
      result[name] = { data: h.output(index), shape: h.outputShape(index) };
    });
    return result;
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

  /** The model with its current weights as a Vitrine model file (.safetensors bytes). */
  save() {
    const bytes = this._live().save();
    if (bytes === null) this._check(1);
    return bytes;
  }

  /** @internal [{ data: Float32Array, shape: number[] }] in input order. */
  _normalizeInputs(inputs) {
    const byName = inputs instanceof Float32Array || Array.isArray(inputs)
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
      if (value === undefined) throw new VitrineError(`missing input '${name}'`, 'InvalidArgument');
      let data = value;
      let shape = null;
      if (!(value instanceof Float32Array) && !Array.isArray(value)) {
        data = value.data;
        shape = value.shape;
      }
      if (Array.isArray(data)) data = Float32Array.from(data);
      if (!(data instanceof Float32Array)) {
        throw new VitrineError(`input '${name}' must be a Float32Array (or { data, shape })`, 'InvalidArgument');
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
    if (this._handle) {
      this._handle.delete();
      this._handle = null;
    }
  }

  _live() {
    if (!this._handle) throw new VitrineError('model was disposed', 'FailedPrecondition');
    return this._handle;
  }

  _check(status) {
    check(status, () => this._handle.lastError());
  }
}
