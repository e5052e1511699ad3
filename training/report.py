"""Print a checkpoint's evaluation table (the paper's Table 1 layout) as Markdown.

    python3 -m training.report models/reverie-reason-3m/reverie.json
"""
import json
import sys

INFERENCE = ("hard", "soft", "fuzzy")


def table(manifest):
    rows = manifest["evaluation"]
    tasks = sorted({r["task"] for r in rows}, key=lambda t: [r["task"] for r in rows].index(t))
    variants = sorted({r["variant"] for r in rows}, key=lambda v: [r["variant"] for r in rows].index(v))
    cell = {(r["task"], r["variant"], r["inference"]): r for r in rows}
    out = []
    for task in tasks:
        n = next(r["n"] for r in rows if r["task"] == task)
        out.append(f"**{task}** (n = {n} test questions; pass@1 greedy / pass@32 sampled)\n")
        out.append("| training \\ inference | " + " | ".join(INFERENCE) + " |")
        out.append("|---|" + "---|" * len(INFERENCE))
        for v in variants:
            cells = []
            for inf in INFERENCE:
                r = cell.get((task, v, inf))
                cells.append("–" if r is None else f"{100 * r['pass_at_1']:.1f} / {100 * r['pass_at_32']:.1f}")
            out.append(f"| {v} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        print(table(json.load(f)))
