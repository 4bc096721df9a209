#!/usr/bin/env python3
"""Renders the benchmark JSON under bench/results/ as markdown tables into README.md, between
<!-- bench:NAME --> and <!-- /bench:NAME --> markers, so the README shows exactly the latest measured
figures (with the date and command of the run that produced them).

    python3 scripts/readme_tables.py
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from recommend import tables  # noqa: E402  (the evaluations' own table renderers)


def load(name):
    path = os.path.join(ROOT, "bench", "results", name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None


def dense(d):
    sh = d["shape"]
    rows = [f"{sh['batch']}×{sh['in']} · {sh['in']}×{sh['out']} + bias; median of {d['settings']['passes']} pass medians "
            "[pass min..max].", "",
            "| engine | variant | threads | form | direction | median ms | pass spread | GFLOP/s |", "|---|---|---|---|---|---|---|---|"]
    for r in d["records"]:
        if "median_ms" not in r:
            rows.append(f"| {r['engine']} | {r['variant']} | {r['threads']} | | | error: {str(r.get('error', ''))[:60]} | | |")
            continue
        spread = f"{r['spread_ms'][0]:.2f}..{r['spread_ms'][1]:.2f}" if r.get("spread_ms") else ""
        rows.append(f"| {r['engine']} | {r['variant']} | {r['threads']} | {r.get('form', '')} | {r.get('direction', '')} | "
                    f"{r['median_ms']:.2f} | {spread} | {r['gflops']:.1f} |")
    rows += ["", "| Vitrine forward | vs (the peer's fastest form, same pass) | ratio, median [min..max] |", "|---|---|---|"]
    for q in d.get("ratios", []):
        rows.append(f"| {q['variant']} {q['threads']}t {q['form']} | {q['peer']} | {q['ratio']:.2f} [{q['spread'][0]:.2f}..{q['spread'][1]:.2f}] |")
    crit = [f"{c['criterion']}: {c['ratio']:.2f} ({'met' if c['met'] else 'not met'})" for c in d.get("criteria", []) if c.get("ratio") is not None]
    if crit:
        rows += [""] + [f"- {c}" for c in crit]
    return "\n".join(rows)


def mobilenet(d):
    passes = d.get("settings", {}).get("passes", 1)
    rows = [f"Median of {passes} pass medians [pass min..max]; ratios are per pass, then their median [min..max].", "",
            "| engine | variant | threads | median ms | pass spread | p10 | p90 |", "|---|---|---|---|---|---|---|"]
    for r in d["records"]:
        spread = f"{r['spread_ms'][0]:.2f}..{r['spread_ms'][1]:.2f}" if r.get("spread_ms") else ""
        rows.append(f"| {r['engine']} | {r['variant']} | {r['threads']} | {r['median_ms']:.2f} | {spread} | "
                    f"{r.get('p10_ms', 0):.2f} | {r.get('p90_ms', 0):.2f} |")
    rows += ["", "| threads | Vitrine variant | vs | ratio (Vitrine ms / other ms) |", "|---|---|---|---|"]
    for q in d.get("ratios", []):
        spread = f" [{q['spread'][0]:.2f}..{q['spread'][1]:.2f}]" if q.get("spread") else ""
        rows.append(f"| {q['threads']} | {q['vitrine_variant']} | {q['peer']} {q['peer_variant']} | {q['ratio']:.2f}{spread} |")
    crit = [f"{c['criterion']}: {c['ratio']:.2f} ({'met' if c['met'] else 'not met'})" for c in d.get("criteria", []) if c.get("ratio") is not None]
    if crit:
        rows += [""] + [f"- {c}" for c in crit]
    prof = d.get("profile", {}).get("by_kind")
    if prof:
        cols = list(prof.keys())
        kinds = []
        for b in prof.values():
            for k in b["kinds"]:
                if k["kind"] not in kinds:
                    kinds.append(k["kind"])
        rows += ["", "Where the time goes (`model.setProfiling(true)`; sum of per-operator medians by kind, ms and GFLOP/s):", "",
                 "| kind | operators | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
        for kind in kinds:
            cells = []
            n = ""
            for c in cols:
                k = next((x for x in prof[c]["kinds"] if x["kind"] == kind), None)
                if k is None:
                    cells.append("")
                    continue
                n = n or str(k["ops"])
                rate = f", {k['flops'] / k['ms'] / 1e6:.1f} GF/s" if k["flops"] and k["ms"] > 0 else ""
                share = k["ms"] / prof[c]["total_ms"] * 100 if prof[c]["total_ms"] else 0
                cells.append(f"{k['ms']:.2f} ms ({share:.0f}%){rate}")
            rows.append(f"| {kind} | {n} | " + " | ".join(cells) + " |")
        rows.append("| total | | " + " | ".join(f"{prof[c]['total_ms']:.2f} ms" for c in cols) + " |")
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


def eval_recommend(d):
    sg, ni = "strong_generalization", "next_item"
    sgm = d["protocols"][sg]["metrics"]
    nim = d["protocols"][ni]["metrics"]
    heads = [f"SG {m}" for m in sgm] + [f"next {m}" for m in nim]
    rows = ["| model | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for name, r in d["models"].items():
        cells = [f"{r[sg][m]['mean']:.4f} ± {r[sg][m]['stderr']:.4f}" for m in sgm] + \
                [f"{r[ni][m]['mean']:.4f} ± {r[ni][m]['stderr']:.4f}" for m in nim]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    v = d.get("vitrine") or {}
    checks = v.get("wasm_checks") or []
    if checks:
        users = sum(c["users"] for c in checks)
        same = sum(c["identical_users"] for c in checks)
        rows.append(f"\nWasm re-ranking (both variants, through the npm facade) of every evaluated test user of "
                    f"the Vitrine models: {same}/{users} top-k lists identical to native.")
    return "\n".join(rows)


def recommend(d):
    m = d.get("model") or {}
    rows = [f"Shipped model: {m.get('kind')}, {m.get('items')} items, dim {m.get('dim')}.", "",
            "| fold-in | variant | threads | events | median ms | p90 ms |", "|---|---|---|---|---|---|"]
    for r in d["foldin"]:
        if "median_ms" in r:
            rows.append(f"| {r['engine']} | {r['variant']} | {r['threads']} | {r['events']} | {r['median_ms']:.3f} | {r['p90_ms']:.3f} |")
    k, passes = d["settings"].get("k", 10), d["settings"].get("passes", 1)
    rows += ["", f"| top-{k} over N items (d {d['settings'].get('dim', '')}) | engine | variant | threads | precision | "
             f"median ms ({passes} passes) | pass spread | GB/s |", "|---|---|---|---|---|---|---|---|"]
    for r in d["recommend"]:
        if r.get("part") == "model":
            continue
        if "median_ms" in r:
            spread = f"{r['spread_ms'][0]:.3f}..{r['spread_ms'][1]:.3f}" if r.get("spread_ms") else ""
            gbs = f"{r['gb_per_s']:.1f}" if r.get("gb_per_s") else ""
            rows.append(f"| {r['items']} | {r['engine']} | {r.get('form') or r['variant']} | {r['threads']} | {r.get('precision', 'f32')} | "
                        f"{r['median_ms']:.3f} | {spread} | {gbs} |")
        else:
            rows.append(f"| {r['items']} | {r['engine']} | {r.get('variant', '')} | {r['threads']} | {r.get('precision', '')} | "
                        f"error: {str(r.get('error', ''))[:60]} | | |")
    rows += ["", "| items | threads | Vitrine | vs (the fastest form, same pass) | ratio Vitrine / peer, median [min..max] |", "|---|---|---|---|---|"]
    for q in d.get("ratios", []):
        spread = f" [{q['spread'][0]:.2f}..{q['spread'][1]:.2f}]" if q.get("spread") else ""
        rows.append(f"| {q['items']} | {q['threads']} | {q['vitrine_variant']} {q['precision']} | {q['peer']} | {q['ratio']:.2f}{spread} |")
    crit = [f"{c['criterion']}: {c['median_ms']:.3f} ms ({'met' if c['met'] else 'not met'})"
            for c in d.get("criteria", []) if c.get("median_ms") is not None]
    crit += [f"{c['criterion']}: {c['ratio']:.2f}{(', recall ' + format(c['recall'], '.3f')) if c.get('recall') is not None else ''} "
             f"({'met' if c['met'] else 'not met'})" for c in d.get("criteria", []) if c.get("ratio") is not None]
    if crit:
        rows += [""] + [f"- {c}" for c in crit]
    return "\n".join(rows)


def eval_tagger(d):
    t = d["default_tagger"]
    rows = ["| model | test top-1 (10,000 images) |", "|---|---|",
            f"| shipped tagger, native ({t['bytes']:,} bytes) | {100 * t['test_accuracy']:.2f}% |",
            f"| shipped tagger, wasm ({t['wasm_equal_native']}/10000 predictions equal to native) | {100 * t['wasm_test_accuracy']:.2f}% |",
            f"| its coarse groups | {100 * t['group_accuracy']:.2f}% |"]
    for b in d.get("baselines", []):
        rows.append(f"| baseline: {b['name']} | {100 * b['test_accuracy']:.2f}% |")
    rows += ["", "| few-shot head on | " + " | ".join(f"k = {r['per_class']}" for r in d["few_shot"][0]["rows"]) + " | head training (median, k = 20) |",
             "|---" * (len(d["few_shot"][0]["rows"]) + 2) + "|"]
    for f in d["few_shot"]:
        cells = [f"{100 * r['accuracy_mean']:.1f}% ± {100 * r['accuracy_sd']:.1f}" for r in f["rows"]]
        rows.append(f"| {f['backbone']} ({f['test_images']} test images) | " + " | ".join(cells) +
                    f" | {f['rows'][-1]['head_train_ms_median']:.0f} ms |")
    return "\n".join(rows)


def tagger(d):
    rows = ["| engine | threads | task | what | median ms | p10 | p90 |", "|---|---|---|---|---|---|---|"]
    for r in d["records"]:
        extra = f" ({r['images_per_s']:.0f} images/s)" if r.get("images_per_s") else ""
        rows.append(f"| {r['engine']} | {r['threads']} | {r['task']} | {r['what']}{extra} | {r['median_ms']:.3f} | "
                    f"{r['p10_ms']:.3f} | {r['p90_ms']:.3f} |")
    rows += ["", "| Vitrine / tfjs-wasm (< 1: Vitrine faster) | threads | ratio |", "|---|---|---|"]
    for q in d.get("ratios", []):
        rows.append(f"| {q['task']}: {q['what']} | {q['threads']} | {q['ratio']:.2f} |")
    a = d.get("agreement", {})
    rows.append(f"\nOutputs agree with TensorFlow.js: Fashion-MNIST CNN max |diff| {a.get('fashion_max_abs_diff_vs_tfjs', float('nan')):.1e}, "
                f"MobileNetV2 {a.get('mobilenet_max_abs_diff_vs_tfjs', float('nan')):.1e}. Model file: {d['model']['bytes']:,} bytes.")
    return "\n".join(rows)


def eval_reviews(d):
    rows = ["| model | setting | threshold | CV macro-F1 | test accuracy | test macro-F1 |", "|---|---|---|---|---|---|"]
    for name, m in d["models"].items():
        t = m.get("threshold")
        rows.append(f"| {name}{' (default)' if name == d.get('default') else ''} | {m.get('setting', '')} | "
                    f"{'' if t is None else f'{t:.2f}'} | {m['cv']['macro_f1']:.4f} | {m['test']['accuracy']:.4f} | {m['test']['macro_f1']:.4f} |")
    return "\n".join(rows)


def reviews(d):
    rows = [f"{d['data']['reviews']} reviews, mean {d['data']['mean_chars']:.0f} characters; model {d['model']['bytes']:,} bytes.", "",
            "| engine | variant | threads | what | reviews/s | µs per byte | per byte vs test reviews |", "|---|---|---|---|---|---|---|"]
    for r in d["records"]:
        per_byte = f"{r['us_per_byte']:.3f}" if "us_per_byte" in r else ""
        ratio = f"{r['ratio_to_test_reviews']:.2f}x" if "ratio_to_test_reviews" in r else ""
        rows.append(f"| {r['engine']} | {r['variant']} | {r['threads']} | {r['what']} | {r['reviews_per_s']:.0f} | {per_byte} | {ratio} |")
    return "\n".join(rows)


def size(d):
    p = d["package"]
    rows = [f"`npm pack`: {p['tarball_bytes']:,} bytes ({p['entries']} files, models included). What a page downloads "
            f"(facade JS + one wasm variant, gzip; budget {d['budget_gzip_bytes']:,} bytes):", "",
            "| variant | bytes | gzip |", "|---|---|---|"]
    for name, v in d["download_js_plus_one_variant"].items():
        rows.append(f"| {name} | {v['bytes']:,} | {v['gzip']:,} |")
    rows += ["", "| model file | bytes | gzip |", "|---|---|---|"]
    for m in d["models"]:
        if m["path"].endswith(".safetensors"):
            rows.append(f"| {m['path']} | {m['bytes']:,} | {m['gzip']:,} |")
    return "\n".join(rows)


def fuzz(d):
    rows = ["| harness | executions | seconds | exec/s | edges | corpus | findings (all fixed, in tests/fuzz/regressions) |",
            "|---|---|---|---|---|---|---|"]
    for name, h in d["harnesses"].items():
        found = ", ".join(f.split("-")[0] for f in h.get("findings", [])) or "none"
        rows.append(f"| {name} | {h['total_executions']:,} | {h['total_seconds']:,} | {h.get('exec_per_s', 0):,} | "
                    f"{h.get('edges', 0):,} | {h.get('corpus', 0):,} | {found} |")
    return "\n".join(rows)


def compare(d):
    rows = [f"| workload | {d['old']['commit']} (ms) | {d['new']['commit']} (ms) | new / old, median [min, max] of {d['passes']} passes | old's pass-to-pass spread |",
            "|---|---|---|---|---|"]
    for r in d["records"]:
        rows.append(f"| {r['workload'].replace('/real_time', '')} | {r['old_ms']:.3f} | {r['new_ms']:.3f} | "
                    f"{r['ratio_new_over_old']:.3f} [{r['ratio_min']:.2f}, {r['ratio_max']:.2f}] | {100 * r['old_pass_spread']:.0f}% |")
    return "\n".join(rows)


def corpus(d):
    shapes = lambda r: "; ".join(" + ".join("×".join(str(x) for x in dims) if dims else "()" for dims in sh) for sh in r.get("shapes", []))
    rows = ["| model | source | loads | shapes checked | max diff / scale | Vitrine ms | onnxruntime-web ms | ratio | onnxruntime-node ms | reason |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in d["records"]:
        diff = f"{r['relative_diff']:.1e}" if "relative_diff" in r else ""
        num = lambda k, f="{:.2f}": f.format(r[k]) if k in r else ""
        rows.append(f"| {r['model']} | {r['source']} | {'yes' if r['loads'] else 'no'} | {shapes(r)} | {diff} | {num('vitrine_ms')} | "
                    f"{num('ort_ms')} | {num('ratio')} | {num('ort_node_ms')} | {r.get('reason', '').replace('|', '/')[:120]} |")
    s = d["summary"]
    rows.append("")
    rows.append(f"{s['load']} of {s['models']} load, {s['match']} match both onnxruntimes (<= 1e-4 of the output scale, natively and in both "
                f"wasm variants; {s['two_shapes']} at two input shapes), {s['faster_than_ort']} faster than onnxruntime-web; largest "
                f"difference to onnxruntime-node {s['max_relative_diff_to_ort_node']:.1e} of the output scale.")
    return "\n".join(rows)


def vad(d):
    rows = ["| model | clip | rate | frames | speech segments (s) | = onnxruntime-node (±1 frame) | max prob diff | Vitrine ms/frame |",
            "|---|---|---|---|---|---|---|---|"]
    for r in d["records"]:
        segs = ", ".join(f"{a}-{b}" for a, b in r["segments"])
        rows.append(f"| {r['model']} | {r['clip']} | {r['rate']} | {r['frames']} | {segs} | {'yes' if r['same_segments'] else 'NO'} | "
                    f"{r['max_probability_diff']:.1e} | {r['vitrine_ms_per_frame']:.3f} |")
    s = d["summary"]
    rows.append("")
    rows.append(f"{s['same_segments']} of {s['runs']} clip runs give onnxruntime-node's segments; {s['segments']} segments; largest "
                f"probability difference {s['max_probability_diff']:.1e}.")
    return "\n".join(rows)


def tfjs_graph(d):
    rows = ["| model | weights | loads | max diff / scale (wasm simd, simd-threads) | Vitrine ms | TF.js wasm ms | ratio | reason |",
            "|---|---|---|---|---|---|---|---|"]
    for r in d["records"]:
        diff = f"{max(r['relative_diff'].values()):.1e}" if "relative_diff" in r else ""
        num = lambda k: f"{r[k]:.2f}" if k in r else ""
        rows.append(f"| {r['model']} | {r['weights']} | {'yes' if r['loads'] else 'no'} | {diff} | {num('vitrine_ms')} | {num('tfjs_wasm_ms')} | "
                    f"{num('ratio')} | {r.get('reason', '').replace('|', '/')[:110]} |")
    s = d["summary"]
    rows.append("")
    rows.append(f"{s['load']} of {s['models']} load, {s['match']} match TensorFlow.js 4.22 (<= 1e-4 of the output scale), "
                f"{s['faster']} faster than its wasm backend.")
    return "\n".join(rows)


def catalogue(d):
    mb = lambda b: f"{b / 1e6:.2f}"
    rows = ["| items | kind | dim | storage | file MB | gzip MB | load ms | engine MB | fold-in ms | rank top-100 ms (p10-p90) | rerank 200 ms |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in d["records"]:
        head = f"| {r['items']:,} | {r['kind']} | {r['dim']} | {r['storage']} | {mb(r['bytes'])} | {mb(r['gzip_bytes'])} |"
        if r.get("error"):
            rows.append(f"{head} error: {r['error'][:80]} | | | | |")
            continue
        rows.append(f"{head} {r['load_ms']:.0f} | {mb(r['engine_bytes'])} | {r['foldin']['median_ms']:.3f} | "
                    f"{r['rank']['median_ms']:.2f} ({r['rank']['p10_ms']:.2f}-{r['rank']['p90_ms']:.2f}) | {r['rerank']['median_ms']:.3f} |")
    return "\n".join(rows)


def eval_compact(d):
    return tables.compact_table(d)


def eval_cold_items(d):
    return tables.cold_items_table(d)


def eval_aspects(d):
    f = lambda x: "–" if x is None else f"{x:.2f}"
    ff = d["fine_food"]
    rows = [f"{ff['reviews']} Fine Food test reviews labelled by reading: micro-F1 {f(ff['micro']['f1'])} (precision "
            f"{f(ff['micro']['precision'])}, recall {f(ff['micro']['recall'])}), macro-F1 {f(ff['macro_f1'])}, aspect-sentiment "
            f"accuracy {f(ff['sentiment_accuracy'])} (n {ff['sentiment_n']}).", "",
            "| aspect | precision | recall | F1 | labelled | sentiment accuracy (n) |", "|---|---|---|---|---|---|"]
    for a, x in ff["aspects"].items():
        rows.append(f"| {a} | {f(x['precision'])} | {f(x['recall'])} | {f(x['f1'])} | {x['support']} | {f(x['sentiment_accuracy'])} ({x['sentiment_n']}) |")
    for g in d["agreement"]:
        rows += ["", f"Two independent labellings of {g['reviews']} reviews: Cohen's κ {f(g['discussed_all'])} for \"discussed\", "
                     f"{f(g['sentiment_all']['kappa'])} for the sentiment (n {g['sentiment_all']['n']}); one labeller scored against the "
                     f"other: micro-F1 {f(g['human_vs_human']['micro_f1'])}, sentiment accuracy {f(g['human_vs_human']['sentiment_accuracy'])}."]
    r = d.get("robustness")
    if r:
        rows += ["", f"Robustness set ({r['reviews']} reviews the team wrote): great/other accuracy {f(r['label_accuracy'])} (majority "
                     f"{f(r['majority_accuracy'])}); aspects micro-F1 {f(r['aspects']['micro']['f1'])}, sentiment accuracy "
                     f"{f(r['aspects']['sentiment_accuracy'])}.", "", "| phenomenon | reviews | great/other accuracy |", "|---|---|---|"]
        rows += [f"| {k} | {v['n']} | {f(v['accuracy'])} |" for k, v in r["by_phenomenon"].items()]
    return "\n".join(rows)


RENDER = {"compare": compare, "dense": dense, "mobilenet": mobilenet, "train": train, "onnx-conformance": conformance,
          "eval-recommend": eval_recommend, "recommend": recommend, "eval-tagger": eval_tagger, "tagger": tagger,
          "eval-reviews": eval_reviews, "reviews": reviews, "size": size, "fuzz": fuzz, "corpus": corpus, "vad": vad,
          "tfjs-graph": tfjs_graph, "catalogue": catalogue, "eval-compact": eval_compact, "eval-cold-items": eval_cold_items,
          "eval-aspects": eval_aspects}


def main():
    readme = open(os.path.join(ROOT, "README.md")).read()
    for name, render in RENDER.items():
        data = load(name)
        if data is None:
            continue
        date = data.get('date') or max((p.get('date', '') for h in data.get('harnesses', {}).values() for p in h.get('parts', [])), default='')
        stamp = f"_Measured {date[:16].replace('T', ' ')} UTC by `{data.get('command', data.get('generated_by', 'npm run fuzz -- all'))}`._"
        body = f"<!-- bench:{name} -->\n{stamp}\n\n{render(data)}\n<!-- /bench:{name} -->"
        readme = re.sub(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", lambda _: body, readme,
                        flags=re.S)
    open(os.path.join(ROOT, "README.md"), "w").write(readme)


if __name__ == "__main__":
    main()
