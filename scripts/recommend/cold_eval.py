#!/usr/bin/env python3
"""`npm run eval -- recommend --cold-items [--folds K] [--kind KIND] [--content FILE]`: new products
without retraining (cold start), on the strong-generalization splits of ../shared/DATA.md.

Per fold, 10% of the split's items (seeded) are "new": the cold model is trained by the engine
without any of their interactions, then places them by their content (title, categories, year;
`vitrine-recommend compact --content` fits the content map on its trained items with the ridge
penalty that ranks the new items best for training and validation users, never test users;
`rank --add-items` adds the new ones); the warm model is the same kind trained with the whole catalogue. Test users
fold in their non-new items; what they must find is their held-out new items. Reported (mean +-
standard error over folds):
  - among the new items only (the page's "new arrivals"): NDCG@100, Recall@20 of the cold model,
    the warm model, content-popularity (each new item scored by the mean popularity of the trained
    items sharing its categories), random, and as a reference oracle-popularity (the new items'
    true training popularity, which only their interactions tell); cold / warm is the cold-start
    criterion;
  - over the whole catalogue: NDCG@100 on the new targets and the share of top-10 slots that go to
    new items (their exposure), cold vs warm.
Writes bench/results/eval-cold-items[-NAME].json and prints a table.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import datetime
import hashlib
import json
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from recommend import data, metrics, splits, vitrine_models as vm
from recommend.eval import _strong_histories
from recommend.tables import cold_items_table as table

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLD_SHARE = 0.10


def log(msg):
    print(f"[cold-items] {msg}", file=sys.stderr, flush=True)


def rank_ids(model, hs, k, work, tag, add_items=None, candidates=None):
    """Top-k item ids per history (history excluded), ranked natively."""
    hp, rp = os.path.join(work, f"{tag}_h.txt"), os.path.join(work, f"{tag}_ranked.txt")
    vm.write_histories(hp, hs)
    args = ["rank", model, "--histories", hp, "--k", str(k), "--out", rp]
    if add_items:
        args += ["--add-items", add_items]
    if candidates:
        cp = os.path.join(work, f"{tag}_candidates.txt")
        with open(cp, "w") as f:
            f.write("\n".join(candidates) + "\n")
        args += ["--candidates", cp]
    vm.run_tool(args)
    return vm.read_ranked(rp, len(hs), k)


def run(args):
    t0 = time.time()
    inter = data.implicit(data.read_csv(args.data))
    order = vm.TimeOrder(inter, splits.interaction_keys(len(inter), args.seed, 2))
    with open(args.content) as f:
        raw = json.load(f)
    content = {e["id"]: e for e in (raw["items"] if isinstance(raw, dict) else raw)}
    work = args.work or vm.workdir()
    params = dict(vm.GRIDS[args.kind][0])
    names = ("cold", "warm", "content-popularity", "random", "oracle-popularity")
    per = {"new_only": {n: {"ndcg@100": [], "recall@20": []} for n in names},
           "catalogue": {n: {"ndcg@100": [], "top10_new_share": []} for n in ("cold", "warm")}}
    folds = []
    for fold in range(args.folds):
        sp = splits.strong_generalization(inter, fold, seed=args.seed)
        ids, train_h, val_h, val_t, test_h = _strong_histories(sp, inter, order)
        n = len(ids)
        rng = np.random.default_rng(args.seed + 1000 + fold)
        cold = np.sort(rng.choice(n, size=int(round(COLD_SHARE * n)), replace=False))
        is_cold = np.zeros(n, dtype=bool)
        is_cold[cold] = True
        missing = [ids[c] for c in cold if ids[c] not in content]
        if missing:
            raise SystemExit(f"no content for {len(missing)} items (e.g. {missing[:3]}): pass --content")
        warm_cols = np.flatnonzero(~is_cold)
        remap = np.full(n, -1)
        remap[warm_cols] = np.arange(len(warm_cols))
        strip = lambda hs: [[int(remap[c]) for c in h if not is_cold[c]] for h in hs]
        d = os.path.join(work, f"f{fold}")
        # The warm model: the whole catalogue. The cold model: no interaction with a new item.
        def trained(name, hs, item_ids, vh, vt):
            # --work: a model trained there by an earlier run is reused when its manifest (data,
            # seed, kind, settings, its items and training histories) is this run's.
            path = os.path.join(d, name, f"{args.kind}.safetensors")
            manifest = {"data": os.path.abspath(args.data), "data_bytes": os.path.getsize(args.data), "seed": args.seed,
                        "fold": fold, "kind": args.kind, "params": params,
                        "digest": hashlib.sha256(json.dumps([item_ids, [list(map(int, h)) for h in hs]]).encode()).hexdigest()}
            mpath = path + ".manifest.json"
            if args.work and os.path.exists(path) and os.path.exists(mpath):
                with open(mpath) as f:
                    if json.load(f) == manifest:
                        return path
            out = vm.train(args.kind, params, hs, item_ids, os.path.join(d, name), vh, vt, val_k=100, threads=0)[0]
            with open(mpath + ".tmp", "w") as f:
                json.dump(manifest, f)
            os.replace(mpath + ".tmp", mpath)  # written after the model: a half-trained run is never reused
            return out
        warm_path = trained("warm", train_h, ids, val_h, val_t)
        cold_ids = [ids[c] for c in warm_cols]
        cold_val_t = [np.array([remap[c] for c in t if not is_cold[c]], dtype=np.int64) for t in val_t]
        cold_path = trained("cold", strip(train_h), cold_ids, strip(val_h), cold_val_t)
        cat_file = os.path.join(d, "catalogue.json")
        with open(cat_file, "w") as f:
            json.dump([content[i] for i in cold_ids if i in content], f)
        new_ids = [ids[c] for c in cold]
        new_file = os.path.join(d, "new-items.json")
        with open(new_file, "w") as f:
            json.dump([content[i] for i in new_ids], f)
        cold_order = cold_ids + new_ids  # the cold model's items after --add-items
        pos_new = {ids[c]: j for j, c in enumerate(cold)}
        def to_new(ranked, order_ids):
            return np.vectorize(lambda i: pos_new.get(order_ids[i], -1) if i >= 0 else -1)(ranked)
        # The content map's ridge penalty, chosen without test users: NDCG@100 among the new items
        # for the training and validation users who interacted with new items (their other items
        # folded in; the cold model never saw any new item).
        sel = [(h, [c for c in h if is_cold[c]]) for h in train_h]
        sel += [(h, [c for c in t if is_cold[c]]) for h, t in zip(val_h, val_t)]
        sel = [(h, t) for h, t in sel if t]
        vtgt = np.zeros((len(sel), len(cold)), dtype=bool)
        for r, (_, t) in enumerate(sel):
            vtgt[r, [pos_new[ids[c]] for c in t]] = True
        vhs = strip([h for h, _ in sel])
        vusers = sel
        lambdas = [float(x) for x in args.lambdas.split(",")]
        val_scores, paths = [], []
        for lam in lambdas:
            path = os.path.join(d, f"cold-content-l{lam:g}.safetensors")
            paths.append(path)
            vm.run_tool(["compact", cold_path, "--out", path, "--rows", "float", "--fold", "float", "--f32",
                         "--content", cat_file, "--lambda", f"{lam:g}"] + os.environ.get("VITRINE_COLD_COMPACT_ARGS", "").split())
            vr = to_new(rank_ids(path, vhs, 100, d, "val_new", add_items=new_file, candidates=new_ids), cold_order)
            val_scores.append(float(np.nanmean(metrics.ndcg_at_k(vr, vtgt, 100))) if vusers else float("nan"))
        best = int(np.nanargmax(val_scores)) if np.isfinite(val_scores).any() else len(lambdas) // 2
        mapped, lam_best = paths[best], lambdas[best]
        log(f"fold {fold}: selection NDCG@100 among new items ({len(sel)} users) by lambda " +
            ", ".join(f"{l:g}: {v:.4f}" for l, v in zip(lambdas, val_scores)) + f" -> {lam_best:g}")
        # Test users with new targets; histories without new items.
        held = sp.test.held_out
        targets_new = held & is_cold[None, :]
        users = np.flatnonzero(targets_new.sum(axis=1) > 0)
        hs_warm = [[c for c in test_h[u] if not is_cold[c]] for u in users]
        hs_cold = strip([test_h[u] for u in users])
        # Among the new items only. Ranked columns -> new-item positions.
        tgt = targets_new[users][:, cold]
        k = 100
        warm_r = to_new(rank_ids(warm_path, hs_warm, k, d, "warm_new", candidates=new_ids), ids)
        cold_r = to_new(rank_ids(mapped, hs_cold, k, d, "cold_new", add_items=new_file, candidates=new_ids), cold_order)
        # content-popularity: mean training popularity of the trained items in each category.
        pop = np.asarray(sp.train.sum(axis=0)).ravel()
        cat_pop = {}
        for c in warm_cols:
            for g in content[ids[c]].get("categories", []):
                cat_pop.setdefault(g, []).append(pop[c])
        mean_pop = float(pop[warm_cols].mean())
        score = np.array([np.mean([np.mean(cat_pop[g]) for g in content[i].get("categories", []) if g in cat_pop] or [mean_pop])
                          for i in new_ids])
        cp_r = np.tile(metrics.top_k(score[None, :], k), (len(users), 1))
        # A reference, not a method: the new items' true training popularity (what the warm model
        # learns from their interactions and no content can tell).
        op_r = np.tile(metrics.top_k(pop[cold][None, :].astype(np.float64), k), (len(users), 1))
        rand_ndcg, rand_rec = [], []
        for r in range(20):
            perm = np.random.default_rng(r).permutation(len(new_ids))[:k]
            rr = np.tile(perm, (len(users), 1))
            rand_ndcg.append(np.nanmean(metrics.ndcg_at_k(rr, tgt, 100)))
            rand_rec.append(np.nanmean(metrics.recall_at_k(rr, tgt, 20)))
        for name, r in (("cold", cold_r), ("warm", warm_r), ("content-popularity", cp_r), ("oracle-popularity", op_r)):
            per["new_only"][name]["ndcg@100"].append(float(np.nanmean(metrics.ndcg_at_k(r, tgt, 100))))
            per["new_only"][name]["recall@20"].append(float(np.nanmean(metrics.recall_at_k(r, tgt, 20))))
        per["new_only"]["random"]["ndcg@100"].append(float(np.mean(rand_ndcg)))
        per["new_only"]["random"]["recall@20"].append(float(np.mean(rand_rec)))
        # The whole catalogue.
        full_tgt = targets_new[users]
        col_of = {i: c for c, i in enumerate(ids)}
        def to_cols(ranked, order_ids):
            return np.vectorize(lambda i: col_of[order_ids[i]] if i >= 0 else -1)(ranked)
        wr = to_cols(rank_ids(warm_path, hs_warm, k, d, "warm_all"), ids)
        cr = to_cols(rank_ids(mapped, hs_cold, k, d, "cold_all", add_items=new_file), cold_order)
        for name, r in (("cold", cr), ("warm", wr)):
            per["catalogue"][name]["ndcg@100"].append(float(np.nanmean(metrics.ndcg_at_k(r, full_tgt, 100))))
            per["catalogue"][name]["top10_new_share"].append(float(is_cold[np.maximum(r[:, :10], 0)].mean()))
        folds.append({"fold": fold, "items": n, "new_items": len(new_ids), "test_users_with_new_targets": int(len(users)),
                      "new_targets": int(tgt.sum()), "selection_users_with_new_targets": len(vusers),
                      "lambda": lam_best, "selection_ndcg@100_by_lambda": dict(zip((f"{l:g}" for l in lambdas), val_scores))})
        log(f"fold {fold}: new-only NDCG@100 cold {per['new_only']['cold']['ndcg@100'][-1]:.4f}, "
            f"warm {per['new_only']['warm']['ndcg@100'][-1]:.4f}, content-pop {per['new_only']['content-popularity']['ndcg@100'][-1]:.4f}, "
            f"random {per['new_only']['random']['ndcg@100'][-1]:.4f}")

    def summ(v):
        m, s = metrics.mean_stderr(v)
        return {"mean": m, "stderr": s, "per_fold": v}
    ratio = [c / w for c, w in zip(per["new_only"]["cold"]["ndcg@100"], per["new_only"]["warm"]["ndcg@100"])]
    out = {"what": "cold-start items: new products placed by their content, no retraining", "kind": args.kind, "params": params,
           "data": args.source or args.data, "content": os.path.relpath(args.content, ROOT) if args.content.startswith(ROOT) else args.content,
           "folds": folds, "seed": args.seed, "new_share": COLD_SHARE,
           "command": os.environ.get("VITRINE_EVAL_COMMAND", "scripts/recommend/cold_eval.py"),
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "seconds": round(time.time() - t0, 1),
           "new_only": {n: {m: summ(v) for m, v in d.items()} for n, d in per["new_only"].items()},
           "catalogue": {n: {m: summ(v) for m, v in d.items()} for n, d in per["catalogue"].items()},
           "cold_over_warm_ndcg@100": summ(ratio)}
    name = f"eval-cold-items{'' if args.name in (None, 'movielens') else '-' + args.name}.json"
    path = args.out or os.path.join(ROOT, "bench", "results", name)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(table(out))
    log(f"wrote {os.path.relpath(path, ROOT)} in {out['seconds']:.0f} s")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--content", default=os.path.join(ROOT, "models", "recommend", "movielens-catalog.json"),
                    help="item content JSON ([{id, title, categories, year}] or {items: [...]})")
    ap.add_argument("--name")
    ap.add_argument("--source")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=splits.SEED)
    ap.add_argument("--kind", default="mult-dae", choices=vm.KINDS)
    ap.add_argument("--out")
    ap.add_argument("--work", help="work folder kept between runs: models already trained there are reused")
    ap.add_argument("--lambdas", default="3,10,30,100,300,1000",
                    help="content-map ridge penalties tried; the best on validation users is used")
    ap.add_argument("--cold-items", action="store_true", help=argparse.SUPPRESS)
    run(ap.parse_args(argv))


if __name__ == "__main__":
    main()
