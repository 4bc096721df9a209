// Fine-tuning a loaded model on the device: the engine's own Trainer (same code as native training)
// updates the model's weights in place; the model's next run() uses them.
import { EngineObject } from './handle.js';
import { check, VitrineError } from './errors.js';

const OPTION_KEYS = ['loss', 'optimizer', 'learningRate', 'momentum', 'weightDecay', 'clipNorm', 'labelSmoothing',
  'schedule', 'warmupSteps', 'totalSteps', 'output', 'freeze'];

export class Trainer extends EngineObject {
  /** @internal use Model.createTrainer() */
  constructor(module, model, options) {
    super('trainer');
    if (!options || typeof options !== 'object') throw new VitrineError('trainer options must be an object', 'InvalidArgument');
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.includes(key)) throw new VitrineError(`unknown trainer option '${key}'`, 'InvalidArgument');
    }
    this._model = model;
    this._handle = new module.TrainerHandle();
    try {
      check(this._handle.init(model._live(), JSON.stringify(options)), () => this._handle.lastError());
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Names of the trainable parameters. */
  get parameterNames() { return this._live().parameterNames(); }
  /** Optimizer steps taken so far. */
  get steps() { return this._live().stepsTaken(); }

  /**
   * One optimizer step on a batch.
   * @param inputs as Model.run() takes them
   * @param target Float32Array (class ids (N), or values shaped like the output) or { data, shape }
   * @returns {number} the batch's mean loss before the update
   */
  step(inputs, target) {
    this._feed(inputs, target);
    this._check(this._handle.step());
    return this._handle.lastLoss();
  }

  /** The loss on a batch, without updating. */
  evaluate(inputs, target) {
    this._feed(inputs, target);
    this._check(this._handle.evaluate());
    return this._handle.lastLoss();
  }

  /**
   * Several steps, yielding to the event loop between them so a page (or worker) stays responsive.
   * @param {{ batches: Array<{inputs: any, target: any}> | (() => Iterable), epochs?: number,
   *           onProgress?: (p: {step: number, epoch: number, loss: number}) => void, signal?: AbortSignal }} job
   * @returns {Promise<{ losses: number[], cancelled: boolean }>}
   */
  async fit({ batches, epochs = 1, onProgress, signal } = {}) {
    if (!batches) throw new VitrineError('fit: batches are required', 'InvalidArgument');
    const losses = [];
    for (let epoch = 0; epoch < epochs; epoch++) {
      const list = typeof batches === 'function' ? batches() : batches;
      for (const { inputs, target } of list) {
        if (signal?.aborted) return { losses, cancelled: true };
        const loss = this.step(inputs, target);
        losses.push(loss);
        onProgress?.({ step: this.steps, epoch, loss });
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
    return { losses, cancelled: false };
  }

  dispose() {
    this._release();
  }

  _feed(inputs, target) {
    const h = this._live();
    const normalized = this._model._normalizeInputs(inputs);
    normalized.forEach(({ data, shape }, index) => this._check(h.setInput(index, data, shape)));
    let data = target;
    let shape = null;
    if (target && !(target instanceof Float32Array) && !Array.isArray(target)) {
      data = target.data;
      shape = target.shape;
    }
    if (Array.isArray(data)) data = Float32Array.from(data);
    if (!(data instanceof Float32Array)) {
      throw new VitrineError('target must be a Float32Array (or { data, shape })', 'InvalidArgument');
    }
    if (!shape) {
      const batch = normalized[0].shape[0];
      if (data.length === batch) shape = [batch];
      else if (batch > 0 && data.length % batch === 0) shape = [batch, data.length / batch];
      else throw new VitrineError(`target has ${data.length} values for a batch of ${batch}`, 'InvalidArgument');
    }
    this._check(h.setTarget(data, shape));
  }
}
