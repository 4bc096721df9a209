// Writes models/registry.json: every shipped model file with its size and SHA-256, which the
// facade checks before using a default model (and uses to key its browser cache). `--check`
// fails when the registry does not match the files (run by the tests).
//
//   node scripts/registry.mjs [--check]
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Every shipped model is a demo: trained on public data that is not a store's, some of it not
// cleared for commercial use. `licence` is the training data's terms; the facade's info() repeats
// both, pointing to `vitrine train` for a store's own model.
const MODELS = {
  'recommend/movielens': {
    file: 'recommend/movielens.safetensors', task: 'recommend', card: 'recommend/MODEL_CARD.md', demo: true,
    licence: 'MovieLens latest-small (GroupLens, via r-cran-dslabs): research use; no commercial or revenue-bearing use without GroupLens\'s permission',
  },
  'tagger/fashion-mnist': {
    file: 'tagger/fashion-mnist.safetensors', task: 'tagger', card: 'tagger/MODEL_CARD.md', demo: true,
    licence: 'Fashion-MNIST (Zalando SE): MIT; commercial use allowed, but 28x28 grey clothing photos are not a store\'s photos',
  },
  'reviews/fine-foods': {
    file: 'reviews/fine-foods.safetensors', task: 'reviews', card: 'reviews/MODEL_CARD.md', demo: true,
    licence: 'Amazon Fine Food reviews (SNAP, McAuley & Leskovec 2013, via r-cran-modeldata): the source states no licence; the review text is Amazon\'s and its reviewers\'',
  },
};
const registry = { version: 1, models: {} };
for (const [name, m] of Object.entries(MODELS)) {
  const bytes = fs.readFileSync(path.join(root, 'models', m.file));
  registry.models[name] = { ...m, bytes: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
}
const file = path.join(root, 'models/registry.json');
const text = JSON.stringify(registry, null, 2) + '\n';
if (process.argv.includes('--check')) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current !== text) {
    console.error('models/registry.json is out of date: run node scripts/registry.mjs');
    process.exit(1);
  }
} else {
  fs.writeFileSync(file, text);
  console.error(`wrote models/registry.json (${Object.keys(MODELS).length} models)`);
}
