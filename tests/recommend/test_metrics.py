"""Ranking metrics on hand-computed cases."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))

import numpy as np

from recommend import metrics


def held(n_items, *cols):
    h = np.zeros((1, n_items), dtype=bool)
    h[0, list(cols)] = True
    return h


class NDCGTest(unittest.TestCase):
    def test_perfect_ranking_is_one(self):
        ranked = np.array([[2, 0, 1, 3, 4]])
        for k in (1, 2, 3, 5):
            self.assertAlmostEqual(metrics.ndcg_at_k(ranked, held(5, 2, 0), k)[0], 1.0)

    def test_padding_is_never_a_hit(self):
        # a ranking shorter than k is padded with -1; the last column (index -1) must not count
        ranked = np.array([[1, -1, -1]])
        h = held(3, 2)
        self.assertEqual(metrics.ndcg_at_k(ranked, h, 3)[0], 0.0)
        self.assertEqual(metrics.recall_at_k(ranked, h, 3)[0], 0.0)
        self.assertEqual(metrics.hit_rate_at_k(ranked, np.array([2]), 3)[0], 0.0)

    def test_reversed_ranking(self):
        # the only relevant item (0) is ranked last of 4
        ranked = np.array([[3, 2, 1, 0]])
        self.assertAlmostEqual(metrics.ndcg_at_k(ranked, held(4, 0), 4)[0], 1 / np.log2(5))
        self.assertEqual(metrics.ndcg_at_k(ranked, held(4, 0), 3)[0], 0.0)
        # two relevant items ranked 3rd and 4th of 4: DCG = 1/log2(4) + 1/log2(5), IDCG = 1 + 1/log2(3)
        got = metrics.ndcg_at_k(ranked, held(4, 0, 1), 4)[0]
        self.assertAlmostEqual(got, (1 / np.log2(4) + 1 / np.log2(5)) / (1 + 1 / np.log2(3)))

    def test_idcg_uses_min_k_heldout(self):
        # 5 held out, k = 2, both top-2 relevant: ideal at k=2, so NDCG@2 = 1
        ranked = np.array([[0, 1, 2, 3, 4, 5]])
        self.assertAlmostEqual(metrics.ndcg_at_k(ranked, held(6, 0, 1, 2, 3, 4), 2)[0], 1.0)

    def test_rows_are_independent(self):
        ranked = np.array([[0, 1, 2], [2, 1, 0]])
        h = np.array([[1, 0, 0], [1, 0, 0]], dtype=bool)
        np.testing.assert_allclose(metrics.ndcg_at_k(ranked, h, 3), [1.0, 0.5])

    def test_no_heldout_is_nan(self):
        self.assertTrue(np.isnan(metrics.ndcg_at_k(np.array([[0, 1]]), held(2), 2)[0]))


class RecallTest(unittest.TestCase):
    def test_denominator_is_min_k_heldout(self):
        ranked = np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])
        # 5 held out, k = 2, both hits: 2 / min(2, 5) = 1 (plain recall would be 0.4)
        self.assertAlmostEqual(metrics.recall_at_k(ranked, held(10, 0, 1, 7, 8, 9), 2)[0], 1.0)
        # 3 held out, 1 in the top 5: 1 / 3
        self.assertAlmostEqual(metrics.recall_at_k(ranked, held(10, 4, 8, 9), 5)[0], 1 / 3)
        # 3 held out, all in the top 10: 1
        self.assertAlmostEqual(metrics.recall_at_k(ranked, held(10, 4, 8, 9), 10)[0], 1.0)
        # k larger than the list: everything counts
        self.assertAlmostEqual(metrics.recall_at_k(ranked, held(10, 9), 50)[0], 1.0)


class NextItemTest(unittest.TestCase):
    def test_hit_rate_and_ndcg(self):
        ranked = np.array([[5, 3, 1, 0], [0, 1, 2, 3], [0, 1, 2, 3]])
        targets = np.array([1, 0, -1])   # third: the target could not be ranked
        np.testing.assert_array_equal(metrics.hit_rate_at_k(ranked, targets, 3), [1, 1, 0])
        np.testing.assert_array_equal(metrics.hit_rate_at_k(ranked, targets, 2), [0, 1, 0])
        np.testing.assert_allclose(metrics.ndcg_next_at_k(ranked, targets, 3), [0.5, 1.0, 0.0])


class TopKTest(unittest.TestCase):
    def test_order_exclusions_and_ties(self):
        scores = np.array([[0.1, 0.9, 0.5, 0.9, 0.7],
                           [1.0, 1.0, 1.0, 1.0, 1.0]])
        exclude = np.array([[0, 1, 0, 0, 0], [0, 0, 1, 0, 0]])
        np.testing.assert_array_equal(metrics.top_k(scores, 3, exclude), [[3, 4, 2], [0, 1, 3]])
        np.testing.assert_array_equal(metrics.top_k(scores, 3), [[1, 3, 4], [0, 1, 2]])

    def test_matches_full_sort(self):
        rng = np.random.default_rng(0)
        scores = rng.integers(0, 20, size=(50, 300)).astype(float)   # many ties
        exclude = rng.random((50, 300)) < 0.1
        got = metrics.top_k(scores, 25, exclude)
        masked = np.where(exclude, -np.inf, scores)
        want = np.argsort(-masked, axis=1, kind="stable")[:, :25]
        np.testing.assert_array_equal(got, want)
        scores = rng.random((50, 300))                                  # no ties
        np.testing.assert_array_equal(metrics.top_k(scores, 25, exclude),
                                      np.argsort(-np.where(exclude, -np.inf, scores), axis=1)[:, :25])

    def test_mean_stderr(self):
        m, se = metrics.mean_stderr([1.0, 2.0, 3.0])
        self.assertAlmostEqual(m, 2.0)
        self.assertAlmostEqual(se, 1.0 / np.sqrt(3))
        self.assertEqual(metrics.mean_stderr([0.5]), (0.5, None))


if __name__ == "__main__":
    unittest.main()
