#!/usr/bin/env node
// Writes real product photos as a store would keep them — one sub-folder per tag, PNG / JPEG /
// WebP files — from Debian's Fashion-MNIST (DATA.md), for trying and testing
// `vitrine train tagger --images DIR`:
//   node scripts/tagger/photo-folder.mjs --out DIR [--set t10k|train] [--per-tag N] [--tags 0,1,...] [--scale S]
// Photos are the first N of each tag in the set's order, enlarged S times (default 4, bicubic) and
// inverted to dark-on-light as shop photos are; formats rotate png, jpeg, webp.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const TAGS = ['t-shirt or top', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot'];

const { values } = parseArgs({ options: {
  out: { type: 'string' }, set: { type: 'string', default: 't10k' }, 'per-tag': { type: 'string', default: '100' },
  tags: { type: 'string', default: TAGS.map((_, i) => i).join(',') }, scale: { type: 'string', default: '4' },
} });
if (!values.out) throw new Error('--out DIR is required');
const perTag = Number(values['per-tag']), scale = Number(values.scale);
const wanted = values.tags.split(',').map(Number);
const root = path.dirname(path.dirname(path.dirname(new URL(import.meta.url).pathname)));
const dir = execFileSync('bash', [path.join(root, 'scripts/tagger/prepare-data.sh')], { encoding: 'utf8' }).trim();
const images = fs.readFileSync(path.join(dir, `${values.set}-images-idx3-ubyte`));
const labels = fs.readFileSync(path.join(dir, `${values.set}-labels-idx1-ubyte`));
const count = labels.readUInt32BE(4), h = images.readUInt32BE(8), w = images.readUInt32BE(12);
const written = new Map(wanted.map((t) => [t, 0]));
const formats = ['png', 'jpeg', 'webp'];
for (let i = 0; i < count; i++) {
  const t = labels[8 + i];
  if (!written.has(t) || written.get(t) >= perTag) continue;
  const n = written.get(t);
  const pixels = Buffer.from(images.subarray(16 + i * h * w, 16 + (i + 1) * h * w)).map((v) => 255 - v);
  const folder = path.join(values.out, TAGS[t]);
  fs.mkdirSync(folder, { recursive: true });
  const format = formats[n % formats.length];
  await sharp(pixels, { raw: { width: w, height: h, channels: 1 } }).resize(w * scale, h * scale, { kernel: 'cubic' })
    .toFormat(format, { quality: 90 }).toFile(path.join(folder, `${values.set}-${i}.${format === 'jpeg' ? 'jpg' : format}`));
  written.set(t, n + 1);
  if ([...written.values()].every((v) => v >= perTag)) break;
}
process.stdout.write(`${values.out}: ${[...written].map(([t, n]) => `${TAGS[t]} ${n}`).join(', ')}\n`);
