"""Reading interactions and the two fixed protocols (splits.py)."""
import os
import tempfile
import unittest

from helpers import synthetic_rows, write_csv

import numpy as np

from recommend import data, splits


class DataTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def csv(self, rows, header=("user", "item", "rating", "timestamp")):
        return write_csv(os.path.join(self.dir.name, "x.csv"), rows, header)

    def test_implicit_threshold_dedupe_and_min_positives(self):
        rows = [("1", "10", 4.0, 5), ("1", "11", 3.5, 6), ("1", "12", 5, 7), ("1", "10", 4.5, 1),
                ("1", "13", 4, 8), ("1", "14", 4, 9), ("1", "15", 4, 10),
                ("2", "10", 5, 1), ("2", "11", 5, 2)]               # user 2: only 2 positives
        inter = data.implicit(data.read_csv(self.csv(rows)), threshold=4.0, min_positives=5)
        self.assertEqual(inter.user_ids, ["1"])
        self.assertEqual(inter.item_ids, ["10", "12", "13", "14", "15"])   # 11 is not a positive
        self.assertEqual(len(inter), 5)
        # (1, 10) appears twice: kept once, at its earliest time
        self.assertEqual(inter.times[inter.items == 0][0], 1)

    def test_movielens_column_names_and_no_rating(self):
        rows = [(u, i, 2.0, 100 + i) for u in (1, 2) for i in range(6)]
        inter = data.implicit(data.read_csv(self.csv(rows, ("userId", "movieId", "rating", "timestamp"))))
        self.assertEqual(len(inter), 0)                          # every rating below 4
        raw = data.read_csv(self.csv([(u, i) for u in (1, 2) for i in range(6)], ("user", "item")))
        inter = data.implicit(raw)                               # no rating column: all positive
        self.assertEqual((inter.n_users, inter.n_items, len(inter)), (2, 6, 12))

    def test_bad_files(self):
        with self.assertRaisesRegex(ValueError, "no 'item' column"):
            data.read_csv(self.csv([(1, 2)], ("user", "product")))
        with self.assertRaisesRegex(ValueError, "bad row"):
            data.read_csv(self.csv([(1, 2, "x", 3)]))


class SplitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        path = write_csv(os.path.join(cls.dir.name, "s.csv"), synthetic_rows(n_users=200, n_items=80))
        cls.inter = data.implicit(data.read_csv(path))

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_strong_users_disjoint_and_folds_cover(self):
        inter = self.inter
        seen_test = []
        for fold in range(splits.N_CHUNKS):
            sp = splits.strong_generalization(inter, fold)
            tr = set(sp.train_users)
            va = set(sp.val.users) | set()
            te = set(sp.test.users)
            self.assertFalse(tr & va or tr & te or va & te)
            self.assertAlmostEqual(len(te) + sp.test.skipped, inter.n_users / 10, delta=1)
            self.assertAlmostEqual(len(va) + sp.val.skipped, inter.n_users / 10, delta=1)
            seen_test.extend(te)
            # the training matrix holds exactly the training users' positives
            self.assertEqual(sp.train.sum(), np.isin(inter.users, sp.train_users).sum())
        self.assertEqual(len(seen_test), len(set(seen_test)))   # disjoint test users across folds

    def test_fold_in_80_20_and_reproducible(self):
        inter = self.inter
        sp = splits.strong_generalization(inter, 0)
        for h in (sp.val, sp.test):
            self.assertFalse(np.any(h.held_out & (h.fold_in > 0)))
            for r, u in enumerate(h.users):
                mine = inter.items[inter.users == u]
                in_items = np.isin(mine, sp.item_index).sum()   # items unseen in training dropped
                n_out = int(0.2 * in_items)
                self.assertEqual(h.held_out[r].sum(), n_out)
                self.assertEqual(h.fold_in[r].sum(), in_items - n_out)
                self.assertGreaterEqual(n_out, 1)
                got = set(sp.item_index[np.flatnonzero(h.held_out[r] | (h.fold_in[r] > 0))])
                self.assertEqual(got, set(mine) & set(sp.item_index))
        again = splits.strong_generalization(inter, 0)
        np.testing.assert_array_equal(again.test.held_out, sp.test.held_out)
        np.testing.assert_array_equal(again.test.fold_in, sp.test.fold_in)
        np.testing.assert_array_equal(again.train, sp.train)
        other = splits.strong_generalization(inter, 0, seed=splits.SEED + 1)
        self.assertFalse(np.array_equal(other.test.users, sp.test.users))

    def test_unseen_items_are_dropped(self):
        # an item only a test user has is not in the item index, and not held out
        sp = splits.strong_generalization(self.inter, 0)
        u = sp.test.users[0]
        users = np.append(self.inter.users, u)
        items = np.append(self.inter.items, self.inter.n_items)
        inter = data.Interactions(users, items, np.append(self.inter.times, 0.0),
                                  self.inter.user_ids, self.inter.item_ids + ["new"])
        sp2 = splits.strong_generalization(inter, 0)
        self.assertNotIn(self.inter.n_items, sp2.item_index)
        np.testing.assert_array_equal(sp2.test.held_out, sp.test.held_out)

    def test_next_item_holds_out_latest(self):
        inter = self.inter
        val, test = splits.next_item(inter)
        for u in range(inter.n_users):
            mask = inter.users == u
            t, i = inter.times[mask], inter.items[mask]
            self.assertEqual(len(set(t)), len(t))     # synthetic times: distinct per user
            order = np.argsort(t)
            self.assertEqual(test.target_items[u], i[order[-1]])
            self.assertEqual(val.target_items[u], i[order[-2]])
            # training rows: every positive but the target(s)
            self.assertEqual(test.train[u].sum(), mask.sum() - 1)
            self.assertEqual(val.train[u].sum(), mask.sum() - 2)
            if test.targets[u] >= 0:
                self.assertEqual(test.train[u, test.targets[u]], 0)
                self.assertEqual(test.item_index[test.targets[u]], test.target_items[u])
            self.assertNotEqual(val.target_items[u], test.target_items[u])
        val2, test2 = splits.next_item(inter)
        np.testing.assert_array_equal(test2.target_items, test.target_items)

    def test_user_groups(self):
        g = splits.user_groups(self.inter.n_users, 5)
        self.assertEqual(sorted(np.concatenate(g)), list(range(self.inter.n_users)))


if __name__ == "__main__":
    unittest.main()
