"""The two fixed evaluation protocols of ../shared/DATA.md, deterministic for a seed.

Strong generalization (Liang et al. 2018): the users are shuffled once (numpy Generator seeded
with SEED) and cut into N_CHUNKS = 10 chunks of ~10%. Fold k tests on chunk k, validates on chunk
k+1 (mod 10) and trains on the other 80% of the users, so fold 0 is the single split of DATA.md
and folds 0..K-1 (K <= 10) have disjoint test users. The items are those with a positive among
the fold's training users. A held-out user's positives outside that item set are dropped; if
at least MIN_HELDOUT_ITEMS are left, a random 20% (int(0.2 n), as Liang et al.'s code) is held
out and the rest is folded in, otherwise the user is skipped. Which 20% is fixed per user by one
random key per interaction, drawn once, so a user held out in two folds with the same item set
gets the same split.

Next item: each user's positives ordered by time (ties by a seeded random key); the last one is
the test target, the one before the validation target. Validation phase: train on all but the
last two, rank for the second last; test phase: train on all but the last, rank for the last.
The items are those with a positive in the phase's training data; a target outside them (an
item nobody had before) counts as a miss. Scores exclude the user's own training positives.
"""
from dataclasses import dataclass

import numpy as np

from recommend.data import binary_matrix

SEED = 20261128
N_CHUNKS = 10
HELDOUT_PROP = 0.2
MIN_HELDOUT_ITEMS = 5


def user_permutation(n_users, seed=SEED):
    return np.random.default_rng(seed).permutation(n_users)


def interaction_keys(n, seed, stream):
    """One uniform key per interaction from an independent stream of the seed."""
    return np.random.default_rng([seed, stream]).random(n)


def user_groups(n_users, n_groups, seed=SEED):
    """The users cut into n_groups groups along the seeded permutation."""
    return np.array_split(user_permutation(n_users, seed), n_groups)


@dataclass
class HeldOut:
    users: np.ndarray        # global user indices of the evaluated users
    fold_in: np.ndarray      # (len(users), n_cols) float32 0/1: what the model sees
    held_out: np.ndarray     # (len(users), n_cols) bool: what it must find
    skipped: int             # held-out users with too few items in the item set


@dataclass
class StrongSplit:
    fold: int
    item_index: np.ndarray   # global item index of each column
    train_users: np.ndarray
    train: np.ndarray        # (len(train_users), n_cols) float32 0/1
    val: HeldOut
    test: HeldOut

    def summary(self):
        return {
            "fold": self.fold, "items": len(self.item_index),
            "train_users": len(self.train_users), "train_interactions": int(self.train.sum()),
            "val_users": len(self.val.users), "val_users_skipped": self.val.skipped,
            "test_users": len(self.test.users), "test_users_skipped": self.test.skipped,
            "test_held_out": int(self.test.held_out.sum()),
            "test_folded_in": int(self.test.fold_in.sum()),
        }


def strong_generalization(inter, fold, seed=SEED, n_chunks=N_CHUNKS,
                          heldout_prop=HELDOUT_PROP, min_items=MIN_HELDOUT_ITEMS):
    if not 0 <= fold < n_chunks:
        raise ValueError(f"fold {fold} out of range: at most {n_chunks} folds")
    chunks = np.array_split(user_permutation(inter.n_users, seed), n_chunks)
    test_users = np.sort(chunks[fold])
    val_users = np.sort(chunks[(fold + 1) % n_chunks])
    is_train = np.ones(inter.n_users, dtype=bool)
    is_train[test_users] = False
    is_train[val_users] = False
    train_users = np.flatnonzero(is_train)
    if len(train_users) == 0 or len(test_users) == 0 or len(val_users) == 0:
        raise ValueError(f"too few users ({inter.n_users}) for {n_chunks} chunks")

    in_train = is_train[inter.users]
    item_index = np.unique(inter.items[in_train])
    col = np.full(inter.n_items, -1, dtype=np.int64)
    col[item_index] = np.arange(len(item_index))
    row = np.full(inter.n_users, -1, dtype=np.int64)
    row[train_users] = np.arange(len(train_users))
    train = binary_matrix(row[inter.users[in_train]], col[inter.items[in_train]],
                          len(train_users), len(item_index))
    keys = interaction_keys(len(inter), seed, 1)
    return StrongSplit(fold, item_index, train_users, train,
                       _held_out(inter, val_users, col, keys, heldout_prop, min_items),
                       _held_out(inter, test_users, col, keys, heldout_prop, min_items))


def _held_out(inter, users, col, keys, heldout_prop, min_items):
    member = np.zeros(inter.n_users, dtype=bool)
    member[users] = True
    sel = member[inter.users] & (col[inter.items] >= 0)
    u, c, k = inter.users[sel], col[inter.items[sel]], keys[sel]
    order = np.lexsort((k, u))                 # by user, then by the random key
    u, c = u[order], c[order]
    n = np.bincount(u, minlength=inter.n_users)
    starts = np.concatenate(([0], np.cumsum(n)))[:-1]
    rank = np.arange(len(u)) - starts[u]       # position of each interaction within its user
    n_out = (heldout_prop * n).astype(np.int64)  # int(0.2 n), as Liang et al.
    ok = n >= min_items
    evaluated = users[ok[users]]
    row = np.full(inter.n_users, -1, dtype=np.int64)
    row[evaluated] = np.arange(len(evaluated))
    keep = ok[u]
    u, c, rank = u[keep], c[keep], rank[keep]
    out = rank < n_out[u]
    n_cols = int(col.max()) + 1
    fold_in = binary_matrix(row[u[~out]], c[~out], len(evaluated), n_cols)
    held = binary_matrix(row[u[out]], c[out], len(evaluated), n_cols, dtype=bool)
    return HeldOut(evaluated, fold_in, held, int(len(users) - len(evaluated)))


@dataclass
class NextItemPhase:
    name: str                # "validation" or "test"
    item_index: np.ndarray   # global item index of each column
    train: np.ndarray        # (n_users, n_cols) float32 0/1: every user's history before the target
    targets: np.ndarray      # (n_users,) column of the target, -1 when it is not in item_index
    target_items: np.ndarray # (n_users,) global item index of the target

    def summary(self):
        return {"phase": self.name, "users": len(self.targets), "items": len(self.item_index),
                "train_interactions": int(self.train.sum()),
                "cold_targets": int((self.targets < 0).sum())}


def next_item(inter, seed=SEED):
    """Returns (validation phase, test phase); every user is in both."""
    keys = interaction_keys(len(inter), seed, 2)
    order = np.lexsort((keys, inter.times, inter.users))   # by user, time, random key
    u, i = inter.users[order], inter.items[order]
    n = np.bincount(u, minlength=inter.n_users)
    if n.min() < 3:
        raise ValueError("next item needs at least 3 positives per user")
    ends = np.cumsum(n)
    pos_from_end = ends[u] - np.arange(len(u))   # 1 for the last, 2 for the second last
    phases = []
    for name, drop in (("validation", 2), ("test", 1)):
        tr = pos_from_end > drop
        item_index = np.unique(i[tr])
        col = np.full(inter.n_items, -1, dtype=np.int64)
        col[item_index] = np.arange(len(item_index))
        train = binary_matrix(u[tr], col[i[tr]], inter.n_users, len(item_index))
        target_items = np.empty(inter.n_users, dtype=np.int64)
        t = pos_from_end == drop
        target_items[u[t]] = i[t]
        phases.append(NextItemPhase(name, item_index, train, col[target_items], target_items))
    return tuple(phases)
