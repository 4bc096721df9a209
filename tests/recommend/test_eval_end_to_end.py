"""The whole pipeline (eval.py) on a small synthetic interactions CSV."""
import contextlib
import io
import json
import os
import tempfile
import unittest

from helpers import synthetic_rows, write_csv

from recommend import eval as rec_eval


class EndToEndTest(unittest.TestCase):
    def test_synthetic_csv(self):
        with tempfile.TemporaryDirectory() as d:
            csv_path = write_csv(os.path.join(d, "shop.csv"), synthetic_rows(n_users=150, n_items=60))
            out = os.path.join(d, "eval.json")
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
                rec_eval.main(["--data", csv_path, "--folds", "3", "--out", out])
            with open(out) as f:
                result = json.load(f)
            again = os.path.join(d, "again.json")
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                rec_eval.main(["--data", csv_path, "--folds", "3", "--out", again])
            with open(again) as f:
                result2 = json.load(f)

        self.assertEqual(result["data"]["users"], 150)
        self.assertEqual(result["data"]["seed"], 20261128)
        self.assertEqual(set(result["models"]), {"popularity", "item-knn", "ease", "vitrine-mult-dae",
                                                 "vitrine-mf-bpr", "vitrine-gru4rec", "vitrine-linear", "vitrine-linear-compact",
                                                 "vitrine-blend"})
        # the engine's models were also ranked in wasm (both variants), identically
        self.assertIs(result["vitrine"]["wasm_equals_native"], True)
        self.assertEqual(len(result["vitrine"]["wasm_checks"]), 3 * 6 + 6)
        for name, res in result["models"].items():
            for proto, metric_names in (("strong_generalization", ("ndcg@10", "ndcg@100", "recall@20", "recall@50")),
                                        ("next_item", ("hr@10", "ndcg@10"))):
                for metric in metric_names:
                    s = res[proto][metric]
                    self.assertEqual(len(s["per_fold"]), 3)
                    self.assertTrue(all(0 <= v <= 1 for v in s["per_fold"]), (name, proto, metric, s))
                    self.assertGreaterEqual(s["stderr"], 0)
                    # deterministic: a second run gives the same numbers
                    self.assertEqual(s, result2["models"][name][proto][metric])
        # two planted taste groups: collaborative models beat popularity clearly
        sg = {m: result["models"][m]["strong_generalization"]["ndcg@100"]["mean"] for m in result["models"]}
        self.assertGreater(sg["ease"], sg["popularity"] + 0.05)
        self.assertGreater(sg["item-knn"], sg["popularity"] + 0.05)
        self.assertGreater(sg["vitrine-mult-dae"], sg["popularity"] + 0.05)
        self.assertGreater(sg["vitrine-linear"], sg["popularity"] + 0.05)
        self.assertGreater(sg["vitrine-linear-compact"], sg["popularity"] + 0.05)
        self.assertGreater(sg["vitrine-blend"], sg["popularity"] + 0.05)
        self.assertIn("share", chosen_blend := result["chosen_hyperparameters"]["vitrine-blend"]["next_item"])
        self.assertTrue(0 <= chosen_blend["share"] <= 1)
        chosen = result["chosen_hyperparameters"]
        self.assertEqual(len(chosen["ease"]["strong_generalization"]), 3)
        self.assertIn("lam", chosen["ease"]["next_item"])
        self.assertIn("neighbors", chosen["item-knn"]["next_item"])
        self.assertIn("| ease |", stdout.getvalue())
        self.assertIn("total", result["seconds"])


if __name__ == "__main__":
    unittest.main()
