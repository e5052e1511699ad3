import torch

from training import rollout as R
from training.data import prompt_ids
from training.model import LlamaConfig, LlamaForCausalLM
from training.probe_latent import levels, thoughts_then
from training.tasks import generate

CFG = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1)


def _model_and_questions(n=6):
    torch.manual_seed(3)
    return LlamaForCausalLM(CFG).eval(), generate("reachability", "test", n, seed=7)


def test_no_thought_then_text_is_plain_greedy_hard_thinking():
    m, exs = _model_and_questions()
    with torch.no_grad():
        ro = R.generate(m, [prompt_ids(e) for e in exs], R.inference_mode("hard", sample=False), 20, 4)
    assert thoughts_then(m, exs, [0] * len(exs), "text", think_budget=20, answer_budget=4) == ro.answers


def test_fixed_thoughts_then_answer_is_latent_thinking_with_that_budget():
    """A random model never says </think>, so latent inference thinks for its whole budget T and then
    `</think>` is forced: the same inputs as T fixed thoughts."""
    m, exs = _model_and_questions()
    for budget in (1, 3):
        with torch.no_grad():
            ro = R.generate(m, [prompt_ids(e) for e in exs], R.inference_mode("latent", sample=False), budget, 4)
        assert thoughts_then(m, exs, [budget] * len(exs), "answer", answer_budget=4) == ro.answers


def test_thought_counts_may_differ_per_row():
    m, exs = _model_and_questions(4)
    counts = [levels(e) for e in exs]
    mixed = thoughts_then(m, exs, counts, "answer", answer_budget=4)
    for i, e in enumerate(exs):  # each row alone gives the same answer as in the mixed batch
        assert thoughts_then(m, [e], [counts[i]], "answer", answer_budget=4) == [mixed[i]]
