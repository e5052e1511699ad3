"""One command that makes the default reasoning checkpoint (fixed seeds), and with `--rl hard,soft,fuzzy`
the comparison variants of "Soft Tokens, Hard Truths" (and soft RL with Dirichlet noise) as well.

    python3 -m training.make_default --out models/reverie-reason-1m                  # ~67 min on 2 CPU cores
    python3 -m training.make_default --out models/reverie-reason-1m --rl hard,soft,fuzzy   # the comparison too: ~75 min

1. SFT on chain-of-thought traces of both tasks in many phrasings            -> variant `sft`
2. the Coconut stage curriculum for reachability from it (continuous thought) -> variant `latent`
3. RLOO with hard (and with --rl soft / fuzzy / soft-dirichlet) thinking from the `latent` weights -> `rl-hard`,
   `rl-soft`, `rl-fuzzy`, `rl-soft-dirichlet`
4. choose the default by validation pass@1 under hard-greedy decoding (the server's default),
   write it to --out, every variant to --variants, the test fixtures and the evaluation sets.

The published evaluation (the manifest's `evaluation` and models/README.md) is measured through
the server afterwards by `npm run eval:models` (src/eval/publish.ts); this command only validates.
"""
import argparse
import copy
import hashlib
import json
import multiprocessing
import os
import platform
import random
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor

# One BLAS thread unless asked otherwise: with OpenBLAS's own threads the "1 thread" run used more
# than a core on the shared machine (CPU time above wall time). Must be set before torch loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

from . import CPU_CORETYPE
from . import checkpoint as C
from . import export_evals
from .data import mixed_pool
from .data_parallel import cpu_seconds, die_with_parent
from .evaluate import pass_at_1
from .latent import train_latent
from .model import LlamaConfig, LlamaForCausalLM, parameter_count
from .phrasings import named_phrasings
from .rl import DIRICHLET_ALPHA, DIRICHLET_TOP_K, VARIANT_MODES, train_rl
from .sft import load_resume_state, train_sft
from .tasks import DATA_VERSION, TASKS, generate
from .tokenizer import training_text

FULL = dict(hidden=128, layers=4, heads=4, kv_heads=4, ffn=512,
            # 12000 steps, half of the examples arithmetic (was 8000 and 0.6 reachability): over four seeds
            # of a GPU screen (training.screen_sft, training/README.md) every held-out phrasing, multiplication
            # and reachability reached 94-100% in three, where the old schedule lost reachability (25, 44%)
            # or a phrasing (44%) in half of them
            sft_steps=12000, sft_batch=32, sft_lr=2e-3, sft_lr_floor=0.025, sft_warmup=100, reach_share=0.5, copy_rows=8, copy_weight=0.5,
            # SFT processes: 2 has a helper process compute half of every batch on the second core
            # (data_parallel.py), 1.9 times as fast as 1 (npm run bench:sft); the same training, not the same bits
            sft_procs=2,
            # the SFT's reachability gate: below `sft_gate` greedy validation, the SFT goes on for `sft_more_steps`
            # on batches `sft_more_share` reachability, at peak lr `sft_more_lr`. The same command under other
            # OpenBLAS kernels ended its SFT at 67.3%: it copied adjacency entries but never learned to stop at
            # the candidate (38 of its 49 misses); gated, its SFT reached 92.7% and its default 99% reachability
            # through the server, against 89 (training/README.md). The committed weights' SFT validated at 99.3%,
            # so the gate leaves them as they were
            sft_gate=0.9, sft_more_steps=3000, sft_more_lr=1e-3, sft_more_share=0.8,
            # the latent stage: 2000 steps at lr 1e-3, 70% of the batches reachability, 30% of its examples the
            # plain chain of thought (was 300 steps at 1.5e-4, half arithmetic, half plain: ~75 batches of
            # thoughts over five stages, after which latent thinking stayed at chance, 45-51%; a probe from the
            # same SFT weights reached 90% on validation, training/README.md)
            latent_steps=2000, latent_batch=32, latent_lr=1e-3, latent_warmup=20, latent_stages=5,
            latent_other_share=0.3, latent_aux=0.0, latent_keep_cot=0.3,
            # soft / fuzzy RL have their own learning rate: their Gaussian thinking actions make the gradient
            # far noisier than hard RL's (norms 76-279 against 6-9). The same rate as hard RL, as in the
            # paper; the lower rates probed (training/README.md) kept the weights but never raised the reward.
            # 3e-5 (was 1e-4): hard RL starts from ~96% right rollouts, and at 1e-4 it drifted off an untrained
            # phrasing (added-to 96 -> 81-92% in four runs, two with a KL or SFT-replay term) for no validation
            # gain; at 3e-5 96-99% (two runs)
            # RL's prompts: 200 per task, each drawn ~5 times over the 500 steps (was 4000 per task: 2000
            # draws from 8000 prompts met a prompt a quarter of a time on average). The rollouts' misses are
            # prompt-specific misreadings of the question, and on prompts it rarely met twice RL did not
            # lower them: with the larger pool the right share of a fixed set of its training prompts stayed
            # at 92.8 -> 92.7% (arithmetic) even at 4x the prompts per step or lr 1e-4; from 400 prompts it
            # rose 89.8 -> 97.2% (training/README.md)
            rl_pool=200,
            rl_steps=500, rl_prompts=4, rl_group=8, rl_lr=3e-5, rl_soft_lr=3e-5, rl_warmup=5, rl_gamma=0.1,
            think_budget=64, answer_budget=10, val_n=150, val_phrasing_n=50,
            save_every=300)
SMOKE = dict(FULL, hidden=64, layers=2, heads=2, kv_heads=1, ffn=128, sft_steps=30, sft_batch=8, sft_procs=1, sft_gate=0.0, sft_more_steps=10,
             latent_steps=10, save_every=10, latent_batch=8, rl_steps=2, rl_prompts=2, rl_group=4, val_n=8, val_phrasing_n=4, think_budget=24)
# hard, soft, fuzzy, soft-dirichlet (training/rl.py); a variant's seeds follow its place here, so new
# variants go at the end
RL_VARIANTS = tuple(VARIANT_MODES)
SFT_KEYS = ("hidden", "layers", "heads", "kv_heads", "ffn", "sft_steps", "sft_batch", "sft_lr", "sft_lr_floor", "sft_warmup",
            "reach_share", "copy_rows", "copy_weight", "sft_procs")
# hyper-parameters added after weights were cached, at the value those weights were trained with: left
# out of the stage digest at that value, so the cached stages keep their names
DIGEST_OMITS = {"sft_procs": 1}
# the continuation's: they name the stages after the SFT only when the gate sent the SFT on (`after_sft_keys`), so
# the weights of a run whose SFT passed keep their names. Not `sft_gate`: the threshold decides whether the
# continuation runs, not what it trains, so another threshold that also sends the SFT on reuses it
MORE_KEYS = ("sft_more_steps", "sft_more_lr", "sft_more_share")
LATENT_KEYS = SFT_KEYS + ("latent_steps", "latent_batch", "latent_lr", "latent_warmup", "latent_stages",
                          "latent_other_share", "latent_aux", "latent_keep_cot")
RL_KEYS = LATENT_KEYS + ("rl_pool", "rl_steps", "rl_prompts", "rl_group", "rl_lr", "rl_soft_lr", "rl_warmup", "rl_gamma", "think_budget",
                         "answer_budget")


def rl_lr(hp, variant):
    """Peak learning rate of an RL variant: `rl_lr` for hard thinking, `rl_soft_lr` for soft and fuzzy."""
    return hp["rl_lr"] if variant == "hard" else hp["rl_soft_lr"]


LOG_START = time.time()


def log(msg, _t0=None, _c0=cpu_seconds()):
    """A line with the wall seconds since the run began (`_t0`: an RL worker passes its parent's start)
    and this process's CPU seconds."""
    print(f"[{time.time() - (_t0 or LOG_START):7.1f}s wall {cpu_seconds() - _c0:7.1f}s cpu] {msg}", flush=True)


class Clock:
    """Wall and CPU seconds of each stage (the machine may be shared: CPU time is the fair figure)."""

    def __init__(self):
        self.times = {}
        self.reused = {}  # stage -> {"wall", "cpu"} seconds of the run that trained the reused weights
        self.prior = {}  # stage -> {"wall", "cpu"} seconds an interrupted run spent on it before this one resumed it

    def stage(self, name):
        clock = self

        class _Stage:
            def __enter__(self):
                self.w, self.c = time.time(), cpu_seconds()

            def __exit__(self, *exc):
                clock.record(name, time.time() - self.w, cpu_seconds() - self.c)

        return _Stage()

    def record(self, name, wall, cpu):
        """A stage's time: what this run spent (`wall`, `cpu`), plus what an interrupted run spent on it
        before; or, for reused weights, what the run that trained them spent."""
        saved = self.reused.get(name)
        before = self.prior.get(name, {"wall": 0, "cpu": 0})
        self.times[f"{name}_wall_s"] = saved["wall"] if saved else round(before["wall"] + wall)
        self.times[f"{name}_cpu_s"] = saved["cpu"] if saved else round(before["cpu"] + cpu)


def stage_digest(hp, keys):
    """What names a stage's saved weights: its hyper-parameters (and the earlier stages') and the data version."""
    stamp = {**{k: hp[k] for k in keys if DIGEST_OMITS.get(k, object()) != hp[k]}, "data": DATA_VERSION}
    return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:10]


def interrupted_time(state_path, reuse, clock, stage):
    """The time an interrupted run of `stage` spent before saving `state_path` (recorded in `clock`, so
    the manifest counts it), when `reuse` continues it; a fresh run deletes that state instead."""
    if not reuse and os.path.exists(state_path):
        os.remove(state_path)
    saved = load_resume_state(state_path)
    if saved is None:
        return {"wall": 0, "cpu": 0}
    if clock is not None:
        clock.prior[stage] = saved["time_s"]
    return saved["time_s"]


def cached(work, prefix, seed, hp, keys, train, model, reuse, device, clock=None, resumable=False):
    """Runs `train(model)` or, with `reuse`, loads the weights a run with the same seed and `keys` saved.
    The stage's wall and CPU seconds are saved with the weights; a reuse reports those (into `clock`),
    so the manifest gives what the stage costs, not the second it took to load.
    A `resumable` stage is called as `train(model, state_path)`: it saves its state there as it goes,
    and with `reuse` an interrupted run continues from it (its time so far counts in the stage's)."""
    path = os.path.join(work, f"{prefix}-{seed}-{stage_digest(hp, keys)}.pt")
    if reuse and os.path.exists(path):
        saved = torch.load(path, map_location=device)
        model.load_state_dict(saved["state"])
        log(f"reused {prefix} weights from {path}")
        if clock is not None and "time_s" in saved:
            clock.reused[prefix] = saved["time_s"]
        return saved["history"], True
    w, c = time.time(), cpu_seconds()
    prior = {"wall": 0, "cpu": 0}
    if resumable:
        state_path = path[:-len(".pt")] + ".partial.pt"
        prior = interrupted_time(state_path, reuse, clock, prefix)
        os.makedirs(work, exist_ok=True)
        history = train(model, state_path)
        if os.path.exists(state_path):
            os.remove(state_path)
    else:
        history = train(model)
    os.makedirs(work, exist_ok=True)
    spent = {"wall": round(prior["wall"] + time.time() - w), "cpu": round(prior["cpu"] + cpu_seconds() - c)}
    torch.save({"state": model.state_dict(), "history": history, "time_s": spent}, path)
    log(f"saved {prefix} weights to {path}")
    return history, False


def default_times(times, rl):
    """`default_wall_s` / `default_cpu_s`: what the default checkpoint's own command (`--rl hard`)
    costs, the run's total without the comparison variants trained alongside (`--rl hard,soft,fuzzy`);
    nothing when the run did not train rl-hard (its total is then no run of that command)."""
    variants = [v for v in rl.split(",") if v]
    if "hard" not in variants:
        return {}
    # wall: the RL stage gives way to rl-hard's own time (the variants may have run side by side);
    # CPU: every variant's CPU counts, so the others' come off
    return {"default_wall_s": times["total_wall_s"] - times["rl_variants_wall_s"] + times["rl_hard_wall_s"],
            "default_cpu_s": times["total_cpu_s"] - sum(times[f"rl_{v}_cpu_s"] for v in variants if v != "hard")}


def with_overrides(hp, pairs):
    """`hp` with `key=value` overrides (`--set`, screen_sft's arms), each typed like the value it replaces."""
    out = dict(hp)
    for kv in pairs:
        key, eq, value = kv.partition("=")
        if not eq or key not in hp:
            raise ValueError(f"{kv!r} is not key=value with a hyper-parameter of make_default's FULL")
        out[key] = type(hp[key])(value)
    return out


def sft_setup(hp, seed, device):
    """(config, freshly initialised model, training pool) of the SFT for `seed`: the data stream and
    initial weights that make_default trains and training.screen_sft screens. The data generators
    have random states of their own, so only `torch.manual_seed` here decides the initial weights."""
    shares = {"reachability": hp["reach_share"], "arithmetic": 1 - hp["reach_share"]}
    train = mixed_pool("train", hp["sft_steps"] * hp["sft_batch"] // 2 + 1000, seed, shares)
    cfg = LlamaConfig(hidden_size=hp["hidden"], intermediate_size=hp["ffn"], num_hidden_layers=hp["layers"],
                      num_attention_heads=hp["heads"], num_key_value_heads=hp["kv_heads"])
    torch.manual_seed(seed)
    return cfg, LlamaForCausalLM(cfg).to(device), train


def run_sft(model, train, hp, seed, checkpoint_every, resume_path=None, on_checkpoint=None, log=log, log_every=25):
    """The SFT stage with `hp`'s schedule (train_sft); `on_checkpoint(step)` every `checkpoint_every` steps."""
    return train_sft(model, train, hp["sft_steps"], hp["sft_batch"], hp["sft_lr"], hp["sft_warmup"],
                     lr_floor=hp["sft_lr_floor"], log=log, log_every=log_every, seed=seed, checkpoint_every=checkpoint_every,
                     resume_path=resume_path, copy_rows=hp["copy_rows"], copy_weight=hp["copy_weight"],
                     procs=hp["sft_procs"], on_checkpoint=on_checkpoint)


def run_sft_more(model, hp, seed, resume_path=None, log=log):
    """The SFT's continuation when its reachability fell short of the gate: `sft_more_steps` steps on a pool
    `sft_more_share` reachability (a data stream of its own, seed + 7), warm-up 20, cosine to a tenth of
    `sft_more_lr`, the copy drill as in the SFT."""
    shares = {"reachability": hp["sft_more_share"], "arithmetic": 1 - hp["sft_more_share"]}
    pool = mixed_pool("train", hp["sft_more_steps"] * hp["sft_batch"] // 2 + 1000, seed + 7, shares)
    return train_sft(model, pool, hp["sft_more_steps"], hp["sft_batch"], hp["sft_more_lr"], 20, lr_floor=0.1,
                     log=lambda line: log(line.replace("sft step", "sft-more step", 1)), seed=seed + 7,
                     checkpoint_every=hp["save_every"], resume_path=resume_path, copy_rows=hp["copy_rows"],
                     copy_weight=hp["copy_weight"], procs=hp["sft_procs"])


def reach_validation(model, examples, hp):
    """Greedy reachability validation (hard thinking), the SFT gate's measure; leaves the model in eval mode.
    Greedy decoding draws from a generator of its own, and the latent stage seeds torch before it starts."""
    model.eval()
    return round(pass_at_1(model, examples, "hard", hp["think_budget"], hp["answer_budget"]), 4)


def after_sft_keys(gate):
    """The continuation's keys when it ran (`gate["continued"]`), to be added to the later stages' keys."""
    return MORE_KEYS if gate["continued"] else ()


def phrasing_validation(model, hp, seed):
    """Greedy hard-thinking accuracy of `model` on `val_phrasing_n` fresh 3-digit additions (validation
    split) in each named phrasing, trained and held-out, and on as many multiplications in the trained
    phrasings: what `npm run eval:models` later publishes, in seconds. Run on the SFT as soon as it is
    trained and on the chosen default, so that a run that learned one phrasing and lost another, or lost
    multiplication (training/README.md: the probe that did not land), shows it in its log at the SFT's
    end rather than after the whole run."""
    def accuracy(examples):
        return round(pass_at_1(model, examples, "hard", hp["think_budget"], hp["answer_budget"]), 4)

    n = hp["val_phrasing_n"]
    names = [*named_phrasings("arithmetic", held_out=False), *named_phrasings("arithmetic", held_out=True)]
    scores = {name: accuracy(generate("arithmetic", "val", n, seed, phrasing=name, op="+", digits=(3, 3)))
              for name in names}
    scores["multiplication"] = accuracy(generate("arithmetic", "val", n, seed, op="*"))
    return scores


def copy_warning(history, last=8, formed_below=1.0):
    """A warning when the SFT never learned to copy by content, else None. The copy drill's loss falls
    from about 2.6 to below 0.3 within a few hundred steps when the induction head forms (steps
    2700-4500 in the runs so far); in a run where it never formed it stayed at 2.4-2.6 to the end,
    and reachability validated at 74% against 96-99% (training/README.md, data version 4's first try). The mean
    over the last `last` log entries rides over one noisy entry."""
    copy = [h["copy"] for h in history[-last:] if "copy" in h]
    mean = sum(copy) / len(copy) if copy else 0.0  # no drill (copy_rows 0): nothing to warn of
    if mean < formed_below:
        return None
    return (f"WARNING: the SFT's copy drill loss is {mean:.2f} at its end (below {formed_below} "
            "once the copy forms): the model never learned to copy by content, so reachability will stay far "
            "below the committed weights' (training/README.md: what hindered the copy before)")


def train_rl_variant(model, pool, variant, hp, seed, state, log=log):
    """RLOO of one variant from the latent weights in `model`, with the seeds of the variant (not of its
    place in --rl), continuing an interrupted run's `state`: returns (history, {"wall", "cpu"} seconds
    this process spent). The same weights in-process or in an RL worker process."""
    i = RL_VARIANTS.index(variant)
    torch.manual_seed(seed + 10 + i)
    w, c = time.time(), time.process_time()
    history = train_rl(model, pool, variant, hp["rl_steps"], hp["rl_prompts"], hp["rl_group"], rl_lr(hp, variant),
                       hp["rl_warmup"], seed + 100 + i, hp["think_budget"], hp["answer_budget"], gamma=hp["rl_gamma"],
                       log=log, resume_path=state)
    if os.path.exists(state):
        os.remove(state)
    return history, {"wall": time.time() - w, "cpu": time.process_time() - c}


def rl_worker(latent_state, cfg, device, threads, pool, variant, hp, seed, state, log_start, parent_pid=None):
    """An RL variant in a process of its own (--rl-procs): RL rolls out one token at a time on one
    thread, so the variants train side by side on the cores. It dies with `parent_pid`, the run."""
    if parent_pid is not None:
        die_with_parent(parent_pid)
    torch.set_num_threads(threads)
    model = LlamaForCausalLM(cfg).to(device)  # before the seed: its initial weights draw from the global RNG
    model.load_state_dict(latent_state)
    model.eval()
    history, spent = train_rl_variant(model, pool, variant, hp, seed, state,
                                      log=lambda msg: log(msg, _t0=log_start))
    return {k: v.cpu() for k, v in model.state_dict().items()}, history, spent


def cpu_model():
    """The CPU's model name as Linux reports it (the hypervisor may hide it), for the manifest beside
    OpenBLAS's kernels: the weights are the same bits only where the float sums are computed the same
    way (training/README.md, "The same command with other OpenBLAS kernels")."""
    try:
        with open("/proc/cpuinfo") as f:
            line = next((x for x in f if x.startswith("model name")), "")
    except OSError:
        line = ""
    return line.split(":", 1)[-1].strip() or platform.processor() or "unknown CPU"


def kernel_warning(cpu_kernels, kernels):
    """A warning when OpenBLAS runs other kernels (`kernels`, OPENBLAS_CORETYPE from the environment)
    than the ones this CPU's flags name (`cpu_kernels`, which training/__init__ sets when the
    environment names none), else None."""
    if cpu_kernels and kernels != cpu_kernels:
        return (f"warning: OPENBLAS_CORETYPE={kernels} from the environment, where this CPU runs {cpu_kernels}: "
                "other kernels round float sums differently, so the weights will not be the committed ones "
                "(unset it to reproduce them)")
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models/reverie-reason-1m")
    ap.add_argument("--name", default=None, help="checkpoint name (default: the folder name)")
    ap.add_argument("--variants", default="training/runs/variants",
                    help="where every variant's checkpoint goes (NAME-VARIANT), for `npm run eval:models`")
    ap.add_argument("--fixtures", default="test/fixtures", help="where the logits / test-set fixtures go ('' = none)")
    ap.add_argument("--evals", default="evals", help="where the evaluation sets go ('' = none)")
    # the default alone costs ~77 of the 90-minute budget (2026-12-05: SFT 51 min on two processes, latent 18); the
    # soft / fuzzy variants of the comparison train beside rl-hard (--rl-procs) for ~8 min more
    ap.add_argument("--rl", default="hard", help="RL variants to train: hard, soft, fuzzy, soft-dirichlet (comma-separated)")
    ap.add_argument("--smoke", action="store_true", help="tiny model and schedule (a minute)")
    ap.add_argument("--seed", type=int, default=4321)
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cuda (results differ from CPU in the last bits)")
    ap.add_argument("--rl-procs", type=int, default=2,
                    help="RL variants trained side by side, each in a process of its own (same weights as one by one)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; 1 is fastest on a shared 2-core machine (OpenMP waits dominate small ops)")
    ap.add_argument("--work", default=None, help="scratch folder for the SFT and latent weights (default training/runs/NAME)")
    ap.add_argument("--reuse", action="store_true", help="reuse saved SFT / latent weights of the same seed and hp, and continue an interrupted SFT or RL")
    ap.add_argument("--set", action="append", default=[], help="override a hyper-parameter, e.g. --set rl_steps=40")
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    unknown = [v for v in args.rl.split(",") if v and v not in RL_VARIANTS]
    if unknown:
        ap.error(f"--rl: unknown variant {', '.join(unknown)} (choose from {', '.join(RL_VARIANTS)})")
    torch.set_num_threads(args.threads)
    hp = dict(SMOKE if args.smoke else FULL)
    try:
        hp = with_overrides(hp, args.set)
    except ValueError as e:
        ap.error(str(e))
    name = args.name or os.path.basename(os.path.normpath(args.out))
    work = args.work or os.path.join("training", "runs", name)
    os.makedirs(work, exist_ok=True)
    t_start, c_start, clock = time.time(), cpu_seconds(), Clock()
    random.seed(args.seed)  # torch's generator is seeded by sft_setup, before the initial weights
    cpu = f"{cpu_model()} ({platform.machine()}, {os.cpu_count()} cpus, OpenBLAS kernels " \
          f"{os.environ.get('OPENBLAS_CORETYPE', 'of its own pick')})"
    log(f"{cpu}, torch {torch.__version__} threads {torch.get_num_threads()} hp {json.dumps(hp)}")
    warning = kernel_warning(CPU_CORETYPE, os.environ.get("OPENBLAS_CORETYPE"))
    if warning:
        log(warning)

    cfg, model, train = sft_setup(hp, args.seed, args.device)
    val = {t: generate(t, "val", hp["val_n"], args.seed) for t in TASKS}
    test = {t: generate(t, "test", 50, export_evals.SEED) for t in TASKS}  # = the first 50 of evals/TASK.jsonl
    log(f"model {parameter_count(model)} parameters; train pool {len(train)}")

    histories, reused = {}, {}
    with clock.stage("sft"):
        histories["sft"], reused["sft"] = cached(
            work, "sft", args.seed, hp, SFT_KEYS, model=model, reuse=args.reuse, device=args.device, clock=clock,
            resumable=True,
            train=lambda m, state: run_sft(m, train, hp, args.seed, hp["save_every"], resume_path=state,
                                           on_checkpoint=lambda step: torch.save(m.state_dict(),
                                                                                 os.path.join(work, f"sft-at-{step}.pt"))))
    model.eval()
    models = {"sft": model}
    phrasing_scores = {"sft": phrasing_validation(model, hp, args.seed)}
    log(f"validation (greedy) sft per phrasing: {phrasing_scores['sft']}")
    if warning := copy_warning(histories["sft"]):
        log(warning)
    gate = {"gate": hp["sft_gate"], "reachability": reach_validation(model, val["reachability"], hp), "continued": False}
    if gate["reachability"] < hp["sft_gate"]:
        log(f"sft reachability validation {gate['reachability']:.4f} < gate {hp['sft_gate']}: "
            f"{hp['sft_more_steps']} more steps, {hp['sft_more_share']:.0%} reachability")
        gate["continued"] = True
        with clock.stage("sft_more"):
            histories["sft_more"], reused["sft_more"] = cached(
                work, "sft_more", args.seed, hp, SFT_KEYS + MORE_KEYS, model=model, reuse=args.reuse, device=args.device,
                clock=clock, resumable=True, train=lambda m, state: run_sft_more(m, hp, args.seed, state))
        gate["reachability_after"] = reach_validation(model, val["reachability"], hp)
        phrasing_scores["sft"] = phrasing_validation(model, hp, args.seed)
        log(f"sft reachability validation after the continuation {gate['reachability_after']:.4f}; "
            f"per phrasing: {phrasing_scores['sft']}")
    else:
        log(f"sft reachability validation {gate['reachability']:.4f} >= gate {hp['sft_gate']}")

    with clock.stage("latent"):
        latent = copy.deepcopy(model)
        torch.manual_seed(args.seed + 5)
        reach = generate("reachability", "train", hp["latent_steps"] * hp["latent_batch"], args.seed + 5)
        other = generate("arithmetic", "train", hp["latent_steps"] * hp["latent_batch"] // 2, args.seed + 5)
        histories["latent"], reused["latent"] = cached(
            work, "latent", args.seed, hp, LATENT_KEYS + after_sft_keys(gate), model=latent, reuse=args.reuse, device=args.device, clock=clock,
            train=lambda m: train_latent(m, reach, other, hp["latent_steps"], hp["latent_batch"], hp["latent_lr"],
                                         hp["latent_warmup"], hp["latent_stages"], hp["latent_other_share"],
                                         hp["latent_aux"], seed=args.seed + 5, log=log,
                                         keep_cot=hp["latent_keep_cot"]))
    latent.eval()
    models["latent"] = latent

    rl_pool = mixed_pool("train", hp["rl_pool"], args.seed + 1)
    variants = [v for v in args.rl.split(",") if v]
    # an interrupted RL run of the same configuration is continued with --reuse
    states = {v: os.path.join(work, f"rl-{v}-{args.seed}-{stage_digest(hp, RL_KEYS + after_sft_keys(gate))}.partial.pt") for v in variants}
    for v in variants:
        interrupted_time(states[v], args.reuse, clock, f"rl_{v}")
    procs = max(1, min(args.rl_procs, len(variants)))
    with clock.stage("rl_variants"):
        if procs == 1:
            for variant in variants:
                m = copy.deepcopy(latent)
                histories[f"rl-{variant}"], spent = train_rl_variant(m, rl_pool, variant, hp, args.seed, states[variant])
                clock.record(f"rl_{variant}", spent["wall"], spent["cpu"])
                models[f"rl-{variant}"] = m
        else:
            log(f"RL variants {', '.join(variants)} in {procs} processes")
            latent_state = {k: v.cpu() for k, v in latent.state_dict().items()}
            with ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("spawn")) as workers:
                jobs = {v: workers.submit(rl_worker, latent_state, cfg, args.device, args.threads, rl_pool, v, hp, args.seed,
                                          states[v], LOG_START, os.getpid()) for v in variants}
                for variant, job in jobs.items():
                    state, histories[f"rl-{variant}"], spent = job.result()
                    m = copy.deepcopy(latent)
                    m.load_state_dict(state)
                    clock.record(f"rl_{variant}", spent["wall"], spent["cpu"])
                    models[f"rl-{variant}"] = m

    val_scores = {}
    with clock.stage("validation"):
        for variant, m in models.items():
            scores = {t: round(pass_at_1(m, val[t], "hard", hp["think_budget"], hp["answer_budget"]), 4) for t in TASKS}
            scores["mean"] = round(sum(scores.values()) / len(TASKS), 4)
            if variant != "sft":
                scores["reachability_latent"] = round(
                    pass_at_1(m, val["reachability"], "latent", hp["think_budget"], hp["answer_budget"]), 4)
            val_scores[variant] = scores
            log(f"validation (greedy) {variant}: {scores}")
    preference = ["latent", "rl-soft", "rl-fuzzy", "rl-hard"]  # ties; `sft` cannot think in latent mode
    best = max(preference, key=lambda v: (val_scores[v]["mean"] if v in models else -1, -preference.index(v)))
    log(f"default variant by validation: {best}")
    with clock.stage("validation_phrasings"):
        phrasing_scores[best] = phrasing_validation(models[best], hp, args.seed)
        log(f"validation (greedy) {best} per phrasing: {phrasing_scores[best]}")
    # a reused stage counts with the time it took in the run that trained it
    times = dict(clock.times,
                 total_wall_s=round(time.time() - t_start + sum(r["wall"] for r in [*clock.reused.values(), *clock.prior.values()])),
                 total_cpu_s=round(cpu_seconds() - c_start + sum(r["cpu"] for r in [*clock.reused.values(), *clock.prior.values()])))
    times.update(default_times(times, args.rl))

    def training_info(variant):
        return {
            "method": {"sft": "sft", "latent": "sft+coconut"}.get(variant, f"sft+coconut+rloo-{variant[3:]}"),
            "command": " ".join(["python3 -m training.make_default", *map(shlex.quote, argv)]),
            "variant": variant, "default_variant": best, "seed": args.seed, "hyperparameters": hp,
            "latent": {"curriculum": "Coconut: stage k replaces the first k BFS levels by k continuous thoughts; "
                                     f"stages 1..{hp['latent_stages']}, the last twice as long",
                       "thought": "last hidden state after the final norm, fed as the next input embedding",
                       "aux_loss": "thought logits -> uniform over the level's nodes; </think> after the last"},
            "rl": {"algorithm": "RLOO", "base": "latent", "noise_gamma": hp["rl_gamma"],
                   "noise_dirichlet": {"variants": [v for v in RL_VARIANTS if VARIANT_MODES[v].dirichlet],
                                       "alpha": DIRICHLET_ALPHA, "top_k": DIRICHLET_TOP_K},
                   "lr": {v: rl_lr(hp, v) for v in RL_VARIANTS},
                   "tau": {v: VARIANT_MODES[v].tau for v in RL_VARIANTS},
                   "reward": {"correct": 100, "well_formed": 10, "else": 0}, "optimizer": "AdamW",
                   "schedule": "linear warm-up + cosine"},
            "sft_gate": gate, "tasks": list(TASKS), "validation_pass_at_1_greedy": val_scores,
            "validation_phrasings_greedy": {"n": hp["val_phrasing_n"], "pass_at_1": phrasing_scores},
            "loss_history": histories, "reused_weights": reused, "time_s": times,
            "parameters": parameter_count(model),
            "machine": f"{cpu}, torch {torch.__version__}, {args.threads} thread(s), "
                       f"RL variants in {procs} process(es)",
        }

    defaults = {"temperature": 0, "top_p": 1, "max_tokens": 256, "thinking_mode": "hard",
                "thinking_max_tokens": hp["think_budget"]}

    def describe(variant):
        how = {"sft": "chain-of-thought SFT", "latent": "chain-of-thought SFT then the Coconut curriculum "
               "(continuous thought) for reachability"}.get(
            variant, f"chain-of-thought SFT, the Coconut curriculum, then RLOO with {variant[3:]} thinking")
        return (f"{parameter_count(model) / 1e6:.1f}M-parameter Llama trained from scratch by reverie's training/ "
                f"on synthetic graph reachability and arithmetic in many phrasings, with {how}; answers questions "
                f"like 'What is 345 plus 78?' or 'Edges: a>b b>c d>e. Root a. Reachable: c or e?'.")

    def save(variant, folder, ckpt_name):
        modes = C.MODES + (["latent"] if variant != "sft" else [])
        return C.save_checkpoint(models[variant], folder, ckpt_name, describe(variant), training_info(variant), [],
                                 defaults, modes)

    save(best, args.out, name)
    log(f"wrote {args.out} ({os.path.getsize(os.path.join(args.out, 'model.safetensors')) / 1e6:.1f} MB weights)")
    if args.variants:
        for variant in models:
            save(variant, os.path.join(args.variants, f"{name}-{variant}"), f"{name}-{variant}")
        log(f"wrote every variant under {args.variants}")
    if args.fixtures:
        os.makedirs(args.fixtures, exist_ok=True)
        C.write_testset_fixture(os.path.join(args.fixtures, f"{name}-testset.jsonl"), test["reachability"] + test["arithmetic"])
        first = test["reachability"][0]
        texts = ["<|im_start|>user\nWhat is 12 plus 34?<|im_end|>\n<|im_start|>assistant\n<think>",
                 C.tok.prompt_text(test["arithmetic"][-1].question),
                 training_text(first.question, first.cot, first.answer)]
        C.write_logits_fixture(models[best], os.path.join(args.fixtures, f"{name}-logits.json"), name, texts)
        C.write_latent_fixture(models[best], os.path.join(args.fixtures, f"{name}-latent.json"), name,
                               [C.tok.prompt_text(e.question) for e in test["reachability"][:3]], steps=4)
        log(f"wrote fixtures under {args.fixtures}")
    if args.evals:
        export_evals.write(args.evals)
        log(f"wrote evaluation sets under {args.evals}")
    log(f"done: default {best}; wall {time.time() - t_start:.0f}s, cpu {cpu_seconds() - c_start:.0f}s")


if __name__ == "__main__":
    main()
