"""Write the evaluation sets `reverie eval` reads (evals/*.jsonl) from the training generators.

    python3 -m training.export_evals [--out evals]

Test split only (problems never trained on in any phrasing), fixed seed, so the files are the
same on every run (a test checks it). One `{"question", "answer", "group"}` object per line:

- reachability.jsonl: test questions in the training phrasings (group "trained phrasings");
- arithmetic.jsonl: the same for arithmetic (additions and multiplications, 1-4 digits);
- arithmetic-phrasings.jsonl: fresh 3-digit additions in each of the six phrasings of issue 11
  (trained) and in the held-out phrasings (never trained); the group names the phrasing;
- reachability-phrasings.jsonl: the classic phrasing and the held-out ones;
- arithmetic-4digit.jsonl: the hardest problems of the training distribution, 4-digit + 4-digit
  additions and 4-digit × 1-digit multiplications, alternating (so the first n of the file are half
  each), in random training phrasings: the committed default's pass@32 under hard thinking is 98.5%
  on them (100 on the mixed test set), so the RL variants' pass@32 can differ.
"""
import argparse
import json
import os

from . import phrasings as P
from .tasks import generate

SEED = 20261202
COUNTS = {"reachability": 500, "arithmetic": 500}
PER_PHRASING = 100
HARD_COUNT = 100  # of each kind in arithmetic-4digit.jsonl


def rows(examples, group):
    return [{"question": e.question, "answer": e.answer, "group": group} for e in examples]


def eval_sets():
    sets = {f"{task}.jsonl": rows(generate(task, "test", n, SEED), "trained phrasings") for task, n in COUNTS.items()}
    out = []
    for held_out in (False, True):
        for name in P.named_phrasings("arithmetic", held_out):
            exs = generate("arithmetic", "test", PER_PHRASING, SEED, phrasing=name, op="+", digits=(3, 3))
            out += rows(exs, f"{'held-out' if held_out else 'trained'}: {name}")
    sets["arithmetic-phrasings.jsonl"] = out
    out = []
    for held_out in (False, True):
        for name in P.named_phrasings("reachability", held_out):
            exs = generate("reachability", "test", PER_PHRASING, SEED, phrasing=name)
            out += rows(exs, f"{'held-out' if held_out else 'trained'}: {name}")
    sets["reachability-phrasings.jsonl"] = out
    adds = rows(generate("arithmetic", "test", HARD_COUNT, SEED + 1, op="+", digits=(4, 4)), "4-digit + 4-digit")
    muls = rows(generate("arithmetic", "test", HARD_COUNT, SEED + 2, op="*", digits=(4,)), "4-digit × 1-digit")
    sets["arithmetic-4digit.jsonl"] = [row for pair in zip(adds, muls) for row in pair]
    return sets


def write(folder):
    os.makedirs(folder, exist_ok=True)
    for name, items in eval_sets().items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            for row in items:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="evals")
    write(ap.parse_args().out)
