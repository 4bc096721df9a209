// Image inputs for the tagger: every supported kind becomes { data, width, height, format,
// rowBytes } of 8-bit pixels (the engine pre-processes them in C++).
//
//   ImageData (or any { data: Uint8ClampedArray, width, height })   RGBA
//   { data | pixels: Uint8Array, width, height, format?: 'gray'|'rgb'|'rgba', rowBytes? }  raw (Node too)
//   ImageBitmap, HTMLImageElement, HTMLCanvasElement, OffscreenCanvas, HTMLVideoElement, VideoFrame
//                                                                    drawn onto a canvas (browsers)
//   Blob / File (an encoded image)                                    decoded with createImageBitmap()
import { VitrineError } from './errors.js';

const CHANNELS = { gray: 1, rgb: 3, rgba: 4 };

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
  const width = image.naturalWidth || image.videoWidth || image.displayWidth || image.width;
  const height = image.naturalHeight || image.videoHeight || image.displayHeight || image.height;
  if (!(width > 0 && height > 0)) fail(`image is empty or not loaded yet (${width}x${height})`);
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

/** Like toPixels(), and also decodes Blobs / Files (createImageBitmap). */
export async function toPixelsAsync(image) {
  if (globalThis.Blob && image instanceof globalThis.Blob) {
    if (!globalThis.createImageBitmap) fail('decoding a Blob needs createImageBitmap (browsers)');
    let bitmap;
    try {
      bitmap = await createImageBitmap(image);
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
