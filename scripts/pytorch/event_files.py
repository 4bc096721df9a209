"""Reads a store's event file exactly as `vitrine train recommend` does (cli/events.mjs and
histories() in cli/recommend.mjs), so that the same file gives the same item catalogue, the same
item indices and the same histories in Python as in the CLI.

Events: CSV/TSV/JSON Lines, one per row, columns user,item[,event][,time][,weight] by header name
(when the first row names at least `user` and `item`; `columns` maps an export's own names onto
these) or else by position. Rows whose weight is below `min_weight` (default: weight <= 0) are
skipped; rows that cannot be used are refused and counted. Users and items get dense indices in
the order they first appear among the kept rows. A history is a user's distinct items, oldest first
(by each item's first event; ties in time by file order).

Values follow JavaScript's rules where the CLI relies on them (Number() for weights and times,
String() for numeric JSON ids, trim() for whitespace), so the two readers agree row for row. Two
differences remain, both on rows one would fix anyway: a time that is a date is read in its ISO
8601 forms only (V8's Date.parse also takes others, such as "Jan 2 2024", which are refused here),
and a malformed CSV line is refused as "malformed CSV" without csv-parse's error code.
"""
import csv
import datetime
import decimal
import json
import math
import re

EVENT_WEIGHTS = {"view": 1, "click": 1, "rate": 1, "cart": 2, "wishlist": 2, "purchase": 3}
MAX_ID_BYTES = 256
KEYS = ("user", "item", "event", "time", "weight")

# The characters String.prototype.trim() removes.
JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
                "\u2028\u2029\u202f\u205f\u3000\ufeff"
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_RADIX = re.compile(r"0([xXoObB])([0-9a-fA-F]+)")
_ISO_DATE = re.compile(r"([+-]\d{6}|\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def js_trim(text):
    return text.strip(JS_WHITESPACE)


def js_number_string(x):
    """String(x) for a finite JavaScript number (Number::toString: shortest round-trip digits,
    positional from 1e-7 up to 1e21, else exponential)."""
    x = float(x)
    if x == 0:
        return "0"
    _, digits, exponent = decimal.Decimal(repr(abs(x))).normalize().as_tuple()
    d = "".join(map(str, digits))
    k, n = len(d), len(d) + exponent  # k digits, the decimal point after n of them
    text = (d + "0" * (n - k) if k <= n <= 21 else
            d[:n] + "." + d[n:] if 0 < n <= 21 else
            "0." + "0" * -n + d if -6 < n <= 0 else
            (d[0] + ("." + d[1:] if k > 1 else "")) + "e" + ("+" if n > 0 else "-") + str(abs(n - 1)))
    return "-" + text if x < 0 else text


def js_number(value):
    """Number(value) for the values an event row holds: strings, JSON numbers, booleans, null."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):  # Number([]) = 0, Number([x]) = Number(String(x)), else NaN
        return 0.0 if not value else js_number(js_string(value[0])) if len(value) == 1 else math.nan
    if not isinstance(value, str):
        return math.nan
    text = js_trim(value)
    if not text:
        return 0.0
    if text in ("Infinity", "+Infinity"):
        return math.inf
    if text == "-Infinity":
        return -math.inf
    if _DECIMAL.fullmatch(text):
        return float(text)
    m = _RADIX.fullmatch(text)
    if m:
        base = {"x": 16, "o": 8, "b": 2}[m.group(1).lower()]
        try:
            return float(int(m.group(2), base))
        except ValueError:
            return math.nan
    return math.nan


def js_string(value):
    """String(value) for JSON values (objects as JavaScript prints them)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number_string(value) if math.isfinite(value) else ("NaN" if math.isnan(value) else
                                                                     "Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return value


def _date_parse(text):
    """Date.parse() for ISO 8601 dates and date-times (ms since 1970; NaN otherwise). A date alone
    is UTC, a date-time without an offset is local time, as in JavaScript."""
    m = _ISO_DATE.fullmatch(text)
    if m:
        year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
        try:
            d = datetime.datetime(year, month, day, tzinfo=datetime.timezone.utc)
        except ValueError:
            return math.nan
        return d.timestamp() * 1000.0
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", text):
        return math.nan
    try:
        d = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return math.nan
    if d.tzinfo is None:
        d = d.astimezone()  # local time
    return math.floor(d.timestamp() * 1000.0)


def parse_time(value):
    """Milliseconds since 1970 from seconds, milliseconds or an ISO date; None when absent, NaN
    when unreadable."""
    if value is None or value == "":
        return None
    n = js_number(value)
    if math.isfinite(n):
        return n * 1000 if n < 1e11 else n
    return _date_parse(value)


class Events:
    """The kept events as parallel lists, with the users' and items' ids in index order."""

    def __init__(self):
        self.user_ids, self.item_ids = [], []
        self._users, self._items = {}, {}
        self.user, self.item, self.time, self.weight = [], [], [], []
        self.summary = {"rows": 0, "kept": 0, "refused": 0, "belowMinWeight": 0, "reasons": {}}

    @staticmethod
    def _index(ids, index, key):
        i = index.get(key)
        if i is None:
            i = index[key] = len(ids)
            ids.append(key)
        return i

    def refuse(self, reason):
        self.summary["refused"] += 1
        self.summary["reasons"][reason] = self.summary["reasons"].get(reason, 0) + 1

    def add(self, row, min_weight):
        """One row: {user, item, event, time, weight} (absent keys are missing columns)."""
        s = self.summary
        s["rows"] += 1

        def ident(v):
            if isinstance(v, str):
                return js_trim(v)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return js_string(v)
            return ""

        u, it = ident(row.get("user")), ident(row.get("item"))
        if not u:
            return self.refuse("empty or missing user")
        if not it:
            return self.refuse("empty or missing item")
        if max(len(u.encode("utf-8", "surrogatepass")), len(it.encode("utf-8", "surrogatepass"))) > MAX_ID_BYTES:
            return self.refuse(f"id longer than {MAX_ID_BYTES} bytes")
        event = row.get("event", "")  # an absent column is undefined: the default type
        kind = "view" if event == "" else js_trim(js_string(event)).lower()
        if kind not in EVENT_WEIGHTS:
            return self.refuse(f"unknown event type '{js_string(event)[:40]}'")
        w = float(EVENT_WEIGHTS[kind])
        weight = row.get("weight")
        if "weight" in row and weight != "":
            w = js_number(weight)
            if not math.isfinite(w):
                return self.refuse("weight is not a number")
        t = parse_time(None if "time" not in row else js_trim(js_string(row["time"])))
        if t is not None and math.isnan(t):
            return self.refuse("time is not a number or an ISO date")
        if (w < min_weight) if min_weight is not None else (w <= 0):
            s["belowMinWeight"] += 1
            return None
        self.user.append(self._index(self.user_ids, self._users, u))
        self.item.append(self._index(self.item_ids, self._items, it))
        self.time.append(float(s["rows"]) if t is None else t)
        self.weight.append(w)
        s["kept"] += 1
        return None


def _lines(path):
    """The file's lines as Node's readline gives them (\\n, \\r\\n or \\r; a BOM dropped)."""
    with open(path, encoding="utf-8", errors="replace", newline=None) as f:
        for number, text in enumerate(f, 1):
            text = text[:-1] if text.endswith("\n") else text
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield number, text


def _quoted_fields(text, delimiter):
    """A line with quotes, split as csv-parse does it (fields trimmed); None when malformed."""
    d = re.escape(delimiter)
    field = rf'[ \t]*(?:"(?:[^"]|"")*"|[^"{d}]*)[ \t]*'
    if not re.fullmatch(rf"{field}(?:{d}{field})*", text):
        return None
    try:
        fields = next(csv.reader([text], delimiter=delimiter, skipinitialspace=True, strict=True))
    except csv.Error:
        return None
    return [js_trim(f) for f in fields]


def read_events(path, min_weight=None, columns=None):
    """Reads `path` (.csv, .tsv, .jsonl or .ndjson). columns: {"user": "userId", ...} (an export's
    own column names or JSON keys). Raises ValueError when `columns` is given and the first row
    does not name the user and item columns."""
    rename = dict(columns or {})
    key = {k: rename.get(k, k) for k in KEYS}
    ev = Events()
    if re.search(r"\.(jsonl|ndjson)$", path, re.I):
        def no_constants(name):
            raise ValueError(name)
        for _, text in _lines(path):
            if not js_trim(text):
                continue
            try:
                r = json.loads(text, parse_constant=no_constants)
            except (ValueError, RecursionError):
                ev.summary["rows"] += 1
                ev.refuse("not valid JSON")
                continue
            if not isinstance(r, dict):
                ev.summary["rows"] += 1
                ev.refuse("not a JSON object")
                continue
            ev.add({k: r[key[k]] for k in KEYS if key[k] in r}, min_weight)
        return ev
    delimiter = "\t" if re.search(r"\.tsv$", path, re.I) else ","
    index = None
    for _, text in _lines(path):
        if not js_trim(text):
            continue
        if '"' not in text:
            record = [js_trim(f) for f in text.split(delimiter)]
        else:
            record = _quoted_fields(text, delimiter)
            if record is None:
                ev.summary["rows"] += 1
                ev.refuse("malformed CSV")
                continue
        if index is None:
            names = [c.lower() for c in record]
            if key["user"].lower() in names and key["item"].lower() in names:
                index = {k: names.index(key[k].lower()) if key[k].lower() in names else -1 for k in KEYS}
                continue
            if rename:
                raise ValueError(f"{path}: the first row has no columns named {key['user']} and {key['item']}")
            index = {k: i for i, k in enumerate(KEYS)}
        row = {k: record[i] for k, i in index.items() if 0 <= i < len(record)}
        ev.add(row, min_weight)
    return ev


def histories(ev):
    """Each user's distinct items, oldest first (by their first event; equal times in file
    order), in user index order. Returns (histories, duplicates merged)."""
    per_user = [[] for _ in ev.user_ids]
    for e, u in enumerate(ev.user):
        per_user[u].append(e)
    out, duplicates = [], 0
    for events in per_user:
        events.sort(key=lambda e: (ev.time[e], e))
        seen, h = set(), []
        for e in events:
            i = ev.item[e]
            if i in seen:
                duplicates += 1
                continue
            seen.add(i)
            h.append(i)
        out.append(h)
    return out, duplicates


def parse_columns(text):
    """--columns user=userId,item=movieId,... as the CLI reads it."""
    columns = {}
    for pair in filter(None, (text or "").split(",")):
        k, _, v = pair.partition("=")
        v = v.split("=")[0]
        if k not in KEYS or not v:
            raise ValueError(f"--columns: '{pair}' is not user|item|event|time|weight=NAME")
        columns[k] = v
    return columns
