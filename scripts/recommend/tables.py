"""Markdown tables of the recommender evaluations' JSON, shared by the evaluations (stdout) and
scripts/readme_tables.py (README); plain Python, no numpy."""


def compact_table(out):
    """The compact-quality evaluation's table (compact_eval.py)."""
    lines = ["| kind | storage | bytes | gzip | test NDCG@100 | loss vs f32 | test Recall@20 | loss vs f32 | val NDCG@100 loss |",
             "|---|---|---|---|---|---|---|---|---|"]
    for kind, entries in out["kinds"].items():
        for name, e in entries.items():
            def pct(x):
                return f"{100 * x['mean']:+.2f}%" + (f" ± {100 * x['stderr']:.2f}" if x['stderr'] is not None else "")
            lines.append(f"| {kind} | {name} | {e['bytes']:,} | {e['gzip']:,} | {e['test_ndcg@100']['mean']:.4f} | "
                         f"{pct(e['test_ndcg@100_rel_loss'])} | {e['test_recall@20']['mean']:.4f} | "
                         f"{pct(e['test_recall@20_rel_loss'])} | {pct(e['val_ndcg@100_rel_loss'])} |")
    return "\n".join(lines)


def cold_items_table(out):
    """The cold-items evaluation's table (cold_eval.py)."""
    def f(x):
        return f"{x['mean']:.4f}" + (f" ± {x['stderr']:.4f}" if x["stderr"] is not None else "")
    lines = ["| ranked among the new items | NDCG@100 | Recall@20 |", "|---|---|---|"]
    for n, d in out["new_only"].items():
        lines.append(f"| {n} | {f(d['ndcg@100'])} | {f(d['recall@20'])} |")
    lines += ["", f"cold / warm NDCG@100 (new items only): {f(out['cold_over_warm_ndcg@100'])}", "",
              "| whole catalogue | NDCG@100 on new targets | new items' share of top-10 slots |", "|---|---|---|"]
    for n, d in out["catalogue"].items():
        lines.append(f"| {n} | {f(d['ndcg@100'])} | {f(d['top10_new_share'])} |")
    return "\n".join(lines)
