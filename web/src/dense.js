// A dense (fully connected) layer over the engine: y (batch, out) = x (batch, in) · Wᵀ + b.
import { EngineObject } from './handle.js';
import { VitrineError } from './errors.js';

function toFloat32(values, what) {
  if (values instanceof Float32Array) return values;
  if (Array.isArray(values) || ArrayBuffer.isView(values)) return Float32Array.from(values);
  throw new VitrineError(`${what} must be a Float32Array or an array of numbers`, 'InvalidArgument');
}

export class DenseLayer extends EngineObject {
  /** @internal use Runtime.createDenseLayer() */
  constructor(module, options) {
    super('dense layer');
    if (!options || typeof options !== 'object') {
      throw new VitrineError('dense: options { inFeatures, outFeatures } are required', 'InvalidArgument');
    }
    const { inFeatures, outFeatures } = options;
    for (const [k, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]]) {
      if (!Number.isInteger(v) || v < 1 || v > 1 << 24) {
        throw new VitrineError(`dense: ${k} must be an integer in [1, 2^24], got ${v}`, 'InvalidArgument');
      }
    }
    this._handle = new module.DenseLayer();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    try {
      this._check(this._handle.init(inFeatures, outFeatures));
      if (options.weights !== undefined) this.setWeights(options.weights);
      if (options.bias !== undefined) this.setBias(options.bias);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Weights, row-major (outFeatures, inFeatures). */
  setWeights(weights) {
    this._check(this._live().setWeights(toFloat32(weights, 'dense weights')));
  }

  /** Bias (outFeatures). */
  setBias(bias) {
    this._check(this._live().setBias(toFloat32(bias, 'dense bias')));
  }

  /**
   * Runs the layer on a batch: `input` holds batch × inFeatures values, row-major.
   * @returns {Float32Array} batch × outFeatures values
   */
  forward(input) {
    const x = toFloat32(input, 'dense input');
    const batch = Math.floor(x.length / this.inFeatures);
    if (x.length === 0 || x.length % this.inFeatures !== 0) {
      throw new VitrineError(`dense input has ${x.length} values, not a positive multiple of the ` +
        `layer's ${this.inFeatures} input features`, 'InvalidArgument');
    }
    const h = this._live();
    this._check(h.forward(x, batch));
    return h.output();
  }

  /**
   * Gradients for the last forward() given dL/dy (batch × outFeatures values).
   * @returns {{ gradInput: Float32Array, gradWeights: Float32Array, gradBias: Float32Array }}
   */
  backward(gradOutput) {
    const h = this._live();
    this._check(h.backward(toFloat32(gradOutput, 'dense output gradient')));
    return { gradInput: h.gradInput(), gradWeights: h.gradWeights(), gradBias: h.gradBias() };
  }

  /** Frees the layer's engine memory. Safe to call twice. */
  dispose() {
    this._release();
  }
}
