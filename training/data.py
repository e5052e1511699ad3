"""Turn task examples into token tensors: SFT batches (loss on the assistant part) and prompts."""
import random

import torch

from . import tokenizer as tok
from .tasks import TASKS, generate


def prompt_ids(example):
    return tok.encode(tok.prompt_text(example.question))


def sft_batch(examples):
    """ids [B,T] right-padded, target mask [B,T] (True where the token is predicted: after <think>)."""
    seqs, starts = [], []
    for ex in examples:
        p = prompt_ids(ex)
        seqs.append(p + tok.encode(f"{ex.cot}</think>{ex.answer}<|im_end|>"))
        starts.append(len(p))
    t = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), t), tok.ENDOFTEXT, dtype=torch.long)
    target = torch.zeros(len(seqs), t, dtype=torch.bool)
    for i, (s, st) in enumerate(zip(seqs, starts)):
        ids[i, :len(s)] = torch.tensor(s)
        target[i, st:len(s)] = True
    return ids, target


def mixed_pool(split, per_task, seed, shares=None):
    """Examples of every task (`per_task` each, or `per_task * len(TASKS) * share` with `shares`),
    interleaved in a seeded order."""
    counts = {t: round(per_task * len(TASKS) * shares[t]) if shares else per_task for t in TASKS}
    pool = [ex for task in TASKS for ex in generate(task, split, counts[task], seed)]
    random.Random(f"pool/{split}/{seed}").shuffle(pool)
    return pool
