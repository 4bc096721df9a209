// The image header reader behind bounded decoding (imageSize in web/src/image.js): every format
// made by Pillow (Debian's python3-pil) at odd sizes, and a mutation fuzz loop over those headers
// (flips, truncations, insertions, huge fields) that must never throw, loop or report a bad size.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { imageSize, MAX_DRAWN_PIXELS } from '../../web/src/image.js';
import { mulberry32 } from '../../bench/common.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vitrine-image-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// name -> [file, width, height, format]
const SPECS = [
  ['png', 'PNG', 37, 23, {}], ['png-alpha', 'PNG', 1, 300, { mode: 'RGBA' }], ['gif', 'GIF', 300, 2, {}],
  ['bmp', 'BMP', 41, 17, {}], ['jpeg', 'JPEG', 37, 23, {}], ['jpeg-progressive', 'JPEG', 640, 427, { progressive: true }],
  ['jpeg-exif', 'JPEG', 33, 65, { exif: 60000 }], ['webp-lossy', 'WEBP', 37, 23, {}], ['webp-lossless', 'WEBP', 99, 5, { lossless: true }],
  ['webp-alpha', 'WEBP', 12, 34, { mode: 'RGBA', icc: true }],
];

function makeImages() {
  const script = `
import io, json, sys
from PIL import Image
specs = json.loads(sys.argv[1])
for name, fmt, w, h, o in specs:
    im = Image.new(o.get('mode', 'RGB'), (w, h), (200, 30, 90, 128)[:len(o.get('mode', 'RGB'))])
    kw = {}
    if o.get('progressive'): kw['progressive'] = True
    if o.get('exif'): kw['exif'] = b'Exif\\x00\\x00' + b'\\x00' * o['exif']
    if o.get('lossless'): kw['lossless'] = True
    if o.get('icc'): kw['icc_profile'] = b'\\x00' * 64
    im.save(sys.argv[2] + '/' + name, fmt, **kw)
`;
  execFileSync('/usr/bin/python3', ['-c', script, JSON.stringify(SPECS.map(([n, f, w, h, o]) => [n, f, w, h, o])), tmp]);
}

describe('imageSize', () => {
  makeImages();
  const files = SPECS.map(([name, fmt, width, height]) => ({ name, width, height, bytes: new Uint8Array(fs.readFileSync(path.join(tmp, name))) }));

  test('reads the size of every format Pillow writes, from the first 256 KiB', () => {
    for (const f of files) {
      const size = imageSize(f.bytes.subarray(0, 1 << 18));
      assert.ok(size, `${f.name}: no size`);
      assert.deepEqual([size.width, size.height], [f.width, f.height], f.name);
    }
    // A top-down BMP (negative height) and a huge PNG header.
    const bmp = files.find((f) => f.name === 'bmp').bytes.slice();
    new DataView(bmp.buffer).setInt32(22, -17, true);
    assert.deepEqual(imageSize(bmp), { width: 41, height: 17, format: 'bmp' });
    const png = files.find((f) => f.name === 'png').bytes.slice();
    new DataView(png.buffer).setUint32(16, 100000);
    new DataView(png.buffer).setUint32(20, 100000);
    const big = imageSize(png);
    assert.ok(big.width * big.height > MAX_DRAWN_PIXELS);
    assert.equal(imageSize(new Uint8Array(0)), null);
    assert.equal(imageSize(new TextEncoder().encode('not an image at all')), null);
    assert.equal(imageSize(files[0].bytes.subarray(0, 20)), null);  // truncated before the size
  });

  test('fuzz: 200,000 mutated headers never throw and give null or a valid size', () => {
    const rand = mulberry32(20261202);
    const seeds = files.map((f) => f.bytes.subarray(0, 4096));
    const t0 = performance.now();
    let sized = 0;
    for (let i = 0; i < 200000; i++) {
      const seed = seeds[i % seeds.length];
      let b = seed.slice();
      const edits = 1 + Math.floor(rand() * 4);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * b.length);
        const kind = rand();
        if (kind < 0.5) b[at] = Math.floor(rand() * 256);
        else if (kind < 0.65) b[at] = rand() < 0.5 ? 0 : 0xff;
        else if (kind < 0.8) b = b.subarray(0, at);
        else if (kind < 0.9) b = Uint8Array.from([...b.subarray(0, at), ...new Uint8Array(1 + Math.floor(rand() * 8)).fill(0xff), ...b.subarray(at)]);
        else b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + 1 + Math.floor(rand() * 16)))]);
        if (b.length === 0) break;
      }
      const size = imageSize(b);
      if (size !== null) {
        sized++;
        assert.ok(Number.isSafeInteger(size.width) && size.width >= 1 && Number.isSafeInteger(size.height) && size.height >= 1,
                  `bad size ${JSON.stringify(size)}`);
        assert.ok(Number.isSafeInteger(size.width * size.height));
      }
    }
    const ms = performance.now() - t0;
    assert.ok(sized > 50000, `only ${sized} mutated headers still had a size: the mutations are too destructive`);
    assert.ok(ms < 20000, `200,000 headers took ${ms.toFixed(0)} ms`);
  });
});
