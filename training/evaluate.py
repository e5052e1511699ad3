"""Greedy accuracy (validation) under hard, soft, fuzzy and latent inference; the published
evaluation is measured through the server by `reverie eval` (npm run eval:models)."""
import torch

from . import rollout as R
from .data import prompt_ids
from .tasks import is_correct


def _correct(examples, answers, closed):
    return [bool(c) and is_correct(ex, a) for ex, a, c in zip(examples, answers, closed)]


def run(model, examples, mode, think_budget, answer_budget, gen, repeat=1, batch_rows=256, gamma=0.33):
    """Correctness of `repeat` rollouts per example: list (per example) of lists of bools."""
    rows = [ex for ex in examples for _ in range(repeat)]
    ok = []
    for i in range(0, len(rows), batch_rows):
        chunk = rows[i:i + batch_rows]
        ro = R.generate(model, [prompt_ids(ex) for ex in chunk], mode, think_budget, answer_budget, gamma, gen)
        ok.extend(_correct(chunk, ro.answers, ro.well_formed_end))
    return [ok[j * repeat:(j + 1) * repeat] for j in range(len(examples))]


def pass_at_1(model, examples, thinking, think_budget, answer_budget, seed=0):
    gen = torch.Generator(device=model.embedding.device).manual_seed(seed)
    res = run(model, examples, R.inference_mode(thinking, sample=False), think_budget, answer_budget, gen)
    return sum(r[0] for r in res) / len(res)
