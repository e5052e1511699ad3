"""Where latent thinking fails: a probe of trained weights on reachability test questions.

    python3 -m training.probe_latent WEIGHTS.pt|CHECKPOINT_DIR [--n 200]

prints greedy accuracy
- of latent thinking as the server runs it (stop when a thought's argmax is `</think>`), and how
  many thoughts it took against the number of BFS levels the chain of thought expands;
- with exactly T continuous thoughts, then `</think>` forced (T = 1..5, and the true level count):
  whether the stop decision is what fails;
- with k continuous thoughts and then the chain of thought written as text (k = 0..4): whether a
  thought carries the level it replaces (k = 0 is plain hard thinking).
"""
import argparse
import collections
import json
import os

import torch

from . import rollout as R
from . import tokenizer as tok
from .data import prompt_ids
from .model import LlamaConfig, LlamaForCausalLM
from .safetensors_io import load_file
from .tasks import generate, is_correct


@torch.no_grad()
def thoughts_then(model, examples, counts, then, think_budget=64, answer_budget=10):
    """Greedy answers after counts[i] continuous thoughts (the last hidden state fed back), followed
    by `then`: "answer" (`</think>` forced) or "text" (greedy hard thinking until `</think>` or the
    budget). Returns the list of answer strings."""
    E = model.embedding.detach()
    dev = E.device
    ids, mask = (x.to(dev) for x in R.left_pad([prompt_ids(e) for e in examples]))
    b = ids.shape[0]
    positions = (mask.long().cumsum(1) - 1).clamp(min=0)
    logits, hidden, past = model(E[ids], positions, mask)
    logits, h, pos, key = R.usable(logits[:, -1]), hidden[:, -1], positions[:, -1], mask
    phase, n_think, answers = [0] * b, [0] * b, [[] for _ in range(b)]
    for _ in range(think_budget + answer_budget + 2):
        inputs = []
        for i in range(b):
            t = int(logits[i].argmax())
            if phase[i] == 0:
                if n_think[i] < counts[i]:
                    inputs.append(h[i])
                elif then == "answer" or t == tok.END_THINK or n_think[i] >= think_budget:
                    phase[i] = 1
                    inputs.append(E[tok.END_THINK])
                else:
                    inputs.append(E[t])
                n_think[i] += 1
            elif phase[i] == 1 and t not in (tok.IM_END, tok.ENDOFTEXT) and len(answers[i]) < answer_budget:
                answers[i].append(t)
                inputs.append(E[t])
            else:
                phase[i] = 2
                inputs.append(E[tok.ENDOFTEXT])
        if all(p == 2 for p in phase):
            break
        pos = pos + 1
        key = torch.cat([key, torch.ones(b, 1, dtype=torch.bool, device=dev)], 1)
        logits, hidden, past = model(torch.stack(inputs).unsqueeze(1), pos.unsqueeze(1), key, past)
        logits, h = R.usable(logits[:, -1]), hidden[:, -1]
    return [tok.decode(a, skip_special=True) for a in answers]


def accuracy(examples, answers):
    return sum(is_correct(e, a) for e, a in zip(examples, answers)) / len(examples)


def levels(example):
    """Expansion groups of the chain of thought (`root B: B>M,K,I | M>P K>J,Q I> | P>T` has 3)."""
    return len(example.cot.split(" | "))


def probe(model, examples):
    ro = R.generate(model, [prompt_ids(e) for e in examples], R.inference_mode("latent", sample=False), 64, 10)
    served = accuracy(examples, [a if c else "" for a, c in zip(ro.answers, ro.well_formed_end)])
    true = [levels(e) for e in examples]
    out = {"served": served,
           "thoughts/levels": {f"{t}/{n}": c for (t, n), c in
                               sorted(collections.Counter(zip(ro.think_lengths, true)).items())},
           "fixed": {T: accuracy(examples, thoughts_then(model, examples, [T] * len(examples), "answer"))
                     for T in range(1, 6)},
           "oracle": accuracy(examples, thoughts_then(model, examples, true, "answer")),
           "then_text": {k: accuracy(examples, thoughts_then(model, examples, [k] * len(examples), "text"))
                         for k in range(5)}}
    return out


def load(path):
    if os.path.isdir(path):
        c = json.load(open(os.path.join(path, "config.json")))
        cfg = LlamaConfig(vocab_size=c["vocab_size"], hidden_size=c["hidden_size"], intermediate_size=c["intermediate_size"],
                          num_hidden_layers=c["num_hidden_layers"], num_attention_heads=c["num_attention_heads"],
                          num_key_value_heads=c["num_key_value_heads"])
        state = load_file(os.path.join(path, "model.safetensors"))
    else:  # a stage cache of make_default (the FULL configuration)
        from .make_default import FULL
        cfg = LlamaConfig(hidden_size=FULL["hidden"], intermediate_size=FULL["ffn"], num_hidden_layers=FULL["layers"],
                          num_attention_heads=FULL["heads"], num_key_value_heads=FULL["kv_heads"])
        state = torch.load(path, map_location="cpu")
        state = state.get("state", state)
    model = LlamaForCausalLM(cfg)
    model.load_state_dict(state)
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("weights")
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(json.dumps(probe(load(args.weights), generate("reachability", "test", args.n, seed=7)), indent=1))


if __name__ == "__main__":
    main()
