// Image inputs for the tagger: every supported kind becomes { data, width, height, format,
// rowBytes } of 8-bit pixels (the engine pre-processes them in C++).
//
//   ImageData (or any { data: Uint8ClampedArray, width, height })   RGBA
//   { data | pixels: Uint8Array, width, height, format?: 'gray'|'rgb'|'rgba', rowBytes? }  raw (Node too)
//   ImageBitmap, HTMLImageElement, HTMLCanvasElement, OffscreenCanvas, HTMLVideoElement, VideoFrame
//                                                                    drawn onto a canvas (browsers)
//   Blob / File (an encoded image)                                    decoded with createImageBitmap()
//
// Drawn and decoded images are never copied at more than MAX_DRAWN_PIXELS: larger ones are scaled
// down while drawing, and PNG, JPEG, GIF, WebP and BMP files, whose headers tell their size, are
// decoded at the smaller size directly (other formats are decoded whole by the browser first).
import { VitrineError } from './errors.js';

const CHANNELS = { gray: 1, rgb: 3, rgba: 4 };

/** The most pixels an image is drawn or decoded at (2^25, the wasm engine's maxImagePixels). */
export const MAX_DRAWN_PIXELS = 1 << 25;

// The size that keeps width x height within `max` pixels at the same aspect ratio.
function boundedSize(width, height, max) {
  if (width * height <= max) return { width, height };
  const s = Math.sqrt(max / (width * height));
  return { width: Math.max(1, Math.floor(width * s)), height: Math.max(1, Math.floor(height * s)) };
}

/**
 * Width and height from an encoded image's header (PNG, GIF, BMP, WebP, JPEG), or null when the
 * bytes are not one of those or the header is damaged. Reads at most `bytes.length` bytes and
 * never throws: the bytes come from strangers.
 * @param {Uint8Array} bytes the first bytes of the file (JPEG's size may follow 64 KiB of metadata)
 * @returns {{ width: number, height: number, format: string } | null}
 */
export function imageSize(bytes) {
  const n = bytes.length;
  const u16be = (i) => (bytes[i] << 8) | bytes[i + 1];
  const u16le = (i) => bytes[i] | (bytes[i + 1] << 8);
  const u32be = (i) => ((bytes[i] << 24) >>> 0) + ((bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]);
  const u32le = (i) => (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16)) + ((bytes[i + 3] << 24) >>> 0);
  const ok = (width, height, format) => (width >= 1 && height >= 1 && Number.isSafeInteger(width * height) ? { width, height, format } : null);
  const ascii = (i, text) => i + text.length <= n && [...text].every((c, k) => bytes[i + k] === c.charCodeAt(0));
  if (n >= 24 && bytes[0] === 0x89 && ascii(1, 'PNG\r\n\x1a\n') && ascii(12, 'IHDR')) return ok(u32be(16), u32be(20), 'png');
  if (n >= 10 && (ascii(0, 'GIF87a') || ascii(0, 'GIF89a'))) return ok(u16le(6), u16le(8), 'gif');
  if (n >= 26 && ascii(0, 'BM')) {
    const h = u32le(22) | 0;  // negative: top-down rows
    return ok(u32le(18) | 0, Math.abs(h), 'bmp');
  }
  if (n >= 30 && ascii(0, 'RIFF') && ascii(8, 'WEBP')) {
    if (ascii(12, 'VP8 ') && bytes[23] === 0x9d && bytes[24] === 0x01 && bytes[25] === 0x2a) return ok(u16le(26) & 0x3fff, u16le(28) & 0x3fff, 'webp');
    if (ascii(12, 'VP8L') && bytes[20] === 0x2f) {
      const b = u32le(21);
      return ok((b & 0x3fff) + 1, ((b >>> 14) & 0x3fff) + 1, 'webp');
    }
    if (ascii(12, 'VP8X')) return ok((bytes[24] | (bytes[25] << 8) | (bytes[26] << 16)) + 1, (bytes[27] | (bytes[28] << 8) | (bytes[29] << 16)) + 1, 'webp');
    return null;
  }
  if (n >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let i = 2;
    while (i + 9 <= n) {  // each step moves forward by at least 2 bytes: ends within n steps
      if (bytes[i] !== 0xff) return null;
      const marker = bytes[i + 1];
      if (marker === 0xff) { i += 1; continue; }  // fill byte
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; }  // no length
      if (marker === 0xd9 || marker === 0xda) return null;  // end of image / start of scan before a frame header
      const length = u16be(i + 2);
      if (length < 2) return null;
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return ok(u16be(i + 7), u16be(i + 5), 'jpeg');
      }
      i += 2 + length;
    }
  }
  return null;
}

function fail(message) {
  throw new VitrineError(message, 'InvalidArgument');
}

function drawable(image) {
  const g = globalThis;
  return (g.ImageBitmap && image instanceof g.ImageBitmap) ||
         (g.HTMLImageElement && image instanceof g.HTMLImageElement) ||
         (g.HTMLCanvasElement && image instanceof g.HTMLCanvasElement) ||
         (g.OffscreenCanvas && image instanceof g.OffscreenCanvas) ||
         (g.HTMLVideoElement && image instanceof g.HTMLVideoElement) ||
         (g.VideoFrame && image instanceof g.VideoFrame) ||
         (g.SVGImageElement && image instanceof g.SVGImageElement);
}

function drawToPixels(image) {
  const naturalWidth = image.naturalWidth || image.videoWidth || image.displayWidth || image.width;
  const naturalHeight = image.naturalHeight || image.videoHeight || image.displayHeight || image.height;
  if (!(naturalWidth > 0 && naturalHeight > 0)) fail(`image is empty or not loaded yet (${naturalWidth}x${naturalHeight})`);
  const { width, height } = boundedSize(naturalWidth, naturalHeight, MAX_DRAWN_PIXELS);  // scaled down while drawing
  let canvas;
  if (globalThis.OffscreenCanvas) canvas = new OffscreenCanvas(width, height);
  else if (globalThis.document) Object.assign((canvas = document.createElement('canvas')), { width, height });
  else fail('drawing images needs OffscreenCanvas or a document');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(image, 0, 0, width, height);
  const { data } = ctx.getImageData(0, 0, width, height);
  return { data, width, height, format: 'rgba', rowBytes: 0, owned: true };  // a fresh buffer: may be transferred
}

/**
 * Synchronous conversion of everything but Blobs.
 * @returns {{ data: Uint8Array|Uint8ClampedArray, width: number, height: number, format: string, rowBytes: number }}
 */
export function toPixels(image) {
  if (image === null || image === undefined || typeof image !== 'object') fail(`expected an image, got ${image === null ? 'null' : typeof image}`);
  if (drawable(image)) return drawToPixels(image);
  const data = image.data ?? image.pixels;
  if (data !== undefined) {
    if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) fail('image data must be a Uint8Array or Uint8ClampedArray');
    const format = image.format ?? (globalThis.ImageData && image instanceof globalThis.ImageData ? 'rgba' : undefined) ??
                   (data instanceof Uint8ClampedArray ? 'rgba' : undefined);
    if (!format) fail("raw pixels need a format ('gray', 'rgb' or 'rgba')");
    if (!(format in CHANNELS)) fail(`unknown pixel format '${format}' (gray, rgb, rgba)`);
    const { width, height } = image;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
      fail(`image width and height must be positive integers, got ${width}x${height}`);
    }
    const rowBytes = image.rowBytes ?? 0;
    if (!(Number.isInteger(rowBytes) && (rowBytes === 0 || rowBytes >= width * CHANNELS[format]))) {
      fail(`rowBytes ${rowBytes} is shorter than a row (${width * CHANNELS[format]} bytes)`);
    }
    const need = (rowBytes || width * CHANNELS[format]) * (height - 1) + width * CHANNELS[format];
    if (data.length < need) fail(`image has ${data.length} bytes, a ${width}x${height} ${format} image needs ${need}`);
    return { data, width, height, format, rowBytes };
  }
  if (globalThis.Blob && image instanceof globalThis.Blob) fail('Blobs are decoded asynchronously: use toPixelsAsync()');
  fail('unsupported image: pass ImageData, an ImageBitmap / <img> / canvas, a Blob, or { data, width, height, format }');
}

/** Like toPixels(), and also decodes Blobs / Files (createImageBitmap), at most MAX_DRAWN_PIXELS. */
export async function toPixelsAsync(image) {
  if (globalThis.Blob && image instanceof globalThis.Blob) {
    if (!globalThis.createImageBitmap) fail('decoding a Blob needs createImageBitmap (browsers)');
    const size = imageSize(new Uint8Array(await image.slice(0, 1 << 18).arrayBuffer()));
    let bitmap;
    try {
      if (size && size.width * size.height > MAX_DRAWN_PIXELS) {
        const { width, height } = boundedSize(size.width, size.height, MAX_DRAWN_PIXELS);
        bitmap = await createImageBitmap(image, { resizeWidth: width, resizeHeight: height, resizeQuality: 'high' });
      } else {
        bitmap = await createImageBitmap(image);
      }
    } catch (e) {
      fail(`cannot decode the image: ${e.message}`);
    }
    try {
      return drawToPixels(bitmap);
    } finally {
      bitmap.close?.();
    }
  }
  if (globalThis.HTMLImageElement && image instanceof globalThis.HTMLImageElement && !image.complete) {
    await image.decode().catch(() => fail('the <img> failed to load'));
  }
  return toPixels(image);
}
