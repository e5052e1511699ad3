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
    return padded(seqs, starts)


def padded(seqs, starts):
    """Token lists -> ids [B,T] right-padded with <|endoftext|>, and the target mask [B,T] that is
    True from each row's start to its end."""
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


# Characters of the copy drill: the digits, node names and separators the two tasks copy.
COPY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRST>,+ "


def copy_batch(rng, rows):
    """The copy drill (an induction-head curriculum): a random string, `|`, then a random piece of
    it; the loss is on the piece after its first two characters, which can only be predicted by
    finding the same characters earlier and copying what followed them. Both chains of thought start
    with such a copy (an adjacency entry, an operand wherever the phrasing put it), and a small model
    found it late on the tasks alone (training/README.md)."""
    seqs, starts = [], []
    for _ in range(rows):
        n = rng.randint(20, 40)
        # half the rows draw from a few characters, where one character does not say where the
        # piece is in the string and the copy has to match the two before it (as `H>` and `345`)
        alphabet = COPY_ALPHABET if rng.random() < 0.5 else rng.sample(COPY_ALPHABET, rng.randint(4, 8))
        text = "".join(rng.choice(alphabet) for _ in range(n))
        at = rng.randint(0, n - 6)
        piece = text[at:at + rng.randint(5, min(15, n - at))]
        seqs.append(tok.encode(f"{text}|{piece}"))
        starts.append(n + 1 + 2)
    return padded(seqs, starts)
