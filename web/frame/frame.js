// The recommendations frame: a recommender in a worker of this origin, its history in this origin's
// storage, answering the embedding page over a MessageChannel (web/src/frame.js).
import { createRecommender } from '../src/index.js';
import { serveFrame } from '../src/frame.js';

serveFrame((options) => createRecommender({ ...options, storage: 'auto', worker: true }));
