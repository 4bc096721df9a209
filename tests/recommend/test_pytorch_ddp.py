"""The PyTorch DDP recipe (scripts/pytorch): models trained by 2 processes on MovieLens load in
Vitrine and rank as PyTorch does; both processes took part; the Python event reader sees the
files as the CLI does; the model file is laid out as the engine's own."""
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts", "pytorch"))

from event_files import histories, read_events  # noqa: E402
from vitrine_file import read_model, write_model  # noqa: E402

HAVE_TORCH = importlib.util.find_spec("torch") is not None
if HAVE_TORCH:
    import numpy as np
    from topk import Reference, same_up_to_ties

TOOL = os.environ.get("VITRINE_RECOMMEND_TOOL",
                      os.path.join(ROOT, "build", "native", "engine", "tools", "vitrine-recommend"))
TRAIN = os.path.join(ROOT, "scripts", "pytorch", "train_ddp.py")
TORCHRUN = os.path.join(ROOT, "scripts", "pytorch", "torchrun.py")
COLUMNS = {"weight": "rating", "time": "timestamp"}
K, USERS, TIE = 20, 50, 1e-6
# Small models, few epochs: the checks are about the file and the ranking, not about quality.
# gru4rec (a full softmax at every step) trains on a real subset: the first 150 users' events.
SETTINGS = {"mult-dae": ["--dim", "64", "--epochs", "3", "--batch-size", "100", "--lr", "1e-3"],
            "mf-bpr": ["--dim", "32", "--epochs", "3", "--batch-size", "1024", "--lr", "5e-3",
                       "--fold-in-epochs", "10"],
            "gru4rec": ["--dim", "32", "--embedding-dim", "16", "--max-length", "25", "--epochs", "2",
                        "--batch-size", "64", "--lr", "2e-3"]}
SUBSET_USERS = 150


def movielens():
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", "data", "movielens.sh")], check=True,
                          capture_output=True, text=True).stdout.strip()


def first_users(events, n, path):
    """The rows of the first n users of a ratings CSV sorted by user (movielens.sh's order)."""
    users = set()
    with open(events) as src, open(path, "w") as out:
        out.write(next(src))
        for line in src:
            users.add(line.split(",", 1)[0])
            if len(users) > n:
                break
            out.write(line)
    return path


def sample_histories(events, rng):
    """Held-out-style histories: USERS users, a random 80% of each one's items in time order."""
    hs, _ = histories(read_events(events, min_weight=4, columns=COLUMNS))
    out = []
    for u in rng.sample(range(len(hs)), USERS):
        keep = set(rng.sample(hs[u], max(1, round(0.8 * len(hs[u])))))
        out.append([i for i in hs[u] if i in keep])
    return out


def train(events, kind, out, processes):
    """Trains with `processes` DDP processes (1: a plain process); returns the final JSON line."""
    launch = [sys.executable]
    if processes > 1:
        launch += [TORCHRUN, "--standalone", "--nproc_per_node", str(processes)]
    args = launch + [TRAIN, "--events", events, "--columns", "weight=rating,time=timestamp", "--min-weight", "4",
                     "--kind", kind, "--seed", "7", "--threads", "1", "--out", out] + SETTINGS[kind]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"train_ddp.py ({processes} processes) failed:\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def vitrine_rank(model, hs, k, work):
    """Vitrine's top-k per history (history excluded), by the native tool."""
    hp, rp = os.path.join(work, "h.txt"), os.path.join(work, "ranked.txt")
    with open(hp, "w") as f:
        f.writelines(" ".join(map(str, h)) + "\n" for h in hs)
    proc = subprocess.run([TOOL, "rank", model, "--histories", hp, "--k", str(k), "--out", rp],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip())
    with open(rp) as f:
        return [[int(v) for v in line.split()] for line in f]


def node_events(path, min_weight, columns):
    """The CLI's reading of an event file (cli/events.mjs, histories() of cli/recommend.mjs)."""
    script = """
      const [events, recommend, file, minWeight, columns] = process.argv.slice(1);
      const { readEvents } = await import(events);
      const { histories } = await import(recommend);
      const ev = await readEvents(file, { minWeight: JSON.parse(minWeight), columns: JSON.parse(columns) });
      const h = histories(ev);
      console.log(JSON.stringify({ users: ev.users.ids, items: ev.items.ids, histories: h.histories,
                                   duplicates: h.duplicates, summary: ev.summary }));"""
    modules = [os.path.join(ROOT, "cli", "events.mjs"), os.path.join(ROOT, "cli", "recommend.mjs")]
    proc = subprocess.run(["node", "--input-type=module", "-e", script, *modules, path, json.dumps(min_weight),
                           json.dumps(columns)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def merged_malformed(reasons):
    """csv-parse names its error (e.g. "malformed CSV (CSV_QUOTE_NOT_CLOSED)"); Python only says
    "malformed CSV"."""
    out = {}
    for reason, n in reasons.items():
        key = "malformed CSV" if reason.startswith("malformed CSV") else reason
        out[key] = out.get(key, 0) + n
    return out


class EventReaderTest(unittest.TestCase):
    def assert_same_as_cli(self, path, min_weight=None, columns=None):
        cli = node_events(path, min_weight, columns or {})
        ev = read_events(path, min_weight=min_weight, columns=columns)
        hs, duplicates = histories(ev)
        self.assertEqual(ev.item_ids, cli["items"], path)
        self.assertEqual(ev.user_ids, cli["users"], path)
        self.assertEqual(hs, cli["histories"], path)
        self.assertEqual(duplicates, cli["duplicates"], path)
        want = dict(cli["summary"], reasons=merged_malformed(cli["summary"]["reasons"]))
        self.assertEqual(ev.summary, want, path)
        return ev

    def test_movielens_as_the_cli_reads_it(self):
        ev = self.assert_same_as_cli(movielens(), 4, COLUMNS)
        self.assertEqual((len(ev.user_ids), len(ev.item_ids), ev.summary["kept"]), (671, 6170, 51568))

    def test_quirky_files_as_the_cli_reads_them(self):
        csv_rows = (
            "\ufeffUser , ITEM,event,time,weight,extra\r\n u1,a,purchase,2024-01-02,,x\r\n\r\n"
            'u1,"b, the second",cart,1700000000,\r\nu2,a,view,1700000000000,0.5\n'
            'u2,"c""q",rate,2024-01-01T10:00:00,5\ru3,,view,5,1\nu3,d,unknown,5,1\nu3,d,VIEW,notatime,1\n'
            'u3,d,view,1e3,abc\nu3,"unclosed,view,1,1\nu3,e"x,view,1,1\nu3,f,view,0x10,Infinity\n'
            "u4,g,click,,0\nu4,g,view,2024-01-01T00:00:00Z,2\nu4,h,view,2024-01-01 00:00:00+02:00,2\n"
            "u4,a,view,  7  ,  3 \nu5,only\nu1,a,view,1,1\nu5,\u00e9t\u00e9,wishlist,2024-02,\n")
        jsonl_rows = (
            '\ufeff{"user": 1, "item": 2.0, "time": 5}\n{"user": "u2", "item": 12345678901234567890, "event": null}\n'
            '{"user": "u2", "item": "x", "weight": null}\n'
            '{"user": "u2", "item": "y", "weight": true, "time": "2024-01-01"}\n'
            'not json\n[1,2]\n{"user": "u3", "item": "z", "event": "Purchase", "time": 1e3, "weight": "2"}\n'
            '{"user": "u3", "item": "w", "time": NaN}\n{"user": true, "item": "w"}\n\n'
            '{"user": "u3", "item": 1.5e-7, "time": [3]}\n')
        with tempfile.TemporaryDirectory() as d:
            files = {"ev.csv": csv_rows, "ev.tsv": "u1\tb\tview\t3\nu1\ta\tview\t2\nu2\tb\n", "ev.jsonl": jsonl_rows}
            for name, text in files.items():
                path = os.path.join(d, name)
                with open(path, "w", encoding="utf-8", newline="") as f:
                    f.write(text)
                for min_weight in (None, 1):
                    self.assert_same_as_cli(path, min_weight)


@unittest.skipUnless(HAVE_TORCH, "PyTorch is not importable (Debian: apt-get install python3-torch)")
class PyTorchDdpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(TOOL):
            raise OSError(f"{TOOL} is missing: run `npm run build` (scripts/build.sh) first")
        cls.work = tempfile.mkdtemp(prefix="vitrine-ddp-")
        full = movielens()
        subset = first_users(full, SUBSET_USERS, os.path.join(cls.work, "ratings-subset.csv"))
        cls.events = {"mult-dae": full, "mf-bpr": full, "gru4rec": subset}
        cls.models, cls.runs = {}, {}
        for kind in SETTINGS:
            cls.models[kind] = os.path.join(cls.work, f"{kind}.safetensors")
            cls.runs[kind] = train(cls.events[kind], kind, cls.models[kind], 2)
        cls.single = os.path.join(cls.work, "mult-dae-1.safetensors")
        cls.runs["single"] = train(full, "mult-dae", cls.single, 1)
        rng = random.Random(20261128)
        cls.histories = {full: sample_histories(full, rng), subset: sample_histories(subset, rng)}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def assert_parity(self, kind):
        model, hs = self.models[kind], self.histories[self.events[kind]]
        ref = Reference(model)
        identical = 0
        for h, got in zip(hs, vitrine_rank(model, hs, K, self.work)):
            want, scores = ref.top_k(h, K)
            ok, why = same_up_to_ties(want, scores, got, h, TIE)
            self.assertTrue(ok, f"{kind}, history of {len(h)} items: {why}")
            identical += want == got
        print(f"\n{kind}: {identical} of {len(hs)} top-{K} lists identical to PyTorch's, "
              f"the rest equal up to ties within {TIE}", file=sys.stderr)

    def test_both_processes_took_part(self):
        for kind in SETTINGS:
            run = self.runs[kind]
            self.assertEqual(run["world_size"], 2)
            self.assertEqual(len(run["shards"]), 2)
            self.assertTrue(all(s > 0 for s in run["shards"]), run["shards"])
            self.assertTrue(run["each_row_once"], "the shards overlap or miss rows")
            rows = {"mult-dae": run["users"], "mf-bpr": run["events"]}.get(kind)
            if rows is not None:  # gru4rec: one row per window
                self.assertEqual(sum(run["shards"]), rows)
        # The gradients were all-reduced: 2 processes train the model 1 process trains (the same
        # global batches), up to float rounding. Adam moves a weight by ~lr = 1e-3 a step, so a
        # process training on its shard alone would be off by far more.
        two, _ = read_model(self.models["mult-dae"])
        one, _ = read_model(self.single)
        for name in two:
            self.assertLess(float(np.abs(two[name] - one[name]).max()), 1e-4, name)
        self.assertAlmostEqual(self.runs["mult-dae"]["loss"], self.runs["single"]["loss"],
                               delta=1e-4 * self.runs["single"]["loss"])

    def test_vitrine_ranks_as_pytorch_mult_dae(self):
        self.assert_parity("mult-dae")

    def test_vitrine_ranks_as_pytorch_mf_bpr(self):
        self.assert_parity("mf-bpr")

    def test_vitrine_ranks_as_pytorch_gru4rec(self):
        self.assert_parity("gru4rec")

    def test_the_check_catches_a_wrong_file(self):
        tensors, meta = read_model(self.models["mult-dae"])
        arch = json.loads(meta.pop("architecture"))
        # A transposed weight (PyTorch's (out, in) written as (in, out)): Vitrine refuses the file.
        bad = os.path.join(self.work, "transposed.safetensors")
        write_model(bad, [(n, t.T.copy() if n == "enc.w" else t) for n, t in tensors.items()], arch, meta)
        hs = self.histories[self.events["mult-dae"]]
        with self.assertRaisesRegex(RuntimeError, "dense 'enc'.*expects 64"):
            vitrine_rank(bad, hs[:1], K, self.work)
        # Item rows out of step with the catalogue (dec.w and dec.b rolled by one item): the file
        # loads, and the comparison with PyTorch's top-k fails.
        rolled = os.path.join(self.work, "rolled.safetensors")
        write_model(rolled, [(n, np.roll(t, 1, axis=0) if n.startswith("dec.") else t) for n, t in tensors.items()],
                    arch, meta)
        ref = Reference(self.models["mult-dae"])
        failures = 0
        for h, got in zip(hs, vitrine_rank(rolled, hs, K, self.work)):
            want, scores = ref.top_k(h, K)
            failures += not same_up_to_ties(want, scores, got, h, TIE)[0]
        self.assertEqual(failures, USERS)

    def test_ties_rule(self):
        scores = np.array([3.0, 2.0, 2.0 + 5e-7, 1.0, 0.5])
        self.assertTrue(same_up_to_ties([2, 1, 3], scores, [2, 1, 3], [0], TIE)[0])
        self.assertTrue(same_up_to_ties([2, 1, 3], scores, [1, 2, 3], [0], TIE)[0])      # tied within 1e-6
        self.assertFalse(same_up_to_ties([2, 1, 3], scores, [2, 3, 1], [0], TIE)[0])     # 2.0 vs 1.0
        self.assertFalse(same_up_to_ties([2, 1, 3], scores, [2, 1, 0], [0], TIE)[0])     # a history item
        self.assertFalse(same_up_to_ties([2, 1, 3], scores, [2, 1], [0], TIE)[0])        # too short
        self.assertFalse(same_up_to_ties([2, 1, 3], scores, [2, 1, 1], [0], TIE)[0])     # a repeat

    def test_layout_is_the_engines(self):
        # The engine's own file for the same data and sizes (one epoch) next to the PyTorch one.
        for kind in SETTINGS:
            ev = read_events(self.events[kind], min_weight=4, columns=COLUMNS)
            hs, _ = histories(ev)
            hp, ip = os.path.join(self.work, "train.txt"), os.path.join(self.work, "items.txt")
            with open(hp, "w") as f:
                f.writelines(" ".join(map(str, h)) + "\n" for h in hs)
            with open(ip, "w") as f:
                f.write("\n".join(ev.item_ids) + "\n")
            theirs = os.path.join(self.work, f"engine-{kind}.safetensors")
            sizes = [a for flag in ("--dim", "--embedding-dim", "--max-length") if flag in SETTINGS[kind]
                     for a in (flag, SETTINGS[kind][SETTINGS[kind].index(flag) + 1])]
            subprocess.run([TOOL, "train", "--kind", kind, "--histories", hp, "--items", ip, "--save", theirs,
                            "--epochs", "1"] + sizes, check=True, capture_output=True)
            mine_t, mine_m = read_model(self.models[kind])
            their_t, their_m = read_model(theirs)
            self.assertEqual(mine_m.keys(), their_m.keys())
            for key in ("architecture", "format", "format_version", "task"):
                self.assertEqual(json.loads(mine_m[key]) if key == "architecture" else mine_m[key],
                                 json.loads(their_m[key]) if key == "architecture" else their_m[key], key)
            mine_r, their_r = json.loads(mine_m["recommender"]), json.loads(their_m["recommender"])
            self.assertEqual(mine_r["items"], their_r["items"])
            self.assertEqual(list(mine_r), list(their_r))
            self.assertEqual(mine_r["training"]["trainer"], "pytorch-ddp")
            self.assertEqual(mine_r["training"]["processes"], 2)
            self.assertEqual([(n, t.shape) for n, t in mine_t.items()], [(n, t.shape) for n, t in their_t.items()])


if __name__ == "__main__":
    unittest.main()
