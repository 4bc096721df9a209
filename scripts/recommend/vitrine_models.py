"""The Vitrine recommender models in the evaluation: trained and ranked by the engine itself
(build/native/engine/tools/vitrine-recommend), never by Python. This module only writes the split
as text files (histories in time order), runs the tool, and reads its rankings back.

A model here has the baselines' interface for the two protocols: fit on a split's training users
with validation users for model selection, then rank held-out users by folding in their histories.
"""
import json
import os
import subprocess
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.environ.get("VITRINE_RECOMMEND_TOOL",
                      os.path.join(ROOT, "build", "native", "engine", "tools", "vitrine-recommend"))

# The configurations tried (model selection on validation users only). Epochs are maxima: the
# tool keeps the best validation epoch (checked every eval_every epochs).
GRIDS = {
    "mult-dae": [dict(dim=200, dropout=0.5, epochs=120, lr=1e-3, eval_every=5)],
    "mf-bpr": [dict(dim=64, epochs=150, lr=5e-3, eval_every=10, batch_size=1024,
                    fold_in_epochs=60, fold_in_lr=3.0, fold_in_l2=0.001)],
    "gru4rec": [dict(dim=100, embedding_dim=64, epochs=6, lr=2e-3, eval_every=2, batch_size=64, max_length=25)],
    # Closed form (no epochs): EASE (dropout 0) and EDLAE; dim 2048 is exact up to 2048 training users.
    "linear": [dict(dim=2048, l2=lam, dropout=p) for p in (0.0, 0.1, 0.25) for lam in (5, 20, 50, 100, 200, 500)],
    # The same fit at a width that fits the shipped model's byte budget (train_default.MAX_BYTES:
    # 2 bytes x items x (dim + 2) = 4.96 MB of weights at MovieLens's 6,169 items, a 5.02 MB file):
    # a randomized low-rank fit.
    "linear-compact": [dict(dim=400, l2=lam, dropout=p) for p in (0.0, 0.1, 0.25) for lam in (5, 20, 50, 100, 200, 500)],
}
EPOCHLESS = ("linear", "linear-compact")
# Evaluation kinds that are another kind of the tool at other settings.
TOOL_KIND = {"linear-compact": "linear"}
# A blend of the best linear model and the best Mult-DAE (RecModel::blend): the Mult-DAE's share of
# the score (each model's scores scaled to unit spread) chosen on the validation users by the tool.
BLEND_PARTS = ("linear", "mult-dae")
KINDS_WITH_BLEND = tuple(GRIDS) + ("blend",)
KINDS = tuple(GRIDS)


class TimeOrder:
    """Orders any (user, items) set by the user's interaction times (ties by the seeded key)."""

    def __init__(self, inter, keys):
        order = np.lexsort((keys, inter.times, inter.users))
        self.rank = np.empty(len(order), dtype=np.int64)
        self.rank[order] = np.arange(len(order))
        self.pos = {}
        for idx, (u, i) in enumerate(zip(inter.users.tolist(), inter.items.tolist())):
            self.pos[(u, i)] = self.rank[idx]

    def history(self, user, items, item_index):
        """Columns of `items` (column indices into item_index) sorted by the user's time order."""
        cols = list(items)
        return sorted(cols, key=lambda c: self.pos[(int(user), int(item_index[c]))])


def histories_from_matrix(mat, users, item_index, order):
    return [order.history(u, np.flatnonzero(mat[r]), item_index) for r, u in enumerate(users)]


def write_histories(path, hs):
    with open(path, "w") as f:
        for h in hs:
            f.write(" ".join(str(int(i)) for i in h) + "\n")


def read_ranked(path, n_users, k):
    out = np.full((n_users, k), -1, dtype=np.int64)
    with open(path) as f:
        for r, line in enumerate(f):
            vals = [int(v) for v in line.split()]
            out[r, :len(vals)] = vals
    return out


def _flags(params):
    flags = []
    for key, value in params.items():
        flags += ["--" + key.replace("_", "-"), str(value)]
    return flags


def run_tool(args, log=None):
    if not os.path.exists(TOOL):
        raise OSError(f"{TOOL} is missing: run `npm run build` (scripts/build.sh) first")
    proc = subprocess.run([TOOL] + args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"vitrine-recommend {' '.join(args[:2])} failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def train(kind, params, train_h, item_ids, work, val_h=None, val_t=None, val_k=100, save=None, threads=1,
          half=False):
    """Trains one model file with the engine; returns (path, outcome dict from the tool)."""
    os.makedirs(work, exist_ok=True)
    hp, ip = os.path.join(work, "train.txt"), os.path.join(work, "items.txt")
    write_histories(hp, train_h)
    with open(ip, "w") as f:
        f.write("\n".join(item_ids) + "\n")
    path = save or os.path.join(work, f"{kind}.safetensors")
    args = ["train", "--kind", TOOL_KIND.get(kind, kind), "--histories", hp, "--items", ip, "--save", path,
            "--threads", str(threads)] + _flags(params) + (["--half"] if half else [])
    if val_h is not None:
        vh, vt = os.path.join(work, "val_h.txt"), os.path.join(work, "val_t.txt")
        write_histories(vh, val_h)
        write_histories(vt, val_t)
        args += ["--val-histories", vh, "--val-targets", vt, "--val-k", str(val_k)]
    out = run_tool(args)
    return path, json.loads(out.strip().splitlines()[-1])


def blend(linear, dae, scale_h, work, val_h=None, val_t=None, val_k=100, share=None, half=True):
    """Writes the blend of two model files (vitrine-recommend blend); returns (path, outcome)."""
    os.makedirs(work, exist_ok=True)
    sp = os.path.join(work, "scale_h.txt")
    write_histories(sp, scale_h)
    path = os.path.join(work, "blend.safetensors")
    args = ["blend", "--linear", linear, "--dae", dae, "--out", path, "--scale-histories", sp, "--threads", "0"]
    if share is not None:
        args += ["--share", str(share)]
    else:
        vh, vt = os.path.join(work, "blend_val_h.txt"), os.path.join(work, "blend_val_t.txt")
        write_histories(vh, val_h)
        write_histories(vt, val_t)
        args += ["--val-histories", vh, "--val-targets", vt, "--val-k", str(val_k)]
    if not half:
        args.append("--f32")
    out = run_tool(args)
    return path, json.loads(out.strip().splitlines()[-1])


def rank(model, hs, k, work, precision="f32"):
    """Top-k item columns per history (history excluded), ranked natively by the engine."""
    hp, rp = os.path.join(work, "rank_h.txt"), os.path.join(work, "ranked.txt")
    write_histories(hp, hs)
    run_tool(["rank", model, "--histories", hp, "--k", str(k), "--out", rp, "--precision", precision])
    return read_ranked(rp, len(hs), k)


def workdir():
    return tempfile.mkdtemp(prefix="vitrine-rec-")


def compare_wasm(model, hs, k, native_ranked, work, what, variants=("simd", "simd-threads")):
    """Re-ranks `hs` in wasm through the npm facade (rank_wasm.mjs) and counts the users whose
    top-k list is identical to the native one."""
    hp = os.path.join(work, "wasm_h.txt")
    write_histories(hp, hs)
    out = {"what": what, "users": len(hs), "k": k, "identical_users": len(hs), "variants": {}}
    for variant in variants:
        rp = os.path.join(work, f"wasm_ranked_{variant}.txt")
        script = os.path.join(ROOT, "scripts", "recommend", "rank_wasm.mjs")
        proc = subprocess.run(["node", script, model, hp, str(k), rp, "--variant", variant,
                               "--threads", "2" if variant == "simd-threads" else "1"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"rank_wasm.mjs ({variant}) failed: {proc.stderr.strip()[-2000:]}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        wasm = read_ranked(rp, len(hs), k)
        same = int((wasm == native_ranked).all(axis=1).sum())
        out["variants"][variant] = {"identical_users": same, "ms_per_user": info["ms"] / max(1, len(hs))}
        out["identical_users"] = min(out["identical_users"], same)
    return out
