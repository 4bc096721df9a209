// Writes the storefront demo's local data (web/demo/data/, not committed): a small Fashion-MNIST
// catalogue (the first 120 test images as raw 28x28 gray bytes + their labels) for the photo panel,
// and the first 300 Amazon Fine Food test reviews for the review summary panel. Both come from the
// Debian packages of ../shared/DATA.md via the same preparation scripts as the evaluations.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { readCsv } from './reviews/csv.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'web/demo/data');
fs.mkdirSync(out, { recursive: true });
const sh = (script) => execFileSync('bash', [path.join(root, script)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

const fashion = sh('scripts/tagger/prepare-data.sh');
const N = 120;
const img = fs.readFileSync(path.join(fashion, 't10k-images-idx3-ubyte'));
const lab = fs.readFileSync(path.join(fashion, 't10k-labels-idx1-ubyte'));
fs.writeFileSync(path.join(out, 'fashion.bin'), img.subarray(16, 16 + N * 784));
fs.writeFileSync(path.join(out, 'fashion.json'), JSON.stringify({ count: N, width: 28, height: 28, labels: Array.from(lab.subarray(8, 8 + N)) }));

const reviews = sh('scripts/reviews/prepare-data.sh');
const texts = readCsv(path.join(reviews, 'test.csv')).slice(0, 300).map((r) => r.text);
fs.writeFileSync(path.join(out, 'reviews.json'), JSON.stringify(texts));
console.error(`[vitrine] demo data in ${path.relative(root, out)}: ${N} catalogue photos, ${texts.length} reviews`);
