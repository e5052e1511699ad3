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
    """Mean cross-entropy over the predicted tokens."""
    logits = model.forward_ids(ids[:, :-1])
    mask = target[:, 1:]
    return F.cross_entropy(logits[mask], ids[:, 1:][mask])


class PositionCurriculum:
    """Weights the tokens of a chain of thought so that it is learned from its start.

    A token of the answer side can only be predicted once the tokens before it are (the root of a
    graph before its children, the copied operands before the digit steps); while they are not, its
    gradient is noise that drowns the signal of the learnable ones (measured: a copy that a small
    model learns in 100 steps alone was not learned in 900 with ten unpredictable tokens after it).
    So per task it keeps a running mean loss at each target position j; the frontier K is the first
    position whose loss is still above `threshold`; tokens up to K weigh 1, later ones
    exp(-(j - K) / tau). As positions are learned the frontier moves on; train_sft also raises a
    floor under every weight in the second half of training, so that all tokens end up weighing 1.
    """

    def __init__(self, threshold=0.5, tau=1.0, decay=0.9, max_len=128):
        self.threshold, self.tau, self.decay, self.max_len = threshold, tau, decay, max_len
        self.ema = {}

    def frontier(self, task):
        ema = self.ema.get(task)
        if ema is None:
            return 0
        above = torch.nonzero(ema > self.threshold)
        return int(above[0]) if len(above) else self.max_len

    def weights(self, tasks, mask, floor=0.0):
        """mask [B, T] of predicted tokens -> weights [B, T], none below `floor`."""
        j = (mask.long().cumsum(1) - 1).clamp(min=0).float()
        k = torch.tensor([float(self.frontier(t)) for t in tasks], device=mask.device).unsqueeze(1)
        return mask.float() * torch.exp(-(j - k).clamp(min=0) / self.tau).clamp(min=floor)

    def update(self, tasks, mask, per_token):
        j = (mask.long().cumsum(1) - 1).clamp(min=0, max=self.max_len - 1)
        for task in set(tasks):
            rows = torch.tensor([t == task for t in tasks], device=mask.device).unsqueeze(1) & mask
            total = torch.zeros(self.max_len).index_add_(0, j[rows].cpu(), per_token[rows].detach().cpu())
            count = torch.zeros(self.max_len).index_add_(0, j[rows].cpu(), torch.ones(int(rows.sum())))
            ema = self.ema.setdefault(task, torch.full((self.max_len,), 10.0))
            seen = count > 0
            ema[seen] = self.decay * ema[seen] + (1 - self.decay) * total[seen] / count[seen]


def weighted_sft_loss(model, ids, target, tasks, curriculum, floor=0.0):
    """(loss weighted by the curriculum, plain mean loss per row) of a batch."""
    logits = model.forward_ids(ids[:, :-1])
    mask = target[:, 1:]
    per = F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
    w = curriculum.weights(tasks, mask, floor)
    loss = (per * w).sum() / w.sum()
    curriculum.update(tasks, mask, per)
    with torch.no_grad():
        rows = (per * mask).sum(1) / mask.sum(1).clamp(min=1)
    return loss, rows


def length_batches(pool, batch_size, seed, window=16):
    """Batches of examples of similar length (less padding): the pool is cut into windows of
    `window` batches, each sorted by length and split; the batch order is then shuffled (seeded)."""
    out, span = [], batch_size * window
    for i in range(0, len(pool), span):
        w = sorted(pool[i:i + span], key=lambda e: (len(e.question) + len(e.cot), e.question))
        out += [w[j:j + batch_size] for j in range(0, len(w) - batch_size + 1, batch_size)]
    random.Random(f"batches/{seed}").shuffle(out)
    return out


def train_sft(model, pool, steps, batch_size, lr, warmup, weight_decay=0.01, log=print, log_every=25, seed=0,
              on_checkpoint=None, checkpoint_every=0):
    """SFT with the position curriculum; the history has the mean (unweighted) loss, the mean loss per
    task and the curriculum's frontier every `log_every` steps.
    `on_checkpoint(step)` is called every `checkpoint_every` steps (monitoring a long run)."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay)
    batches = length_batches(pool, batch_size, seed)
    model.train()
    history, t0, running, per_task = [], time.time(), [], {}
    curriculum = PositionCurriculum()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, steps, lr, warmup)
        batch = batches[step % len(batches)]
        ids, target = (x.to(model.embedding.device) for x in sft_batch(batch))
        # every token weighs at least `floor`: 0 for the first half of the steps, 1 from 70% on
        floor = min(1.0, max(0.0, (step / steps - 0.5) / 0.2))
        loss, rows = weighted_sft_loss(model, ids, target, [ex.task for ex in batch], curriculum, floor)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running.append(rows.mean().item())  # unweighted: comparable across steps
        for ex, value in zip(batch, rows.tolist()):
            per_task.setdefault(ex.task, []).append(value)
        if (step + 1) % log_every == 0 or step == steps - 1:
            mean = sum(running) / len(running)
            tasks = {t: round(sum(v) / len(v), 4) for t, v in sorted(per_task.items())}
            frontier = {t: curriculum.frontier(t) for t in sorted(per_task)}
            history.append({"step": step + 1, "loss": round(mean, 4), **tasks, "frontier": frontier})
            log(f"sft step {step + 1}/{steps} loss {mean:.4f} {tasks} frontier {frontier} "
                f"lr {opt.param_groups[0]['lr']:.2e} {time.time() - t0:.0f}s")
            running, per_task = [], {}
        if on_checkpoint and checkpoint_every and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            on_checkpoint(step + 1)
            model.train()
    model.eval()
    return history
