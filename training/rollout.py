"""KV-cached autoregressive decoding with hard, soft and fuzzy thinking (embedding inputs).

Thinking step (per row): the distribution p = softmax(logits / tau).
  hard:  the next input is the embedding of a token (argmax when tau == 0, else sampled from p);
  soft / fuzzy: the next input is the mixture p . E, plus Gaussian noise of per-coordinate std
         sigma = gamma * RMS(E) when `noise` is on (tau 0.5 soft, 1e-4 fuzzy); or, for a mode with
         `dirichlet` = (alpha, k), the noise is on the mixture's weights instead (the server's
         `dirichlet` thinking noise): w ~ Dir(alpha * p_k), p_k the top k of p renormalised, and
         the input is w . E[top k];
  latent: the next input is the last hidden state (after the final norm) itself (Coconut).
This is what reverie's server feeds (src/decoding/: hard-thinking.ts, soft-thinking.ts, latent.ts,
thinking-phase.ts): distributions are over the tokenizer's ids only (the padding rows of E beyond
them get probability 0), RMS(E) is over every entry of E.
Thinking ends when the shadow token (argmax; the sampled token in hard mode) is </think>, or at
`think_budget` thinking inputs, after which </think> is forced as a one-hot input. The answer is
then decoded with plain tokens (greedy, or sampled at temperature 1) until <|im_end|>.

With `record=True` the returned Rollout holds every generated input and what kind of action it was,
which is what the RL loss needs to recompute log-probabilities in one parallel forward.
"""
from dataclasses import dataclass

import torch

from . import tokenizer as tok

# kinds of generated positions: GAUSS and DIRICHLET are mixtures fed as recorded embeddings (with
# Gaussian noise on the embedding, or Dirichlet noise on the weights of the top tokens)
NONE, GAUSS, THINK_TOKEN, ANSWER_TOKEN, DIRICHLET = 0, 1, 2, 3, 4
# Gamma draws of smaller concentrations underflow to 0 in float64; a token that far down the top k
# gets weight ~0 either way
MIN_CONCENTRATION = 1e-4


@dataclass(frozen=True)
class Mode:
    name: str  # e.g. "hard-greedy", "soft-sample"
    thinking: str  # "hard" | "soft" | "fuzzy"
    tau: float  # thinking temperature (0 = argmax for hard)
    noise: bool  # noise on soft inputs: Gaussian on the embedding, or Dirichlet on the weights (below)
    sample_answer: bool
    dirichlet: tuple = None  # (alpha, k): with `noise`, Dirichlet noise on the top k's weights, not Gaussian


TAU = {"hard": 1.0, "soft": 0.5, "fuzzy": 1e-4, "latent": 0.0}


def inference_mode(thinking, sample):
    """Greedy: argmax tokens / noiseless mixtures; sampled: tau-1 tokens, noisy mixtures, sampled answers.
    Latent thinking is deterministic; sampling only samples its answer."""
    tau = TAU[thinking] if (sample or thinking in ("soft", "fuzzy")) else 0.0
    noise = sample and thinking in ("soft", "fuzzy")
    return Mode(f"{thinking}-{'sample' if sample else 'greedy'}", thinking, tau, noise, sample)


def usable(logits):
    """Logits with the padding ids (beyond the tokenizer's vocabulary) masked out, as the server does."""
    if logits.shape[-1] <= tok.NUM_TOKENS:
        return logits
    return logits.masked_fill(torch.arange(logits.shape[-1], device=logits.device) >= tok.NUM_TOKENS, float("-inf"))


def dirichlet_concentration(p_top, alpha):
    """alpha * p_k, with p_k the top-k probabilities renormalised (float64; see MIN_CONCENTRATION)."""
    return (alpha * p_top / p_top.sum(-1, keepdim=True)).double().clamp(min=MIN_CONCENTRATION)


def sample_dirichlet(concentration, generator=None):
    """Dir(concentration) over the last dimension, from Gamma draws (torch.distributions takes no generator)."""
    g = torch._standard_gamma(concentration, generator=generator).clamp(min=1e-300)
    return g / g.sum(-1, keepdim=True)


def embedding_rms(model):
    return model.embedding.detach().pow(2).mean().sqrt().item()


@dataclass
class Rollout:
    prompt_ids: torch.Tensor  # [B, Lp] left-padded
    prompt_mask: torch.Tensor  # [B, Lp] bool
    inputs: torch.Tensor  # [B, T, d] generated inputs actually fed (recorded only)
    kinds: torch.Tensor  # [B, T] NONE / GAUSS / THINK_TOKEN / ANSWER_TOKEN / DIRICHLET
    tokens: torch.Tensor  # [B, T] token fed (shadow token for soft steps)
    valid: torch.Tensor  # [B, T] bool: position was part of the row's sequence
    sigma: float
    tau: float
    answers: list  # decoded answer strings
    well_formed_end: list  # answer closed by <|im_end|> within the budget
    think_lengths: list
    # Dirichlet modes (recorded only, else empty): the top k ids and the drawn weights of every step
    # (drawn for every row, so every position has a valid draw), and alpha
    mix_ids: torch.Tensor = None  # [B, T, k]
    mix_weights: torch.Tensor = None  # [B, T, k] float64
    alpha: float = 0.0


def left_pad(prompts):
    lp = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), lp), tok.ENDOFTEXT, dtype=torch.long)
    mask = torch.zeros(len(prompts), lp, dtype=torch.bool)
    for i, p in enumerate(prompts):
        ids[i, lp - len(p):] = torch.tensor(p)
        mask[i, lp - len(p):] = True
    return ids, mask


@torch.no_grad()
def generate(model, prompts, mode, think_budget=64, answer_budget=12, gamma=0.33, generator=None, record=False):
    E = model.embedding.detach()
    sigma = gamma * embedding_rms(model)
    dev = E.device
    ids, mask = (x.to(dev) for x in left_pad(prompts))
    b = ids.shape[0]
    positions = (mask.long().cumsum(1) - 1).clamp(min=0)
    logits, hidden, past = model(E[ids], positions, mask)
    logits, hidden = usable(logits[:, -1]), hidden[:, -1]
    pos = positions[:, -1]
    phase = torch.zeros(b, dtype=torch.long, device=dev)  # 0 thinking, 1 answering, 2 done
    n_think = torch.zeros(b, dtype=torch.long, device=dev)
    answer_tokens = [[] for _ in range(b)]
    closed = [False] * b
    rec_inputs, rec_kinds, rec_tokens, rec_valid, rec_mix = [], [], [], [], []
    dirichlet = mode.dirichlet if mode.noise and mode.thinking in ("soft", "fuzzy") else None
    key_mask = mask
    for _ in range(think_budget + answer_budget + 1):
        if bool((phase == 2).all()):
            break
        thinking, answering = phase == 0, phase == 1
        argmax = logits.argmax(-1)
        # answer tokens
        if mode.sample_answer:
            ans_tok = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(1)
        else:
            ans_tok = argmax
        # thinking step
        if mode.thinking == "hard":
            if mode.tau > 0:
                think_tok = torch.multinomial(torch.softmax(logits / mode.tau, -1), 1, generator=generator).squeeze(1)
            else:
                think_tok = argmax
            soft = torch.zeros(b, dtype=torch.bool, device=dev)
            think_in = E[think_tok]
        elif mode.thinking == "latent":
            think_tok = argmax  # shadow token
            think_in = hidden
            soft = think_tok != tok.END_THINK
        else:
            think_tok = argmax  # shadow token
            p = torch.softmax(logits / mode.tau, -1)
            if dirichlet:
                alpha, k = dirichlet
                p_top, top_ids = p.topk(k, -1)
                weights = sample_dirichlet(dirichlet_concentration(p_top, alpha), generator)
                think_in = (weights.to(E.dtype).unsqueeze(-1) * E[top_ids]).sum(1)
                rec_mix.append((top_ids, weights))
            else:
                think_in = p @ E
                if mode.noise:
                    think_in = think_in + sigma * torch.randn(think_in.shape, generator=generator, device=dev)
            soft = think_tok != tok.END_THINK
        over = thinking & (n_think >= think_budget)
        think_tok = torch.where(over, torch.full_like(think_tok, tok.END_THINK), think_tok)
        soft = soft & ~over
        kind = torch.full((b,), NONE, dtype=torch.long, device=dev)
        if mode.thinking != "latent":
            kind[thinking & soft] = DIRICHLET if dirichlet else GAUSS
        if mode.thinking == "hard" and mode.tau > 0:
            kind[thinking & ~over] = THINK_TOKEN
        kind[answering] = ANSWER_TOKEN
        token = torch.where(thinking, think_tok, torch.where(answering, ans_tok, torch.full_like(ans_tok, tok.ENDOFTEXT)))
        inp = torch.where((thinking & soft).unsqueeze(1), think_in, E[token])
        valid = phase < 2
        if record:
            rec_inputs.append(inp)
            rec_kinds.append(kind)
            rec_tokens.append(token)
            rec_valid.append(valid)
        # bookkeeping of phases
        for i in torch.nonzero(answering).flatten().tolist():
            t = token[i].item()
            if t in (tok.IM_END, tok.ENDOFTEXT):
                closed[i] = True
                phase[i] = 2
            else:
                answer_tokens[i].append(t)
                if len(answer_tokens[i]) >= answer_budget:
                    phase[i] = 2
        n_think = n_think + thinking.long()
        phase = torch.where(thinking & (token == tok.END_THINK), torch.ones_like(phase), phase)
        if bool((phase == 2).all()):
            break
        pos = pos + 1
        key_mask = torch.cat([key_mask, valid.unsqueeze(1)], dim=1)
        logits, hidden, past = model(inp.unsqueeze(1), pos.unsqueeze(1), key_mask, past)
        logits, hidden = usable(logits[:, -1]), hidden[:, -1]
    answers = [tok.decode(a, skip_special=True) for a in answer_tokens]
    d = E.shape[1]
    empty = torch.zeros(b, 0, device=dev)
    return Rollout(
        prompt_ids=ids, prompt_mask=mask,
        inputs=torch.stack(rec_inputs, 1) if record else empty.new_zeros(b, 0, d),
        kinds=torch.stack(rec_kinds, 1) if record else empty.long(),
        tokens=torch.stack(rec_tokens, 1) if record else empty.long(),
        valid=torch.stack(rec_valid, 1) if record else empty.bool(),
        sigma=sigma, tau=mode.tau, answers=answers, well_formed_end=closed,
        think_lengths=(n_think - 1).clamp(min=0).tolist(),
        mix_ids=torch.stack([i for i, _ in rec_mix], 1) if record and dirichlet else empty.long(),
        mix_weights=torch.stack([w for _, w in rec_mix], 1) if record and dirichlet else empty.double(),
        alpha=dirichlet[0] if dirichlet else 0.0,
    )
