"""The shipped recommender's choice (scripts/recommend/train_default.py): validation order, never
below popularity, and the byte budget."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))

from recommend import train_default as td  # noqa: E402


def evaluation(val):
    """A minimal evaluation result: {model: [validation NDCG@100 per fold]}."""
    ev = {"models": {m: {} for m in val}, "validation": {}, "chosen_hyperparameters": {}}
    for m, scores in val.items():
        ev["validation"][m] = {"strong_generalization": [{"val_ndcg@100": v} for v in scores]}
        ev["chosen_hyperparameters"][m] = {"strong_generalization": [{"dim": 8, "l2": 10.0 * (i + 1)} for i in range(len(scores))]}
    return ev


class TrainDefaultTest(unittest.TestCase):
    def test_ranked_by_validation_and_never_below_popularity(self):
        ev = evaluation({"popularity": [0.20, 0.22], "ease": [0.40, 0.40], "vitrine-a": [0.30, 0.32],
                         "vitrine-b": [0.35, 0.36], "vitrine-c": [0.10, 0.30]})
        ranked = td.ranked_kinds(ev)
        self.assertEqual([n for n, _, _ in ranked], ["vitrine-b", "vitrine-a"])  # c: 0.20 is not above popularity's 0.21
        self.assertAlmostEqual(ranked[0][2], 0.355)

    def test_first_kind_within_the_budget(self):
        ranked = [("vitrine-big", {}, 0.4), ("vitrine-medium", {}, 0.3), ("vitrine-small", {}, 0.2)]
        sizes = {"vitrine-big": 3000, "vitrine-medium": 2000, "vitrine-small": 1000}
        trained = []
        with tempfile.TemporaryDirectory() as d:
            def train(name, params):
                trained.append(name)
                path = os.path.join(d, name)
                with open(path, "wb") as f:
                    f.write(b"\0" * sizes[name])
                return path
            name, _, score, path, _, skipped = td.first_within(ranked, 2000, train)
            self.assertEqual((name, score, os.path.basename(path)), ("vitrine-medium", 0.3, "vitrine-medium"))
            self.assertEqual(skipped, [("vitrine-big", 3000)])
            self.assertEqual(trained, ["vitrine-big", "vitrine-medium"])  # stops at the first that fits
            with self.assertRaises(SystemExit):
                td.first_within(ranked, 999, train)


if __name__ == "__main__":
    unittest.main()
