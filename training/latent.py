"""Continuous thought (Coconut) for reachability, trained with a stage curriculum.

At stage k the first k expansion groups (BFS levels) of the chain of thought are replaced by k
continuous thoughts:
the input at a thought's position is the model's own last hidden state (after the final norm) at
the position before, exactly what reverie's server feeds in `latent` thinking mode (the runner's
`hidden` output, fed as the additive embedding of an empty bag). The rest of the chain of thought,
`</think>`, the answer and `<|im_end|>` follow as text:

    <prompt><think>[h][h]P>T</think>T<|im_end|>      (stage 2 of `root B: B>M,K,I | M>P K>J,Q I> | P>T`)
    <prompt><think>[h][h][h]</think>T<|im_end|>       (fully latent: what `latent` mode runs)

Gradients flow through the chain of thoughts (back-propagation through the fed hidden states).
The server ends latent thinking when the argmax of a thought's logits is `</think>`, so the loss
also trains the logits at the thought positions: cross-entropy to `</think>` after the last
thought, and, before it, to the uniform distribution over the nodes of the BFS level the thought
stands for (the "superposition of the frontier" of Reasoning by Superposition; it keeps the
shadow token a node and never `</think>` too early). `aux_weight` scales that second term.
"""
import random
from collections import namedtuple

import torch
import torch.nn.functional as F

from . import tokenizer as tok
from .data import prompt_ids
from .rollout import left_pad
from .tasks import bfs_levels


def plan(example, k):
    """(number of thoughts c, the BFS level each thought stands for, text token ids after them) for
    stage k. Thought j replaces the j-th expansion group of the chain of thought (`root B: B>M,K,I`,
    `M>P K>J,Q I>`, ...), after which the frontier is BFS level j + 1."""
    groups = example.cot.split(" | ")
    c = min(k, len(groups))
    levels = bfs_levels(example.meta[0], example.meta[1])
    text = " | ".join(groups[c:]) + "</think>" + example.answer + "<|im_end|>"
    return c, ["".join(levels[j + 1]) for j in range(c)], tok.encode(text)


LatentPass = namedtuple("LatentPass", "pred col_tok is_thought valid thought_inputs plans")


def latent_forward(model, examples, ks):
    """Teacher-forced pass of stage-k sequences. pred[:, j] is the output that predicts column j
    (column j: a thought for j < c, else text token j - c); thought_inputs[j] ([B, d]) what was fed
    at column j while some row still thought (the hidden state of the position before, for those rows)."""
    E = model.embedding
    dev = E.device
    plans = [plan(ex, k) for ex, k in zip(examples, ks)]
    ids, mask = (x.to(dev) for x in left_pad([prompt_ids(ex) for ex in examples]))
    b = ids.shape[0]
    positions = (mask.long().cumsum(1) - 1).clamp(min=0)
    logits, hidden, past = model(E[ids], positions, mask)
    outs = [logits[:, -1]]
    h = hidden[:, -1]
    pos = positions[:, -1]
    n_cols = max(c + len(t) for c, _, t in plans)
    thoughts = max(c for c, _, _ in plans)
    # column j: a thought for j < c, else text token j - c (padding after the row's end)
    col_tok = torch.full((b, n_cols), tok.ENDOFTEXT, dtype=torch.long)
    is_thought = torch.zeros(b, n_cols, dtype=torch.bool)
    valid = torch.zeros(b, n_cols, dtype=torch.bool)
    for r, (c, _, text) in enumerate(plans):
        is_thought[r, :c] = True
        col_tok[r, c:c + len(text)] = torch.tensor(text)
        valid[r, :c + len(text)] = True
    col_tok, is_thought, valid = col_tok.to(dev), is_thought.to(dev), valid.to(dev)
    key_mask = mask
    fed = []
    for j in range(thoughts):  # one position at a time while some row still thinks
        inp = torch.where(is_thought[:, j:j + 1], h, E[col_tok[:, j]])
        fed.append(inp)
        pos = pos + 1
        key_mask = torch.cat([key_mask, valid[:, j:j + 1]], 1)
        logits, hidden, past = model(inp.unsqueeze(1), pos.unsqueeze(1), key_mask, past)
        outs.append(logits[:, -1])
        h = hidden[:, -1]
    if n_cols > thoughts:  # the remaining text in one parallel pass
        rest = slice(thoughts, n_cols)
        key_mask = torch.cat([key_mask, valid[:, rest]], 1)
        steps = torch.arange(1, n_cols - thoughts + 1, device=dev)
        logits = model(E[col_tok[:, rest]], pos.unsqueeze(1) + steps, key_mask, past)[0]
        outs.extend(logits[:, i] for i in range(logits.shape[1] - 1))
    return LatentPass(torch.stack(outs[:n_cols], 1), col_tok, is_thought, valid, fed, plans)


def latent_loss(model, examples, ks, aux_weight=0.5):
    """Mean token cross-entropy after the thoughts + aux_weight * mean thought cross-entropy."""
    pred, col_tok, is_thought, valid, _, plans = latent_forward(model, examples, ks)
    b, dev = pred.shape[0], pred.device
    thoughts = max(c for c, _, _ in plans)
    token_target = valid & ~is_thought
    loss = F.cross_entropy(pred[token_target], col_tok[token_target])
    if thoughts and aux_weight:
        target = torch.zeros(b, thoughts, pred.shape[-1], device=dev)
        for r, (c, levels, _) in enumerate(plans):
            for j, level in enumerate(levels):
                target[r, j, list(level.encode())] = 1.0 / len(level)
        logp = torch.log_softmax(pred[:, :thoughts], -1)
        per = -(target * logp).sum(-1)
        loss = loss + aux_weight * per[is_thought[:, :thoughts]].mean()
    return loss


def stage_of(step, steps, max_stage):
    """Coconut's schedule: stages 1..max_stage in equal parts, the last (fully latent) one twice as long."""
    return min(max_stage, 1 + (step * (max_stage + 1)) // steps)


def stage_ks(rng, stage, count, keep_earlier=0.3, keep_cot=0.0):
    """Each example's k: 0 (the plain chain of thought) with prob `keep_cot`, an earlier stage with
    prob `keep_earlier`, else the current stage. Without `keep_cot` the plain chain of thought is
    only 6% of the last stage's examples; with half of them plain (and no auxiliary loss on the
    thought logits) greedy hard-mode reachability stayed at 55% against 61% after SFT (validation,
    training/README.md)."""
    def k():
        r = rng.random()
        return 0 if r < keep_cot else rng.randrange(stage) if r < keep_cot + keep_earlier else stage
    return [k() for _ in range(count)]


def train_latent(model, reach_pool, other_pool, steps, batch_size, lr, warmup, max_stage=4, other_share=0.3,
                 aux_weight=0.5, seed=0, log=print, log_every=25, keep_cot=0.0):
    """The curriculum, from SFT weights. A share of the steps are plain SFT batches of `other_pool`
    (arithmetic) so the model keeps its discrete chain of thought."""
    from .sft import cosine_lr, length_batches, sft_loss
    from .data import sft_batch
    import time

    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    rng = random.Random(seed)
    other = length_batches(other_pool, batch_size, seed)
    model.train()
    history, t0, running = [], time.time(), []
    ri = oi = 0
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, steps, lr, warmup)
        stage = stage_of(step, steps, max_stage)
        if rng.random() < other_share:
            ids, target = (x.to(model.embedding.device) for x in sft_batch(other[oi % len(other)]))
            oi += 1
            loss = sft_loss(model, ids, target)
        else:
            batch = [reach_pool[(ri + i) % len(reach_pool)] for i in range(batch_size)]
            ri += batch_size
            loss = latent_loss(model, batch, stage_ks(rng, stage, batch_size, keep_cot=keep_cot), aux_weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running.append(loss.item())
        if (step + 1) % log_every == 0 or step == steps - 1:
            mean = sum(running) / len(running)
            history.append({"step": step + 1, "stage": stage, "loss": round(mean, 4)})
            log(f"latent step {step + 1}/{steps} stage {stage} loss {mean:.4f} {time.time() - t0:.0f}s")
            running = []
    model.eval()
    return history
