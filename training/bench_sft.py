"""`npm run bench:sft`: seconds per SFT step of the default model in one process and in two (data_parallel.py).

The default's hyper-parameters (make_default.FULL), a pool of its training data, one torch thread per
process. Rounds alternate the two set-ups, so that a noisy neighbour on the shared 2-core machine
slows both alike; each timing skips the first steps (the helper's start, the allocator warming up).
Prints every round, the medians and their ratio, and each set-up's loss after the same steps (the same
data and initial weights: they should agree closely).
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

from .data import mixed_pool  # noqa: E402
from .make_default import FULL  # noqa: E402
from .model import LlamaConfig, LlamaForCausalLM  # noqa: E402
from .sft import train_sft  # noqa: E402


def timed_run(procs, pool, skip, steps, hp):
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=hp["hidden"], intermediate_size=hp["ffn"], num_hidden_layers=hp["layers"],
                      num_attention_heads=hp["heads"], num_key_value_heads=hp["kv_heads"])
    model = LlamaForCausalLM(cfg)
    marks = []
    history = train_sft(model, pool, skip + steps, hp["sft_batch"], hp["sft_lr"], hp["sft_warmup"],
                        lr_floor=hp["sft_lr_floor"], log=lambda _: marks.append(time.time()), log_every=skip,
                        seed=1, copy_rows=hp["copy_rows"], copy_weight=hp["copy_weight"], procs=procs)
    # log lines come after steps skip, 2*skip, ..., and after the last step
    return (marks[-1] - marks[0]) / steps, history[-1]["loss"]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=40, help="timed steps per run")
    ap.add_argument("--skip", type=int, default=10, help="untimed steps at the start of each run")
    args = ap.parse_args()
    torch.set_num_threads(1)
    hp = FULL
    shares = {"reachability": hp["reach_share"], "arithmetic": 1 - hp["reach_share"]}
    pool = mixed_pool("train", (args.skip + args.steps) * hp["sft_batch"], 4321, shares)
    times = {1: [], 2: []}
    losses = {}
    for r in range(args.rounds):
        for procs in (1, 2):
            sec, loss = timed_run(procs, pool, args.skip, args.steps, hp)
            times[procs].append(sec)
            losses[procs] = loss
            print(f"round {r + 1}: {procs} process(es) {sec:.3f} s/step (loss after {args.skip + args.steps} steps {loss:.4f})",
                  flush=True)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"median s/step: 1 process {one:.3f}, 2 processes {two:.3f}; speed-up {one / two:.2f}x "
          f"({args.rounds} rounds of {args.steps} steps, batch {hp['sft_batch']} + {hp['copy_rows']} drill rows); "
          f"loss after {args.skip + args.steps} steps: {losses[1]:.4f} vs {losses[2]:.4f}")


if __name__ == "__main__":
    main()
