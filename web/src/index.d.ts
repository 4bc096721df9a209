// Type declarations for the `vitrine` package.

/** Error thrown for every failure; `code` names the category. */
export declare class VitrineError extends Error {
  constructor(message: string, code?: VitrineErrorCode);
  readonly code: VitrineErrorCode;
}

export type VitrineErrorCode =
  | 'InvalidArgument' | 'OutOfRange' | 'NotFound' | 'DataLoss' | 'Unimplemented'
  | 'ResourceExhausted' | 'Internal' | 'FailedPrecondition' | 'Cancelled';

export type Variant = 'simd' | 'simd-threads';

export interface LoadProgress {
  /** 'start', 'wasm' (bytes arriving), 'ready'. */
  stage: 'start' | 'wasm' | 'ready';
  loaded: number;
  /** 0 when unknown. */
  total: number;
}

export interface RuntimeOptions {
  /** 'auto' (default): simd-threads where threads are possible (Node, cross-origin-isolated page), else simd. */
  variant?: 'auto' | Variant;
  /** Threads for the simd-threads variant (default: hardware threads, at most 8). */
  threads?: number;
  /** Resource limits to raise or lower from the defaults (see Runtime.setLimits). */
  limits?: Partial<EngineLimits>;
  onProgress?: (progress: LoadProgress) => void;
}

/**
 * What one runtime accepts from models, files and images; beyond a limit a call fails with a
 * ResourceExhausted VitrineError naming it. Defaults in wasm: maxTensorElements 2^27, maxTotalBytes
 * 768 MiB, maxNodes 1,000,000, maxAttributes 10,000, maxMetadataKeys 10,000, maxHeaderBytes 16 MiB,
 * maxImagePixels 2^25.
 */
export interface EngineLimits {
  /** Elements of one tensor. */
  maxTensorElements: number;
  /** Bytes of one allocation, and of all constants of one model. */
  maxTotalBytes: number;
  /** Nodes of one graph. */
  maxNodes: number;
  /** Attributes of one node. */
  maxAttributes: number;
  /** Keys of a model file's metadata. */
  maxMetadataKeys: number;
  /** Bytes of a model file's JSON header. */
  maxHeaderBytes: number;
  /** Pixels of one image given to a tagger (drawn and decoded images are scaled down to 2^25 first). */
  maxImagePixels: number;
}

export interface RuntimeInfo {
  /** The variant that actually runs. */
  variant: Variant;
  /** Threads kernels use now. */
  threads: number;
  /** Most threads setThreads() accepts in this runtime. */
  maxThreads: number;
  threadsSupported: boolean;
  simd: boolean;
  /** Why this variant was chosen (e.g. why threads were not possible). */
  reason: string;
  crossOriginIsolated: boolean;
  /** Size of the engine's WebAssembly memory (grows, never shrinks). */
  memoryBytes: number;
  limits: EngineLimits;
}

export interface DenseLayerOptions {
  inFeatures: number;
  outFeatures: number;
  /** Row-major (outFeatures, inFeatures); zeros when omitted. */
  weights?: Float32Array | number[];
  /** (outFeatures); zeros when omitted. */
  bias?: Float32Array | number[];
}

export interface DenseGradients {
  /** (batch, inFeatures) */
  gradInput: Float32Array;
  /** (outFeatures, inFeatures) */
  gradWeights: Float32Array;
  /** (outFeatures) */
  gradBias: Float32Array;
}

/** y (batch, out) = x (batch, in) · Wᵀ + b, run by XNNPACK in the engine. */
export declare class DenseLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  setWeights(weights: Float32Array | number[]): void;
  setBias(bias: Float32Array | number[]): void;
  /** `input` holds batch × inFeatures values; returns batch × outFeatures values. */
  forward(input: Float32Array | number[]): Float32Array;
  /** Gradients for the last forward() given dL/dy (batch × outFeatures values). */
  backward(gradOutput: Float32Array | number[]): DenseGradients;
  dispose(): void;
}

/** The typed array of each dtype: f32 Float32Array, i64 BigInt64Array, i32 Int32Array, u8 and bool Uint8Array, i8 Int8Array. */
export type TensorArray = Float32Array | BigInt64Array | Int32Array | Uint8Array | Int8Array | Float64Array | Uint16Array |
  Int16Array | Uint32Array | BigUint64Array;
/** Element types; f16 tensors travel as Uint16Array of IEEE half bits. */
export type DType = 'f32' | 'i64' | 'i32' | 'u8' | 'i8' | 'bool' | 'f64' | 'f16' | 'i16' | 'u16' | 'u32' | 'u64';

export interface TensorData {
  data: Float32Array;
  shape: number[];
}

/** A model input or output in its dtype's array. */
export interface TypedTensorData {
  data: TensorArray;
  shape: number[];
}

/** A model loaded into the engine: ONNX (opsets 11-17, static graphs) or a Vitrine .safetensors model file. */
export declare class Model {
  readonly inputNames: string[];
  readonly outputNames: string[];
  /** Input shapes at load (the inputShapes option, or the file's sizes); a flat array input takes these with any batch. */
  readonly inputShapes: number[][];
  /**
   * Input shapes as the model declares them: -1 where run() accepts any size (pass { data, shape }).
   * An ONNX model is re-imported for new sizes of its symbolic dimensions (the last few shapes are
   * cached; weights, fine-tuned ones included, are shared); a new batch size alone only reshapes.
   */
  readonly declaredShapes: number[][];
  /** Input and output dtypes, in order. */
  readonly inputDtypes: DType[];
  readonly outputDtypes: DType[];
  /** Metadata strings of a Vitrine model file (task, labels, normalization, ...); empty for ONNX. */
  readonly metadata: Record<string, string>;
  /**
   * A Float32Array for single-input models (batch inferred from its length), or inputs by name.
   * Returns outputs by name.
   */
  run(inputs: ModelInputs): Record<string, TypedTensorData>;
  /**
   * Runs that carry outputs back into inputs inside the engine (a recurrent state: Silero VAD's
   * stateN -> state), with no copy through JavaScript. One stream runs a model at a time.
   */
  createStream(options: ModelStreamOptions): ModelStream;
  /** A trainer that fine-tunes this model's weights in place. */
  createTrainer(options?: TrainerOptions): Trainer;
  /** The model with its current weights as a Vitrine model file (.safetensors bytes). */
  save(): Uint8Array;
  /** Per-operator timing of every run on or off (rebuilds the model's runtimes). */
  setProfiling(on: boolean): void;
  /** The last run's operators in run order while profiling is on (see OpTime); throws when the last run failed. */
  profile(): OpTime[];
  dispose(): void;
}

/** One operator of a profiled run. */
export interface OpTime {
  /** The XNNPACK operator and kernel kind ("Convolution (NHWC, F32) DWConv"), or "engine <op>". */
  op: string;
  /** The graph node it runs, where known (convolutions, dense layers, matrix products, attention, engine kernels). */
  node: string;
  /** Milliseconds, timed by XNNPACK in whole microseconds (rounded down). */
  ms: number;
  /** 2 × multiply-adds of that operator; 0 for other operators. */
  flops: number;
  /** The XNNPACK runtime or engine kernel it belongs to, in run order. */
  segment: number;
}

export interface ModelStreamOptions {
  /** Output name -> input name: after each run the output becomes that input. */
  carry: Record<string, string>;
  /** First values of carried inputs (default: zeros at the input's load-time shape). */
  initial?: Record<string, TensorArray | TypedTensorData>;
}

/** Model.createStream(): runs whose carried state stays in the engine. */
export declare class ModelStream {
  /** The inputs each run() takes: the model's inputs less the carried ones. */
  readonly inputNames: string[];
  /**
   * Runs on the non-carried inputs (a carried input given here replaces the state) and returns the
   * outputs that are not carried. Fails with FailedPrecondition when the model ran outside this
   * stream since its last run.
   */
  run(inputs: ModelInputs): Record<string, TypedTensorData>;
  /** Copies of the carried values the next run reads, by input name (null before the first run). */
  state(): Record<string, TypedTensorData | null>;
  /** Starts over: from `initial` when given, else from the stream's initial state (createStream's, or zeros). */
  reset(initial?: Record<string, TensorArray | TypedTensorData>): void;
}

export type ModelInputs = TensorArray | number[] | Record<string, TensorArray | number[] | bigint[] | TypedTensorData>;

export interface TrainerOptions {
  /** Default 'softmax_cross_entropy'. */
  loss?: 'softmax_cross_entropy' | 'binary_cross_entropy' | 'mse' | 'bpr' | 'multinomial' | 'sampled_softmax';
  /** Default 'adam'. */
  optimizer?: 'sgd' | 'adam' | 'adamw';
  learningRate?: number;
  momentum?: number;
  weightDecay?: number;
  /** > 0: clip the global gradient norm. */
  clipNorm?: number;
  labelSmoothing?: number;
  schedule?: 'constant' | 'cosine' | 'step';
  warmupSteps?: number;
  totalSteps?: number;
  /** Which model output the loss reads (default 0). */
  output?: number;
  /** Parameter-name prefixes to keep fixed. */
  freeze?: string[];
}

export declare class Trainer {
  readonly parameterNames: string[];
  readonly steps: number;
  /** One optimizer step; returns the batch's mean loss before the update. */
  step(inputs: ModelInputs, target: Float32Array | number[] | TensorData): number;
  evaluate(inputs: ModelInputs, target: Float32Array | number[] | TensorData): number;
  /** Steps over batches, yielding between steps; stops early when `signal` aborts. */
  fit(job: {
    batches: Array<{ inputs: ModelInputs; target: Float32Array | number[] | TensorData }> | (() => Iterable<{ inputs: ModelInputs; target: Float32Array | number[] | TensorData }>);
    epochs?: number;
    onProgress?: (progress: { step: number; epoch: number; loss: number }) => void;
    signal?: AbortSignal;
  }): Promise<{ losses: number[]; cancelled: boolean }>;
  dispose(): void;
}

/** A model file (ONNX or Vitrine .safetensors), or a TensorFlow.js graph model by its model.json. */
export type ModelSource = string | URL | ArrayBuffer | ArrayBufferView | TfjsGraphSource;

/** A TensorFlow.js graph model: its model.json (url, or path in Node); weight shards are read from its folder. */
export interface TfjsGraphSource {
  format: 'tfjs-graph';
  url?: string | URL;
  path?: string;
}

/** One engine instance (one wasm module, one thread pool). */
export declare class Runtime {
  /** In this runtime's thread (`worker: true` is refused here; see createRecommender). */
  createRecommender(options: RecommenderOptions & { worker?: false }): Promise<Recommender>;
  createReviewAnalyzer(options?: ReviewAnalyzerOptions): Promise<ReviewAnalyzer>;
  /** In this runtime's thread (`worker: true` is refused here; see createImageTagger). */
  createImageTagger(options?: ImageTaggerOptions & { worker?: false }): Promise<ImageTagger>;
  info(): RuntimeInfo;
  setThreads(n: number): void;
  /** Raises or lowers some resource limits of this runtime (positive integers). */
  setLimits(limits: Partial<EngineLimits>): void;
  createDenseLayer(options: DenseLayerOptions): DenseLayer;
  /** Loads a model from a URL, a file path (Node), an ArrayBuffer or a typed array, or a TF.js graph model. */
  loadModel(source: ModelSource, options?: LoadModelOptions): Promise<Model>;
  dispose(): void;
}

// ---- recommendations ---------------------------------------------------------------------------

/** One shopper event. `type` picks the weight from eventWeights unless `weight` is given. */
export interface RecommenderEvent {
  item: string;
  type?: string;
  weight?: number;
  /** Milliseconds since the epoch (default: now). */
  time?: number;
}

/** Persistence of the shopper's state: only the origin's own storage, or your own backend. */
export type RecommenderStorage =
  | 'memory'
  | 'auto'
  | { type: 'indexeddb'; name?: string }
  | { type: 'file'; path: string }
  | { load(): Promise<RecommenderState | null>; save(state: RecommenderState): Promise<void>; clear(): Promise<void> };

export interface RecommenderState {
  version: 1;
  events: Required<RecommenderEvent>[];
}

export interface CatalogEntry {
  id: string;
  title?: string;
  categories?: string[];
  /** false: never recommended. */
  inStock?: boolean;
}

/** How loadModel() reads a model. */
export interface LoadModelOptions {
  onProgress?: (progress: { stage: string; loaded: number; total: number }) => void;
  /** 'sha256-<base64>' (Subresource Integrity form): the bytes must match (DataLoss otherwise). */
  integrity?: string;
  /** The largest download or file accepted, in bytes (default 256 MiB; ResourceExhausted beyond). */
  maxBytes?: number;
  /**
   * Load-time shapes of ONNX inputs with symbolic dimensions, by input name (e.g. { input: [1, 16000] });
   * the model's rank and fixed sizes must agree; run() takes other sizes later. Not for Vitrine
   * model files (their shapes are fixed but for the batch).
   */
  inputShapes?: Record<string, number[]>;
}

/** How a task factory reads its own model (not the shipped defaults, which models/registry.json checks). */
export interface ModelReadOptions {
  /** 'sha256-<base64>': the model's bytes must match (DataLoss otherwise). */
  integrity?: string;
  /** The largest model download or file accepted, in bytes (default 256 MiB; ResourceExhausted beyond). */
  maxModelBytes?: number;
}

export interface RecommenderOptions extends ModelReadOptions {
  /** Default: the shipped MovieLens model (checked against models/registry.json, cached in browsers). */
  model?: ModelSource;
  /** Default: 'auto' in browsers (IndexedDB), 'memory' in Node. */
  storage?: RecommenderStorage;
  /** Key of this shopper's state in the storage (default 'default'; kept apart from other tasks' state). */
  userKey?: string;
  /** How the item table is held in memory (default 'f32'). */
  precision?: 'f32' | 'f16' | 'int8';
  /** Weight per event type (defaults: view 1, click 1, rate 1, cart 2, wishlist 2, purchase 3). */
  eventWeights?: Record<string, number>;
  /** Events kept (the oldest are dropped first; default 1000). */
  maxEvents?: number;
  catalog?: CatalogEntry[];
  runtime?: Runtime;
  onProgress?: (progress: LoadProgress) => void;
  /** Run in a dedicated worker (own runtime; `filter` and custom storage objects are refused there). */
  worker?: boolean;
  /** Worker mode: the worker runtime's variant and threads. */
  variant?: 'auto' | Variant;
  threads?: number;
  /**
   * The URL of a recommendations frame (web/frame/index.html) hosted on an origin of its own: the
   * recommender runs there, the history stays in that origin's storage, and the page gets a
   * FramedRecommender (recommendations only). Only model, integrity, maxModelBytes, userKey,
   * maxEvents, eventWeights, variant and threads are passed on.
   */
  frame?: string | URL;
  /** How long to wait for the frame to answer (ms, default 30000). */
  frameTimeoutMs?: number;
}

export interface RecommendOptions {
  k?: number;
  exclude?: string[];
  /** Default true: items in the history are not recommended again. */
  excludeSeen?: boolean;
  filter?: (id: string) => boolean;
  /** Only items of these catalog categories (needs `catalog`). */
  categories?: string[];
  /** MMR trade-off in [0, 1]: 0 = pure relevance. */
  diversity?: number;
  /** MMR candidate pool (default max(50, 5k)). */
  pool?: number;
  /** Default true: add `because` (the most similar history item). */
  explain?: boolean;
  /**
   * Rank only these items (a page's list: search results, a category page, a server's
   * retrieval); ids the model lacks are left out (rerank() returns them last).
   */
  candidates?: string[];
}

export interface Recommendation {
  id: string;
  score: number;
  because?: { id: string; similarity: number };
}

/** A product the model has not been trained on (addItems). */
export interface NewItem {
  id: string;
  title?: string;
  description?: string;
  categories?: string[];
  year?: number;
}

/** One rerank() result: a ranked candidate, or (score null) one the model does not know. */
export interface RerankedItem {
  id: string;
  score: number | null;
  unknown?: true;
  because?: { id: string; similarity: number };
}

/**
 * The default model a task uses when no `model` is given: every one is a demo trained on public
 * data (not on your store), some of it not cleared for commercial use — `licence` says whose terms.
 * Train your own with `npx vitrine train`. null in info() when you passed your own model.
 */
export interface ShippedModel {
  name: string;
  demo: boolean;
  licence: string | null;
  note: string;
}

export declare class Recommender {
  /** How the item table is held: the requested precision, or a compact file's own 'int8' / 'pq'. */
  readonly precision: 'f32' | 'f16' | 'int8' | 'pq';
  info(): Promise<{ kind: string; items: number; dim: number; bytes: number; precision: string; events: number;
          /** Saved events of items this model lacks: kept and saved again, not used for ranking. */
          dormantEvents: number; droppedOnLoad: number; shippedModel: ShippedModel | null;
          /** Whether addItems() can place new products (the file holds a content map). */
          contentMap: boolean;
          /** Products added with addItems() since the model was loaded. */
          addedItems: number }>;
  itemIds(): Promise<string[]>;
  hasItem(id: string): Promise<boolean>;
  /** Records and persists one event; resolves with the number of events kept. */
  observe(event: RecommenderEvent): Promise<number>;
  personalize(): Promise<{ events: number; ms: number }>;
  recommend(options?: RecommendOptions): Promise<Recommendation[]>;
  recommendFor(history: (string | RecommenderEvent)[], options?: RecommendOptions): Promise<Recommendation[]>;
  /**
   * Every candidate once, best first for this shopper; unknown ids last in their given order.
   * Seen items stay unless `excludeSeen: true`; exclude / filter / categories / stock still apply.
   */
  rerank(candidates: string[], options?: Omit<RecommendOptions, 'k' | 'candidates'>): Promise<RerankedItem[]>;
  /**
   * Applies an item delta file (`vitrine-recommend delta`: items removed, changed, added) made
   * against this model's current items (FailedPrecondition otherwise; nothing changes on error).
   */
  applyDelta(source: ModelSource, options?: { integrity?: string; maxModelBytes?: number }): Promise<{ items: number; fingerprint: string }>;
  /**
   * New products, recommendable at once without retraining: placed by the model's content map
   * (a compact file made with `vitrine-recommend compact --content`; FailedPrecondition without
   * one) from their title, description, categories and year. In memory only (add them again after
   * a reload, or ship an item delta); ids the model has are refused.
   */
  addItems(items: NewItem[]): Promise<{ added: number; items: number }>;
  similarItems(id: string, k?: number, options?: { exclude?: string[]; filter?: (id: string) => boolean; categories?: string[] }): Promise<Recommendation[]>;
  exportState(): Promise<RecommenderState>;
  importState(state: RecommenderState): Promise<void>;
  forget(): Promise<void>;
  dispose(): Promise<void>;
}

/** A Recommender in a worker: the same methods, each returning a Promise. */
/**
 * A Recommender in a worker: the same methods (declared once, web/src/methods.js); functions
 * (filter) and custom storage objects cannot cross to the worker.
 */
export declare class RemoteRecommender extends Recommender {
  readonly runtimeInfo: RuntimeInfo;
}

/**
 * A recommender in a frame on its own origin (createRecommender({ frame })): events in,
 * recommendations out; no exportState()/importState(), so the page's scripts cannot read the
 * history. The frame's host must send `Content-Security-Policy: frame-ancestors <storefront origins>`.
 */
export declare class FramedRecommender {
  readonly runtimeInfo: RuntimeInfo;
  info: Recommender['info'];
  itemIds: Recommender['itemIds'];
  hasItem: Recommender['hasItem'];
  observe: Recommender['observe'];
  personalize: Recommender['personalize'];
  recommend: Recommender['recommend'];
  recommendFor: Recommender['recommendFor'];
  rerank: Recommender['rerank'];
  similarItems(id: string, k?: number, options?: { exclude?: string[]; categories?: string[] }): Promise<Recommendation[]>;
  forget: Recommender['forget'];
  /** Stops the frame's recommender and removes the frame. */
  dispose(): Promise<void>;
}
/** The methods a FramedRecommender answers. */
export declare const FRAME_METHODS: readonly string[];

export declare const DEFAULT_EVENT_WEIGHTS: Readonly<Record<string, number>>;
/**
 * In browsers the recommender runs in a dedicated worker by default (RemoteRecommender: every method
 * returns a Promise); `worker: false`, a `runtime`, or options that cannot cross to a worker keep it
 * in the calling thread. In Node it runs in the calling thread unless `worker: true`.
 */
export declare function createRecommender(options: RecommenderOptions & { frame: string | URL }): Promise<FramedRecommender>;
export declare function createRecommender(options: RecommenderOptions & { worker: true }): Promise<RemoteRecommender>;
export declare function createRecommender(options: RecommenderOptions & { worker: false }): Promise<Recommender>;
export declare function createRecommender(options?: RecommenderOptions): Promise<Recommender>;
/** models/registry.json: the shipped models with sizes and SHA-256 digests. */
export declare function modelRegistry(): Promise<{ version: 1; models: Record<string, { file: string; task: string; card: string; bytes: number; sha256: string }> }>;

export declare function createRuntime(options?: RuntimeOptions): Promise<Runtime>;
/** Creates the default runtime once; later calls return it. */
export declare function init(options?: RuntimeOptions): Promise<Runtime>;
/** The default runtime's info; throws before init(). */
export declare function runtimeInfo(): RuntimeInfo;
export declare function setThreads(n: number): void;
export declare function loadModel(source: ModelSource, options?: LoadModelOptions): Promise<Model>;
export declare function createDenseLayer(options: DenseLayerOptions): Promise<DenseLayer>;
export declare function simdSupported(): boolean;
export declare function threadSupport(): { possible: boolean; reason: string };
/**
 * The name of the Trusted Types policy Vitrine creates for the script URLs of its own workers
 * ('vitrine'); a page whose CSP lists allowed policies (`trusted-types ...`) must include it.
 */
export declare const TRUSTED_TYPES_POLICY: 'vitrine';
/**
 * Asks the browser to keep this origin's storage (history, learned tags, cached models) under
 * storage pressure: navigator.storage.persist(). Call it from the page, best after a visitor's
 * gesture (Firefox asks the visitor). Never throws; `usage`/`quota` from navigator.storage.estimate().
 */
export declare function requestPersistentStorage(): Promise<{ persisted: boolean; reason: string; usage?: number; quota?: number }>;

// ---- image tagging ------------------------------------------------------------------------------

/** Raw 8-bit pixels (Node and browsers); rows of `rowBytes` bytes (0 = packed). */
export interface RawImage {
  data?: Uint8Array | Uint8ClampedArray;
  pixels?: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** Required for Uint8Array data; Uint8ClampedArray (ImageData) defaults to 'rgba'. */
  format?: 'gray' | 'rgb' | 'rgba';
  rowBytes?: number;
}

/** Everything tag(), embed(), learn() … accept. */
export type ImageInput =
  | RawImage | ImageData | ImageBitmap | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas
  | HTMLVideoElement | VideoFrame | Blob;

/** What a model expects (a Vitrine tagger file carries it; foreign models need it). */
export interface ImageInputSpec {
  height: number;
  width: number;
  channels: 1 | 3;
  /** Per channel, on the [0, 1] scale: x' = (x / 255 - mean) / std. */
  mean?: number[];
  std?: number[];
  layout?: 'nhwc' | 'nchw';
  /** 'dark': trained on light objects over black (Fashion-MNIST); photos with a light border are inverted (invert: 'auto'). */
  background?: 'dark' | 'light';
}

/** Describes a foreign model (ONNX or TF.js layers) to the tagger. */
export interface TaggerDescription {
  input: ImageInputSpec;
  labels?: string[];
  groups?: { name: string; members: number[] }[];
  /** Graph output names: class logits (softmaxed here) or probabilities, the embedding, group scores. */
  outputs?: { logits?: string; probabilities?: string; embedding?: string; groups?: string };
}

/** A TF.js layers model (model.json + weight shards next to it). */
export interface TfjsLayersSource {
  format: 'tfjs-layers';
  url?: string | URL;
  /** Node: a file path to model.json. */
  path?: string;
  /** Only this layer's output (e.g. the pooled features of a backbone). */
  outputLayer?: string;
}

export interface ImageTaggerOptions extends ModelReadOptions {
  /** Default: the shipped Fashion-MNIST tagger (DEFAULT_TAGGER_MODEL). */
  model?: ModelSource | TfjsLayersSource;
  /** Required for foreign models. */
  description?: TaggerDescription;
  fit?: 'letterbox' | 'crop' | 'stretch';
  invert?: 'auto' | 'never' | 'always';
  /** Where learned tags persist: 'auto' (IndexedDB in browsers), 'memory', { type: 'indexeddb' | 'file' }, or your own. */
  storage?: RecommenderStorage;
  userKey?: string;
  runtime?: Runtime;
  onProgress?: (progress: { stage: string; loaded: number; total: number }) => void;
  worker?: boolean;
  variant?: Variant | 'auto';
  threads?: number;
}

export interface TagOptions {
  /** Per kind of tag (classes, groups, custom). Default 3. */
  topK?: number;
  /** Drop tags scoring below this, in [0, 1]. Default 0. */
  threshold?: number;
  fit?: 'letterbox' | 'crop' | 'stretch';
  invert?: 'auto' | 'never' | 'always';
}

export interface Tag {
  label: string;
  /** Softmax probability (classes, custom tags) or group probability. */
  score: number;
  type: 'class' | 'group' | 'custom';
}

export interface HeadTrainOptions {
  steps?: number;
  learningRate?: number;
  weightDecay?: number;
  onProgress?: (progress: { step: number; steps: number; loss: number }) => void;
  signal?: AbortSignal;
}

export interface HeadTrainResult {
  tags: string[];
  examples: number;
  steps: number;
  loss: number;
  ms: number;
}

export interface TaggerState {
  version: 1;
  embeddingDim: number;
  /** Per tag: base64 little-endian float32 embeddings. */
  examples: Record<string, string[]>;
  /** Base64 head model file, or null. */
  head: string | null;
}

export declare class ImageTagger {
  info(): Promise<{ input: ImageInputSpec; labels: string[]; groups: { name: string; members: number[] }[]; embeddingDim: number;
            hasLogits: boolean; customTags: string[]; examples: Record<string, number>; catalog: number;
            shippedModel: ShippedModel | null }>;
  tag(image: ImageInput, options?: TagOptions): Promise<Tag[]>;
  tagBatch(images: ImageInput[], options?: TagOptions): Promise<Tag[][]>;
  embed(image: ImageInput, options?: Pick<TagOptions, 'fit' | 'invert'>): Promise<Float32Array>;
  embedBatch(images: ImageInput[], options?: Pick<TagOptions, 'fit' | 'invert'>): Promise<Float32Array[]>;
  classifyEmbeddings(embeddings: Float32Array[], options?: { topK?: number }): Promise<Tag[][]>;
  addToCatalog(items: ({ id: string; image: ImageInput } | { id: string; embedding: Float32Array })[]): Promise<number>;
  removeFromCatalog(id: string): Promise<void>;
  similar(imageOrEmbedding: ImageInput | Float32Array, k?: number, options?: { exclude?: string }): Promise<{ id: string; score: number }[]>;
  learn(images: ImageInput | ImageInput[], tag: string): Promise<number>;
  forgetTag(tag: string): Promise<void>;
  train(options?: HeadTrainOptions): Promise<HeadTrainResult>;
  exportHead(): Promise<Uint8Array | null>;
  importHead(bytes: Uint8Array): Promise<void>;
  exportState(): Promise<TaggerState>;
  importState(state: TaggerState): Promise<void>;
  forget(): Promise<void>;
  dispose(): Promise<void>;
}

/** An ImageTagger in a worker: the same methods, each returning a Promise. */
/** An ImageTagger in a worker: the same methods; images become pixels on the calling thread. */
export declare class RemoteImageTagger extends ImageTagger {
  readonly runtimeInfo: RuntimeInfo;
}

export declare const DEFAULT_TAGGER_MODEL: URL;
/** In browsers: a worker by default (RemoteImageTagger); `worker: false` keeps it in this thread. Node: this thread unless `worker: true`. */
export declare function createImageTagger(options: ImageTaggerOptions & { worker: true }): Promise<RemoteImageTagger>;
export declare function createImageTagger(options: ImageTaggerOptions & { worker: false }): Promise<ImageTagger>;
export declare function createImageTagger(options?: ImageTaggerOptions): Promise<ImageTagger>;
/** Converts any supported image (except Blobs) to raw pixels. */
export declare function toPixels(image: ImageInput): Required<Pick<RawImage, 'width' | 'height' | 'format' | 'rowBytes'>> & { data: Uint8Array | Uint8ClampedArray };
export declare function toPixelsAsync(image: ImageInput): Promise<ReturnType<typeof toPixels>>;

// ---- review analysis ----------------------------------------------------------------------------

export interface ReviewAnalyzerOptions extends ModelReadOptions {
  /** Default: the shipped Amazon Fine Food model (DEFAULT_REVIEW_MODEL). */
  model?: ModelSource;
  /** { aspect: keywords } (a trailing '*' matches word prefixes). Default: DEFAULT_ASPECTS. */
  aspects?: Record<string, string[]>;
  /**
   * P(positive) at or above which the clause about an aspect reads positive, in [0, 1]. Default:
   * 0.1 with the shipped model (chosen on development reviews), the model's own threshold otherwise.
   */
  aspectThreshold?: number;
  /** Longer texts are cut at a character boundary (result.truncated). Default 20000 bytes of UTF-8. */
  maxBytes?: number;
  runtime?: Runtime;
  onProgress?: (progress: { stage: string; loaded: number; total: number }) => void;
}

export interface AspectMention {
  aspect: string;
  sentiment: 'positive' | 'negative';
  /** P(positive) of the clause that mentions it. */
  score: number;
  snippet: string;
}

export interface ReviewAnalysis {
  /** One of info().labels, e.g. 'great' | 'other'. */
  label: string;
  positive: boolean;
  /** P(positive label); compared with the model's tuned threshold. */
  score: number;
  aspects: AspectMention[];
  /** The tokens that moved the score most (weight > 0 toward positive); negated words read "not …". */
  words: { word: string; weight: number }[];
  truncated: boolean;
  /** Invalid UTF-8 bytes replaced (Uint8Array input). */
  invalidBytes: number;
  /** No tokens (empty or whitespace-only text): the score is the model's prior. */
  empty: boolean;
}

export interface ReviewSummary {
  count: number;
  positive: number;
  negative: number;
  positiveShare: number;
  truncated: number;
  aspects: { aspect: string; mentions: number; positive: number; negative: number; praise: string | null; complaint: string | null }[];
  /** Up to three aspects, most praised / most criticized first. */
  praised: string[];
  criticized: string[];
}

export declare class ReviewAnalyzer {
  info(): Promise<{ labels: string[]; threshold: number; dim: number; vocabulary: number; aspects: string[];
            shippedModel: ShippedModel | null }>;
  analyze(text: string | Uint8Array, options?: { aspects?: boolean; maxBytes?: number; topWords?: number }): Promise<ReviewAnalysis>;
  analyzeBatch(texts: (string | Uint8Array)[], options?: { aspects?: boolean; maxBytes?: number; topWords?: number }): Promise<ReviewAnalysis[]>;
  summarize(texts: (string | Uint8Array)[], options?: { chunk?: number; onProgress?: (p: { done: number; total: number }) => void; signal?: AbortSignal }): Promise<ReviewSummary>;
  fineTune(examples: { text: string; label: string | boolean }[],
           options?: { epochs?: number; learningRate?: number; onProgress?: (p: { epoch: number; epochs: number }) => void; signal?: AbortSignal }):
    Promise<{ epochs: number; examples: number; ms: number }>;
  /** The (fine-tuned) model as a Vitrine model file. */
  exportModel(): Promise<Uint8Array>;
  dispose(): Promise<void>;
}

/** A ReviewAnalyzer in a worker: the same methods, each returning a Promise. */
/** A ReviewAnalyzer in a worker: the same methods. */
export declare class RemoteReviewAnalyzer extends ReviewAnalyzer {
  readonly runtimeInfo: RuntimeInfo;
}

export declare const DEFAULT_REVIEW_MODEL: URL;
export declare const DEFAULT_ASPECTS: Readonly<Record<string, string[]>>;
/** In browsers: a worker by default (RemoteReviewAnalyzer); `worker: false` keeps it in this thread. Node: this thread unless `worker: true`. */
export declare function createReviewAnalyzer(options: ReviewAnalyzerOptions & { worker: true; variant?: Variant | 'auto'; threads?: number }): Promise<RemoteReviewAnalyzer>;
export declare function createReviewAnalyzer(options: ReviewAnalyzerOptions & { worker: false }): Promise<ReviewAnalyzer>;
export declare function createReviewAnalyzer(options?: ReviewAnalyzerOptions & { variant?: Variant | 'auto'; threads?: number }): Promise<ReviewAnalyzer>;
