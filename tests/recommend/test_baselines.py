"""Baselines against direct formulas on tiny matrices."""
import unittest

import helpers  # noqa: F401  (import path)

import numpy as np

from recommend import baselines


def random_binary(rng, n_users, n_items, p=0.3):
    x = (rng.random((n_users, n_items)) < p).astype(np.float32)
    x[np.arange(min(n_users, n_items)), np.arange(min(n_users, n_items))] = 1   # no empty column
    return x


class EASETest(unittest.TestCase):
    def test_b_matches_direct_formula(self):
        rng = np.random.default_rng(1)
        x = random_binary(rng, 12, 7)
        b = baselines.ease_direct(x, 3.0)
        # direct numpy: P = (X^T X + lambda I)^-1, B = I - P diagMat(1/diag(P))
        p = np.linalg.inv(x.T.astype(float) @ x + 3.0 * np.eye(7))
        np.testing.assert_allclose(b, np.eye(7) - p @ np.diag(1 / np.diag(p)), atol=1e-12)
        np.testing.assert_allclose(np.diag(b), 0, atol=1e-12)
        # B solves the constrained least squares: gradient (X^T X + lambda I) B - X^T X = -P^-1 diagMat(1/diag P)
        g = x.T.astype(float) @ x
        resid = (g + 3.0 * np.eye(7)) @ b - g
        np.testing.assert_allclose(resid - np.diag(np.diag(resid)), 0, atol=1e-9)

    def test_primal_and_dual_scores(self):
        rng = np.random.default_rng(2)
        for n_users, n_items in ((6, 9), (15, 5), (9, 9)):
            x = random_binary(rng, n_users, n_items)
            q = random_binary(rng, 4, n_items, 0.4)
            for lam in (0.5, 10.0, 300.0):
                want = q.astype(float) @ baselines.ease_direct(x, lam)
                for form in ("primal", "dual", "auto"):
                    m = baselines.EASE(lam, form=form).fit(x)
                    np.testing.assert_allclose(m.score(q), want, atol=1e-9, err_msg=f"{form} {lam}")
                    np.testing.assert_allclose(m.score_train(slice(1, 4)),
                                               x[1:4].astype(float) @ baselines.ease_direct(x, lam),
                                               atol=1e-9, err_msg=f"{form} {lam} train rows")

    def test_grid_fit_equals_fit(self):
        rng = np.random.default_rng(3)
        x = random_binary(rng, 20, 30, 0.15)
        q = random_binary(rng, 5, 30, 0.2)
        for name in ("ease", "item-knn", "popularity"):
            for params, model in baselines.fit_grid(name, x):
                ref = baselines.make(name, **params).fit(x)
                np.testing.assert_allclose(model.score(q), ref.score(q), rtol=1e-6, atol=1e-6,
                                           err_msg=f"{name} {params}")
                np.testing.assert_allclose(model.score_train([0, 3]), ref.score(x[[0, 3]]),
                                           rtol=1e-6, atol=1e-6)


class ItemKNNTest(unittest.TestCase):
    def test_shrunk_cosine_and_neighbors(self):
        x = np.array([[1, 1, 0, 0],
                      [1, 1, 1, 0],
                      [0, 1, 1, 1],
                      [1, 0, 0, 1]], dtype=np.float32)
        m = baselines.ItemKNN(neighbors=0, shrink=1.0).fit(x)
        c = x.T @ x
        want = c / (np.sqrt(np.outer(np.diag(c), np.diag(c))) + 1.0)
        np.fill_diagonal(want, 0)
        np.testing.assert_allclose(m.sim, want, rtol=1e-6)
        # item 0 (items 1 and 3 seen): score_j = s_1j + s_3j
        np.testing.assert_allclose(m.score(np.array([[0, 1, 0, 1]], np.float32))[0],
                                   want[1] + want[3], rtol=1e-6)
        m1 = baselines.ItemKNN(neighbors=1, shrink=1.0).fit(x)
        for j in range(4):    # one neighbour kept per target item: the most similar one
            col = m1.sim[:, j]
            self.assertEqual(np.count_nonzero(col), 1)
            self.assertAlmostEqual(col.max(), want[:, j].max(), places=6)

    def test_pruning_ties_go_to_lower_rows(self):
        rng = np.random.default_rng(5)
        sim = rng.integers(0, 4, size=(40, 40)).astype(np.float32)   # many ties
        for k, got in baselines._pruned(sim, [3, 7, 20, 0]):
            want = np.zeros_like(sim) if k else sim
            for j in range(40) if k else ():
                rows = np.argsort(-sim[:, j], kind="stable")[:k]
                want[rows, j] = sim[rows, j]
            np.testing.assert_array_equal(got, want, err_msg=f"k={k}")

    def test_popularity(self):
        x = np.array([[1, 0, 1], [1, 0, 0]], np.float32)
        np.testing.assert_array_equal(baselines.Popularity().fit(x).score(np.zeros((3, 3))),
                                      np.tile([2, 0, 1], (3, 1)))

    def test_sparse_rows_matmul(self):
        rng = np.random.default_rng(4)
        q = (rng.random((30, 200)) < 0.02).astype(np.float32)
        m = rng.random((200, 17)).astype(np.float32)
        np.testing.assert_allclose(baselines.sparse_rows_matmul(q, m), q @ m, rtol=1e-5)


if __name__ == "__main__":
    unittest.main()
