"""Stage 1: supervised fine-tuning on the chain-of-thought traces (next-token loss on the answer side)."""
import math
import random
import time

import torch
import torch.nn.functional as F

from .data import sft_batch


def cosine_lr(step, total, peak, warmup, floor=0.1):
    """Linear warm-up to `peak`, then cosine decay to `floor * peak`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def sft_loss(model, ids, target):
    logits = model.forward_ids(ids[:, :-1])
    mask = target[:, 1:]
    return F.cross_entropy(logits[mask], ids[:, 1:][mask])


def length_batches(pool, batch_size, seed, window=16):
    """Batches of examples of similar length (less padding): the pool is cut into windows of
    `window` batches, each sorted by length and split; the batch order is then shuffled (seeded)."""
    out, span = [], batch_size * window
    for i in range(0, len(pool), span):
        w = sorted(pool[i:i + span], key=lambda e: (len(e.question) + len(e.cot), e.question))
        out += [w[j:j + batch_size] for j in range(0, len(w) - batch_size + 1, batch_size)]
    random.Random(f"batches/{seed}").shuffle(out)
    return out


def train_sft(model, pool, steps, batch_size, lr, warmup, weight_decay=0.01, log=print, log_every=25, seed=0):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay)
    batches = length_batches(pool, batch_size, seed)
    model.train()
    history, t0, running = [], time.time(), []
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, steps, lr, warmup)
        ids, target = (x.to(model.embedding.device) for x in sft_batch(batches[step % len(batches)]))
        loss = sft_loss(model, ids, target)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running.append(loss.item())
        if (step + 1) % log_every == 0 or step == steps - 1:
            mean = sum(running) / len(running)
            history.append({"step": step + 1, "loss": round(mean, 4)})
            log(f"sft step {step + 1}/{steps} loss {mean:.4f} lr {opt.param_groups[0]['lr']:.2e} {time.time() - t0:.0f}s")
            running = []
    model.eval()
    return history
