"""Write a checkpoint folder (HF Llama + tokenizer + reverie.json) and the cross-check fixtures."""
import hashlib
import json
import os

import torch

from . import tokenizer as tok
from .data import prompt_ids
from .safetensors_io import save_file

MODES = ["discrete", "hard", "soft", "fuzzy", "superposed"]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


def save_checkpoint(model, folder, name, description, training, evaluation, defaults, modes=MODES):
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), model.cfg.hf_config())
    state = {k: v.to(torch.float32) for k, v in model.state_dict().items()}
    save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    # the manifest lists exactly what was written here: the folder may also hold the graph a server
    # converted from the previous weights (model.onnx*), which it rebuilds from these, so its hash would go stale
    written = ["config.json", "model.safetensors", *tok.write_tokenizer(folder)]
    files = {n: sha256_file(os.path.join(folder, n)) for n in sorted(written)}
    manifest = {
        "format": "reverie-checkpoint/1",
        "name": name,
        "description": description,
        "architecture": "LlamaForCausalLM",
        "files": files,
        "thinking": {"start": "<think>", "end": "</think>"},
        "defaults": defaults,
        "modes": list(modes),
        "training": training,
        "evaluation": evaluation,
        "ngram": None,
    }
    write_json(os.path.join(folder, "reverie.json"), manifest)
    return manifest


@torch.no_grad()
def write_logits_fixture(model, path, name, texts):
    """PyTorch fp32 logits of EVERY position of each prompt (token ids given, no padding)."""
    cases = []
    for text in texts:
        ids = tok.encode(text)
        logits = model.forward_ids(torch.tensor([ids], device=model.embedding.device))[0].cpu()
        cases.append({"text": text, "input_ids": ids,
                      "logits": [[round(float(x), 6) for x in row] for row in logits]})
    write_json(path, {"model": name, "dtype": "float32", "positions": "all", "vocab_size": model.cfg.vocab_size,
                      "tolerance": 1e-4, "cases": cases})


@torch.no_grad()
def write_latent_fixture(model, path, name, prompts, steps):
    """Latent thinking as the server runs it: after each prompt, `steps` positions whose input is the
    hidden state (after the final norm) of the position before. Per step: the logits there."""
    cases = []
    dev = model.embedding.device
    for text in prompts:
        ids = tok.encode(text)
        pos = torch.arange(len(ids), device=dev).unsqueeze(0)
        mask = torch.ones(1, len(ids), dtype=torch.bool, device=dev)
        logits, hidden, past = model(model.embedding[torch.tensor([ids], device=dev)], pos, mask)
        rows = []
        for s in range(steps):
            h = hidden[:, -1:]
            mask = torch.cat([mask, mask[:, :1]], 1)
            logits, hidden, past = model(h, torch.tensor([[len(ids) + s]], device=dev), mask, past)
            rows.append([round(float(x), 6) for x in logits[0, -1].cpu()])
        cases.append({"text": text, "input_ids": ids, "latent_logits": rows})
    write_json(path, {"model": name, "dtype": "float32", "steps": steps, "vocab_size": model.cfg.vocab_size,
                      "tolerance": 1e-4, "cases": cases})


def write_testset_fixture(path, examples):
    with open(path, "w", encoding="utf-8") as f:
        for i, ex in enumerate(examples):
            row = {"id": i, "task": ex.task, "messages": [{"role": "user", "content": ex.question}],
                   "answer": ex.answer, "prompt_ids": prompt_ids(ex)}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
