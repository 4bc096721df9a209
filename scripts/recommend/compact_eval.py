#!/usr/bin/env python3
"""`npm run eval -- compact [--data CSV] [--folds K]`: how much ranking quality the compact item
tables cost. On the strong-generalization splits of ../shared/DATA.md (seed 20261128), each
recommender kind is trained by the engine in f32 (configuration and epochs from vitrine_models.GRIDS,
epochs chosen on validation users), then written as compact files (`vitrine-recommend compact`)
with every storage below; the engine ranks the validation and test users with each file. Reported
per storage: bytes (raw, gzip -9), NDCG@100 / Recall@20 on test users and the paired relative loss
against the f32 model (mean +- standard error over the folds), and the same on validation users
(the choice of the default storage is made on validation only). Writes
bench/results/eval-compact[-NAME].json and prints a table.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import datetime
import gzip
import json
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from recommend import data, metrics, splits, vitrine_models as vm
from recommend.eval import _strong_histories
from recommend.tables import compact_table as table

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# (name, --rows, --fold, half): "f32" is the trained model file itself.
STORAGES = [
    ("f32", None, None, False),
    ("f16", "float", "float", True),
    ("int8", "int8", "int8", True),
    ("pq32/pq32", "pq:32", "pq:32", True),
    ("pq24/pq8", "pq:24", "pq:8", True),
    ("pq16/pq16", "pq:16", "pq:16", True),
    ("pq20/pq12", "pq:20", "pq:12", True),
    ("pq8/pq8", "pq:8", "pq:8", True),
    ("pq32", "pq:32", "float", True),
    ("pq16", "pq:16", "float", True),
]
METRICS = (("ndcg@100", metrics.ndcg_at_k, 100), ("recall@20", metrics.recall_at_k, 20))


def log(msg):
    print(f"[compact] {msg}", file=sys.stderr, flush=True)


def model_params(spec):
    """"mult-dae" or "mult-dae:dim=64[:...]" -> (kind, the GRIDS configuration with overrides)."""
    kind, *over = spec.split(":")
    params = dict(vm.GRIDS[kind][0])
    for o in over:
        key, value = o.split("=")
        params[key] = type(params.get(key, 1.0))(value) if key in params else float(value)
    return kind, params


def gz_size(path):
    with open(path, "rb") as f:
        return len(gzip.compress(f.read(), 9))


def evaluate(model, hs, held, work):
    ranked = vm.rank(model, hs, 100, work)
    return {name: float(np.nanmean(fn(ranked, held, k))) for name, fn, k in METRICS}


def run(args):
    t0 = time.time()
    inter = data.implicit(data.read_csv(args.data))
    order = vm.TimeOrder(inter, splits.interaction_keys(len(inter), args.seed, 2))
    work = vm.workdir()
    kinds = args.kinds.split(",")
    res = {k: {s[0]: {"test": {m: [] for m, _, _ in METRICS}, "val": {m: [] for m, _, _ in METRICS},
                      "bytes": [], "gzip": []} for s in STORAGES} for k in kinds}
    items = []
    for fold in range(args.folds):
        sp = splits.strong_generalization(inter, fold, seed=args.seed)
        ids, train_h, val_h, val_t, test_h = _strong_histories(sp, inter, order)
        items.append(len(ids))
        for kind in kinds:
            d = os.path.join(work, f"f{fold}-{kind}")
            base_kind, params = model_params(kind)
            path, out = vm.train(base_kind, params, train_h, ids, d, val_h, val_t, val_k=100, threads=0)
            log(f"fold {fold} {kind}: trained (best epoch {out['best_epoch']})")
            for name, rows, fold_storage, half in STORAGES:
                f = path
                if rows is not None:
                    f = os.path.join(d, f"{name.replace('/', '-')}.safetensors")
                    vm.run_tool(["compact", path, "--out", f, "--rows", rows, "--fold", fold_storage] + ([] if half else ["--f32"]))
                r = res[kind][name]
                r["bytes"].append(os.path.getsize(f))
                r["gzip"].append(gz_size(f))
                for split, hs, held in (("val", val_h, sp.val.held_out), ("test", test_h, sp.test.held_out)):
                    for m, v in evaluate(f, hs, held, d).items():
                        r[split][m].append(v)
            log(f"fold {fold} {kind}: " + ", ".join(f"{n} {res[kind][n]['test']['ndcg@100'][-1]:.4f}" for n, *_ in STORAGES))
    out = {"what": "compact item tables: quality vs bytes (strong generalization)", "data": args.source or args.data,
           "folds": args.folds, "seed": args.seed, "items_per_fold": items,
           "command": os.environ.get("VITRINE_EVAL_COMMAND", "scripts/recommend/compact_eval.py"),
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "seconds": round(time.time() - t0, 1), "kinds": {}}
    for kind in kinds:
        base = res[kind]["f32"]
        out["kinds"][kind] = {}
        for name, rows, fold_storage, half in STORAGES:
            r = res[kind][name]
            entry = {"rows": rows, "fold": fold_storage, "half": half,
                     "bytes": int(np.mean(r["bytes"])), "gzip": int(np.mean(r["gzip"]))}
            for split in ("val", "test"):
                for m, _, _ in METRICS:
                    vals = np.array(r[split][m])
                    rel = (np.array(base[split][m]) - vals) / np.array(base[split][m])
                    mean, se = metrics.mean_stderr(vals)
                    lm, ls = metrics.mean_stderr(rel)
                    entry[f"{split}_{m}"] = {"mean": mean, "stderr": se}
                    entry[f"{split}_{m}_rel_loss"] = {"mean": lm, "stderr": ls, "per_fold": [float(x) for x in rel]}
            out["kinds"][kind][name] = entry
    name = f"eval-compact{'' if args.name in (None, 'movielens') else '-' + args.name}.json"
    path = args.out or os.path.join(ROOT, "bench", "results", name)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(table(out))
    log(f"wrote {os.path.relpath(path, ROOT)} in {out['seconds']:.0f} s")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--name")
    ap.add_argument("--source")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=splits.SEED)
    ap.add_argument("--kinds", default="mult-dae,mf-bpr",
                    help="comma-separated kinds, each optionally with overrides: mult-dae:dim=64")
    ap.add_argument("--storages", help="comma-separated storage names to run (default: all)")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    if args.storages:
        keep = set(args.storages.split(",")) | {"f32"}
        STORAGES[:] = [s for s in STORAGES if s[0] in keep]
    run(args)


if __name__ == "__main__":
    main()
