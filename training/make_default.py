"""One command that makes the default reasoning checkpoint (fixed seeds).

    python3 -m training.make_default --out models/reverie-reason-3m

SFT on chain-of-thought traces, then RLOO from the SFT weights for each variant (hard, soft,
fuzzy), choose the best by validation pass@1 (hard-greedy, the default serving mode), evaluate
everything on the held-out test set, write the checkpoint, its manifest and the test fixtures.
`--all-variants DIR` also writes every other variant as a checkpoint under DIR.
"""
import argparse
import copy
import hashlib
import json
import os
import platform
import random
import time

import torch

from . import checkpoint as C
from .data import mixed_pool
from .evaluate import pass_at_1, pass_at_k
from .model import LlamaConfig, LlamaForCausalLM, parameter_count
from .rl import train_rl
from .sft import train_sft
from .tasks import TASKS, generate
from .tokenizer import training_text

FULL = dict(hidden=256, layers=4, heads=8, kv_heads=2, ffn=768, sft_steps=2000, sft_batch=32, sft_lr=1e-3,
            sft_warmup=30, rl_steps=80, rl_prompts=8, rl_group=8, rl_lr=5e-5, rl_warmup=5, think_budget=64,
            answer_budget=10, val_n=200, test_n=200, k=32, k_n=50)
SMOKE = dict(FULL, hidden=64, layers=2, heads=2, kv_heads=1, ffn=128, sft_steps=30, sft_batch=8, rl_steps=2,
             rl_prompts=2, rl_group=4, val_n=8, test_n=4, k=4, k_n=2, think_budget=24)
INFERENCE = ("hard", "soft", "fuzzy")


def log(msg, _t0=time.time()):
    print(f"[{time.time() - _t0:7.1f}s] {msg}", flush=True)


def evaluate_all(model, variant, test, hp, seed):
    """pass@1 (greedy) on every test question; pass@k on the first `k_n` of them (k rollouts each)."""
    rows = []
    for task in TASKS:
        exs = [e for e in test if e.task == task]
        for inf in INFERENCE:
            p1 = pass_at_1(model, exs, inf, hp["think_budget"], hp["answer_budget"], seed)
            pk, mean_sampled = pass_at_k(model, exs[:hp["k_n"]], inf, hp["k"], hp["think_budget"],
                                         hp["answer_budget"], seed)
            rows.append({"task": task, "variant": variant, "inference": inf, "pass_at_1": round(p1, 4),
                         "pass_at_32": round(pk, 4), "n": len(exs), "n_pass_at_32": min(len(exs), hp["k_n"]),
                         "mean_sampled_accuracy": round(mean_sampled, 4)})
            log(f"test {variant:9s} {task:12s} {inf:5s} pass@1 {p1:.3f} pass@{hp['k']} {pk:.3f} "
                f"(mean sampled {mean_sampled:.3f})")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models/reverie-reason-3m")
    ap.add_argument("--name", default=None, help="checkpoint name (default: the folder name)")
    ap.add_argument("--fixtures", default="test/fixtures", help="where the logits / test-set fixtures go ('' = none)")
    ap.add_argument("--variants", default="hard,soft,fuzzy", help="RL variants to train")
    ap.add_argument("--all-variants", default=None, help="also write every variant's checkpoint under this folder")
    ap.add_argument("--smoke", action="store_true", help="tiny model and schedule (a minute)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cuda (results differ from CPU in the last bits)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; 1 is fastest on a shared 2-core machine (OpenMP waits dominate small ops)")
    ap.add_argument("--work", default=None, help="scratch folder for the SFT weights (default training/runs/NAME)")
    ap.add_argument("--reuse-sft", action="store_true", help="reuse saved SFT weights of the same seed and hp")
    ap.add_argument("--set", action="append", default=[], help="override a hyper-parameter, e.g. --set rl_steps=40")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    hp = dict(SMOKE if args.smoke else FULL)
    for kv in args.set:
        k, v = kv.split("=", 1)
        hp[k] = type(hp[k])(v)
    name = args.name or os.path.basename(os.path.normpath(args.out))
    t_start = time.time()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    log(f"torch {torch.__version__} threads {torch.get_num_threads()} hp {json.dumps(hp)}")

    train = mixed_pool("train", hp["sft_steps"] * hp["sft_batch"] // 2 + 1000, args.seed)
    val = [e for t in TASKS for e in generate(t, "val", hp["val_n"], args.seed)]
    test = [e for t in TASKS for e in generate(t, "test", hp["test_n"], args.seed)]
    cfg = LlamaConfig(hidden_size=hp["hidden"], intermediate_size=hp["ffn"], num_hidden_layers=hp["layers"],
                      num_attention_heads=hp["heads"], num_key_value_heads=hp["kv_heads"])
    model = LlamaForCausalLM(cfg).to(args.device)
    log(f"model {parameter_count(model)} parameters; train pool {len(train)}, val {len(val)}, test {len(test)}")

    t0 = time.time()
    work = args.work or os.path.join("training", "runs", name)
    sft_hp = {k: hp[k] for k in ("hidden", "layers", "heads", "kv_heads", "ffn", "sft_steps", "sft_batch", "sft_lr",
                                 "sft_warmup")}
    digest = hashlib.sha256(json.dumps(sft_hp, sort_keys=True).encode()).hexdigest()[:10]
    sft_path = os.path.join(work, f"sft-{args.seed}-{digest}.pt")
    if args.reuse_sft and os.path.exists(sft_path):
        saved = torch.load(sft_path, map_location=args.device)
        model.load_state_dict(saved["state"])
        sft_hist, times = saved["history"], {"sft_s": saved["sft_s"], "sft_reused": True}
        log(f"reused SFT weights from {sft_path}")
    else:
        sft_hist = train_sft(model, train, hp["sft_steps"], hp["sft_batch"], hp["sft_lr"], hp["sft_warmup"], log=log)
        times = {"sft_s": round(time.time() - t0)}
        os.makedirs(work, exist_ok=True)
        torch.save({"state": model.state_dict(), "history": sft_hist, "sft_s": times["sft_s"]}, sft_path)
        log(f"saved SFT weights to {sft_path}")
    model.eval()
    models, histories = {"sft": model}, {"sft": sft_hist}
    rl_pool = mixed_pool("train", 4000, args.seed + 1)
    for i, variant in enumerate(v for v in args.variants.split(",") if v):
        t0 = time.time()
        torch.manual_seed(args.seed + 10 + i)
        m = copy.deepcopy(model)
        histories[f"rl-{variant}"] = train_rl(
            m, rl_pool, variant, hp["rl_steps"], hp["rl_prompts"], hp["rl_group"], hp["rl_lr"], hp["rl_warmup"],
            args.seed + 100 + i, hp["think_budget"], hp["answer_budget"], log=log)
        models[f"rl-{variant}"] = m
        times[f"rl_{variant}_s"] = round(time.time() - t0)

    t0 = time.time()
    val_scores = {}
    for variant, m in models.items():
        per_task = {t: pass_at_1(m, [e for e in val if e.task == t], "hard", hp["think_budget"], hp["answer_budget"])
                    for t in TASKS}
        val_scores[variant] = {"mean": round(sum(per_task.values()) / len(per_task), 4),
                               **{t: round(s, 4) for t, s in per_task.items()}}
        log(f"validation {variant}: {val_scores[variant]}")
    preference = ["rl-soft", "rl-fuzzy", "rl-hard", "sft"]  # tie-break order
    best = max(models, key=lambda v: (val_scores[v]["mean"], -preference.index(v) if v in preference else -99))
    log(f"default variant by validation: {best}")
    times["validation_s"] = round(time.time() - t0)

    t0 = time.time()
    evaluation = []
    for variant, m in models.items():
        evaluation += evaluate_all(m, variant, test, hp, args.seed)
    times["test_evaluation_s"] = round(time.time() - t0)
    times["total_s"] = round(time.time() - t_start)

    def training_info(variant):
        return {
            "method": "sft" if variant == "sft" else f"sft+rloo-{variant.split('-')[1]}",
            "command": "python3 -m training.make_default --out " + args.out + (" --smoke" if args.smoke else ""),
            "variant": variant, "default_variant": best, "seed": args.seed, "hyperparameters": hp,
            "rl": {"algorithm": "RLOO", "noise_gamma": 0.33, "tau": {"hard": 1.0, "soft": 0.5, "fuzzy": 1e-4},
                   "reward": {"correct": 100, "well_formed": 10, "else": 0}, "optimizer": "AdamW",
                   "schedule": "linear warm-up + cosine"},
            "tasks": list(TASKS), "validation_pass_at_1_hard_greedy": val_scores,
            "loss_history": histories, "wall_time_s": times, "parameters": parameter_count(model),
            "machine": f"{platform.machine()} {os.cpu_count()} cpus, torch {torch.__version__}, {args.threads} thread(s)",
            "evaluation_note": f"test split, n questions per task; pass_at_1 = greedy thinking+answer on all n; "
                               f"pass_at_32 = any of {hp['k']} sampled rollouts correct, on the first n_pass_at_32 "
                               f"questions (thinking tau hard 1.0 / soft 0.5+noise / fuzzy 1e-4+noise, "
                               f"answer tau 1.0); thinking budget {hp['think_budget']}",
        }

    defaults = {"temperature": 0, "top_p": 1, "max_tokens": 256, "thinking_mode": "hard",
                "thinking_max_tokens": hp["think_budget"]}

    def describe(variant):
        return (f"{parameter_count(model) / 1e6:.1f}M-parameter Llama trained by reverie's training/ from scratch on "
                f"synthetic reachability and arithmetic with chain-of-thought SFT"
                + ("" if variant == "sft" else f" then RLOO with {variant.split('-')[1]} thinking (Soft Tokens, Hard Truths)")
                + f"; answers questions like 'Compute 345+78.' or 'Edges: a>b b>c. Root a. Reachable: c or d?'.")

    manifest = C.save_checkpoint(models[best], args.out, name, describe(best), training_info(best), evaluation, defaults)
    log(f"wrote {args.out} ({os.path.getsize(os.path.join(args.out, 'model.safetensors')) / 1e6:.1f} MB weights)")
    if args.all_variants:
        for variant, m in models.items():
            if variant != best:
                folder = os.path.join(args.all_variants, f"{name}-{variant}")
                C.save_checkpoint(m, folder, f"{name}-{variant}", describe(variant), training_info(variant),
                                  evaluation, defaults)
                log(f"wrote {folder}")
    if args.fixtures:
        os.makedirs(args.fixtures, exist_ok=True)
        sample = [e for t in TASKS for e in [x for x in test if x.task == t][:50]]
        C.write_testset_fixture(os.path.join(args.fixtures, f"{name}-testset.jsonl"), sample)
        texts = ["<|im_start|>user\nCompute 12+34.<|im_end|>\n<|im_start|>assistant\n<think>",
                 C.tok.prompt_text(test[-1].question),
                 training_text(test[0].question, test[0].cot, test[0].answer)]
        C.write_logits_fixture(models[best], os.path.join(args.fixtures, f"{name}-logits.json"), name, texts)
        log(f"wrote fixtures under {args.fixtures}")
    log(f"done in {time.time() - t_start:.0f}s; default {best}; manifest evaluation rows {len(manifest['evaluation'])}")


if __name__ == "__main__":
    main()
