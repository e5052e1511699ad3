"""Screens the default's SFT over seeds and hyper-parameter arms before an hour-long CPU retrain.

    python3 -m training.screen_sft --seeds 4321,1,2,3 --arm new: --arm old:sft_steps=8000,reach_share=0.6 --device cuda

Every (arm, seed) trains make_default's SFT (the same data stream and initial weights: sft_setup) in
a spawned process of its own, and is validated every `--every` steps and at its end: greedy hard
thinking per named phrasing and on multiplication (make_default's phrasing_validation) and on the
validation questions of both tasks. One JSON line per validation goes to `--out` as it is measured,
so a run stopped at `--deadline` (a lent GPU's 10-minute call) keeps what it had; the table at the
end gives each run's last validation and, per arm, the median and the minimum over its seeds.

Why: the 1 M-parameter model's per-phrasing results moved a lot with the data stream (training/README:
the retrain probe that did not land), so one run says little about a configuration. On a GPU the runs
are not bit for bit the CPU's, but they draw the same data streams: a configuration that is good over
every seed there is worth the CPU's hour, and one seed's luck is not.
"""
import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time

from .make_default import FULL, SMOKE, phrasing_validation, run_sft, sft_setup, with_overrides  # sets the BLAS threads first
import torch  # noqa: E402  (after make_default, which sets the BLAS threads before torch loads)

from .data_parallel import die_with_parent  # noqa: E402
from .evaluate import pass_at_1  # noqa: E402
from .phrasings import named_phrasings  # noqa: E402
from .tasks import TASKS, generate  # noqa: E402


def arms(texts, base):
    """The arms of `--arm` texts over `base`, each SFT in one process: the screen puts runs side by side
    instead of halving each run's batches (`sft_procs` 2 needs a CPU and changes only the float sums)."""
    out = [parse_arm(t, dict(base, sft_procs=1)) for t in texts or ["base:"]]
    bad = [label for label, hp in out if hp["sft_procs"] != 1]
    if bad:
        raise ValueError(f"arms {bad}: the screen runs each SFT in one process (sft_procs 1); runs already go side by side")
    return out


def parse_arm(text, base):
    """`label:key=value,key=value` -> (label, hp): `base` with the overrides (typed like base's values)."""
    label, colon, sets = text.partition(":")
    if not label or not colon:
        raise ValueError(f"--arm {text!r}: give it a label, e.g. long:sft_steps=12000")
    try:
        return label, with_overrides(base, filter(None, sets.split(",")))
    except ValueError as e:
        raise ValueError(f"--arm {text!r}: {e}") from None


def validate(model, hp, seed):
    """make_default's phrasing validation, plus greedy pass@1 on each task's validation questions."""
    scores = phrasing_validation(model, hp, seed)
    for task in TASKS:
        scores[f"val_{task}"] = round(pass_at_1(model, generate(task, "val", hp["val_n"], seed), "hard",
                                                hp["think_budget"], hp["answer_budget"]), 4)
    return scores


def train_one(label, seed, hp, device, every, record, log=print):
    """Trains one (arm, seed) SFT and calls `record(row)` with each validation; returns the model."""
    _, model, train = sft_setup(hp, seed, device)
    t0 = time.time()

    def check(step):
        model.eval()
        row = {"arm": label, "seed": seed, "step": step, "wall_s": round(time.time() - t0, 1), **validate(model, hp, seed)}
        record(row)
        log(f"{label}/{seed} step {step}: {row}")

    # a line per 1000 steps (make_default's 25 would flood a screen of many runs)
    run_sft(model, train, hp, seed, every, on_checkpoint=check, log=lambda msg: log(f"{label}/{seed} {msg}"), log_every=1000)
    check(hp["sft_steps"])
    return model


def worker(label, seed, hp, device, every, out, parent_pid):
    die_with_parent(parent_pid)
    torch.set_num_threads(1)

    def record(row):
        with open(out, "a") as f:  # one short line per write, appended: the runs' lines never interleave
            f.write(json.dumps(row) + "\n")

    train_one(label, seed, hp, device, every, record, log=lambda m: print(m, flush=True))


def short(name):
    return name.replace("val_", "").replace("multiplication", "mult")[:9]


def table(rows):
    """Each run's last validation, then per arm the median and minimum over its seeds (percent)."""
    last = {}
    for r in rows:
        if r["step"] >= last.get((r["arm"], r["seed"]), {"step": -1})["step"]:
            last[(r["arm"], r["seed"])] = r
    if not last:
        return "no validation finished"
    keys = [*named_phrasings("arithmetic", held_out=False), *named_phrasings("arithmetic", held_out=True),
            "multiplication", *(f"val_{t}" for t in TASKS)]
    lines = ["| arm | seed | step | " + " | ".join(map(short, keys)) + " |", "|---" * (len(keys) + 3) + "|"]
    for (arm, seed), r in sorted(last.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        lines.append(f"| {arm} | {seed} | {r['step']} | " + " | ".join(f"{100 * r[k]:.0f}" for k in keys) + " |")
    for arm in sorted({a for a, _ in last}):
        runs = [r for (a, _), r in last.items() if a == arm]
        for what, f in (("median", statistics.median), ("min", min)):
            lines.append(f"| {arm} | {what} of {len(runs)} | | " + " | ".join(f"{100 * f([r[k] for r in runs]):.0f}" for k in keys) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="4321", help="comma-separated seeds (4321 is the committed default's)")
    ap.add_argument("--arm", action="append", default=[],
                    help="label:key=value,... hyper-parameters over make_default's FULL (repeatable; default base:)")
    ap.add_argument("--smoke", action="store_true", help="over make_default's SMOKE (a tiny model) instead of FULL")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--procs", type=int, default=os.cpu_count(), help="runs at a time")
    ap.add_argument("--every", type=int, default=2000, help="validate every this many SFT steps (and at the end)")
    ap.add_argument("--deadline", type=float, default=0, help="stop every run after this many seconds (0: none)")
    ap.add_argument("--out", default="training/runs/screen.jsonl", help="validations, one JSON line each, as they come")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    base = SMOKE if args.smoke else FULL
    try:
        screened = arms(args.arm, base)
        seeds = [int(s) for s in args.seeds.split(",") if s]
    except ValueError as e:
        ap.error(str(e))
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    open(args.out, "w").close()  # this screen's lines only
    runs = [(label, seed, hp) for label, hp in screened for seed in seeds]
    print(f"screen: {len(runs)} runs, {args.procs} at a time, on {args.device}; torch {torch.__version__}", flush=True)
    ctx = multiprocessing.get_context("spawn")  # CUDA cannot be forked
    pending, running, t0 = list(runs), [], time.time()
    while pending or running:
        while pending and len(running) < args.procs:
            label, seed, hp = pending.pop(0)
            p = ctx.Process(target=worker, args=(label, seed, hp, args.device, args.every, args.out, os.getpid()))
            p.start()
            running.append((label, seed, p))
        running[0][2].join(timeout=1)
        for label, seed, p in [r for r in running if not r[2].is_alive()]:
            if p.exitcode:
                print(f"screen: run {label}/{seed} failed (exit code {p.exitcode})", flush=True)
        running = [r for r in running if r[2].is_alive()]
        if args.deadline and time.time() - t0 > args.deadline:
            print(f"screen: deadline of {args.deadline:.0f} s; stopping {len(running)} runs, "
                  f"{len(pending)} not started", flush=True)
            for _, _, p in running:
                p.kill()
            break
    print(table([json.loads(line) for line in open(args.out)]))
    print(f"screen: done in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
