// Each task's methods, declared once. The in-thread classes (Recommender, ImageTagger,
// ReviewAnalyzer) implement them, all returning Promises; remote.js builds the worker proxies from
// this table and worker.js allows exactly these calls, so a factory returns one kind of object
// wherever the task runs.
//   long:   index of the options argument that may carry onProgress (relayed from the worker) and
//           signal (cancels the call in the worker)
//   images: index of an argument holding an image or an array of images: turned into pixels on the
//           calling thread (where <img>, canvases and Blobs live) and transferred to the worker; a
//           Float32Array there (an embedding) passes as it is
//   items:  index of an argument holding [{ id, image | embedding }]: each image as above
export const TASK_METHODS = Object.freeze({
  recommender: {
    info: {}, itemIds: {}, hasItem: {}, observe: {}, personalize: {}, recommend: {}, recommendFor: {}, rerank: {}, similarItems: {},
    applyDelta: {}, addItems: {},
    exportState: {}, importState: {}, forget: {},
  },
  tagger: {
    info: {}, tag: { images: 0 }, tagBatch: { images: 0 }, embed: { images: 0 }, embedBatch: { images: 0 },
    addToCatalog: { items: 0 }, removeFromCatalog: {}, similar: { images: 0 }, learn: { images: 0 }, forgetTag: {},
    train: { long: 0 }, classifyEmbeddings: {}, exportHead: {}, importHead: {}, exportState: {}, importState: {}, forget: {},
  },
  reviews: {
    info: {}, analyze: {}, analyzeBatch: {}, summarize: { long: 1 }, fineTune: { long: 1 }, exportModel: {},
  },
});

/** The task kind each factory creates in a worker. */
export const TASK_KINDS = Object.freeze({ createRecommender: 'recommender', createImageTagger: 'tagger', createReviewAnalyzer: 'reviews' });
