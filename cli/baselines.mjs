// The baselines `vitrine train recommend` measures a trained model against, on the same held-out
// users: popularity, item-kNN (shrunk cosine over co-occurrence, top-N neighbours) and EASE (Steck
// 2019, closed form; only for catalogues small enough for an items × items matrix). Written here
// in plain JavaScript because the CLI must run from the npm package alone (no Python, no native
// build); each is a few lines of arithmetic on the training users' item sets.
//
// Each baseline is { name, params, score(history) → Float32Array of one score per item }.

/** Item counts over the training users. */
export function popularity(train, numItems) {
  const counts = new Float32Array(numItems);
  for (const h of train) for (const i of h) counts[i]++;
  return { name: 'popularity', params: {}, score: () => counts };
}

/** Co-occurrence counts of item pairs (each user's items, at most `cap` most recent). */
export function cooccurrence(train, numItems, cap = 300) {
  const pairs = Array.from({ length: numItems }, () => new Map());
  const counts = new Float64Array(numItems);
  for (const h of train) {
    const list = h.length > cap ? h.slice(h.length - cap) : h;
    for (let a = 0; a < list.length; a++) {
      const i = list[a];
      counts[i]++;
      const row = pairs[i];
      for (let b = 0; b < list.length; b++) {
        if (b !== a) row.set(list[b], (row.get(list[b]) ?? 0) + 1);
      }
    }
  }
  return { pairs, counts };
}

/**
 * Item-kNN: s_ij = c_ij / (sqrt(c_ii c_jj) + shrink); for each target item j its `neighbors` most
 * similar items i are kept (0: all); a user's score for j sums s_ij over the items i they have.
 */
export function itemKnn(cooc, numItems, { neighbors = 100, shrink = 0 } = {}) {
  const { pairs, counts } = cooc;
  const rev = Array.from({ length: numItems }, () => []);  // rev[i]: [j, s_ij] with i among j's neighbours
  for (let j = 0; j < numItems; j++) {
    let list = [];
    for (const [i, c] of pairs[j]) list.push([i, c / (Math.sqrt(counts[i] * counts[j]) + shrink)]);
    if (neighbors > 0 && list.length > neighbors) {
      list.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      list = list.slice(0, neighbors);
    }
    for (const [i, s] of list) rev[i].push(j, s);
  }
  const scores = new Float32Array(numItems);
  return {
    name: 'item-knn', params: { neighbors, shrink },
    score(history) {
      scores.fill(0);
      for (const i of history) {
        const r = rev[i];
        for (let k = 0; k < r.length; k += 2) scores[r[k]] += r[k + 1];
      }
      return scores;
    },
  };
}

/** The items × items Gram matrix XᵀX of the training users (dense, float64). */
export function gram(cooc, numItems) {
  const g = new Float64Array(numItems * numItems);
  for (let i = 0; i < numItems; i++) {
    g[i * numItems + i] = cooc.counts[i];
    for (const [j, c] of cooc.pairs[i]) g[i * numItems + j] = c;
  }
  return g;
}

// The inverse of a symmetric positive definite matrix `a` (n × n, row-major; only its lower
// triangle is read), via Cholesky: A = L Lᵀ, M = L⁻¹, A⁻¹ = Mᵀ M. About n³/2 multiply-adds, every
// inner loop over contiguous rows (half of Gauss-Jordan's n³). Returns the full inverse; `a` is
// overwritten.
export function invertSpd(a, n) {
  // L in the lower triangle of a: L[i][j] = (a[i][j] - <L[i][:j], L[j][:j]>) / L[j][j].
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= a[ri + k] * a[rj + k];
      if (i === j) {
        if (!(s > 0)) throw new Error('EASE: the regularized Gram matrix is not positive definite');
        a[ri + i] = Math.sqrt(s);
      } else {
        a[ri + j] = s / a[rj + j];
      }
    }
  }
  // M = L⁻¹ row by row: M[i][:i+1] = (e_i - Σ_{k<i} L[i][k] M[k][:k+1]) / L[i][i].
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let k = 0; k < i; k++) {
      const f = a[ri + k];
      if (f === 0) continue;
      const rk = k * n;
      for (let j = 0; j <= k; j++) m[ri + j] -= f * m[rk + j];
    }
    m[ri + i] += 1;
    const inv = 1 / a[ri + i];
    for (let j = 0; j <= i; j++) m[ri + j] *= inv;
  }
  // A⁻¹ = Mᵀ M: rank-one updates of the lower triangle, row i of M touching rows j ≤ i, then mirrored.
  const p = a.fill(0);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let r = 0; r <= i; r++) {
      const f = m[ri + r];
      if (f === 0) continue;
      const rr = r * n;
      for (let c = 0; c <= r; c++) p[rr + c] += f * m[ri + c];
    }
  }
  for (let r = 0; r < n; r++) for (let c = 0; c < r; c++) p[c * n + r] = p[r * n + c];
  return p;
}

/** EASE with L2 weight `lambda`: B = I - P diag(1 / diag P), P = (XᵀX + λI)⁻¹, diag(B) = 0. */
export function ease(g, numItems, { lambda = 100 } = {}) {
  const n = numItems;
  const p = Float64Array.from(g);
  for (let i = 0; i < n; i++) p[i * n + i] += lambda;
  invertSpd(p, n);  // p now holds (XᵀX + λI)⁻¹
  const b = new Float32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) b[i * n + j] = i === j ? 0 : -p[i * n + j] / p[j * n + j];
  const scores = new Float32Array(n);
  return {
    name: 'ease', params: { lambda },
    score(history) {
      scores.fill(0);
      for (const i of history) {
        const row = b.subarray(i * n, (i + 1) * n);
        for (let j = 0; j < n; j++) scores[j] += row[j];
      }
      return scores;
    },
  };
}

/** The `k` best items by score, excluding `exclude` (a Set); ties to the lower index. */
export function topK(scores, k, exclude) {
  const idx = [];
  let worst = -Infinity;
  for (let j = 0; j < scores.length; j++) {
    const s = scores[j];
    if (exclude.has(j) || (idx.length >= k && s <= worst)) continue;
    idx.push(j);
    if (idx.length > 2 * k) {
      idx.sort((a, b) => scores[b] - scores[a] || a - b);
      idx.length = k;
      worst = scores[idx[k - 1]];
    }
  }
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, k);
}

/** NDCG@10, NDCG@100, Recall@20, Recall@50 (recall over min(k, #targets)) of one ranked list. */
export function userMetrics(ranked, targets) {
  const t = new Set(targets);
  const ndcg = (k) => {
    let dcg = 0, idcg = 0;
    for (let r = 0; r < Math.min(k, ranked.length); r++) if (t.has(ranked[r])) dcg += 1 / Math.log2(r + 2);
    for (let r = 0; r < Math.min(k, t.size); r++) idcg += 1 / Math.log2(r + 2);
    return idcg ? dcg / idcg : 0;
  };
  const recall = (k) => {
    let hit = 0;
    for (let r = 0; r < Math.min(k, ranked.length); r++) hit += t.has(ranked[r]) ? 1 : 0;
    return hit / Math.min(k, t.size);
  };
  return { ndcg10: ndcg(10), ndcg100: ndcg(100), recall20: recall(20), recall50: recall(50) };
}

/** Mean and standard error of the per-user difference a − b (same users, same order). */
export function pairedDifference(a, b) {
  const d = a.map((x, i) => x - b[i]);
  const mean = d.reduce((x, y) => x + y, 0) / Math.max(1, d.length);
  const variance = d.reduce((x, y) => x + (y - mean) ** 2, 0) / Math.max(1, d.length - 1);
  return { mean, se: Math.sqrt(variance / Math.max(1, d.length)) };
}

/** Mean and standard error of each metric over users (ndcg100PerUser: the values, not serialized). */
export function summarize(perUser) {
  const out = { users: perUser.length };
  Object.defineProperty(out, 'ndcg100PerUser', { value: perUser.map((m) => m.ndcg100), enumerable: false });
  for (const key of ['ndcg10', 'ndcg100', 'recall20', 'recall50']) {
    const xs = perUser.map((m) => m[key]);
    const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1);
    out[key] = { mean, se: Math.sqrt(variance / Math.max(1, xs.length)) };
  }
  return out;
}
