// Labelled product photos from a store's files, decoded in Node the way the browser decodes them:
// `sharp` (libvips: JPEG, PNG, WebP, GIF, AVIF, TIFF) turns a file into 8-bit sRGB RGBA pixels,
// upright as its EXIF orientation says, at most MAX_DRAWN_PIXELS (larger photos are scaled down
// as the facade's image.js scales them); the engine then pre-processes the pixels exactly as in a
// page. A photo that cannot be decoded is refused with the reason, never dropped silently.
//
//   --images DIR   one sub-folder per tag (files at any depth below it carry that tag)
//   --csv FILE     path,tag[,tag...] per line (paths relative to the CSV's folder; an optional
//                  header line starting with "path")
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse';
import sharp from 'sharp';

import { MAX_DRAWN_PIXELS } from '../web/src/image.js';

/** Formats decoded; anything else sharp knows (SVG, PDF, raw camera files...) is refused. */
export const IMAGE_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'avif', 'heif', 'tiff']);
const MAX_FILE_BYTES = 64 * 1024 * 1024;
const MAX_TAG_BYTES = 256;

sharp.cache(false);  // each photo is read once

/**
 * Decodes one image file to RGBA (Buffer) as a page would get it. Throws an Error whose message
 * says why the file cannot be used.
 * @returns {Promise<{ data: Buffer, width: number, height: number, format: 'rgba', source: string }>}
 */
export async function decodeImage(file) {
  const stat = fs.statSync(file);
  if (stat.size > MAX_FILE_BYTES) throw new Error(`file of ${stat.size} bytes (the limit is ${MAX_FILE_BYTES})`);
  if (stat.size === 0) throw new Error('empty file');
  const bytes = fs.readFileSync(file);
  let meta;
  try {
    // limitInputPixels: a crafted header cannot make libvips allocate a giant canvas.
    meta = await sharp(bytes, { limitInputPixels: 1 << 28, failOn: 'error' }).metadata();
  } catch (e) {
    throw new Error(`not an image that can be decoded (${e.message.split('\n')[0]})`);
  }
  if (!IMAGE_FORMATS.has(meta.format)) throw new Error(`format '${meta.format}' is not accepted (${[...IMAGE_FORMATS].join(', ')})`);
  let width = meta.autoOrient?.width ?? meta.width, height = meta.autoOrient?.height ?? meta.height;
  if (!(width >= 1 && height >= 1)) throw new Error('image has no size');
  let pipeline = sharp(bytes, { limitInputPixels: 1 << 28, failOn: 'error', animated: false }).rotate();
  if (width * height > MAX_DRAWN_PIXELS) {  // as the facade's image.js: the most pixels a page draws
    const s = Math.sqrt(MAX_DRAWN_PIXELS / (width * height));
    width = Math.max(1, Math.floor(width * s));
    height = Math.max(1, Math.floor(height * s));
    pipeline = pipeline.resize(width, height, { fit: 'fill' });
  }
  try {
    const { data, info } = await pipeline.toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`decoded to ${info.channels} channels`);
    return { data, width: info.width, height: info.height, format: 'rgba', source: meta.format };
  } catch (e) {
    throw new Error(`the image data is damaged (${e.message.split('\n')[0]})`);
  }
}

function walk(dir, out) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else out.push(p);
  }
}

function checkTag(tag) {
  if (tag === '') return 'empty tag';
  if (Buffer.byteLength(tag) > MAX_TAG_BYTES) return `tag longer than ${MAX_TAG_BYTES} bytes`;
  if (/[\u0000-\u001f\u007f]/.test(tag)) return 'tag with control characters';
  return null;
}

/**
 * The labelled files of --images DIR or --csv FILE: [{ file, tags: string[], where }] (where: the
 * folder-relative path or "line N", for reports). Files that repeat another file's bytes are
 * merged into one example holding all their tags (so no photo is both trained on and tested).
 * Refusals go to onRefused({ where, reason }).
 */
export async function listImages({ images, csv }, { onRefused = () => {} } = {}) {
  const found = [];
  if (images) {
    const root = path.resolve(images);
    if (!fs.statSync(root).isDirectory()) throw new Error(`${images} is not a folder`);
    for (const entry of fs.readdirSync(root, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const where = entry.name;
      if (!entry.isDirectory()) { onRefused({ where, reason: 'a file directly in --images (put photos in one sub-folder per tag)' }); continue; }
      const tag = entry.name.normalize('NFC');
      const bad = checkTag(tag);
      if (bad) { onRefused({ where, reason: bad }); continue; }
      const files = [];
      walk(path.join(root, entry.name), files);
      for (const f of files) {
        const rel = path.relative(root, f);
        if (path.basename(f).startsWith('.')) { onRefused({ where: rel, reason: 'hidden file' }); continue; }
        found.push({ file: f, tags: [tag], where: rel });
      }
    }
  } else {
    const base = path.dirname(path.resolve(csv));
    const parser = fs.createReadStream(csv).pipe(parse({ bom: true, relax_column_count: true, skip_empty_lines: true, skip_records_with_error: true, info: true }));
    parser.on('skip', (err) => onRefused({ where: `line ${err.lines ?? '?'}`, reason: `malformed CSV (${err.code})` }));
    let first = true;
    for await (const { record, info } of parser) {
      const where = `line ${info.lines}`;
      if (first && /^path$/i.test((record[0] ?? '').trim())) { first = false; continue; }
      first = false;
      const [p, ...rest] = record.map((v) => v.trim());
      const tags = [...new Set(rest.filter((t) => t !== '').map((t) => t.normalize('NFC')))];
      if (!p) { onRefused({ where, reason: 'empty path' }); continue; }
      if (tags.length === 0) { onRefused({ where, reason: 'no tag' }); continue; }
      const bad = tags.map(checkTag).find(Boolean);
      if (bad) { onRefused({ where, reason: bad }); continue; }
      const file = path.resolve(base, p);
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) { onRefused({ where, reason: `no such file: ${p}` }); continue; }
      found.push({ file, tags, where });
    }
  }
  // Identical bytes: one example, all tags.
  const byDigest = new Map();
  const out = [];
  for (const x of found) {
    let digest;
    try {
      digest = crypto.createHash('sha256').update(fs.readFileSync(x.file)).digest('hex');
    } catch (e) {
      onRefused({ where: x.where, reason: `unreadable (${e.code ?? e.message})` });
      continue;
    }
    const seen = byDigest.get(digest);
    if (seen) {
      for (const t of x.tags) if (!seen.tags.includes(t)) seen.tags.push(t);
      onRefused({ where: x.where, reason: `same bytes as ${seen.where}: merged into that example (tags ${seen.tags.join(', ')})` });
      continue;
    }
    const item = { ...x, digest };
    byDigest.set(digest, item);
    out.push(item);
  }
  return out;
}
