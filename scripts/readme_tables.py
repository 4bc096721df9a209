#!/usr/bin/env python3
"""Renders the benchmark JSON under bench/results/ as markdown tables into README.md, between
<!-- bench:NAME --> and <!-- /bench:NAME --> markers, so the README shows exactly the latest measured
figures (with the date and command of the run that produced them).

    python3 scripts/readme_tables.py
"""
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(name):
    path = os.path.join(ROOT, "bench", "results", name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None


def dense(d):
    rows = ["| variant | threads | pass | median ms | GFLOP/s |", "|---|---|---|---|---|"]
    for r in d["records"]:
        rows.append(f"| {r['variant']} | {r['threads']} | {r['pass']} | {r['median_ms']:.2f} | {r['gflops']:.1f} |")
    f = {(r["variant"], r["threads"]): r for r in d["records"] if r["pass"] == "forward"}
    one, two = f.get(("simd-threads", 1)), f.get(("simd-threads", 2))
    tail = f"\n2-thread speed-up of the wasm forward pass: {two['gflops'] / one['gflops']:.2f}×." if one and two else ""
    return "\n".join(rows) + tail


def mobilenet(d):
    rows = ["| engine | variant | threads | median ms | p10 | p90 |", "|---|---|---|---|---|---|"]
    for r in d["records"]:
        rows.append(f"| {r['engine']} | {r['variant']} | {r['threads']} | {r['median_ms']:.2f} | "
                    f"{r.get('p10_ms', 0):.2f} | {r.get('p90_ms', 0):.2f} |")
    rows += ["", "| threads | Vitrine variant | vs | ratio (Vitrine ms / other ms) |", "|---|---|---|---|"]
    for q in d.get("ratios", []):
        rows.append(f"| {q['threads']} | {q['vitrine_variant']} | {q['peer']} {q['peer_variant']} | {q['ratio']:.2f} |")
    return "\n".join(rows)


def train(d):
    rows = ["| model | engine | variant | threads | steps/s | ms/step |", "|---|---|---|---|---|---|"]
    for r in d["records"]:
        rows.append(f"| {r['model']} | {r['engine']} | {r.get('variant', '')} | {r['threads']} | "
                    f"{r['steps_per_s']:.1f} | {r['median_ms_per_step']:.2f} |")
    if d.get("ratios"):
        rows += ["", "| model | Vitrine | threads | × TF.js CPU steps/s |", "|---|---|---|---|"]
        rows[-2:] = ["| model | Vitrine | threads | vs TF.js CPU | × TF.js steps/s |", "|---|---|---|---|---|"]
        for q in d["ratios"]:
            rows.append(f"| {q['model']} | {q['vitrine_engine']} {q['vitrine_variant']} | {q['vitrine_threads']} | "
                        f"{q['tfjs_variant']} | {q['ratio']:.1f} |")
    return "\n".join(rows)


def conformance(d):
    ops = d["ops"]
    passed = sum(o["passed"] for o in ops.values())
    total = sum(o["total"] for o in ops.values())
    full = sorted(n for n, o in ops.items() if o["passed"] == o["total"])
    return (f"{passed}/{total} ONNX node tests of the {len(ops)} claimed ops pass; all tests pass for: "
            f"{', '.join(full)}. Per-op table and every failure reason: [docs/onnx-conformance.md](docs/onnx-conformance.md).")


RENDER = {"dense": dense, "mobilenet": mobilenet, "train": train, "onnx-conformance": conformance}


def main():
    readme = open(os.path.join(ROOT, "README.md")).read()
    for name, render in RENDER.items():
        data = load(name)
        if data is None:
            continue
        stamp = f"_Measured {data.get('date', '')[:16].replace('T', ' ')} UTC by `{data.get('command', data.get('generated_by', ''))}`._"
        body = f"<!-- bench:{name} -->\n{stamp}\n\n{render(data)}\n<!-- /bench:{name} -->"
        readme = re.sub(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", lambda _: body, readme,
                        flags=re.S)
    open(os.path.join(ROOT, "README.md"), "w").write(readme)


if __name__ == "__main__":
    main()
