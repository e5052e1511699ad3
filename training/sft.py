"""Stage 1: supervised fine-tuning on the chain-of-thought traces (next-token loss on the answer side)."""
import math
import os
import random
import time

import torch

from .data import copy_batch, sft_batch
from .data_parallel import GradientHelper, cpu_seconds, part_loss, predicted_tokens, split, token_loss_sum


def cosine_lr(step, total, peak, warmup, floor=0.1):
    """Linear warm-up to `peak`, then cosine decay to `floor * peak`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def sft_loss(model, ids, target):
    """Mean cross-entropy over the predicted tokens."""
    return sft_loss_rows(model, ids, target)[0]


def sft_loss_rows(model, ids, target):
    """(mean cross-entropy over the predicted tokens, mean loss per row) of a batch."""
    total, rows = token_loss_sum(model, ids, target)
    return total / target[:, 1:].sum(), rows


def length_batches(pool, batch_size, seed, window=16):
    """Batches of examples of similar length (less padding): the pool is cut into windows of
    `window` batches, each sorted by length and split; the batch order is then shuffled (seeded)."""
    out, span = [], batch_size * window
    for i in range(0, len(pool), span):
        w = sorted(pool[i:i + span], key=lambda e: (len(e.question) + len(e.cot), e.question))
        out += [w[j:j + batch_size] for j in range(0, len(w) - batch_size + 1, batch_size)]
    random.Random(f"batches/{seed}").shuffle(out)
    return out


def load_resume_state(path):
    """The state an interrupted `train_sft` / `train_rl` saved at `path`, or None."""
    return torch.load(path, map_location="cpu") if path and os.path.exists(path) else None


def save_resume_state(path, state):
    """Writes a stage's resume state; never leaves a half-written one behind (a kill mid-save)."""
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def train_sft(model, pool, steps, batch_size, lr, warmup, weight_decay=0.01, lr_floor=0.1, log=print, log_every=25, seed=0,
              on_checkpoint=None, checkpoint_every=0, copy_rows=0, copy_weight=0.0, resume_path=None, procs=1):
    """SFT, every predicted token weighing the same; the history has the mean loss and the mean loss
    per task every `log_every` steps.
    `on_checkpoint(step)` is called every `checkpoint_every` steps (monitoring a long run).
    With `copy_rows`, every step adds that many rows of the copy drill (data.copy_batch) to the loss,
    weighted by `copy_weight`; its mean loss is logged as `copy`.
    With `resume_path`, every `checkpoint_every` steps the whole state (weights, optimizer, the drill's
    random state, history, time spent) is saved there, and a run that finds one there continues from
    it: the result is the same, bit for bit, as a run that was never interrupted (an 8000-step SFT
    is an hour on the 2-core machine, and a session may end in the middle of one).
    With `procs=2` a helper process computes the gradient of the second half of every batch (and of
    the drill's rows) on the other core (data_parallel.py): about twice as fast, the same mean loss,
    not bit for bit the one-process run."""
    if procs not in (1, 2):
        raise ValueError(f"procs must be 1 or 2, not {procs}")
    if procs == 2 and (batch_size < 2 or copy_rows == 1 or model.embedding.device.type != "cpu"):
        raise ValueError("procs=2 splits every batch and drill in two halves on the CPU: it needs batch_size >= 2, "
                         f"copy_rows 0 or >= 2 and a CPU model (batch_size {batch_size}, copy_rows {copy_rows}, "
                         f"device {model.embedding.device})")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay)
    batches = length_batches(pool, batch_size, seed)
    model.train()
    history, t0, running, per_task = [], time.time(), [], {}
    drill = random.Random(f"copy/{seed}")
    first, prior = 0, {"wall": 0.0, "cpu": 0.0}
    saved = load_resume_state(resume_path)
    if saved is not None:
        if saved["steps"] != steps or saved["pool"] != len(pool):
            raise ValueError(f"{resume_path} belongs to another run ({saved['steps']} steps, pool of {saved['pool']})")
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        drill.setstate(saved["drill"])
        first, history, prior = saved["step"], saved["history"], saved["time_s"]
        running, per_task = saved["running"], saved["per_task"]
        log(f"sft resumed at step {first}/{steps} from {resume_path}")
    helper = GradientHelper(model) if procs == 2 else None
    try:
        w0, c0 = time.time(), cpu_seconds()
        for step in range(first, steps):
            for g in opt.param_groups:
                g["lr"] = cosine_lr(step, steps, lr, warmup, lr_floor)
            batch = batches[step % len(batches)]
            opt.zero_grad()
            rows, copy_loss = _step_loss(model, batch, drill, copy_rows, copy_weight, helper)
            if copy_loss is not None:
                per_task.setdefault("copy", []).append(copy_loss)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            running.append(rows.mean().item())
            for ex, value in zip(batch, rows.tolist()):
                per_task.setdefault(ex.task, []).append(value)
            if (step + 1) % log_every == 0 or step == steps - 1:
                mean = sum(running) / len(running)
                tasks = {t: round(sum(v) / len(v), 4) for t, v in sorted(per_task.items())}
                history.append({"step": step + 1, "loss": round(mean, 4), **tasks})
                log(f"sft step {step + 1}/{steps} loss {mean:.4f} {tasks} "
                    f"lr {opt.param_groups[0]['lr']:.2e} {time.time() - t0:.0f}s")
                running, per_task = [], {}
            if checkpoint_every and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
                if resume_path:
                    # the helper's CPU time counts once it has ended (cpu_seconds); while it runs, as it reports it
                    helper_cpu = helper.cpu_s if helper is not None else 0.0
                    spent = {"wall": prior["wall"] + time.time() - w0, "cpu": prior["cpu"] + cpu_seconds() - c0 + helper_cpu}
                    save_resume_state(resume_path, {
                        "model": model.state_dict(), "opt": opt.state_dict(), "drill": drill.getstate(), "step": step + 1,
                        "steps": steps, "pool": len(pool), "history": history, "running": running, "per_task": per_task,
                        "time_s": spent})
                if on_checkpoint:
                    on_checkpoint(step + 1)
                model.train()
    finally:
        if helper is not None:
            helper.close()
    model.eval()
    return history


def _step_loss(model, batch, drill, copy_rows, copy_weight, helper):
    """The step's loss, backpropagated; returns (per-row task losses [B], the drill's mean loss or None)."""
    dev = model.embedding.device
    if helper is None:
        ids, target = (x.to(dev) for x in sft_batch(batch))
        loss, rows = sft_loss_rows(model, ids, target)
        copy_loss = None
        if copy_rows:
            copy_loss = sft_loss(model, *(x.to(dev) for x in copy_batch(drill, copy_rows)))
            loss = loss + copy_weight * copy_loss
        loss.backward()
        return rows, None if copy_loss is None else copy_loss.item()
    task, drill_rows = sft_batch(batch), copy_batch(drill, copy_rows) if copy_rows else None
    totals = (predicted_tokens(task[1]), predicted_tokens(drill_rows[1]) if drill_rows else 0)
    mine, theirs = split(task, len(batch) // 2)
    mine_copy, theirs_copy = split(drill_rows, copy_rows // 2) if drill_rows else ((None, None), (None, None))
    helper.submit((*theirs, *theirs_copy), totals, copy_weight)
    loss, rows, copy_sum = part_loss(model, (*mine, *mine_copy), totals, copy_weight)
    loss.backward()
    their_rows, their_copy = helper.add_to(model)
    copy_mean = (copy_sum.item() + their_copy) / totals[1] if drill_rows else None
    return torch.cat([rows, torch.tensor(their_rows, dtype=rows.dtype)]), copy_mean
