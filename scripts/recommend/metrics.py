"""Ranking metrics over the full item set, vectorized over users.

Each function takes ranked column indices (best first, from top_k) and returns one value per
user. Definitions (Liang et al. 2018, Mult-VAE):
  NDCG@k   = DCG@k / IDCG@k, DCG@k = sum_{r<k} hit_r / log2(r + 2), IDCG over min(k, #held-out) hits
  Recall@k = hits in the top k / min(k, #held-out)
  HR@k     = 1 if the single target is in the top k (next item), else 0
"""
import numpy as np


def top_k(scores, k, exclude=None):
    """Indices of the k best columns per row, best first, never an excluded (nonzero) column
    unless a row has fewer than k others. Ties go to the lower column index."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None:
        scores[np.asarray(exclude) != 0] = -np.inf
    n = scores.shape[1]
    k = min(k, n)
    # negate: argpartition/argsort put the largest first; a stable sort keeps ties in index order
    neg = -scores
    if k < n:
        part = np.argpartition(neg, k - 1, axis=1)[:, :k]
        # argpartition may cut a tie at the boundary anywhere: take every column tying the kth
        kth = np.take_along_axis(neg, part, axis=1).max(axis=1, keepdims=True)
        if np.any((neg == kth).sum(axis=1) > (np.take_along_axis(neg, part, axis=1) == kth).sum(axis=1)):
            return np.argsort(neg, axis=1, kind="stable")[:, :k]
        order = np.lexsort((part, np.take_along_axis(neg, part, axis=1)), axis=1)
        return np.take_along_axis(part, order, axis=1)
    return np.argsort(neg, axis=1, kind="stable")


def _hits(ranked, held_out, k):
    """Whether each of the first k ranked columns is held out; -1 (no item: a ranking shorter than
    k, as the engine returns when fewer items remain) is never a hit."""
    held_out = np.asarray(held_out, dtype=bool)
    idx = np.asarray(ranked)[:, :k]
    return np.take_along_axis(held_out, np.maximum(idx, 0), axis=1) & (idx >= 0)


def _discounts(k):
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(ranked, held_out, k):
    hits = _hits(ranked, held_out, k)
    disc = _discounts(hits.shape[1])
    dcg = hits @ disc
    n = np.asarray(held_out, dtype=bool).sum(axis=1)
    idcg = np.concatenate(([0.0], np.cumsum(_discounts(k))))[np.minimum(n, k)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, dcg / idcg, np.nan)


def recall_at_k(ranked, held_out, k):
    hits = _hits(ranked, held_out, k).sum(axis=1)
    n = np.asarray(held_out, dtype=bool).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, hits / np.minimum(n, k), np.nan)


def hit_rate_at_k(ranked, targets, k):
    """targets: one column per user (-1: not rankable, a miss)."""
    targets = np.asarray(targets)
    return (ranked[:, :k] == targets[:, None]).any(axis=1).astype(np.float64) * (targets >= 0)


def ndcg_next_at_k(ranked, targets, k):
    """NDCG@k with a single relevant item: 1 / log2(rank + 2) when it is in the top k."""
    targets = np.asarray(targets)
    hit = (ranked[:, :k] == targets[:, None]) & (targets[:, None] >= 0)
    return hit @ _discounts(hit.shape[1])


def mean_stderr(values):
    """Mean and standard error (sample std / sqrt(n); None for a single value) of fold means."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return float(v.mean()), None
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v)))
