// Review analysis on the device: sentiment, aspects, the words behind the decision, summaries of
// many reviews, and fine-tuning on a store's own labelled reviews. The text never leaves the page.
//
//   const rv = await createReviewAnalyzer();                     // shipped Amazon Fine Food model
//   rv.analyze('Arrived broken, but support was great');         // { label, score, aspects, words, ... }
//   await rv.summarize(reviews, { onProgress });                 // distribution + praised / criticized aspects
import { EngineObject, engineOf } from './handle.js';
import { VitrineError } from './errors.js';
import { modelReadOptions, readModelBytes, readRegisteredModel, registeredModelTerms, shippedModelUrl } from './model.js';

/** The shipped default review model (models/reviews/, model card there). */
export const DEFAULT_REVIEW_MODEL = shippedModelUrl('reviews/fine-foods.safetensors');

/**
 * Default aspects and the keywords that signal them (matched on whole tokens, or on word prefixes for
 * entries ending in '*'). Revised on the development reviews of bench/aspects/dev (labelled by
 * reading under bench/aspects/GUIDELINES.md), never on the test labels: general verdicts ("great",
 * "love", "best") count as overall quality as the guidelines say, "loves" (a pet's or child's) as
 * taste, and ambiguous words ("can", "bag", "box", "amazon", "order") are left out.
 */
export const DEFAULT_ASPECTS = Object.freeze({
  taste: ['tast*', 'flavor*', 'flavour*', 'delicious', 'yum*', 'bland', 'sweet*', 'salty', 'bitter*', 'sour',
    'spic*', 'aftertaste', 'savory', 'savoury', 'smell*', 'aroma*', 'scent', 'tangy', 'loves', 'gobble*', 'devour*',
    'picky', 'palat*'],
  price: ['price*', 'expensive', 'inexpensive', 'cheap*', 'cost*', 'value', 'money', 'worth', 'overpriced', 'deal',
    'bargain', 'afford*', '$', 'dollar*', 'cents', 'paid', 'pay', 'sale', 'savings', 'budget'],
  packaging: ['container*', 'wrapper*', 'wrapped', 'wrapping', 'sealed', 'seal', 'reseal*', 'lid', 'lids', 'jar',
    'jars', 'tin', 'tins', 'bottle', 'bottles', 'packaging', 'packaged', 'packing'],
  delivery: ['deliver*', 'shipping', 'shipped', 'ship', 'ships', 'arriv*', 'shipment', 'late', 'damaged', 'broken',
    'crushed', 'smashed', 'dented', 'transit', 'mail', 'postage', 'ups', 'fedex', 'usps'],
  quality: ['quality', 'ingredient*', 'organic', 'natural', 'healthy', 'healthier', 'artificial', 'fake', 'best',
    'recommend*', 'love', 'great', 'good', 'excellent', 'amazing', 'awesome', 'wonderful', 'fantastic', 'perfect*',
    'favorite', 'favourite', 'terrible', 'awful', 'horrible', 'worst', 'texture', 'consistency', 'thick', 'dry',
    'crisp*', 'crunch*', 'chewy', 'soft', 'smooth', 'creamy', 'calorie*', 'sugar', 'sodium', 'fat', 'carb*',
    'protein', 'msg', 'gluten*', 'vegan', 'allerg*', 'nutrition*', 'strong', 'weak', 'disappoint*'],
  freshness: ['fresh', 'freshness', 'freshly', 'stale', 'expired', 'expir*', 'moldy', 'mold', 'mouldy', 'rancid',
    'soggy', 'spoiled', 'rotten', 'wilted'],
  service: ['service', 'customer', 'seller*', 'refund*', 'return*', 'support', 'replace*', 'vendor', 'merchant',
    'responded', 'response', 'contacted'],
  size: ['size*', 'small', 'smaller', 'large', 'larger', 'bigger', 'tiny', 'portion*', 'quantity', 'amount',
    'ounce*', 'oz', 'count', 'lb', 'lbs', 'grams', 'serving*', 'dozen', 'bulk', 'pounds'],
});

function fail(message, code = 'InvalidArgument') {
  throw new VitrineError(message, code);
}

const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

export class ReviewAnalyzer extends EngineObject {
  /** @internal use createReviewAnalyzer() */
  constructor(module, bytes, options) {
    super('review analyzer');
    const aspects = options.aspects ?? DEFAULT_ASPECTS;
    if (aspects === null || typeof aspects !== 'object' || Array.isArray(aspects)) fail('aspects must be an object { name: [keywords] }');
    // The shipped model's aspects read positive from P(great) >= 0.1 (chosen on bench/aspects/dev);
    // any other model's from its own threshold unless aspectThreshold says otherwise.
    const aspectThreshold = options.aspectThreshold ?? (options.model === undefined ? 0.1 : null);
    if (aspectThreshold !== null && !(typeof aspectThreshold === 'number' && aspectThreshold >= 0 && aspectThreshold <= 1)) {
      fail(`aspectThreshold must be a number in [0, 1], got ${options.aspectThreshold}`);
    }
    this._maxBytes = options.maxBytes ?? 20000;
    if (!(Number.isInteger(this._maxBytes) && this._maxBytes > 0)) fail(`maxBytes must be a positive integer, got ${options.maxBytes}`);
    this._handle = new module.ReviewHandle();
    try {
      this._check(this._handle.load(bytes));
      this._check(this._handle.setAspects(JSON.stringify(aspects)));
      this._check(this._handle.setAspectThreshold(aspectThreshold ?? -1));
      this._info = this._handle.info();
      this._aspectNames = this._handle.aspectNames();
      if (this._info.labels.length !== 2) fail('review models must have two labels (negative/other, positive/great)', 'Unimplemented');
    } catch (e) {
      this._release();
      throw e;
    }
  }

  /** { labels, threshold, dim, vocabulary, aspects } */
  async info() {
    this._live();
    return { ...this._info, aspects: [...this._aspectNames], shippedModel: this._shippedModel ?? null };
  }

  /**
   * Sentiment of one review, the aspects its clauses talk about (each with the clause's own
   * sentiment) and the words that drove the decision. options: { aspects: false } skips the
   * per-clause pass (sentiment only, about twice as fast), maxBytes, topWords.
   * @returns {{ label: string, positive: boolean, score: number, aspects: {aspect: string, sentiment: 'positive'|'negative', score: number, snippet: string}[],
   *             words: {word: string, weight: number}[], truncated: boolean, invalidBytes: number, empty: boolean }}
   */
  async analyze(text, options = {}) {
    return this._analyze(text, options);
  }

  _analyze(text, options) {
    const h = this._live();
    if (typeof text !== 'string' && !(text instanceof Uint8Array)) fail('analyze(text): text must be a string (or UTF-8 bytes)');
    const topWords = options.topWords ?? 5;
    if (!(Number.isInteger(topWords) && topWords >= 0)) fail(`topWords must be an integer >= 0, got ${topWords}`);
    const maxBytes = options.maxBytes ?? this._maxBytes;
    if (!(Number.isInteger(maxBytes) && maxBytes > 0 && maxBytes <= 0x7fffffff)) fail(`maxBytes must be an integer in [1, 2^31), got ${maxBytes}`);
    const r = h.analyze(this._cut(text, maxBytes), maxBytes, options.aspects !== false, topWords);
    if (r === null) this._check(h.lastCode());
    const labels = this._info.labels;
    return { label: labels[r.label], positive: r.label === 1, score: r.probabilities[1],
             aspects: r.aspects.map((a) => ({ aspect: a.aspect, sentiment: a.positive ? 'positive' : 'negative', score: a.score, snippet: a.snippet })),
             words: r.words, truncated: r.truncated, invalidBytes: r.invalidBytes, empty: r.tokens === 0 };
  }

  /** analyze() for many texts. */
  async analyzeBatch(texts, options = {}) {
    if (!Array.isArray(texts)) fail('analyzeBatch(texts): texts must be an array');
    return texts.map((t) => this._analyze(t, options));
  }

  /**
   * Summarizes many reviews without blocking the page: yields to the event loop every `chunk`
   * reviews, reports progress, stops on `signal`.
   * @returns {Promise<{ count: number, positive: number, negative: number, positiveShare: number, truncated: number,
   *   aspects: {aspect: string, mentions: number, positive: number, negative: number, praise: string|null, complaint: string|null}[],
   *   praised: string[], criticized: string[] }>}
   */
  async summarize(texts, options = {}) {
    if (!Array.isArray(texts)) fail('summarize(texts): texts must be an array');
    const chunk = options.chunk ?? 200;
    if (!(Number.isInteger(chunk) && chunk > 0)) fail(`chunk must be a positive integer, got ${chunk}`);
    const h = this._live();
    this._check(h.summaryBegin());
    for (let i = 0; i < texts.length; i += chunk) {
      if (options.signal?.aborted) fail('summarize() was cancelled', 'Cancelled');
      this._check(h.summaryAdd(texts.slice(i, i + chunk).map((t) => this._cut(t, this._maxBytes)), this._maxBytes));
      const done = Math.min(i + chunk, texts.length);
      options.onProgress?.({ done, total: texts.length });
      if (done < texts.length) await yieldToEventLoop();
    }
    if (texts.length === 0) options.onProgress?.({ done: 0, total: 0 });
    return h.summaryResult();
  }

  /**
   * Fine-tunes the model on labelled reviews ({ text, label } with label = one of info().labels,
   * or true/false for positive/negative), epoch by epoch, yielding in between.
   * @returns {Promise<{ epochs: number, examples: number, ms: number }>}
   */
  async fineTune(examples, options = {}) {
    const h = this._live();
    if (!Array.isArray(examples) || examples.length === 0) fail('fineTune(examples): a non-empty array of { text, label } is needed');
    const epochs = options.epochs ?? 5, lr = options.learningRate ?? 0.01;
    if (!(Number.isInteger(epochs) && epochs >= 1 && epochs <= 1000)) fail(`epochs must be an integer in [1, 1000], got ${epochs}`);
    if (!(lr > 0 && Number.isFinite(lr))) fail(`learningRate must be > 0, got ${lr}`);
    const labels = this._info.labels;
    const rows = examples.map((e, i) => {
      if (!e || typeof e.text !== 'string') fail(`example ${i}: text must be a string`);
      const label = e.label === true ? 1 : e.label === false ? 0 : labels.indexOf(e.label);
      if (label < 0) fail(`example ${i}: label must be one of ${labels.join(', ')} (or true/false), got ${e.label}`);
      return [e.text, label];
    });
    const json = JSON.stringify(rows);
    const t0 = performance.now();
    for (let epoch = 1; epoch <= epochs; epoch++) {
      if (options.signal?.aborted) fail('fine-tuning was cancelled', 'Cancelled');
      this._check(h.fineTune(json, 1, lr));
      options.onProgress?.({ epoch, epochs });
      if (epoch < epochs) await yieldToEventLoop();
    }
    return { epochs, examples: rows.length, ms: performance.now() - t0 };
  }

  /** The (fine-tuned) model as a Vitrine model file. */
  async exportModel() {
    const b = this._live().save(false);
    if (!b) this._check(1);
    return b;
  }

  async dispose() {
    this._release();
  }

  // A string longer than maxBytes + 1 UTF-16 units holds more than maxBytes UTF-8 bytes: the engine
  // cuts it there anyway, so only that much crosses into the wasm heap.
  _cut(text, maxBytes) {
    return typeof text === 'string' && text.length > maxBytes + 1 ? text.slice(0, maxBytes + 1) : text;
  }
}

/** @param {object|Promise<object>} runtime a Runtime (index.js), or a promise of one (see createRecommenderOn) */
export async function createReviewAnalyzerOn(runtime, options = {}) {
  const ready = engineOf(runtime);
  if (options === null || typeof options !== 'object') fail('options must be an object');
  if (options.worker) fail('worker: true is for createReviewAnalyzer(); a runtime\'s analyzers run on its own thread');
  const bytes = options.model === undefined ? await readRegisteredModel('reviews/fine-foods', options.onProgress)
                                            : await readModelBytes(options.model, modelReadOptions(options));
  const analyzer = new ReviewAnalyzer((await ready)._module, bytes, options);
  analyzer._shippedModel = options.model === undefined ? await registeredModelTerms('reviews/fine-foods') : null;
  return analyzer;
}
