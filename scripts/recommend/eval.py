#!/usr/bin/env python3
"""`npm run eval -- recommend [--data CSV] [--folds K]`: every baseline and every Vitrine model on
both protocols of ../shared/DATA.md (splits.py), hyper-parameters chosen on validation users/targets
only, test metrics as mean +- standard error over K user folds; prints a table and writes
bench/results/eval-recommend.json (eval-recommend-NAME.json for another CSV).

The Vitrine models (Mult-DAE, MF-BPR, GRU4Rec) are trained and ranked by the engine itself
(vitrine_models.py runs build/native/engine/tools/vitrine-recommend); their test rankings are also
recomputed in wasm through the npm facade (scripts/recommend/rank_wasm.mjs) and compared with the
native ones list by list.

Run directly: /usr/bin/python3 scripts/recommend/eval.py --data ratings.csv [--folds 5]
"""
import os

# One BLAS thread by default: the machines are shared, and it keeps the sums (and so any ties in
# the rankings) the same from run to run.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import datetime
import json
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from recommend import baselines, data, metrics, splits, vitrine_models as vm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASELINES = ("popularity", "item-knn", "ease")
VITRINE = tuple("vitrine-" + k for k in vm.KINDS_WITH_BLEND)
BEST = {}   # (fold or phase, kind) -> the chosen model file, for the blend
SG = "strong_generalization"
NI = "next_item"
SG_METRICS = (("ndcg@10", metrics.ndcg_at_k, 10), ("ndcg@100", metrics.ndcg_at_k, 100),
              ("recall@20", metrics.recall_at_k, 20), ("recall@50", metrics.recall_at_k, 50))
NI_METRICS = (("hr@10", metrics.hit_rate_at_k, 10), ("ndcg@10", metrics.ndcg_next_at_k, 10))
SG_TUNE = "ndcg@100"
NI_TUNE = "ndcg@10"
BATCH = 256


def evaluate_strong(model, held):
    """Per-user metrics for the held-out users of a strong-generalization split."""
    out = {name: [] for name, _, _ in SG_METRICS}
    kmax = max(k for _, _, k in SG_METRICS)
    for s in range(0, len(held.users), BATCH):
        q = held.fold_in[s:s + BATCH]
        ranked = metrics.top_k(model.score(q), kmax, exclude=q)
        for name, fn, k in SG_METRICS:
            out[name].append(fn(ranked, held.held_out[s:s + BATCH], k))
    return {name: np.concatenate(v) for name, v in out.items()}


def evaluate_next(model, phase):
    """Per-user metrics for the next-item targets of a phase (every user)."""
    out = {name: [] for name, _, _ in NI_METRICS}
    kmax = max(k for _, _, k in NI_METRICS)
    for s in range(0, phase.train.shape[0], BATCH):
        q = phase.train[s:s + BATCH]   # the model was fitted on phase.train: score its own rows
        ranked = metrics.top_k(model.score_train(slice(s, s + BATCH)), kmax, exclude=q)
        for name, fn, k in NI_METRICS:
            out[name].append(fn(ranked, phase.targets[s:s + BATCH], k))
    return {name: np.concatenate(v) for name, v in out.items()}


def tune(name, x, evaluate, key):
    """Fits every grid point on x, scores it with evaluate(model)[key] (mean over users) and
    returns (best params, best model, [(params, score)...]). Ties keep the earlier grid point."""
    best, tried = None, []
    for params, model in baselines.fit_grid(name, x):
        score = float(np.nanmean(evaluate(model)[key]))
        tried.append((params, score))
        if best is None or score > best[2]:
            best = (params, model, score)
    return best[0], best[1], tried


def summarize(per_fold):
    mean, se = metrics.mean_stderr(per_fold)
    return {"mean": mean, "stderr": se, "per_fold": [float(v) for v in per_fold]}


def run(args):
    t_start = time.time()
    raw = data.read_csv(args.data)
    inter = data.implicit(raw, threshold=args.threshold, min_positives=args.min_positives)
    n_folds = args.folds
    if not 1 <= n_folds <= splits.N_CHUNKS:
        raise SystemExit(f"--folds must be 1..{splits.N_CHUNKS} (each fold tests a different 10% of the users)")
    log(f"data: {inter.stats['rows']} rows -> {inter.n_users} users, {inter.n_items} items, "
        f"{len(inter)} positives; {n_folds} folds, seed {args.seed}")

    MODELS = BASELINES + (VITRINE if args.vitrine else ())
    order = vm.TimeOrder(inter, splits.interaction_keys(len(inter), args.seed, 2)) if args.vitrine else None
    work = vm.workdir()
    wasm_checks = []
    per_fold = {m: {SG: {k: [] for k, _, _ in SG_METRICS}, NI: {k: [] for k, _, _ in NI_METRICS}}
                for m in MODELS}
    chosen = {m: {SG: [], NI: None} for m in MODELS}
    seconds = {m: {SG: 0.0, NI: 0.0} for m in MODELS}
    validation = {m: {SG: [], NI: None} for m in MODELS}
    sg_summaries = []

    for fold in range(n_folds):
        sp = splits.strong_generalization(inter, fold, seed=args.seed)
        sg_summaries.append(sp.summary())
        for m in MODELS:
            t0 = time.time()
            if m in VITRINE:
                params, res, tried = vitrine_strong(m[len("vitrine-"):], sp, inter, order, work, fold,
                                                    wasm_checks, args.wasm_check)
            else:
                params, model, tried = tune(m, sp.train, lambda mod: evaluate_strong(mod, sp.val), SG_TUNE)
                res = evaluate_strong(model, sp.test)
            seconds[m][SG] += time.time() - t0
            chosen[m][SG].append(params)
            validation[m][SG].append({"chosen": params, f"val_{SG_TUNE}": max(s for _, s in tried),
                                      "grid": [{"params": p, f"val_{SG_TUNE}": s} for p, s in tried]})
            for k in per_fold[m][SG]:
                per_fold[m][SG][k].append(float(np.nanmean(res[k])))
            log(f"fold {fold} {m:10s} {params} test ndcg@100 {per_fold[m][SG]['ndcg@100'][-1]:.4f} "
                f"({time.time() - t0:.1f} s)")
        del sp

    val_phase, test_phase = splits.next_item(inter, seed=args.seed)
    groups = splits.user_groups(inter.n_users, n_folds, seed=args.seed)
    for m in MODELS:
        t0 = time.time()
        if m in VITRINE:
            params, res, tried = vitrine_next(m[len("vitrine-"):], val_phase, test_phase, inter, order, work,
                                              wasm_checks, args.wasm_check)
        else:
            params, _, tried = tune(m, val_phase.train, lambda mod: evaluate_next(mod, val_phase), NI_TUNE)
            model = baselines.make(m, **params).fit(test_phase.train)
            res = evaluate_next(model, test_phase)
        seconds[m][NI] += time.time() - t0
        chosen[m][NI] = params
        validation[m][NI] = {"chosen": params, f"val_{NI_TUNE}": max(s for _, s in tried),
                             "grid": [{"params": p, f"val_{NI_TUNE}": s} for p, s in tried]}
        for k in per_fold[m][NI]:
            per_fold[m][NI][k] = [float(res[k][g].mean()) for g in groups]
        log(f"next item {m:10s} {params} test hr@10 {res['hr@10'].mean():.4f} ({time.time() - t0:.1f} s)")

    models = {m: {p: {k: summarize(v) for k, v in per_fold[m][p].items()} for p in (SG, NI)}
              for m in MODELS}
    paired = {}
    for m in MODELS:
        if m == "ease":
            continue
        paired[m] = {p: {k: summarize(np.subtract(per_fold[m][p][k], per_fold["ease"][p][k]))
                         for k in per_fold[m][p]} for p in (SG, NI)}
    elapsed = time.time() - t_start

    result = {
        "command": os.environ.get("VITRINE_EVAL_COMMAND") or
                   "python3 scripts/recommend/eval.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "source": args.source or os.path.abspath(args.data),
            "path": os.path.abspath(args.data),
            "users": inter.n_users, "items": inter.n_items, "interactions": len(inter),
            "seed": args.seed, "implicit": inter.stats,
        },
        "protocols": {
            SG: {
                "description": "Liang et al. 2018: users shuffled (seed) into 10 chunks of ~10%; fold k "
                               "tests chunk k, validates chunk k+1, trains on the rest; items = those with "
                               "a positive among the training users; a held-out user's items outside them "
                               "are dropped, then a random int(20%) is held out and the rest folded in "
                               f"(users with < {splits.MIN_HELDOUT_ITEMS} items left skipped); full ranking "
                               "of the fold's items, folded-in items excluded; Recall@k / min(k, #held-out)",
                "folds": n_folds, "tuned_on": f"validation users, {SG_TUNE}",
                "metrics": [k for k, _, _ in SG_METRICS], "splits": sg_summaries,
            },
            NI: {
                "description": "leave last out by timestamp (ties: seeded random key) on the same positives; "
                               "validation = second-to-last positive (trained on all but the last two), "
                               "test = last (trained on all but the last); full ranking over every item "
                               "with a training positive, the user's training positives excluded; a target "
                               "no training user had is a miss",
                "folds": n_folds, "fold_definition": "the users cut into K seeded groups; per_fold = "
                                                     "the group's mean, stderr over the K groups",
                "tuned_on": f"validation targets, {NI_TUNE}",
                "metrics": [k for k, _, _ in NI_METRICS],
                "phases": [val_phase.summary(), test_phase.summary()],
            },
            "stderr": "sample standard deviation of the K fold means / sqrt(K)",
        },
        "models": models,
        "paired_difference_vs_ease": paired,
        "vitrine": {
            "trained_by": "build/native/engine/tools/vitrine-recommend train (the engine's Trainer)",
            "grids": dict({k: vm.GRIDS[k] for k in vm.KINDS},
                          blend="the best linear and Mult-DAE of the fold; the Mult-DAE's share 0..1 by 0.1 "
                                "chosen on validation users (vitrine-recommend blend)") if args.vitrine else {},
            "wasm_equals_native": wasm_summary(wasm_checks),
            "wasm_checks": wasm_checks,
        },
        "chosen_hyperparameters": chosen,
        "validation": validation,
        "seconds": {"total": round(elapsed, 1),
                    "per_model": {m: {p: round(s, 1) for p, s in v.items()} for m, v in seconds.items()}},
        "environment": {"python": sys.version.split()[0], "numpy": np.__version__,
                        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")},
    }
    out = args.out or os.path.join(ROOT, "bench", "results",
                                   "eval-recommend.json" if args.name == "movielens" else
                                   f"eval-recommend-{args.name}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(table(result))
    shown = os.path.relpath(out, ROOT) if os.path.abspath(out).startswith(ROOT + os.sep) else out
    print(f"\n{elapsed:.0f} s; wrote {shown}")
    return result


def _strong_histories(sp, inter, order):
    ids = [str(inter.item_ids[i]) for i in sp.item_index]
    train_h = vm.histories_from_matrix(sp.train, sp.train_users, sp.item_index, order)
    val_h = vm.histories_from_matrix(sp.val.fold_in, sp.val.users, sp.item_index, order)
    val_t = [np.flatnonzero(r) for r in sp.val.held_out]
    test_h = vm.histories_from_matrix(sp.test.fold_in, sp.test.users, sp.item_index, order)
    return ids, train_h, val_h, val_t, test_h


def vitrine_strong(kind, sp, inter, order, work, fold, wasm_checks, wasm_check):
    """Trains every grid point with validation-based epoch selection (NDCG@100 on validation
    users), ranks the test users with the best, natively; returns (params, per-user metrics, tried)."""
    ids, train_h, val_h, val_t, test_h = _strong_histories(sp, inter, order)
    kmax = max(k for _, _, k in SG_METRICS)
    best, tried = None, []
    if kind == "blend":
        d = os.path.join(work, f"sg{fold}-blend")
        path, out = vm.blend(*(BEST[(fold, k)] for k in vm.BLEND_PARTS), train_h, d, val_h, val_t, val_k=100)
        tried = [({"share": t["share"]}, t["validation"]) for t in out["tried"]]
        best = ({"share": out["share"]}, path, out["best_validation"])
    for i, params in enumerate(vm.GRIDS.get(kind, [])):
        d = os.path.join(work, f"sg{fold}-{kind}-{i}")
        path, out = vm.train(kind, params, train_h, ids, d, val_h, val_t, val_k=100, threads=0)
        chosen = dict(params) if kind in vm.EPOCHLESS else dict(params, epochs=out["best_epoch"])
        tried.append((chosen, out["best_validation"]))
        if best is None or out["best_validation"] > best[2]:
            best = (chosen, path, out["best_validation"])
    BEST[(fold, kind)] = best[1]
    os.makedirs(os.path.join(work, f"sg{fold}-{kind}-0"), exist_ok=True)
    ranked = vm.rank(best[1], test_h, kmax, os.path.join(work, f"sg{fold}-{kind}-0"))
    if wasm_check:
        wasm_checks.append(vm.compare_wasm(best[1], test_h, kmax, ranked, os.path.join(work, f"sg{fold}-{kind}-0"),
                                           f"strong generalization fold {fold} {kind}"))
    res = {name: fn(ranked, sp.test.held_out, k) for name, fn, k in SG_METRICS}
    return best[0], res, tried


def vitrine_next(kind, val_phase, test_phase, inter, order, work, wasm_checks, wasm_check):
    """Validation phase: every grid point, epoch chosen on NDCG@10 of the validation targets; test
    phase: the chosen configuration retrained for the chosen epochs on all but the last item."""
    kmax = max(k for _, _, k in NI_METRICS)

    def phase_data(phase):
        ids = [str(inter.item_ids[i]) for i in phase.item_index]
        hs = vm.histories_from_matrix(phase.train, np.arange(phase.train.shape[0]), phase.item_index, order)
        return ids, hs

    ids, hs = phase_data(val_phase)
    targets = [[t] if t >= 0 else [] for t in val_phase.targets]
    best, tried = None, []
    if kind == "blend":  # the share chosen on the validation phase's models, then the test phase's blended
        path, out = vm.blend(*(BEST[("ni-val", k)] for k in vm.BLEND_PARTS), hs, os.path.join(work, "ni-val-blend"),
                             hs, targets, val_k=kmax)
        tried = [({"share": t["share"]}, t["validation"]) for t in out["tried"]]
        best = ({"share": out["share"]}, out["best_validation"])
    for i, params in enumerate(vm.GRIDS.get(kind, [])):
        d = os.path.join(work, f"ni-val-{kind}-{i}")
        vpath, out = vm.train(kind, params, hs, ids, d, hs, targets, val_k=kmax, threads=0)
        chosen = dict(params) if kind in vm.EPOCHLESS else dict(params, epochs=out["best_epoch"])
        tried.append((chosen, out["best_validation"]))
        if best is None or out["best_validation"] > best[1]:
            best = (chosen, out["best_validation"])
            BEST[("ni-val", kind)] = vpath
    ids, hs = phase_data(test_phase)
    d = os.path.join(work, f"ni-test-{kind}")
    if kind == "blend":
        path, _ = vm.blend(*(BEST[("ni-test", k)] for k in vm.BLEND_PARTS), hs, d, share=best[0]["share"])
    else:
        path, _ = vm.train(kind, best[0], hs, ids, d, threads=0)
    BEST[("ni-test", kind)] = path
    ranked = vm.rank(path, hs, kmax, d)
    if wasm_check:
        wasm_checks.append(vm.compare_wasm(path, hs, kmax, ranked, d, f"next item {kind}"))
    res = {name: fn(ranked, test_phase.targets, k) for name, fn, k in NI_METRICS}
    return best[0], res, tried


def wasm_summary(checks):
    if not checks:
        return None
    return all(c["identical_users"] == c["users"] for c in checks)


def fmt(s):
    return f"{s['mean']:.4f}" + (f" ± {s['stderr']:.4f}" if s["stderr"] is not None else "")


def table(result):
    d = result["data"]
    lines = [f"{d['source']}: {d['users']} users, {d['items']} items, {d['interactions']} positives; "
             f"seed {d['seed']}; mean ± standard error over {result['protocols'][SG]['folds']} folds", ""]
    heads = [f"SG {k}" for k, _, _ in SG_METRICS] + [f"next {k}" for k, _, _ in NI_METRICS]
    lines.append("| model | " + " | ".join(heads) + " |")
    lines.append("|---" * (len(heads) + 1) + "|")
    for m, res in result["models"].items():
        cells = [fmt(res[SG][k]) for k, _, _ in SG_METRICS] + [fmt(res[NI][k]) for k, _, _ in NI_METRICS]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append("")
    for m, c in result["chosen_hyperparameters"].items():
        if any(c[SG]) or c[NI]:
            sg = ", ".join(_params(p) for p in c[SG])
            lines.append(f"{m}: strong generalization folds [{sg}]; next item {_params(c[NI])}")
    return "\n".join(lines)


def _params(p):
    return " ".join(f"{k}={v:g}" for k, v in p.items()) or "-"


def log(msg):
    print(f"[recommend] {msg}", file=sys.stderr, flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="interactions CSV: user,item,rating,timestamp")
    ap.add_argument("--name", help="data set name for the output file (default: the CSV's file name)")
    ap.add_argument("--source", help="description of the data for the report")
    ap.add_argument("--folds", type=int, default=5, help="user folds (1..10, default 5)")
    ap.add_argument("--seed", type=int, default=splits.SEED)
    ap.add_argument("--threshold", type=float, default=4.0, help="positive if rating >= this (4.0)")
    ap.add_argument("--min-positives", type=int, default=5, help="users need this many positives (5)")
    ap.add_argument("--out", help="JSON output (default bench/results/eval-recommend[-NAME].json)")
    ap.add_argument("--no-vitrine", dest="vitrine", action="store_false",
                    help="baselines only (skip the engine's models)")
    ap.add_argument("--no-wasm-check", dest="wasm_check", action="store_false",
                    help="skip re-ranking the test users in wasm")
    args = ap.parse_args(argv)
    if not args.name:
        args.name = os.path.splitext(os.path.basename(args.data))[0]
    try:
        run(args)
    except (OSError, ValueError, RuntimeError) as e:
        raise SystemExit(f"recommend: {e}")


if __name__ == "__main__":
    main()
