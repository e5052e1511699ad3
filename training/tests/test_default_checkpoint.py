"""Consistency of the committed default checkpoint with its fixtures (skipped when they are absent)."""
import json
import os

import pytest
import torch

from training.model import LlamaConfig, LlamaForCausalLM
from training.safetensors_io import load_file
from training.tokenizer import prompt_text, encode

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
with open(os.path.join(ROOT, "models", "DEFAULT")) as _f:
    NAME = _f.read().strip()
FOLDER = os.path.join(ROOT, "models", NAME)
LOGITS = os.path.join(ROOT, "test", "fixtures", f"{NAME}-logits.json")
LATENT = os.path.join(ROOT, "test", "fixtures", f"{NAME}-latent.json")
TESTSET = os.path.join(ROOT, "test", "fixtures", f"{NAME}-testset.jsonl")
pytestmark = pytest.mark.skipif(not (os.path.isdir(FOLDER) and os.path.exists(LOGITS)), reason="no default checkpoint")


def load_model():
    with open(os.path.join(FOLDER, "config.json")) as f:
        hf = json.load(f)
    cfg = LlamaConfig(**{k: hf[k] for k in LlamaConfig.__dataclass_fields__})
    model = LlamaForCausalLM(cfg).eval()
    model.load_state_dict(load_file(os.path.join(FOLDER, "model.safetensors")))
    return model


def test_saved_weights_reproduce_the_logits_fixture():
    model = load_model()
    with open(LOGITS) as f:
        fx = json.load(f)
    assert fx["positions"] == "all" and len(fx["cases"]) >= 3
    for case in fx["cases"]:
        assert encode(case["text"]) == case["input_ids"]
        with torch.no_grad():
            logits = model.forward_ids(torch.tensor([case["input_ids"]]))[0]
        expected = torch.tensor(case["logits"])
        assert expected.shape == logits.shape
        assert (logits - expected).abs().max().item() < fx["tolerance"]


def test_saved_weights_reproduce_the_latent_fixture():
    """The fixture the TypeScript test replays through the ONNX graph: hidden states fed back."""
    model = load_model()
    with open(LATENT) as f:
        fx = json.load(f)
    for case in fx["cases"]:
        ids = case["input_ids"]
        with torch.no_grad():
            logits, hidden, past = model(model.embedding[torch.tensor([ids])], torch.arange(len(ids)).unsqueeze(0),
                                         torch.ones(1, len(ids), dtype=torch.bool))
            for s, expected in enumerate(case["latent_logits"]):
                mask = torch.ones(1, len(ids) + s + 1, dtype=torch.bool)
                logits, hidden, past = model(hidden[:, -1:], torch.tensor([[len(ids) + s]]), mask, past)
                assert (logits[0, -1] - torch.tensor(expected)).abs().max().item() < fx["tolerance"]


def test_testset_fixture_is_held_out_and_verified():
    with open(TESTSET) as f:
        rows = [json.loads(line) for line in f]
    assert len(rows) == 100 and {r["task"] for r in rows} == {"reachability", "arithmetic"}
    for task in ("reachability", "arithmetic"):
        # the fixture is the first 50 questions of the evaluation set `reverie eval` reads (whose
        # answers test_tasks.py verifies), so the served check compares like with like
        with open(os.path.join(ROOT, "evals", f"{task}.jsonl"), encoding="utf-8") as f:
            expected = [json.loads(line) for line in f][:50]
        mine = [r for r in rows if r["task"] == task]
        assert [(r["messages"][0]["content"], r["answer"]) for r in mine] == [(e["question"], e["answer"]) for e in expected]
    for r in rows:
        assert r["prompt_ids"] == encode(prompt_text(r["messages"][0]["content"]))
