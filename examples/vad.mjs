#!/usr/bin/env node
// Voice activity detection with Silero VAD (v5, the model @ricky0123/vad-web ships) on Vitrine:
// the audio goes through the model frame by frame as a stream whose recurrent state stays in the
// engine (Model.createStream), and the speech probabilities become segments.
//
//   node examples/vad.mjs SILERO_V5.onnx AUDIO.raw [--rate 16000|8000]
//
// AUDIO.raw: 16-bit little-endian mono PCM at 16 kHz (e.g. Debian's pocketsphinx-testdata,
// /usr/share/pocketsphinx/test/data/numbers.raw). With --rate 8000 the audio is decimated to
// 8 kHz (pairs averaged) and the model's 8 kHz branch runs. Prints one line per speech segment.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

import { loadModel } from '../web/src/index.js';

/** Silero VAD v5 frame sizes: new samples per frame and the context carried from the frame before. */
export const FRAME = { 16000: { samples: 512, context: 64 }, 8000: { samples: 256, context: 32 } };

/** 16-bit little-endian PCM bytes to floats in [-1, 1). */
export function pcm16(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength - (bytes.byteLength % 2));
  const out = new Float32Array(view.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(2 * i, true) / 32768;
  return out;
}

/** 16 kHz -> 8 kHz by averaging sample pairs. */
export function halve(audio) {
  const out = new Float32Array(Math.floor(audio.length / 2));
  for (let i = 0; i < out.length; i++) out[i] = (audio[2 * i] + audio[2 * i + 1]) / 2;
  return out;
}

/**
 * The model inputs of each frame, as Silero's reference wrapper forms them: `context` samples of
 * the frame before (zeros first) followed by the frame's `samples` new ones; the last partial
 * frame is dropped.
 */
export function frames(audio, rate) {
  const { samples, context } = FRAME[rate];
  const out = [];
  for (let start = 0; start + samples <= audio.length; start += samples) {
    const x = new Float32Array(context + samples);
    for (let k = 0; k < context; k++) {
      const i = start - context + k;
      x[k] = i >= 0 ? audio[i] : 0;
    }
    x.set(audio.subarray(start, start + samples), context);
    out.push(x);
  }
  return out;
}

/**
 * Speech segments [startFrame, endFrame) from per-frame speech probabilities, with Silero's
 * hysteresis: speech starts at p >= threshold and ends once p < threshold - 0.15 has lasted
 * minSilenceFrames; segments shorter than minSpeechFrames are dropped.
 */
export function speechSegments(probs, { threshold = 0.5, minSilenceFrames = 3, minSpeechFrames = 8 } = {}) {
  const segments = [];
  let start = -1, silentSince = -1;
  probs.forEach((p, i) => {
    if (start < 0) {
      if (p >= threshold) { start = i; silentSince = -1; }
      return;
    }
    if (p >= threshold) { silentSince = -1; return; }
    if (p < threshold - 0.15) {
      if (silentSince < 0) silentSince = i;
      if (i + 1 - silentSince >= minSilenceFrames) {
        if (silentSince - start >= minSpeechFrames) segments.push([start, silentSince]);
        start = -1;
      }
    }
  });
  if (start >= 0 && probs.length - start >= minSpeechFrames) segments.push([start, probs.length]);
  return segments;
}

/** Speech probabilities of every frame: one stream, the state carried in the engine. */
export function speechProbabilities(model, audio, rate) {
  const stream = model.createStream({ carry: { stateN: 'state' } });
  const sr = BigInt64Array.of(BigInt(rate));
  return frames(audio, rate).map((x) => stream.run({ input: { data: x, shape: [1, x.length] }, sr: { data: sr, shape: [] } }).output.data[0]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [modelPath, audioPath] = process.argv.slice(2);
  const rateFlag = process.argv.indexOf('--rate');
  const rate = rateFlag > 0 ? Number(process.argv[rateFlag + 1]) : 16000;
  if (!modelPath || !audioPath || !FRAME[rate]) {
    console.error('usage: node examples/vad.mjs SILERO_V5.onnx AUDIO.raw [--rate 16000|8000]');
    process.exit(2);
  }
  let audio = pcm16(fs.readFileSync(audioPath));
  if (rate === 8000) audio = halve(audio);
  const { samples } = FRAME[rate];
  const model = await loadModel(modelPath, { inputShapes: { input: [1, FRAME[rate].context + samples], state: [2, 1, 128] } });
  const probs = speechProbabilities(model, audio, rate);
  for (const [a, b] of speechSegments(probs)) {
    console.log(`speech ${(a * samples / rate).toFixed(2)} s - ${(b * samples / rate).toFixed(2)} s (frames ${a}-${b})`);
  }
  model.dispose();
}
