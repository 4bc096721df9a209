"""Shared test helpers: the import path and small synthetic interaction data."""
import csv
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))

import numpy as np


def synthetic_rows(n_users=120, n_items=60, seed=0):
    """Two taste groups (users 0::2 like items < n/2, users 1::2 the rest) with noise; ratings
    0.5..5, integer timestamps (some tied). Returns rows (user, item, rating, timestamp)."""
    rng = np.random.default_rng(seed)
    rows = []
    half = n_items // 2
    for u in range(n_users):
        liked = np.arange(half) if u % 2 == 0 else np.arange(half, n_items)
        n_pos = rng.integers(6, 16)
        items = list(rng.choice(liked, size=min(n_pos, len(liked)), replace=False))
        others = list(rng.choice(n_items, size=4, replace=False))
        t0 = 1_000_000 + int(rng.integers(0, 10_000))
        for j, i in enumerate(items):
            rows.append((f"u{u}", f"{i}", float(rng.choice([4.0, 4.5, 5.0])), t0 + 10 * j))
        for j, i in enumerate(others):
            if i not in items:
                rows.append((f"u{u}", f"{i}", float(rng.choice([0.5, 2.0, 3.5])), t0 + 5 + 10 * j))
    return rows


def write_csv(path, rows, header=("user", "item", "rating", "timestamp")):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path
