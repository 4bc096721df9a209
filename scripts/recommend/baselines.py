"""Baselines for the report: popularity, item-kNN and EASE.

Each model has fit(X) on the training users' 0/1 matrix (users x items) and score(Q) giving a
score for every item for each row of a 0/1 query matrix (the folded-in histories). GRIDS lists the
hyper-parameters that eval.py tries on the validation users; the test users are never used to
choose them.
"""
import numpy as np


class Popularity:
    name = "popularity"

    def __init__(self):
        self.counts = None

    def params(self):
        return {}

    def fit(self, x):
        self.counts = np.asarray(x, dtype=np.float64).sum(axis=0)
        self.n_rows = x.shape[0]
        return self

    def score(self, q):
        return np.broadcast_to(self.counts, (q.shape[0], len(self.counts)))

    def score_train(self, rows):
        return self.score(np.empty((len(np.arange(self.n_rows)[rows]), 0)))


class ItemKNN:
    """Item-based kNN on the binary matrix: shrunk cosine similarity
        s_ij = c_ij / (sqrt(c_ii c_jj) + shrink),  c = X^T X,  s_ii = 0,
    keeping for every target item j its `neighbors` most similar items i (0: all);
    score_uj = sum over the user's items i of s_ij."""
    name = "item-knn"

    def __init__(self, neighbors=100, shrink=0.0):
        self.neighbors = int(neighbors)
        self.shrink = float(shrink)
        self.sim = None

    def params(self):
        return {"neighbors": self.neighbors, "shrink": self.shrink}

    def fit(self, x, cooc=None):
        c = cooc if cooc is not None else cooccurrence(x)
        self.sim = next(iter(_pruned(shrunk_cosine(c, self.shrink), [self.neighbors])))[1]
        self.x = x
        return self

    def score(self, q):
        return sparse_rows_matmul(np.asarray(q, dtype=np.float32), self.sim)

    def score_train(self, rows):
        return self.score(self.x[rows])


def shrunk_cosine(cooc, shrink):
    norm = np.sqrt(np.diag(cooc)).astype(np.float32)
    sim = cooc / (np.outer(norm, norm) + np.float32(shrink) + np.float32(1e-12))
    np.fill_diagonal(sim, 0)
    return sim.astype(np.float32, copy=False)


def _pruned(sim, neighbors):
    """Yields (k, sim with only the k largest entries of each column kept) for each k (0: all).
    Ties are broken by the lower row index (ties at zero do not matter), so a k gives the same
    matrix whatever other k are asked for. The columns are ordered once, up to the largest k."""
    n = sim.shape[0]
    finite = [k for k in neighbors if 0 < k < n]
    if finite:
        kmax = max(finite)
        neg = -sim
        part = np.argpartition(neg, kmax - 1, axis=0)[:kmax]
        vals = np.take_along_axis(neg, part, axis=0)
        order = np.lexsort((part, vals), axis=0)
        top = np.take_along_axis(part, order, axis=0)           # (kmax, n) row indices, best first
        # argpartition cuts a run of equal values at the boundary anywhere: redo those columns
        edge = vals.max(axis=0)
        cut = ((neg == edge).sum(axis=0) > (vals == edge).sum(axis=0)) & (edge != 0)
        for j in np.flatnonzero(cut):
            top[:, j] = np.argsort(neg[:, j], kind="stable")[:kmax]
        del neg, part, vals, order
    for k in neighbors:
        if 0 < k < n:
            rows = top[:k]
            pruned = np.zeros_like(sim)
            np.put_along_axis(pruned, rows, np.take_along_axis(sim, rows, axis=0), axis=0)
            yield k, pruned
        else:
            yield k, sim


def sparse_rows_matmul(q, m):
    """q @ m for a sparse q (histories): sums the rows of m that each row of q selects, which is
    much faster than a dense product with Debian's reference BLAS. Dense q: plain product."""
    q = np.asarray(q)
    if q.size == 0 or np.count_nonzero(q) > 0.1 * q.size:
        return q @ m
    out = np.zeros((q.shape[0], m.shape[1]), dtype=np.result_type(q.dtype, m.dtype))
    for r in range(q.shape[0]):
        nz = np.flatnonzero(q[r])
        if len(nz):
            out[r] = q[r, nz] @ m[nz]
    return out


def cooccurrence(x):
    x = np.asarray(x, dtype=np.float32)
    return x.T @ x   # exact: counts well below 2^24


class EASE:
    """EASE (Steck 2019): B = I - P diagMat(1/diag(P)), P = (X^T X + lambda I)^-1; score = Q B.

    With fewer training users than items (MovieLens: ~530 users, ~5,500 items) the item-item
    inverse is never formed: by the Woodbury identity
        P = (I - X^T (X X^T + lambda I)^-1 X) / lambda,
    so Q P and diag(P) need only a users x users inverse, and Q B = Q - (Q P) diagMat(1/diag(P)).
    For the training users themselves (score_train, the next-item protocol) X P = M X with
    M = (X X^T + lambda I)^-1, since X X^T M = I - lambda M. Otherwise ("primal") P and B are
    computed as written. Both are exact (float64)."""
    name = "ease"

    def __init__(self, lam=100.0, form="auto"):
        self.lam = float(lam)
        self.form = form
        self._x = self._xt = self._mx = self._diag = self._b = None

    def params(self):
        return {"lam": self.lam}

    def fit(self, x, gram_users=None):
        x = np.asarray(x, dtype=np.float64)
        self._x = x
        n_users, n_items = x.shape
        form = self.form if self.form != "auto" else ("dual" if n_users < n_items else "primal")
        lam = self.lam
        if form == "dual":
            k = gram_users if gram_users is not None else x @ x.T
            m = np.linalg.inv(k + lam * np.eye(n_users))
            m = (m + m.T) / 2
            self._xt = np.ascontiguousarray(x.T)
            mx = sparse_rows_matmul(self._xt, m).T      # M X (M is symmetric), X is sparse
            self._mx = np.ascontiguousarray(mx)
            self._diag = (1.0 - np.einsum("ui,ui->i", x, mx)) / lam
            self._b = None
        elif form == "primal":
            g = x.T @ x
            p = np.linalg.inv(g + lam * np.eye(n_items))
            b = -p / np.diag(p)[None, :]
            np.fill_diagonal(b, 0.0)
            self._b = b
            self._mx = None
        else:
            raise ValueError(f"unknown form {form!r}")
        return self

    def score(self, q):
        q = np.asarray(q, dtype=np.float64)
        if self._b is not None:
            return q @ self._b
        qp = (q - sparse_rows_matmul(q, self._xt) @ self._mx) / self.lam
        return q - qp / self._diag[None, :]

    def score_train(self, rows):
        """Scores for rows of the training matrix (same as score(x[rows]), cheaper)."""
        if self._b is not None:
            return self._x[rows] @ self._b
        x = self._xt.T[rows]
        return x - self._mx[rows] / self._diag[None, :]


def ease_direct(x, lam):
    """The textbook formula, for tests: B = I - P diagMat(1/diag(P))."""
    x = np.asarray(x, dtype=np.float64)
    p = np.linalg.inv(x.T @ x + lam * np.eye(x.shape[1]))
    return np.eye(x.shape[1]) - p / np.diag(p)[None, :]


# Validation grids (eval.py picks the best NDCG@100 on validation users / NDCG@10 on the
# validation targets of the next-item protocol).
GRIDS = {
    "popularity": [{}],
    "item-knn": [{"neighbors": k, "shrink": s}
                 for k in (10, 25, 50, 100, 200, 400, 800, 0) for s in (0.0, 10.0, 50.0, 200.0)],
    "ease": [{"lam": lam} for lam in (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
                                      2000.0, 5000.0)],
}


def make(name, **params):
    return {"popularity": Popularity, "item-knn": ItemKNN, "ease": EASE}[name](**params)


def fit_grid(name, x):
    """Yields (params, fitted model) over the grid, sharing the expensive parts (item-kNN: one
    co-occurrence matrix, one similarity and column ordering per shrink; EASE: one X X^T)."""
    if name == "item-knn":
        cooc = cooccurrence(x)
        grid = GRIDS[name]
        for shrink in dict.fromkeys(p["shrink"] for p in grid):
            ks = [p["neighbors"] for p in grid if p["shrink"] == shrink]
            for k, sim in _pruned(shrunk_cosine(cooc, shrink), ks):
                model = ItemKNN(k, shrink)
                model.sim, model.x = sim, x
                yield {"neighbors": k, "shrink": shrink}, model
        return
    cache = {}
    for params in GRIDS[name]:
        model = make(name, **params)
        if name == "ease" and x.shape[0] < x.shape[1]:
            if "gram_users" not in cache:
                xd = np.asarray(x, dtype=np.float64)
                cache["gram_users"] = xd @ xd.T
            model.fit(x, gram_users=cache["gram_users"])
        else:
            model.fit(x)
        yield params, model
