"""PyTorch's top-k for a recommender model file: the reference the parity test holds Vitrine's
ranking to (tests/recommend/test_pytorch_ddp.py).

  mult-dae  the trained network itself, x = history / ||history|| -> enc -> tanh -> dec, run by
            PyTorch in float64 on the file's float32 weights (the model's exact scores).
  mf-bpr    a new user's factors come from the fold-in the model file prescribes ("fold_in":
            SGD on BPR over (history item, sampled unseen item) pairs with the item side frozen;
            RecModel::fold_in in engine/src/tasks/recommend.cc, its xorshift64* sampler and
            portable sigmoid), computed here step by step in float32 exactly as specified; the
            scores item.emb · u + item.bias in float64.
  gru4rec   torch.nn.GRU (the file's gates are its own) over the whole history from a zero state,
            then the output layer, in float64.

History items are excluded; equal scores rank the lower item index first, as the engine does.
"""
import json

import numpy as np
import torch

from vitrine_file import read_model

F = np.float32
MASK64 = (1 << 64) - 1


class Xorshift64Star:
    """The fold-in's negative sampler (RecModel's Rng)."""

    def __init__(self, seed):
        self.s = seed or 0x9E3779B97F4A7C15

    def next(self):
        s = self.s
        s ^= s >> 12
        s ^= (s << 25) & MASK64
        s ^= s >> 27
        self.s = s
        return (s * 0x2545F4914F6CDD1D) & MASK64

    def below(self, n):
        return self.next() % n


def portable_exp(x):
    """The engine's float32 exp (Cody-Waite reduction, degree-6 polynomial), op for op."""
    x = F(x)
    if np.isnan(x):
        return x
    if x > F(88.7):
        return F(np.inf)
    if x < F(-103.9):
        return F(0)
    k = np.rint(x * F(1.44269504088896341))
    r = (x - k * F(0.693145751953125)) - k * F(1.428606765330187e-06)
    p = F(1) / F(720)
    for c in (F(1) / F(120), F(1) / F(24), F(1) / F(6), F(0.5), F(1), F(1)):
        p = p * r + c
    ki = int(k)
    k1 = int(ki / 2)  # C++ integer division truncates toward zero
    k2 = ki - k1
    return p * np.ldexp(F(1), k1).astype(F) * np.ldexp(F(1), k2).astype(F)


def portable_sigmoid(x):
    return F(1) / (F(1) + portable_exp(-F(x)))


class Reference:
    """A model file as PyTorch scores it."""

    def __init__(self, path):
        tensors, meta = read_model(path)
        rec = json.loads(meta["recommender"])
        self.kind, self.item_ids, self.fold = rec["kind"], rec["items"], rec.get("fold_in")
        self.t = tensors
        self.n_items = len(self.item_ids)
        if self.kind == "mult-dae":
            self.enc = torch.nn.Linear(*tensors["enc.w"].shape[::-1]).double()
            self.dec = torch.nn.Linear(*tensors["dec.w"].shape[::-1]).double()
            with torch.no_grad():
                for layer, name in ((self.enc, "enc"), (self.dec, "dec")):
                    layer.weight.copy_(torch.from_numpy(tensors[name + ".w"]))
                    layer.bias.copy_(torch.from_numpy(tensors[name + ".b"]))
        elif self.kind == "gru4rec":
            emb_dim, hidden = tensors["item.emb"].shape[1], tensors["gru.w_hh"].shape[1]
            self.emb = torch.from_numpy(tensors["item.emb"]).double()
            self.gru = torch.nn.GRU(emb_dim, hidden, batch_first=True).double()
            self.out = torch.nn.Linear(hidden, self.n_items).double()
            with torch.no_grad():
                for name, w in (("w_ih", self.gru.weight_ih_l0), ("w_hh", self.gru.weight_hh_l0),
                                ("b_ih", self.gru.bias_ih_l0), ("b_hh", self.gru.bias_hh_l0)):
                    w.copy_(torch.from_numpy(tensors["gru." + name]))
                self.out.weight.copy_(torch.from_numpy(tensors["out.w"]))
                self.out.bias.copy_(torch.from_numpy(tensors["out.b"]))
        elif self.kind != "mf-bpr":
            raise ValueError(f"no PyTorch reference for kind '{self.kind}'")

    def fold_in_mf(self, history):
        """The user factors (D) of `history` (item indices) by the file's fold-in, in float32."""
        rows, bias = self.t["item.emb"], self.t["item.bias"]
        n, d = rows.shape
        items = list(dict.fromkeys(history))  # distinct, in order of first appearance
        u = np.zeros(d, F)
        if not items:
            return self.t.get("user.mean", u).astype(F)
        if len(items) >= n:
            return u
        seen = np.zeros(n, bool)
        seen[items] = True
        rng = Xorshift64Star(0x5EED0000 + len(items))
        lr, l2 = F(self.fold["lr"]), F(self.fold["l2"])
        for _ in range(self.fold["epochs"]):
            for p in items:
                for _ in range(self.fold.get("negatives", 1)):
                    q = rng.below(n)
                    while seen[q]:
                        q = rng.below(n)
                    diff = rows[p] - rows[q]
                    # x = bias[p] - bias[q] + sum_j u[j] * diff[j], added left to right in float32
                    x = np.cumsum(np.concatenate(([bias[p] - bias[q]], u * diff)), dtype=F)[-1]
                    g = portable_sigmoid(-x) * F(1)  # event weight 1
                    u = u + lr * (g * diff - l2 * u)
        return u

    def scores(self, history):
        """Every item's score (float64, (I,)) for a history of item indices."""
        if self.kind == "mult-dae":
            x = torch.zeros(1, self.n_items, dtype=torch.float64)
            items = sorted(set(history))
            if items:
                x[0, items] = 1.0 / np.sqrt(len(items))
            with torch.no_grad():
                return self.dec(torch.tanh(self.enc(x)))[0].numpy()
        if self.kind == "gru4rec":
            with torch.no_grad():
                state = torch.zeros(self.gru.hidden_size, dtype=torch.float64)
                if history:
                    state = self.gru(self.emb[list(history)][None])[1][0, 0]  # final state (H)
                return self.out(state).numpy()
        u = self.fold_in_mf(history).astype(np.float64)
        return self.t["item.emb"].astype(np.float64) @ u + self.t["item.bias"]

    def top_k(self, history, k):
        """(items, scores): the k best items not in `history`, best first."""
        s = self.scores(history)
        masked = s.copy()
        masked[list(set(history))] = -np.inf
        order = np.lexsort((np.arange(len(s)), -masked))[:k]  # score descending, then index
        return order.tolist(), s


def same_up_to_ties(reference, scores, other, history, tol):
    """Whether `other` (a ranked item list) is the reference top-k list up to ties: the same
    length, no history item, no repeat, and at every rank the item's reference score within
    tol * max(1, |score|) of the reference list's score at that rank (so items may trade places
    only where their scores tie within tol). Returns (ok, reason)."""
    if len(other) != len(reference):
        return False, f"{len(other)} items, expected {len(reference)}"
    if len(set(other)) != len(other):
        return False, "an item appears twice"
    banned = set(history)
    for rank, (want, got) in enumerate(zip(reference, other)):
        if got in banned:
            return False, f"rank {rank}: item {got} is in the history"
        if got != want:
            a, b = scores[want], scores[got]
            if abs(a - b) > tol * max(1.0, abs(a)):
                return False, f"rank {rank}: item {got} (score {b:.9g}) where PyTorch has item {want} ({a:.9g})"
    return True, ""
