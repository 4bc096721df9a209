#!/usr/bin/env node
// npm run bench -- vad [--short] [--out FILE]
// Voice activity on real speech (Debian's pocketsphinx-testdata: five LibriVox read-speech clips
// and three recorded commands, 16 kHz) through Silero VAD v5 and v6 (@ricky0123/vad-web, npm) at
// 16 kHz and 8 kHz, with examples/vad.mjs: the frames of each clip through a Model stream (the
// recurrent state carried in the engine, Vitrine wasm simd, 1 thread) and through onnxruntime-node
// (the state passed back by hand), the speech probabilities of both turned into segments by the
// same rule. Checks per clip: same number of segments, every boundary within one frame, and the
// largest probability difference. Writes bench/results/vad.json and prints a table; exits 1 when
// a clip's segments differ. --short: one model (v5) and the first two clips (the test suite's form).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { createRuntime } from '../../web/src/index.js';
import { FRAME, frames, halve, pcm16, speechProbabilities, speechSegments } from '../../examples/vad.mjs';
import { arg, flag, npmPackageFiles, root } from '../common.mjs';

const short = flag('short');
const cache = path.join(process.env.VITRINE_CACHE ?? path.join(os.homedir(), '.cache/vitrine'), 'corpus');
const data = '/usr/share/pocketsphinx/test/data';
if (!fs.existsSync(data)) {
  console.error(`${data} is missing: install Debian's pocketsphinx-testdata (scripts/bootstrap.sh)`);
  process.exit(2);
}
const require = createRequire(path.join(root, 'bench/package.json'));
const { WaveFile } = require('wavefile');
const ortNode = require('onnxruntime-node');

// Clips: 16 kHz mono 16-bit (WAV read with the wavefile package; .raw files are bare PCM).
const librivox = fs.readdirSync(path.join(data, 'librivox')).filter((f) => f.endsWith('.wav')).sort();
let clips = [...librivox.map((f) => path.join(data, 'librivox', f)), ...['goforward.raw', 'numbers.raw', 'something.raw'].map((f) => path.join(data, f))];
if (short) clips = clips.slice(0, 2);
function readClip(file) {
  if (file.endsWith('.raw')) return pcm16(fs.readFileSync(file));
  const wav = new WaveFile(fs.readFileSync(file));
  if (wav.fmt.sampleRate !== 16000 || wav.fmt.numChannels !== 1 || wav.fmt.bitsPerSample !== 16) {
    throw new Error(`${file}: expected 16 kHz mono 16-bit, got ${wav.fmt.sampleRate} Hz, ${wav.fmt.numChannels} channels, ${wav.fmt.bitsPerSample} bits`);
  }
  return Float32Array.from(wav.getSamples(false, Int16Array), (v) => v / 32768);
}

const files = npmPackageFiles('@ricky0123/vad-web', '0.0.31', cache, '.onnx');
const models = ['silero_vad_v5.onnx', 'silero_vad_v6.onnx'].slice(0, short ? 1 : 2).map((m) => files.find((f) => path.basename(f) === m));

// onnxruntime-node on the same frames, its state passed back by hand.
async function ortProbabilities(session, audio, rate) {
  let state = new ortNode.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
  const sr = new ortNode.Tensor('int64', BigInt64Array.of(BigInt(rate)), []);
  const probs = [];
  for (const x of frames(audio, rate)) {
    const out = await session.run({ input: new ortNode.Tensor('float32', x, [1, x.length]), state, sr });
    probs.push(out.output.data[0]);
    state = out.stateN;
  }
  return probs;
}

function sameSegments(a, b) {
  return a.length === b.length && a.every(([s, e], i) => Math.abs(s - b[i][0]) <= 1 && Math.abs(e - b[i][1]) <= 1);
}

const runtime = await createRuntime({ variant: 'simd', threads: 1 });
const records = [];
for (const file of models) {
  const session = await ortNode.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const model = await runtime.loadModel(file, { inputShapes: { input: [1, FRAME[16000].context + FRAME[16000].samples], state: [2, 1, 128] } });
  for (const clip of clips) {
    const audio16 = readClip(clip);
    for (const rate of [16000, 8000]) {
      const audio = rate === 16000 ? audio16 : halve(audio16);
      const t0 = performance.now();
      const ours = speechProbabilities(model, audio, rate);
      const ms = performance.now() - t0;
      const theirs = await ortProbabilities(session, audio, rate);
      const a = speechSegments(ours), b = speechSegments(theirs);
      let maxDiff = 0;
      ours.forEach((p, i) => { maxDiff = Math.max(maxDiff, Math.abs(p - theirs[i])); });
      const seconds = (f) => +(f * FRAME[rate].samples / rate).toFixed(3);
      records.push({ model: path.basename(file), clip: path.basename(clip), rate, frames: ours.length, seconds: +(audio.length / rate).toFixed(2),
        segments: a.map(([s, e]) => [seconds(s), seconds(e)]), segments_frames: a, onnxruntime_segments_frames: b,
        same_segments: sameSegments(a, b), max_probability_diff: maxDiff, vitrine_ms_per_frame: ms / ours.length });
    }
  }
  model.dispose();
  await session.release();
}
runtime.dispose();

const result = {
  benchmark: 'vad', command: `npm run bench -- vad${short ? ' --short' : ''}`, date: new Date().toISOString(),
  engines: { vitrine: 'wasm simd, 1 thread, Model.createStream (state carried in the engine)', 'onnxruntime-node': '1.30.0, native CPU, 1 thread (reference)' },
  data: 'Debian pocketsphinx-testdata: librivox/*.wav (read speech), goforward.raw, numbers.raw, something.raw; 16 kHz, 8 kHz by averaging pairs',
  rule: 'examples/vad.mjs speechSegments: start at p >= 0.5, end after 3 frames below 0.35, drop segments under 8 frames; same = as many segments, each boundary within 1 frame',
  summary: { runs: records.length, same_segments: records.filter((r) => r.same_segments).length,
    max_probability_diff: Math.max(...records.map((r) => r.max_probability_diff)),
    segments: records.reduce((n, r) => n + r.segments_frames.length, 0) },
  records,
};
const out = arg('out', path.join(root, 'bench/results/vad.json'));
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log('| model | clip | rate | frames | segments (s) | same as onnxruntime-node | max prob diff | Vitrine ms/frame |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of records) {
  console.log(`| ${r.model} | ${r.clip} | ${r.rate} | ${r.frames} | ${r.segments.map(([s, e]) => `${s}-${e}`).join(', ')} | ${r.same_segments ? 'yes' : 'NO'} | ` +
    `${r.max_probability_diff.toExponential(1)} | ${r.vitrine_ms_per_frame.toFixed(3)} |`);
}
console.log(`${result.summary.same_segments} of ${result.summary.runs} clip runs give onnxruntime-node's segments (±1 frame); ` +
  `${result.summary.segments} segments; largest probability difference ${result.summary.max_probability_diff.toExponential(1)}`);
if (result.summary.same_segments !== result.summary.runs) process.exit(1);
