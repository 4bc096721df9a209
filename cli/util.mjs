// Small helpers the CLI's commands share (and the tests reuse): a seeded generator, CSV quoting and
// a file's digest.
import crypto from 'node:crypto';
import fs from 'node:fs';

/** Mulberry32: a small seeded generator of floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates in place with `rand` (a mulberry32). */
export function shuffle(list, rand) {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}

/** A CSV field, quoted as RFC 4180 wants. */
export const csvField = (v) => `"${String(v).replace(/"/g, '""')}"`;

/** The SHA-256 of a file (hex), read as a stream: exports can be larger than memory wants. */
export async function sha256File(file) {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}
