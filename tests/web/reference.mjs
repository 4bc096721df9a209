// Plain-JS references (double precision) and a seeded RNG for the wasm tests.

/** Mulberry32: a small seeded PRNG returning floats in [0, 1) (the CLI's, cli/util.mjs). */
export { mulberry32 as rng } from '../../cli/util.mjs';

export function randomArray(n, rand) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rand() * 2 - 1;
  return a;
}

/** y (n, out) = x (n, in) · W (out, in)ᵀ + b (out) */
export function denseReference(x, w, b, n, inF, outF) {
  const y = new Float64Array(n * outF);
  for (let r = 0; r < n; r++)
    for (let o = 0; o < outF; o++) {
      let acc = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = acc;
    }
  return y;
}

/** dx = dy · W, dW = dyᵀ · x, db = Σ_rows dy */
export function denseBackwardReference(x, w, dy, n, inF, outF) {
  const dx = new Float64Array(n * inF), dw = new Float64Array(outF * inF), db = new Float64Array(outF);
  for (let r = 0; r < n; r++)
    for (let o = 0; o < outF; o++) {
      const g = dy[r * outF + o];
      db[o] += g;
      for (let i = 0; i < inF; i++) {
        dx[r * inF + i] += g * w[o * inF + i];
        dw[o * inF + i] += g * x[r * inF + i];
      }
    }
  return { dx, dw, db };
}

/** Largest |a - b| / (atol + rtol |b|); <= 1 means close. */
export function closeness(actual, expected, atol = 1e-4, rtol = 1e-4) {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(actual[i] - expected[i]) / (atol + rtol * Math.abs(expected[i]));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
  }
  return worst;
}
