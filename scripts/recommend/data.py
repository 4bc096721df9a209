"""Reads an interactions CSV and turns it into implicit feedback.

The CSV has a header with the columns user,item,rating,timestamp (MovieLens' userId/movieId and
user_id/item_id are accepted too). rating is optional (every row is then a positive) and so is
timestamp (the row order is then the time order). Ids are kept as strings.
"""
import csv
from dataclasses import dataclass, field

import numpy as np

ALIASES = {
    "user": ("user", "userid", "user_id"),
    "item": ("item", "itemid", "item_id", "movieid", "movie_id"),
    "rating": ("rating", "score"),
    "timestamp": ("timestamp", "time", "ts"),
}


@dataclass
class Raw:
    """The CSV as read: one entry per row."""
    users: list
    items: list
    ratings: np.ndarray      # float64; all 1.0 when the CSV has no rating column
    times: np.ndarray        # float64; the row number when the CSV has no timestamp column
    has_rating: bool
    has_timestamp: bool
    path: str = ""


@dataclass
class Interactions:
    """Implicit positives: one row per (user, item), users and items as dense indices."""
    users: np.ndarray        # int64, 0..n_users-1
    items: np.ndarray        # int64, 0..n_items-1 (index into item_ids)
    times: np.ndarray        # float64
    user_ids: list
    item_ids: list
    stats: dict = field(default_factory=dict)

    @property
    def n_users(self):
        return len(self.user_ids)

    @property
    def n_items(self):
        return len(self.item_ids)

    def __len__(self):
        return len(self.users)


def read_csv(path):
    """Reads an interactions CSV (see the module doc). Raises ValueError with the reason."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path}: empty file") from None
        col = {}
        for name, names in ALIASES.items():
            for i, h in enumerate(header):
                if h in names:
                    col[name] = i
                    break
        for name in ("user", "item"):
            if name not in col:
                raise ValueError(f"{path}: no '{name}' column in header {header} "
                                 "(expected user,item,rating,timestamp)")
        users, items, ratings, times = [], [], [], []
        ui, ii = col["user"], col["item"]
        ri, ti = col.get("rating"), col.get("timestamp")
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                users.append(row[ui].strip())
                items.append(row[ii].strip())
                ratings.append(float(row[ri]) if ri is not None else 1.0)
                times.append(float(row[ti]) if ti is not None else float(line))
            except (IndexError, ValueError) as e:
                raise ValueError(f"{path}:{line}: bad row {row}: {e}") from None
    if not users:
        raise ValueError(f"{path}: no rows")
    return Raw(users, items, np.asarray(ratings, dtype=np.float64), np.asarray(times, dtype=np.float64),
               ri is not None, ti is not None, str(path))


def implicit(raw, threshold=4.0, min_positives=5):
    """Positives = rows with rating >= threshold (every row without a rating column); one per
    (user, item), at its earliest time; users with fewer than min_positives positives dropped.
    Users and items are indexed in sorted id order (numeric ids numerically)."""
    pos = raw.ratings >= threshold if raw.has_rating else np.ones(len(raw.users), dtype=bool)
    u_str = np.asarray(raw.users, dtype=object)[pos]
    i_str = np.asarray(raw.items, dtype=object)[pos]
    t = raw.times[pos]
    user_ids, u = _index(u_str)
    item_ids, i = _index(i_str)
    # one row per (user, item): keep the earliest
    order = np.lexsort((t, i, u))
    u, i, t = u[order], i[order], t[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
    u, i, t = u[first], i[first], t[first]
    counts = np.bincount(u, minlength=len(user_ids))
    keep_user = counts >= min_positives
    keep = keep_user[u]
    u, i, t = u[keep], i[keep], t[keep]
    # re-index the users and items that are left
    uk = np.flatnonzero(keep_user)
    ik = np.unique(i)
    u = np.searchsorted(uk, u)
    i = np.searchsorted(ik, i)
    stats = {
        "rows": len(raw.users),
        "users_in_file": len(set(raw.users)),
        "items_in_file": len(set(raw.items)),
        "positives_threshold": threshold if raw.has_rating else None,
        "min_positives_per_user": min_positives,
        "users": len(uk),
        "items": len(ik),
        "interactions": int(len(u)),
    }
    return Interactions(u.astype(np.int64), i.astype(np.int64), t,
                        [user_ids[k] for k in uk], [item_ids[k] for k in ik], stats)


def _index(ids):
    """Sorted unique ids (numerically when all are integers) and each entry's index."""
    uniq = sorted(set(ids))
    try:
        uniq = sorted(uniq, key=int)
    except ValueError:
        pass
    pos = {k: n for n, k in enumerate(uniq)}
    return uniq, np.fromiter((pos[k] for k in ids), dtype=np.int64, count=len(ids))


def binary_matrix(rows, cols, n_rows, n_cols, dtype=np.float32):
    """Dense 0/1 matrix with ones at (rows[k], cols[k])."""
    x = np.zeros((n_rows, n_cols), dtype=dtype)
    x[rows, cols] = 1
    return x
