"""Stage 2: RLOO with hard, soft or fuzzy thinking ("Soft Tokens, Hard Truths").

Per step, B prompts x G samples are rolled out with the variant's thinking mode. The advantage of a
sample is its reward minus the mean reward of the other G-1 samples of its prompt. The loss is
-A * [sum_t log pi(thinking input t) + sum log pi(answer tokens)], where a soft thinking input
e~_t is a Gaussian action around e_t = softmax(logits_{t-1} / tau) . E with std sigma per coordinate,
and a hard thinking input is a sampled token (tau 1). Log-probabilities are recomputed in one
parallel forward over the recorded inputs, so e_t depends differentiably on the parameters.

The `soft-dirichlet` variant is soft thinking whose exploration noise is on the mixture's weights
instead (the server's `dirichlet` noise): the action of a thought is w ~ Dir(alpha * p_k) over the
top k tokens, fed as w . E[top k], and its log-probability is the Dirichlet log-density of w. Its
score has k - 1 dimensions a thought where the Gaussian's has d, and it carries a signal where the
Gaussian's is noise (training/README.md, "Soft RL's exploration noise").
"""
import math
import random
import time

import torch

from . import rollout as R
from .data import prompt_ids
from .sft import cosine_lr, load_resume_state, save_resume_state
from .tasks import is_correct, is_well_formed

REWARD_CORRECT, REWARD_FORMAT, REWARD_ELSE = 100.0, 10.0, 0.0
# Dirichlet noise of the soft-dirichlet variant: concentration alpha * p over the top k. The probe's
# setting (training/README.md): two independent gradients' median cosine was ~0 at alpha 1, 0.75 at 3
# and 0.80 at 10 (7, 9 and 3 draws); 3 explores more than 10
DIRICHLET_ALPHA, DIRICHLET_TOP_K = 3.0, 10
VARIANT_MODES = {v: R.inference_mode(v, sample=True) for v in ("hard", "soft", "fuzzy")}
VARIANT_MODES["soft-dirichlet"] = R.Mode("soft-dirichlet-sample", "soft", R.TAU["soft"], True, True,
                                         dirichlet=(DIRICHLET_ALPHA, DIRICHLET_TOP_K))


def reward(example, answer, closed):
    if closed and is_correct(example, answer):
        return REWARD_CORRECT
    if closed and is_well_formed(example.task, answer):
        return REWARD_FORMAT
    return REWARD_ELSE


def rloo_advantages(rewards, group_size):
    """rewards [N] laid out as consecutive groups of `group_size` samples of one prompt."""
    r = rewards.view(-1, group_size)
    others = (r.sum(1, keepdim=True) - r) / (group_size - 1)
    return (r - others).reshape(-1)


def gaussian_log_prob(x, mean, sigma):
    """log N(x; mean, sigma^2 I) summed over the last dimension."""
    d = x.shape[-1]
    return -((x - mean) ** 2).sum(-1) / (2 * sigma ** 2) - 0.5 * d * math.log(2 * math.pi * sigma ** 2)


def dirichlet_log_prob(weights, concentration):
    """log Dir(weights; concentration) over the last dimension (float64)."""
    return torch.distributions.Dirichlet(concentration, validate_args=False).log_prob(weights)


def sequence_log_probs(model, ro):
    """Sum over each row of the log-probabilities of its actions (thinking inputs and answer tokens)."""
    E = model.embedding
    gauss = ro.kinds == R.GAUSS
    dirichlet = ro.kinds == R.DIRICHLET
    gen = torch.where((gauss | dirichlet).unsqueeze(-1), ro.inputs, E[ro.tokens])
    emb = torch.cat([E[ro.prompt_ids], gen], dim=1)
    mask = torch.cat([ro.prompt_mask, ro.valid], dim=1)
    positions = (mask.long().cumsum(1) - 1).clamp(min=0)
    logits = model(emb, positions, mask)[0]
    lp, t = ro.prompt_ids.shape[1], ro.tokens.shape[1]
    pred = R.usable(logits[:, lp - 1:lp - 1 + t])
    token_lp = torch.log_softmax(pred, -1).gather(-1, ro.tokens.unsqueeze(-1)).squeeze(-1)
    out = torch.where((ro.kinds == R.THINK_TOKEN) | (ro.kinds == R.ANSWER_TOKEN), token_lp, torch.zeros_like(token_lp))
    if bool(gauss.any()):
        mean = torch.softmax(pred / ro.tau, -1) @ E
        out = torch.where(gauss, gaussian_log_prob(ro.inputs, mean, ro.sigma), out)
    if bool(dirichlet.any()):
        # every position holds a valid draw (rows past thinking drew too), so no NaN reaches the masked ones
        p_top = torch.softmax(pred / ro.tau, -1).gather(-1, ro.mix_ids)
        lp_mix = dirichlet_log_prob(ro.mix_weights, R.dirichlet_concentration(p_top, ro.alpha))
        out = torch.where(dirichlet, lp_mix.to(out.dtype), out)
    return (out * ro.valid).sum(1)


def train_rl(model, pool, variant, steps, prompts_per_step, group_size, lr, warmup, seed,
             think_budget, answer_budget, gamma=0.33, log=print, log_every=5, resume_path=None, save_every=100,
             on_save=None):
    """With `resume_path`, the whole state (weights, optimizer, both samplers' random states, history,
    time spent) is saved there every `save_every` steps, and a run that finds one continues from it,
    bit for bit the run that was never interrupted (as train_sft)."""
    mode = VARIANT_MODES[variant]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    dev = model.embedding.device
    gen = torch.Generator(device=dev).manual_seed(seed)
    rng = random.Random(seed)
    history, t0, window = [], time.time(), []
    first, prior = 0, {"wall": 0.0, "cpu": 0.0}
    saved = load_resume_state(resume_path)
    if saved is not None:
        if (saved["steps"], saved["variant"], saved["pool"]) != (steps, variant, len(pool)):
            raise ValueError(f"{resume_path} belongs to another run ({saved['variant']}, {saved['steps']} steps)")
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        rng.setstate(saved["rng"])
        gen.set_state(saved["gen"])
        first, history, window, prior = saved["step"], saved["history"], saved["window"], saved["time_s"]
        log(f"rl-{variant} resumed at step {first}/{steps} from {resume_path}")
    w0, c0 = time.time(), time.process_time()
    for step in range(first, steps):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, steps, lr, warmup)
        batch = rng.sample(pool, prompts_per_step)
        prompts = [prompt_ids(ex) for ex in batch for _ in range(group_size)]
        model.eval()
        ro = R.generate(model, prompts, mode, think_budget, answer_budget, gamma, gen, record=True)
        rewards = torch.tensor([
            reward(ex, ro.answers[i * group_size + j], ro.well_formed_end[i * group_size + j])
            for i, ex in enumerate(batch) for j in range(group_size)
        ], device=dev)
        adv = rloo_advantages(rewards, group_size) / REWARD_CORRECT
        model.train()
        loss = -(adv * sequence_log_probs(model, ro)).mean()
        opt.zero_grad()
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        window.append((rewards.mean().item(), (rewards == REWARD_CORRECT).float().mean().item(), gnorm.item()))
        if (step + 1) % log_every == 0 or step == steps - 1:
            r, acc, gn = (sum(w[i] for w in window) / len(window) for i in range(3))
            history.append({"step": step + 1, "reward": round(r, 3), "accuracy": round(acc, 4), "grad_norm": round(gn, 3)})
            log(f"rl-{variant} step {step + 1}/{steps} reward {r:.2f} acc {acc:.3f} |g| {gn:.2f} {time.time() - t0:.0f}s")
            window = []
        if resume_path and save_every and (step + 1) % save_every == 0 and step + 1 < steps:
            spent = {"wall": prior["wall"] + time.time() - w0, "cpu": prior["cpu"] + time.process_time() - c0}
            save_resume_state(resume_path, {
                "model": model.state_dict(), "opt": opt.state_dict(), "rng": rng.getstate(), "gen": gen.get_state(),
                "step": step + 1, "steps": steps, "variant": variant, "pool": len(pool), "history": history,
                "window": window, "time_s": spent})
            if on_save:
                on_save(step + 1)
    model.eval()
    return history
