#!/usr/bin/env python3
"""`npm run train -- recommend`: trains the shipped default recommender with the engine
(vitrine-recommend train) on every MovieLens user, with the model kind and hyper-parameters that
won the evaluation (bench/results/eval-recommend.json, chosen on validation users only) among those
whose file fits the demo's byte budget (--max-bytes), and writes models/recommend/:
  movielens.safetensors      the model file (F16 weights)
  movielens-catalog.json     id, title, year, genres of every item in the model (for the demo)
  MODEL_CARD.md              data, command, protocol, metrics from the evaluation, size

Run directly: /usr/bin/python3 scripts/recommend/train_default.py --data ratings.csv --movies movies.csv
"""
import argparse
import csv
import datetime
import json
import os
import shutil
import statistics
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from recommend import data, splits, vitrine_models as vm

ROOT = vm.ROOT
# The shipped model's byte budget: the size class of the 5.01 MB Mult-DAE shipped before (5% room),
# so that a better kind does not make the demo page much heavier.
MAX_BYTES = 5_250_000
OUT = os.path.join(ROOT, "models", "recommend")
SG, NI = "strong_generalization", "next_item"
SG_METRICS = ("ndcg@10", "ndcg@100", "recall@20", "recall@50")
NI_METRICS = ("hr@10", "ndcg@10")


def pick_kind(evaluation, name):
    """The hyper-parameters of one Vitrine model of the evaluation, as ranked_kinds() reads them."""
    chosen = evaluation["chosen_hyperparameters"][name][SG]
    params = dict(chosen[0])
    if all("epochs" in c for c in chosen):
        params["epochs"] = int(statistics.median(c["epochs"] for c in chosen))
    else:  # closed form or a blend: the most often chosen setting, ties by the best validation
        votes = {}
        for c, v in zip(chosen, evaluation["validation"][name][SG]):
            key = json.dumps(c, sort_keys=True)
            n, top = votes.get(key, (0, 0.0))
            votes[key] = (n + 1, max(top, v["val_ndcg@100"]))
        params = json.loads(max(votes, key=lambda k: votes[k]))
    params.pop("eval_every", None)
    return params


def ranked_kinds(evaluation):
    """The Vitrine models that beat popularity on the validation users, best mean *validation*
    NDCG@100 over the strong-generalization folds first (test metrics are only reported, never used
    to choose): [(name, hyper-parameters, validation NDCG@100)]."""
    models = [m for m in evaluation["models"] if m.startswith("vitrine-")]
    if not models:
        raise SystemExit("no Vitrine model in the evaluation: run `npm run eval -- recommend` first")
    val = {m: statistics.mean(v["val_ndcg@100"] for v in evaluation["validation"][m][SG]) for m in models}
    # Never a kind that does not beat popularity on the validation users.
    pop = statistics.mean(v["val_ndcg@100"] for v in evaluation["validation"]["popularity"][SG])
    models = [m for m in models if val[m] > pop]
    if not models:
        raise SystemExit(f"no Vitrine model beats popularity on the validation users (NDCG@100 {pop:.4f})")
    models.sort(key=lambda m: -val[m])
    return [(m, pick_kind(evaluation, m), val[m]) for m in models]


def train_kind(evaluation, kind, params, hs, ids, work):
    """Trains one kind of the evaluation on every user into work/ (F16); returns the file's path."""
    if kind == "blend":  # its parts with their own chosen settings, then blended at the chosen share
        parts = []
        for part in vm.BLEND_PARTS:
            part_params = pick_kind(evaluation, "vitrine-" + part)
            path, _ = vm.train(part, part_params, hs, ids, os.path.join(work, part), threads=0)
            parts.append(path)
            params[part] = part_params
        return vm.blend(*parts, hs, work, share=params["share"])[0]
    path = os.path.join(work, "model.safetensors")
    vm.train(kind, params, hs, ids, work, save=path, threads=0, half=True)
    return path


def first_within(ranked, max_bytes, train):
    """The first of the ranked kinds [(name, params, validation score)] whose trained file (train(name,
    params) -> path) has at most max_bytes: (name, params, score, path, seconds, skipped), skipped =
    [(name, bytes)] of the better kinds over the budget."""
    skipped = []
    for name, params, val_score in ranked:
        t0 = time.time()
        path = train(name, params)
        seconds = time.time() - t0
        size = os.path.getsize(path)
        if size <= max_bytes:
            return name, params, val_score, path, seconds, skipped
        skipped.append((name, size))
        print(f"{name}: {size / 1e6:.2f} MB is over the {max_bytes / 1e6:.2f} MB budget; the next kind", file=sys.stderr)
    raise SystemExit(f"no Vitrine model of the evaluation fits {max_bytes:,} bytes (over it: " +
                     ", ".join(f"{n} {b:,}" for n, b in skipped) + ")")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--movies", required=True)
    ap.add_argument("--source", default="MovieLens latest-small")
    ap.add_argument("--evaluation", default=os.path.join(ROOT, "bench", "results", "eval-recommend.json"))
    ap.add_argument("--max-bytes", type=int, default=MAX_BYTES,
                    help=f"the shipped file's byte budget (default {MAX_BYTES:,}): the best kind within it is shipped")
    args = ap.parse_args(argv)
    with open(args.evaluation) as f:
        evaluation = json.load(f)
    ranked = ranked_kinds(evaluation)

    raw = data.read_csv(args.data)
    inter = data.implicit(raw, threshold=4.0, min_positives=5)
    order = vm.TimeOrder(inter, splits.interaction_keys(len(inter), splits.SEED, 2))
    items = np.unique(inter.items)
    col = np.full(inter.n_items, -1, dtype=np.int64)
    col[items] = np.arange(len(items))
    mat = data.binary_matrix(inter.users, col[inter.items], inter.n_users, len(items))
    hs = vm.histories_from_matrix(mat, np.arange(inter.n_users), items, order)
    ids = [str(inter.item_ids[i]) for i in items]

    os.makedirs(OUT, exist_ok=True)
    model = os.path.join(OUT, "movielens.safetensors")
    work = vm.workdir()
    try:
        name, params, val_score, path, seconds, skipped = first_within(
            ranked, args.max_bytes, lambda n, p: train_kind(evaluation, n[len("vitrine-"):], p, hs, ids, os.path.join(work, n)))
        kind = name[len("vitrine-"):]
        size = os.path.getsize(path)
        shutil.move(path, model)  # /tmp may be another file system
    finally:
        shutil.rmtree(work, ignore_errors=True)

    movies = {}
    with open(args.movies, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            movies[row["movieId"]] = row
    catalog = [{"id": i, "title": movies[i]["title"], "year": int(movies[i]["year"]) if movies[i]["year"].isdigit() else None,
                "categories": [g for g in movies[i]["genres"].split("|") if g and g != "(no genres listed)"]}
               for i in ids]
    with open(os.path.join(OUT, "movielens-catalog.json"), "w") as f:
        json.dump({"source": args.source, "items": catalog}, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")

    command = os.environ.get("VITRINE_TRAIN_COMMAND", "npm run train -- recommend")
    card = card_text(name, kind, params, evaluation, inter, len(items), size, seconds, command, args.source, val_score,
                     args.max_bytes, skipped)
    with open(os.path.join(OUT, "MODEL_CARD.md"), "w") as f:
        f.write(card)
    print(f"{name}: {len(ids)} items, {inter.n_users} users, {size / 1e6:.2f} MB, trained in {seconds:.0f} s -> "
          f"{os.path.relpath(model, ROOT)}")
    return name


def _fmt(s):
    return f"{s['mean']:.4f} ± {s['stderr']:.4f}"


def card_text(name, kind, params, ev, inter, n_items, size, seconds, command, source, val_score, max_bytes, skipped):
    rows = []
    for m, r in ev["models"].items():
        cells = [_fmt(r[SG][k]) for k in SG_METRICS] + [_fmt(r[NI][k]) for k in NI_METRICS]
        rows.append(f"| {m}{' (this model)' if m == name else ''} | " + " | ".join(cells) + " |")
    def flags_of(p):
        return " ".join(f"--{k.replace('_', '-')} {v}" for k, v in p.items())
    if kind == "blend":
        how = ("`vitrine-recommend train --kind linear " + flags_of(params["linear"]) + "`, `vitrine-recommend train --kind mult-dae " +
               flags_of(params["mult-dae"]) + "`, then `vitrine-recommend blend --share " + str(params["share"]) + "`")
    else:
        how = f"`vitrine-recommend train --kind {vm.TOOL_KIND.get(kind, kind)} {flags_of(params)} --half`"
    wasm = ev.get("vitrine", {}).get("wasm_equals_native")
    skipped_text = ("better on validation but over it: " + ", ".join(f"{n} {b / 1e6:.2f} MB" for n, b in skipped)
                    if skipped else "the best of all fits")
    return f"""# Model card: MovieLens recommender (`models/recommend/movielens.safetensors`)

- **Licence of the training data**: MovieLens latest-small (GroupLens, via Debian's r-cran-dslabs): research use; **no commercial or revenue-bearing use without GroupLens's permission**. This is a **demo model**: a store trains its own with `npx vitrine train recommend` (README, "Your own store").
- **What**: `{vm.TOOL_KIND.get(kind, kind)}` recommender ({name} in the evaluation), trained natively by the engine's own
  code ({how}), {size / 1e6:.2f} MB (F16 weights),
  {n_items} items. On the device a shopper's history is folded in (see `engine/include/vitrine/recommend.h`)
  and the catalogue ranked; nothing leaves the browser.
- **Data**: {source}; implicit feedback = rating ≥ 4.0, users with ≥ 5 positives:
  {inter.n_users} users, {len(inter)} positives. The shipped file is trained on **all** of them
  (trained in {seconds:.0f} s on this machine's 2 cores); item ids are MovieLens `movieId`s;
  `movielens-catalog.json` holds their titles, years and genres.
- **How it was chosen**: `npm run eval -- recommend` ({ev['date']}) trains every Vitrine model and
  baseline on the fixed splits of `../shared/DATA.md` (seed {ev['data']['seed']}), hyper-parameters and
  epochs chosen on validation users only; this kind had the best mean validation NDCG@100
  ({val_score:.4f}; test metrics below are reported, never used to choose) of those whose file fits
  the demo's model budget of {max_bytes / 1e6:.2f} MB ({skipped_text}). Epochs here = the median
  of the per-fold validation choices; closed-form settings and blend shares = the most often chosen. Wasm rankings equal native rankings on every
  evaluated user: {wasm}.
- **Command**: `{command}` (re-trains this file from the evaluation's choice).

## Test metrics of the evaluation (mean ± standard error over {ev['protocols'][SG]['folds']} folds)

| model | SG NDCG@10 | SG NDCG@100 | SG Recall@20 | SG Recall@50 | next HR@10 | next NDCG@10 |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

SG = strong generalization (held-out users, 80% of their items folded in, the other 20% ranked
among all items); next = leave-last-out by time. Metrics are for models trained on the evaluation's
training users; the shipped file (trained on every user) has no held-out users left to measure.

## Limits
- 671 users of one film site: a store's own data should replace it (same command with another CSV via
  `scripts/recommend/train_default.py --data`).
- Items nobody rated ≥ 4 are not in the model; new catalogue items need retraining (or a
  `loadTable` item table from elsewhere).
- Generated {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d')}.
"""


if __name__ == "__main__":
    main()
