#!/usr/bin/env python3
"""Trains a Vitrine recommender with PyTorch DistributedDataParallel (gloo backend) from a store's
event file, and writes a Vitrine model file that the engine, the CLI and the browser load as they
load their own.

  python3 scripts/pytorch/torchrun.py --standalone --nproc_per_node 2 scripts/pytorch/train_ddp.py \\
      --events ratings.csv --columns weight=rating,time=timestamp --min-weight 4 \\
      --kind mult-dae --epochs 20 --out model.safetensors

torchrun.py is torchrun (`python3 -m torch.distributed.run`) made to work on Debian 12's torch
1.13 under Python 3.11; with a newer torch, its own torchrun takes the same arguments. Without
torchrun (plain `python3 train_ddp.py ...`) the script runs as one process. On a cluster the same
command runs with torchrun's --nnodes and --rdzv-endpoint instead of --standalone; every process
reads the event file.

The data are those of `vitrine train recommend` (event_files.py reads the file by the CLI's rules:
same catalogue, item indices and histories), every user a training user. The model math is the
engine's (engine/src/tasks/recommend_train.cc):
  mult-dae  x = history / ||history|| -> dropout -> Linear(I, H) -> tanh -> Linear(H, I);
            loss: multinomial log-likelihood, -sum(y * log_softmax(logits)), mean over users.
  mf-bpr    score(u, i) = mean(U_u * V_i) over the D factors; one sampled negative (an item the
            user has not seen) per positive per epoch; loss: -log sigmoid(s_pos - s_neg), mean.
  gru4rec   item embedding (E) -> GRU (H; torch.nn.GRU's gates are the engine's) -> Linear(H, I),
            softmax cross-entropy on the next item at every step of windows of --max-length
            steps cut from each history (the state starts at zero in each window); the loss
            sum is divided by batch size x max length, as the engine's padded batches do.
Adam/AdamW (betas 0.9, 0.999, eps 1e-8; weight decay as L2 in the gradient / decoupled), a
constant or cosine learning rate, initializations of the same distributions (not the same draws).

Sharding: every process draws the same permutation of the users (mult-dae), (user, item) pairs
(mf-bpr) or history windows (gru4rec) each epoch, as DistributedSampler does, and takes its own
slice of each global batch of --batch-size rows. Each process's loss is its rows' sum divided by
the global batch's rows (times the world size, which DDP's gradient averaging divides out), so
the all-reduced gradient is the global batch's mean gradient: N processes train the model one
process trains, up to float rounding. Dropout masks are drawn per (epoch, user) and negatives
from the shared generator, so they do not depend on the sharding either.

Rank 0 writes the model file; the last stdout line is JSON: seconds (the training loop only:
from a barrier before the first epoch to a barrier after the last), events (training positives),
events_per_s (events x epochs / seconds), world_size, threads (per process), loss (the last
epoch's), shards (rows each process trained on in epoch 1), each_row_once, torch, blas.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from event_files import histories, parse_columns, read_events  # noqa: E402
from vitrine_file import gru4rec_model, mf_bpr_model, mult_dae_model, write_model  # noqa: E402

# Defaults per kind: the evaluation's settings (GRIDS in scripts/recommend/vitrine_models.py).
DEFAULTS = {
    "mult-dae": dict(dim=200, batch_size=100, lr=1e-3),
    "mf-bpr": dict(dim=64, batch_size=1024, lr=5e-3, fold_in_epochs=60, fold_in_lr=3.0, fold_in_l2=0.001),
    "gru4rec": dict(dim=100, batch_size=64, lr=2e-3, embedding_dim=64, max_length=25),
}
KINDS = tuple(DEFAULTS)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", required=True, help="CSV/TSV/JSONL events: user,item[,event][,time][,weight]")
    p.add_argument("--columns", default="",
                   help="the export's column names, e.g. user=userId,item=movieId,weight=rating,time=timestamp")
    p.add_argument("--min-weight", type=float, help="ignore events whose weight is below this (default: weight > 0)")
    p.add_argument("--kind", choices=KINDS, default="mult-dae")
    p.add_argument("--dim", type=int, help="hidden units (mult-dae 200, gru4rec 100) or factors (mf-bpr 64)")
    p.add_argument("--dropout", type=float, default=0.5, help="mult-dae input dropout")
    p.add_argument("--embedding-dim", type=int, help="gru4rec item embedding size (64)")
    p.add_argument("--max-length", type=int, help="gru4rec training windows of this many steps (25)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int,
                   help="global batch: users (mult-dae 100), pairs (mf-bpr 1024) or windows (gru4rec 64)")
    p.add_argument("--lr", type=float, help="learning rate (mult-dae 1e-3, mf-bpr 5e-3, gru4rec 2e-3)")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--optimizer", choices=("adam", "adamw"), default="adam")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant")
    p.add_argument("--seed", type=int, default=20261128)
    p.add_argument("--fold-in-epochs", type=int, help="mf-bpr: fold-in SGD epochs for a new user (60)")
    p.add_argument("--fold-in-lr", type=float, help="mf-bpr: fold-in step size (3.0)")
    p.add_argument("--fold-in-l2", type=float, help="mf-bpr: fold-in L2 (0.001)")
    p.add_argument("--threads", type=int, help="torch threads per process (default: cores / processes on this machine)")
    p.add_argument("--out", required=True, help="the model file to write (rank 0)")
    a = p.parse_args(argv)
    for name, value in DEFAULTS[a.kind].items():
        if getattr(a, name) is None:
            setattr(a, name, value)
    if (a.dim < 1 or a.epochs < 0 or a.batch_size < 1 or not a.lr > 0 or not 0 <= a.dropout < 1 or a.weight_decay < 0 or
            (a.kind == "gru4rec" and (a.embedding_dim < 1 or a.max_length < 1)) or
            (a.kind == "mf-bpr" and not (0 <= a.fold_in_epochs <= 10000 and a.fold_in_lr >= 0 and a.fold_in_l2 >= 0))):
        p.error("an option is out of range")
    return a


class Cluster:
    """This process's place: rank and world size from torchrun's environment (gloo process
    group), or a single process without it."""

    def __init__(self):
        self.distributed = "WORLD_SIZE" in os.environ
        if self.distributed:
            dist.init_process_group("gloo")
            self.rank, self.world = dist.get_rank(), dist.get_world_size()
            self.local_world = int(os.environ.get("LOCAL_WORLD_SIZE", self.world))
        else:
            self.rank, self.world, self.local_world = 0, 1, 1

    def barrier(self):
        if self.distributed:
            dist.barrier()

    def sum(self, t):
        if self.distributed:
            dist.all_reduce(t)
        return t

    def gather(self, value):
        out = [value] * self.world
        if self.distributed:
            dist.all_gather_object(out, value)
        return out

    def wrap(self, model):
        return DistributedDataParallel(model) if self.distributed else model

    def close(self):
        if self.distributed:
            dist.destroy_process_group()


def my_rows(batch, cluster):
    """This process's slice of a global batch (contiguous, sizes differ by at most one)."""
    return torch.tensor_split(batch, cluster.world)[cluster.rank]


def dropout_keep(users, epoch, n_items, args):
    """(B, I) bool: the kept inputs of `users` in `epoch`. Each user's mask has its own seed, so
    it does not depend on which process holds the user."""
    seeds = [((args.seed * 1_000_003 + epoch) * 1_000_033 + u) % 2 ** 63 for u in users]
    rows = [torch.rand(n_items, generator=torch.Generator().manual_seed(s)) for s in seeds]
    return torch.stack(rows) >= args.dropout if rows else torch.zeros(0, n_items, dtype=torch.bool)


class MultDAE(nn.Module):
    def __init__(self, n_items, dim, dropout, gen):
        super().__init__()
        self.enc = nn.Linear(n_items, dim)  # weight (H, I): the engine's enc.w
        self.dec = nn.Linear(dim, n_items)  # weight (I, H): dec.w
        self.dropout = dropout
        a = math.sqrt(6.0 / (n_items + dim))  # the engine's uniform initialization, zero biases
        with torch.no_grad():
            for layer in (self.enc, self.dec):
                layer.weight.uniform_(-a, a, generator=gen)
                layer.bias.zero_()

    def forward(self, x, keep=None):  # x (B, I) L2-normalized histories; keep (B, I) bool
        if keep is not None:
            x = x * keep / (1.0 - self.dropout)
        return self.dec(torch.tanh(self.enc(x)))  # logits (B, I)


class MFBPR(nn.Module):
    def __init__(self, n_users, n_items, dim, gen):
        super().__init__()
        self.user = nn.Parameter(torch.randn(n_users, dim, generator=gen))  # (U, D)
        self.item = nn.Parameter(torch.randn(n_items, dim, generator=gen))  # (I, D)

    def forward(self, u, p, q):  # (B) each: user, positive item, negative item
        eu = self.user[u]
        return (eu * self.item[p]).mean(1) - (eu * self.item[q]).mean(1)  # s_pos - s_neg (B)


class GRU4Rec(nn.Module):
    def __init__(self, n_items, emb_dim, hidden, gen):
        super().__init__()
        self.emb = nn.Embedding(n_items, emb_dim)  # (I, E)
        self.gru = nn.GRU(emb_dim, hidden, batch_first=True)  # weight_ih_l0 (3H, E): gru.w_ih
        self.out = nn.Linear(hidden, n_items)  # weight (I, H): out.w
        a = 1.0 / math.sqrt(hidden)
        with torch.no_grad():  # the engine's initializations
            self.emb.weight.normal_(0.0, 0.1, generator=gen)
            for w in (self.gru.weight_ih_l0, self.gru.weight_hh_l0, self.gru.bias_ih_l0, self.gru.bias_hh_l0):
                w.uniform_(-a, a, generator=gen)
            b = math.sqrt(6.0 / (n_items + hidden))
            self.out.weight.uniform_(-b, b, generator=gen)
            self.out.bias.zero_()

    def forward(self, items, valid):  # items (B, T) item indices; valid (B, T) bool: real steps
        states, _ = self.gru(self.emb(items))  # (B, T, H); padded steps come after the real ones
        return self.out(states[valid])  # logits of the real steps (S, I)


def sample_negatives(users, n_items, seen_keys, gen):
    """One item per pair that `users`' rows have not seen (uniform; redrawn up to 1000 times, as
    the engine). seen_keys: sorted user * n_items + item of every positive."""
    neg = torch.randint(0, n_items, users.shape, generator=gen)
    for _ in range(1000):
        keys = users * n_items + neg
        at = torch.searchsorted(seen_keys, keys).clamp(max=len(seen_keys) - 1)
        bad = seen_keys[at] == keys
        if not bad.any():
            break
        neg[bad] = torch.randint(0, n_items, (int(bad.sum()),), generator=gen)
    return neg


def train_mult_dae(args, hist, n_items, cluster, gen):
    users = [u for u, h in enumerate(hist) if h]
    model = MultDAE(n_items, args.dim, args.dropout, gen)
    net = cluster.wrap(model)
    steps_per_epoch = math.ceil(len(users) / args.batch_size)
    opt, sched = optimizer(model, args, steps_per_epoch)
    items_of = [torch.tensor(h, dtype=torch.long) for h in hist]
    processed = torch.zeros(len(hist))

    def epoch_loss(epoch):
        total = torch.zeros(1, dtype=torch.float64)
        order = torch.tensor(users)[torch.randperm(len(users), generator=gen)]
        for start in range(0, len(order), args.batch_size):
            batch = order[start:start + args.batch_size]
            mine = my_rows(batch, cluster).tolist()
            y = torch.zeros(len(mine), n_items)  # (b, I)
            for r, u in enumerate(mine):
                y[r, items_of[u]] = 1.0
                if epoch == 1:
                    processed[u] += 1
            x = y / y.sum(1, keepdim=True).sqrt().clamp(min=1.0)
            keep = dropout_keep(mine, epoch, n_items, args) if args.dropout > 0 else None
            logits = net(x, keep)
            loss_sum = -(y * torch.log_softmax(logits, 1)).sum()
            total += step(opt, sched, loss_sum, len(batch), cluster)
        return cluster.sum(total).item() / steps_per_epoch

    run = run_epochs(args, epoch_loss, cluster)
    shards = cluster.gather(int(processed.sum()))
    result = {"shards": shards, "each_row_once": bool((cluster.sum(processed)[users] == 1).all())}
    with torch.no_grad():
        tensors, arch = mult_dae_model(*(t.detach().numpy().copy() for t in
                                         (model.enc.weight, model.enc.bias, model.dec.weight, model.dec.bias)))
    return tensors, arch, run, result


def train_mf_bpr(args, hist, n_items, cluster, gen):
    pair_u = torch.tensor([u for u, h in enumerate(hist) for _ in h], dtype=torch.long)
    pair_i = torch.tensor([i for h in hist for i in h], dtype=torch.long)
    seen_keys = torch.sort(pair_u * n_items + pair_i).values
    model = MFBPR(len(hist), n_items, args.dim, gen)
    net = cluster.wrap(model)
    steps_per_epoch = math.ceil(len(pair_u) / args.batch_size)
    opt, sched = optimizer(model, args, steps_per_epoch)
    processed = torch.zeros(len(pair_u))

    def epoch_loss(epoch):
        total = torch.zeros(1, dtype=torch.float64)
        order = torch.randperm(len(pair_u), generator=gen)
        neg = sample_negatives(pair_u[order], n_items, seen_keys, gen)
        for start in range(0, len(order), args.batch_size):
            batch = torch.arange(start, min(start + args.batch_size, len(order)))
            mine = my_rows(batch, cluster)
            if epoch == 1:
                processed[order[mine]] += 1
            rows = order[mine]
            d = net(pair_u[rows], pair_i[rows], neg[mine])
            loss_sum = nn.functional.softplus(-d).sum()  # -log sigmoid(d)
            total += step(opt, sched, loss_sum, len(batch), cluster)
        return cluster.sum(total).item() / steps_per_epoch

    run = run_epochs(args, epoch_loss, cluster)
    shards = cluster.gather(int(processed.sum()))
    result = {"shards": shards, "each_row_once": bool((cluster.sum(processed) == 1).all())}
    with torch.no_grad():
        item = (model.item / args.dim).numpy().copy()  # scores as dot products (see vitrine_file)
        mean = model.user.mean(0).numpy().copy()
    tensors, arch = mf_bpr_model(item, mean)
    return tensors, arch, run, result


def train_gru4rec(args, hist, n_items, cluster, gen):
    t = args.max_length
    windows = torch.tensor([(u, s) for u, h in enumerate(hist) for s in range(0, len(h) - 1, t)], dtype=torch.long)
    if len(windows) == 0:
        raise SystemExit("gru4rec: no user has two events to learn a next item from")
    model = GRU4Rec(n_items, args.embedding_dim, args.dim, gen)
    net = cluster.wrap(model)
    steps_per_epoch = math.ceil(len(windows) / args.batch_size)
    opt, sched = optimizer(model, args, steps_per_epoch)
    processed = torch.zeros(len(windows))

    def epoch_loss(epoch):
        total = torch.zeros(1, dtype=torch.float64)
        order = torch.randperm(len(windows), generator=gen)
        for start in range(0, len(order), args.batch_size):
            mine = my_rows(order[start:start + args.batch_size], cluster)
            if epoch == 1:
                processed[mine] += 1
            items = torch.zeros(len(mine), t, dtype=torch.long)  # (b, T) inputs
            nexts = torch.zeros(len(mine), t, dtype=torch.long)  # (b, T) targets
            valid = torch.zeros(len(mine), t, dtype=torch.bool)
            for r, (u, s) in enumerate(windows[mine].tolist()):
                steps = min(t, len(hist[u]) - 1 - s)
                items[r, :steps] = torch.tensor(hist[u][s:s + steps])
                nexts[r, :steps] = torch.tensor(hist[u][s + 1:s + 1 + steps])
                valid[r, :steps] = True
            logits = net(items, valid)
            loss_sum = nn.functional.cross_entropy(logits, nexts[valid], reduction="sum")
            total += step(opt, sched, loss_sum, args.batch_size * t, cluster)
        return cluster.sum(total).item() / steps_per_epoch

    run = run_epochs(args, epoch_loss, cluster)
    shards = cluster.gather(int(processed.sum()))
    result = {"shards": shards, "each_row_once": bool((cluster.sum(processed) == 1).all())}
    g = model.gru
    with torch.no_grad():
        weights = [w.detach().numpy().copy() for w in (model.emb.weight, g.weight_ih_l0, g.weight_hh_l0, g.bias_ih_l0,
                                                       g.bias_hh_l0, model.out.weight, model.out.bias)]
    tensors, arch = gru4rec_model(*weights, args.max_length)
    return tensors, arch, run, result


def step(opt, sched, loss_sum, rows, cluster):
    """One optimizer step on this process's share of a global batch of `rows` rows: the loss is
    scaled so that DDP's gradient average over the processes is the global batch's mean gradient.
    Returns the batch's mean loss contribution (this process's part, for the epoch's total)."""
    loss = loss_sum * (cluster.world / rows)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return loss_sum.detach().double() / rows


def optimizer(model, args, steps_per_epoch):
    """Adam or AdamW as the engine's trainer runs them, with its learning-rate schedule."""
    cls = torch.optim.AdamW if args.optimizer == "adamw" else torch.optim.Adam
    opt = cls(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay)
    total = steps_per_epoch * args.epochs

    def factor(step):  # "cosine": to 0 over all steps; the first step takes the full rate
        if args.schedule != "cosine" or total == 0:
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / total)))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def run_epochs(args, epoch_loss, cluster):
    """Runs the epochs; returns {seconds, losses}. The clock covers the epochs only, from a
    barrier before the first to a barrier after the last."""
    cluster.barrier()
    start = time.perf_counter()
    losses = []
    for epoch in range(1, args.epochs + 1):
        loss = epoch_loss(epoch)
        if not math.isfinite(loss):
            raise SystemExit(f"training diverged (loss {loss}) at epoch {epoch}: lower the learning rate")
        losses.append(loss)
        if cluster.rank == 0:
            print(f"epoch {epoch} loss {loss:.5f}", file=sys.stderr, flush=True)
    cluster.barrier()
    return {"seconds": time.perf_counter() - start, "losses": losses}


def blas_library():
    """The BLAS library this process loaded (PyTorch's CPU matrix products run on it)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except OSError:
        return None
    found = sorted(os.path.realpath(p) for p in paths
                   if any(name in os.path.basename(p) for name in ("blas", "blis", "mkl_rt")))
    return found[0] if found else None


def recommender_metadata(args, item_ids, cluster, threads):
    meta = {"kind": args.kind, "items": item_ids}
    if args.kind == "mf-bpr":
        meta["fold_in"] = {"epochs": args.fold_in_epochs, "lr": args.fold_in_lr, "l2": args.fold_in_l2, "negatives": 1}
    training = {"dim": args.dim, "epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.lr,
                "weight_decay": args.weight_decay, "optimizer": args.optimizer, "seed": args.seed}
    if args.kind == "mult-dae":
        training["dropout"] = args.dropout
    if args.kind == "gru4rec":
        training.update({"embedding_dim": args.embedding_dim, "max_length": args.max_length})
    if args.schedule != "constant":
        training["schedule"] = args.schedule
    training.update({"trainer": "pytorch-ddp", "torch": torch.__version__,
                     "backend": "gloo" if cluster.distributed else "none", "processes": cluster.world,
                     "threads_per_process": threads})
    meta["training"] = training
    return meta


def main(argv=None):
    args = parse_args(argv)
    cluster = Cluster()
    try:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        threads = args.threads or max(1, cores // cluster.local_world)
        torch.set_num_threads(threads)
        try:
            ev = read_events(args.events, min_weight=args.min_weight, columns=parse_columns(args.columns))
        except (OSError, ValueError) as e:
            raise SystemExit(f"train_ddp.py: {e}")
        hist, _ = histories(ev)
        n_items = len(ev.item_ids)
        events = sum(len(h) for h in hist)
        if n_items < 2 or events == 0:
            raise SystemExit(f"{args.events}: need at least 2 items and one kept event ({ev.summary})")
        gen = torch.Generator().manual_seed(args.seed)  # the same draws on every process
        train = {"mult-dae": train_mult_dae, "mf-bpr": train_mf_bpr, "gru4rec": train_gru4rec}[args.kind]
        tensors, arch, run, result = train(args, hist, n_items, cluster, gen)
        if cluster.rank == 0:
            metadata = {"task": "recommend", "recommender": recommender_metadata(args, ev.item_ids, cluster, threads)}
            size = write_model(args.out, tensors, arch, metadata)
            seconds = run["seconds"]
            print(json.dumps({"kind": args.kind, "world_size": cluster.world, "threads": threads, "epochs": args.epochs,
                              "events": events, "users": len(hist), "items": n_items, "seconds": round(seconds, 4),
                              "events_per_s": events * args.epochs / seconds if seconds > 0 else None,
                              "loss": run["losses"][-1] if run["losses"] else None, "out": args.out, "bytes": size,
                              "torch": torch.__version__, "blas": blas_library(),
                              **result}), flush=True)
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
