import json
import os
import time

import pytest
import torch

from training import rollout as R
from training import tokenizer as tok
from training.checkpoint import save_checkpoint
from training.data import mixed_pool, prompt_ids, sft_batch
from training.model import LlamaConfig, LlamaForCausalLM
from training.phrasings import named_phrasings
from training.rl import VARIANT_MODES, dirichlet_log_prob, sequence_log_probs, train_rl
from training.safetensors_io import load_file
from training.sft import sft_loss, train_sft

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CFG = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1)


def test_short_sft_run_lowers_the_loss():
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG)
    pool = mixed_pool("train", 200, seed=0)
    ids, target = sft_batch(pool[:16])
    with torch.no_grad():
        before = sft_loss(m, ids, target).item()
    train_sft(m, pool, steps=40, batch_size=8, lr=3e-3, warmup=5, log=lambda *_: None)
    with torch.no_grad():
        after = sft_loss(m, ids, target).item()
    assert after < before - 1.5, (before, after)


def test_sft_targets_are_the_assistant_side_only():
    """The predicted tokens are the chain of thought, `</think>`, the answer and `<|im_end|>`: never
    the prompt, the opening `<think>` or the padding."""
    exs = mixed_pool("train", 6, seed=3)
    ids, target = sft_batch(exs)
    for i, ex in enumerate(exs):
        assert tok.decode(ids[i][target[i]].tolist()) == f"{ex.cot}</think>{ex.answer}<|im_end|>"
        assert tok.decode(ids[i][: target[i].nonzero()[0].item()].tolist()) == tok.prompt_text(ex.question)


def test_short_sft_run_lowers_the_loss_late_in_the_chain_of_thought_too():
    """Every predicted token must be learned, not only the first ones: a loss weighting that let the
    late tokens of a chain of thought wait (a position curriculum, removed) stalled SFT at the
    full size (loss 1.8-4.9 after 700-800 steps; the plain mean at lr 1e-3 reached 1.38 by step 200)."""
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG)
    pool = mixed_pool("train", 200, seed=0)
    ids, target = sft_batch(pool[:16])
    late = target & (target.long().cumsum(1) > 12)  # the 13th predicted token of a row onwards

    def late_loss():
        with torch.no_grad():
            per = torch.nn.functional.cross_entropy(m.forward_ids(ids[:, :-1]).transpose(1, 2), ids[:, 1:],
                                                    reduction="none")
        return per[late[:, 1:]].mean().item()

    before = late_loss()
    train_sft(m, pool, steps=40, batch_size=8, lr=3e-3, warmup=5, log=lambda *_: None)
    assert late_loss() < before - 1.9  # the weighting measured 1.48 here, the plain mean 2.32


@pytest.mark.parametrize("thinking", ["soft", "fuzzy"])
def test_recomputed_soft_means_match_the_rollout(thinking):
    """Greedy soft rollout (no noise): each recorded input IS the mean, so the parallel recomputation
    gives zero distance, i.e. every Gaussian term equals the normalising constant."""
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG).eval()
    exs = mixed_pool("train", 3, seed=0)
    mode = R.Mode("test", thinking, R.TAU[thinking], noise=False, sample_answer=False)
    ro = R.generate(m, [prompt_ids(e) for e in exs], mode, think_budget=8, answer_budget=4, record=True)
    gauss = ro.kinds == R.GAUSS
    assert gauss.sum() > 0
    E = m.embedding
    with torch.no_grad():
        mask = torch.cat([ro.prompt_mask, ro.valid], 1)
        emb = torch.cat([E[ro.prompt_ids], torch.where(gauss.unsqueeze(-1), ro.inputs, E[ro.tokens])], 1)
        logits = m(emb, (mask.long().cumsum(1) - 1).clamp(min=0), mask)[0]
        lp = ro.prompt_ids.shape[1]
        mean = torch.softmax(R.usable(logits[:, lp - 1:-1]) / ro.tau, -1) @ E
    assert (ro.inputs - mean)[gauss].abs().max() < 1e-5


def test_sequence_log_probs_of_hard_tokens():
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG).eval()
    exs = mixed_pool("train", 2, seed=0)
    ro = R.generate(m, [prompt_ids(e) for e in exs], R.inference_mode("hard", sample=True), 6, 3,
                    generator=torch.Generator().manual_seed(0), record=True)
    with torch.no_grad():
        lp = sequence_log_probs(m, ro)
        # reference: token by token without cache
        for i, e in enumerate(exs):
            ids = prompt_ids(e)
            total = 0.0
            for j in range(ro.tokens.shape[1]):
                if not ro.valid[i, j]:
                    break
                if ro.kinds[i, j] in (R.THINK_TOKEN, R.ANSWER_TOKEN):
                    total += torch.log_softmax(R.usable(m.forward_ids(torch.tensor([ids]))[0, -1]), -1)[ro.tokens[i, j]].item()
                ids = ids + [ro.tokens[i, j].item()]
            assert lp[i].item() == pytest.approx(total, abs=1e-3)


def test_a_dirichlet_rollout_feeds_its_drawn_weights_and_scores_them():
    """soft-dirichlet: each thought is w . E[top k] for weights w drawn from Dir(alpha * p_k), and the RL
    loss scores it by the Dirichlet log-density of the recorded w under the recomputed top k of p."""
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG).eval()
    exs = mixed_pool("train", 3, seed=0)
    mode = VARIANT_MODES["soft-dirichlet"]
    alpha, k = mode.dirichlet
    run = lambda seed: R.generate(m, [prompt_ids(e) for e in exs], mode, 8, 4, generator=torch.Generator().manual_seed(seed),
                                  record=True)
    ro = run(3)
    mix = ro.kinds == R.DIRICHLET
    assert mix.sum() > 0 and (ro.kinds == R.GAUSS).sum() == 0 and ro.alpha == alpha
    assert ro.mix_ids.shape == ro.mix_weights.shape == (*ro.kinds.shape, k)
    assert torch.equal(run(3).mix_weights, ro.mix_weights) and not torch.equal(run(4).mix_weights, ro.mix_weights)
    E = m.embedding.detach()
    fed = (ro.mix_weights.float().unsqueeze(-1) * E[ro.mix_ids]).sum(2)
    assert (ro.inputs - fed)[mix].abs().max() < 1e-5
    with torch.no_grad():
        mask = torch.cat([ro.prompt_mask, ro.valid], 1)
        emb = torch.cat([E[ro.prompt_ids], torch.where(mix.unsqueeze(-1), ro.inputs, E[ro.tokens])], 1)
        logits = m(emb, (mask.long().cumsum(1) - 1).clamp(min=0), mask)[0]
        lp = ro.prompt_ids.shape[1]
        p = torch.softmax(R.usable(logits[:, lp - 1:-1]) / ro.tau, -1)
    top_p, top_ids = p.topk(k, -1)
    assert torch.equal(top_ids[mix], ro.mix_ids[mix])
    thoughts = (dirichlet_log_prob(ro.mix_weights, R.dirichlet_concentration(top_p, alpha)) * mix).sum(1)
    # the answer tokens' part, from the same recomputation
    token_lp = torch.log_softmax(R.usable(logits[:, lp - 1:-1]), -1).gather(-1, ro.tokens.unsqueeze(-1)).squeeze(-1)
    answer = (token_lp * ((ro.kinds == R.ANSWER_TOKEN) & ro.valid)).sum(1)
    ours = sequence_log_probs(m, ro)
    assert torch.allclose(ours.detach().double(), thoughts + answer.double(), rtol=1e-4, atol=1e-2)
    ours.sum().backward()
    assert all(torch.isfinite(q.grad).all() for q in m.parameters() if q.grad is not None)


@pytest.mark.parametrize("variant,kind,lr", [("soft", R.GAUSS, 1e-4), ("soft-dirichlet", R.DIRICHLET, 1e-5)])
def test_policy_gradient_step_raises_the_log_prob_of_a_rewarded_soft_sample(variant, kind, lr):
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG).eval()
    exs = mixed_pool("train", 1, seed=0)
    ro = R.generate(m, [prompt_ids(exs[0])] * 2, VARIANT_MODES[variant], 6, 3,
                    generator=torch.Generator().manual_seed(1), record=True)
    assert (ro.kinds == kind).sum() > 0
    adv = torch.tensor([1.0, -1.0])
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    before = sequence_log_probs(m, ro).detach()
    (-(adv * sequence_log_probs(m, ro)).mean()).backward()
    opt.step()
    after = sequence_log_probs(m, ro).detach()
    assert after[0] > before[0] and after[1] < before[1], (before, after)


def test_rl_run_and_checkpoint_is_written(tmp_path):
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG)
    hist = train_rl(m, mixed_pool("train", 20, seed=0), "soft", steps=2, prompts_per_step=2, group_size=4, lr=1e-3,
                    warmup=1, seed=0, think_budget=6, answer_budget=3, log=lambda *_: None)
    assert len(hist) == 1 and set(hist[0]) == {"step", "reward", "accuracy", "grad_norm"}
    man = save_checkpoint(m, str(tmp_path), "t", "d", {"method": "x"}, [], {"thinking_max_tokens": 6})
    assert set(man["files"]) == {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                                 "generation_config.json"}
    back = load_file(str(tmp_path / "model.safetensors"))
    assert all(torch.equal(back[k], v) for k, v in m.state_dict().items())
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["tie_word_embeddings"] is True and cfg["architectures"] == ["LlamaForCausalLM"]
    assert cfg["head_dim"] * cfg["num_attention_heads"] == cfg["hidden_size"]


def _reach(n, seed=0):
    from training.tasks import generate
    return generate("reachability", "train", n, seed)


def test_stage_zero_is_plain_sft():
    from training.latent import latent_loss
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG).eval()
    exs = _reach(4)
    with torch.no_grad():
        assert latent_loss(m, exs, [0] * 4, aux_weight=0) == pytest.approx(sft_loss(m, *sft_batch(exs)).item(), abs=1e-5)


def test_thoughts_are_the_hidden_states_the_latent_rollout_feeds():
    """Teacher forcing of the fully latent stage feeds what `latent` inference (and the server) feeds:
    the last hidden state after the final norm, position after position."""
    from training.latent import latent_forward
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG).eval()
    exs = _reach(3)
    levels = [len(e.cot.split(" | ")) for e in exs]
    mode = R.inference_mode("latent", sample=False)
    with torch.no_grad():
        lf = latent_forward(m, exs, [9] * 3)  # k beyond the depth: every level is a thought
        # the random model never says </think>: the rollout thinks for the whole budget
        ro = R.generate(m, [prompt_ids(e) for e in exs], mode, think_budget=max(levels), answer_budget=1, record=True)
    for r, n in enumerate(levels):
        assert lf.is_thought[r].sum().item() == n
        assert (torch.stack(lf.thought_inputs, 1)[r, :n] - ro.inputs[r, :n]).abs().max().item() < 1e-5
        # and the output after the thoughts is trained to be </think>
        assert lf.col_tok[r, n].item() == 260


def test_latent_loss_backpropagates_through_the_thought_chain():
    """The answer's loss reaches the first thought (Coconut back-propagates through the chain)."""
    import torch.nn.functional as F
    from training.latent import latent_forward
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG)
    exs = [e for e in _reach(40) if len(e.cot.split(" | ")) >= 3][:2]
    lf = latent_forward(m, exs, [3, 3])
    answer_cols = lf.valid & ~lf.is_thought
    loss = F.cross_entropy(lf.pred[answer_cols], lf.col_tok[answer_cols])
    (g,) = torch.autograd.grad(loss, lf.thought_inputs[0], retain_graph=True)
    assert g.abs().sum() > 0 and torch.isfinite(g).all()
    # the second thought is computed from the first (not detached): the chain is differentiable
    (g,) = torch.autograd.grad(lf.thought_inputs[1].sum(), lf.thought_inputs[0])
    assert g.abs().sum() > 0


def test_short_curriculum_lowers_the_latent_loss():
    from training.latent import latent_loss, stage_of, train_latent
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG)
    reach, other = _reach(200), mixed_pool("train", 50, seed=0)
    exs = reach[:8]
    with torch.no_grad():
        before = latent_loss(m, exs, [2] * 8).item()
    hist = train_latent(m, reach, other, steps=40, batch_size=8, lr=3e-3, warmup=5, max_stage=2, log=lambda *_: None)
    with torch.no_grad():
        after = latent_loss(m, exs, [2] * 8).item()
    assert after < before - 1.0, (before, after)
    assert [h["stage"] for h in hist][-1] == 2
    assert [stage_of(s, 100, 4) for s in (0, 19, 20, 59, 60, 99)] == [1, 1, 2, 3, 4, 4]


def test_copy_drill_predicts_only_what_a_copy_can_know():
    """The drill's targets are the piece after its first two characters, and the piece is a piece of
    the string before `|`: a model can only predict them by finding where they came from."""
    import random

    from training.data import copy_batch
    ids, target = copy_batch(random.Random(0), 32)
    for row, mask in zip(ids.tolist(), target.tolist()):
        text = tok.decode([t for t in row if t != tok.ENDOFTEXT])
        source, piece = text.split("|")
        assert piece in source and 5 <= len(piece) <= 15
        predicted = tok.decode([t for t, m in zip(row, mask) if m])
        assert predicted == piece[2:]


def test_sft_with_the_copy_drill_logs_it_and_learns():
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG)
    pool = mixed_pool("train", 200, seed=0)
    logged = []
    history = train_sft(m, pool, steps=30, batch_size=8, lr=3e-3, warmup=5, log=logged.append, log_every=10,
                        copy_rows=4, copy_weight=0.5)
    assert [h["step"] for h in history] == [10, 20, 30]
    assert all("copy" in h for h in history) and history[-1]["copy"] < history[0]["copy"]


def test_a_reused_stage_reports_the_time_of_the_run_that_trained_it(tmp_path):
    """`--reuse` loads the SFT and latent weights in a second; the manifest must still give what
    those stages cost (the published training time is read from it)."""
    from training import make_default

    def run(out):
        make_default.main(["--smoke", "--rl", "", "--out", str(tmp_path / out), "--variants", "", "--fixtures", "",
                           "--evals", "", "--work", str(tmp_path / "work"), "--reuse"])
        with open(tmp_path / out / "reverie.json") as f:
            return json.load(f)["training"]

    first = run("a")
    cache = next((tmp_path / "work").glob("sft-[0-9]*.pt"))  # not the sft-at-STEP.pt snapshots
    saved = torch.load(cache)
    saved["time_s"] = {"wall": 1234, "cpu": 1200}  # as if SFT had taken 20 minutes
    torch.save(saved, cache)
    second = run("b")
    assert first["reused_weights"] == {"sft": False, "latent": False}
    assert second["reused_weights"] == {"sft": True, "latent": True}
    assert (second["time_s"]["sft_wall_s"], second["time_s"]["sft_cpu_s"]) == (1234, 1200)
    # the first run's clock times the whole stage, the cache its training: each rounded to a second
    assert abs(second["time_s"]["latent_wall_s"] - first["time_s"]["latent_wall_s"]) <= 1
    assert second["time_s"]["total_wall_s"] >= 1234
    assert "default_wall_s" not in second["time_s"]  # --rl '': not what the default's command costs


def test_checkpoint_manifest_leaves_out_a_graph_converted_from_earlier_weights(tmp_path):
    """Rewriting a served checkpoint folder: the server's converted graph of the old weights is still
    there, and the server rebuilds it from the new ones, so a manifest that hashed it would fail the
    loader's sha256 check (it did: eval:models after a retrain)."""
    for name in ("model.onnx", "model.onnx.data", "model.onnx.json"):
        (tmp_path / name).write_text("graph of earlier weights")
    man = save_checkpoint(LlamaForCausalLM(CFG), str(tmp_path), "t", "d", {"method": "x"}, [], {})
    assert not any(name.startswith("model.onnx") for name in man["files"])
    assert "model.safetensors" in man["files"]


def test_the_default_checkpoints_time_leaves_out_the_comparison_variants(tmp_path):
    """`training.time_s.default_*` is what `python3 -m training.make_default` (--rl hard) costs, which
    eval:models publishes apart from the whole set's time."""
    from training import make_default

    times = {"sft_wall_s": 3500, "sft_cpu_s": 3400, "rl_hard_wall_s": 1250, "rl_hard_cpu_s": 1230,
             "rl_soft_wall_s": 1850, "rl_soft_cpu_s": 1680, "rl_fuzzy_wall_s": 1800, "rl_fuzzy_cpu_s": 1630,
             "rl_variants_wall_s": 4900, "total_wall_s": 8400, "total_cpu_s": 7940}  # one by one: the RL stage is their sum
    assert make_default.default_times(times, "hard,soft,fuzzy") == {"default_wall_s": 4750, "default_cpu_s": 4630}
    assert make_default.default_times(dict(times, rl_variants_wall_s=3050), "fuzzy,hard") == {
        "default_wall_s": 6600, "default_cpu_s": 6310}
    assert make_default.default_times(dict(times, rl_variants_wall_s=1250), "hard") == {
        "default_wall_s": 8400, "default_cpu_s": 7940}
    assert make_default.default_times(times, "soft,fuzzy") == {} and make_default.default_times(times, "") == {}
    # the variants trained side by side (--rl-procs 2): the default's command waits for rl-hard alone
    side_by_side = dict(times, rl_variants_wall_s=3700)
    assert make_default.default_times(side_by_side, "hard,soft,fuzzy") == {"default_wall_s": 5950, "default_cpu_s": 4630}
    # and a run writes them, one by one and side by side
    for procs in ("1", "2"):
        make_default.main(["--smoke", "--rl", "hard,soft", "--out", str(tmp_path / "m"), "--variants", "", "--rl-procs",
                           procs, "--fixtures", "", "--evals", "", "--work", str(tmp_path / "work"), "--reuse"])
        with open(tmp_path / "m" / "reverie.json") as f:
            training = json.load(f)["training"]
        t = training["time_s"]
        assert t["default_wall_s"] == t["total_wall_s"] - t["rl_variants_wall_s"] + t["rl_hard_wall_s"]
        assert t["default_cpu_s"] == t["total_cpu_s"] - t["rl_soft_cpu_s"]
        assert training["machine"].endswith(f"RL variants in {procs} process(es)")
        assert training["machine"].startswith(f"{make_default.cpu_model()} (")  # the bits depend on it
    # the SFT's and the default's accuracy per phrasing, trained and held-out, and on multiplication
    phrasings = training["validation_phrasings_greedy"]
    assert phrasings["n"] == make_default.SMOKE["val_phrasing_n"]
    assert set(phrasings["pass_at_1"]) == {"sft", training["default_variant"]}
    for scores in phrasings["pass_at_1"].values():
        assert set(scores) == {*named_phrasings("arithmetic", held_out=False), *named_phrasings("arithmetic", held_out=True),
                               "multiplication"}
        assert {"compute", "added-to", "increased-by"} <= set(scores)
        assert all(0 <= v <= 1 for v in scores.values())


def _record_train_rl(monkeypatch, make_default):
    """Patches make_default's train_rl to record each call's variant, pool, lr, gamma and seeds (the
    global torch seed and the rollout seed), and then train."""
    calls, train_rl = [], make_default.train_rl

    def recording(model, pool, variant, steps, prompts, group, lr, warmup, seed, *args, **kwargs):
        calls.append({"variant": variant, "pool": pool, "lr": lr, "gamma": kwargs["gamma"],
                      "seeds": (torch.initial_seed(), seed)})
        return train_rl(model, pool, variant, steps, prompts, group, lr, warmup, seed, *args, **kwargs)

    monkeypatch.setattr(make_default, "train_rl", recording)
    return calls


def test_a_variant_is_seeded_the_same_alone_or_with_the_others(tmp_path, monkeypatch):
    """The default command trains rl-hard alone, the comparison run all three: a variant's seeds must
    follow the variant, not its place in --rl, or `--rl fuzzy` and `--rl hard,fuzzy` would train
    different rl-fuzzy weights. (Comparing the smoke run's weights cannot tell: its rewards are often
    all equal, so no seed moves them.)"""
    from training import make_default

    calls = _record_train_rl(monkeypatch, make_default)
    for rl in ("fuzzy", "hard,fuzzy", "fuzzy,hard"):  # in this process, where the recorder is
        make_default.main(["--smoke", "--rl", rl, "--rl-procs", "1", "--out", str(tmp_path / "m"), "--variants", "", "--fixtures", "",
                           "--evals", "", "--work", str(tmp_path / "work"), "--reuse"])
    seeds = [(c["variant"], *c["seeds"]) for c in calls]
    fuzzy = [s for s in seeds if s[0] == "fuzzy"]
    assert len(fuzzy) == 3 and len(set(fuzzy)) == 1
    assert len({s for s in seeds if s[0] == "hard"}) == 1 and len(set(seeds)) == 2
    with pytest.raises(SystemExit):
        make_default.main(["--smoke", "--rl", "hard,bogus", "--out", str(tmp_path / "c")])


def test_make_default_passes_rl_gamma_to_rl_and_records_it(tmp_path, monkeypatch):
    """The noise of soft / fuzzy RL is a hyper-parameter (`--set rl_gamma=...`): it reaches train_rl and
    the manifest, and it names the RL stage's resume state (a run at another gamma must not continue it)."""
    from training import make_default

    calls = _record_train_rl(monkeypatch, make_default)
    make_default.main(["--smoke", "--rl", "fuzzy", "--out", str(tmp_path / "m"), "--variants", "", "--fixtures", "",
                       "--evals", "", "--work", str(tmp_path / "work"), "--set", "rl_gamma=0.25"])
    assert [(c["variant"], c["gamma"]) for c in calls] == [("fuzzy", 0.25)]
    training = json.loads((tmp_path / "m" / "reverie.json").read_text())["training"]
    assert training["rl"]["noise_gamma"] == 0.25 and training["hyperparameters"]["rl_gamma"] == 0.25
    hp = dict(make_default.SMOKE)
    assert make_default.stage_digest(hp, make_default.RL_KEYS) != make_default.stage_digest(
        dict(hp, rl_gamma=0.25), make_default.RL_KEYS)



def test_make_default_gives_soft_and_fuzzy_rl_their_own_learning_rate(tmp_path, monkeypatch):
    """Hard RL trains at `rl_lr`, soft and fuzzy RL at `rl_soft_lr` (their Gaussian actions make a much
    noisier gradient); both reach train_rl, the manifest records each variant's rate, and the rate names
    the RL stage's resume state."""
    from training import make_default

    calls = _record_train_rl(monkeypatch, make_default)
    make_default.main(["--smoke", "--rl", "hard,soft,fuzzy", "--rl-procs", "1", "--out", str(tmp_path / "m"), "--variants", "",
                       "--fixtures", "", "--evals", "", "--work", str(tmp_path / "work"),
                       "--set", "rl_lr=2e-4", "--set", "rl_soft_lr=3e-6"])
    assert {c["variant"]: c["lr"] for c in calls} == {"hard": 2e-4, "soft": 3e-6, "fuzzy": 3e-6}
    training = json.loads((tmp_path / "m" / "reverie.json").read_text())["training"]
    assert training["rl"]["lr"] == {"hard": 2e-4, "soft": 3e-6, "fuzzy": 3e-6, "soft-dirichlet": 3e-6}
    hp = dict(make_default.SMOKE)
    assert make_default.stage_digest(hp, make_default.RL_KEYS) != make_default.stage_digest(
        dict(hp, rl_soft_lr=3e-6), make_default.RL_KEYS)


def test_make_default_draws_rl_prompts_from_a_pool_of_rl_pool_per_task(tmp_path, monkeypatch):
    """RL's prompts come from `rl_pool` training questions per task (each met several times, so that RL
    can unlearn a prompt's misses): the pool reaches train_rl, the manifest records it, and it names the
    RL stage's resume state."""
    from training import make_default

    calls = _record_train_rl(monkeypatch, make_default)
    make_default.main(["--smoke", "--rl", "hard", "--rl-procs", "1", "--out", str(tmp_path / "m"), "--variants", "",
                       "--fixtures", "", "--evals", "", "--work", str(tmp_path / "work"), "--set", "rl_pool=7"])
    assert len(calls) == 1 and sorted(ex.task for ex in calls[0]["pool"]) == ["arithmetic"] * 7 + ["reachability"] * 7
    training = json.loads((tmp_path / "m" / "reverie.json").read_text())["training"]
    assert training["hyperparameters"]["rl_pool"] == 7
    hp = dict(make_default.SMOKE)
    assert make_default.stage_digest(hp, make_default.RL_KEYS) != make_default.stage_digest(
        dict(hp, rl_pool=7), make_default.RL_KEYS)


def test_make_default_can_run_the_sft_in_two_processes(tmp_path):
    """`--set sft_procs=2`: the SFT's helper process runs inside make_default, the manifest records it,
    its CPU time counts, and its weights are cached under another name than the 1-process SFT's."""
    from training import make_default

    make_default.main(["--smoke", "--rl", "", "--out", str(tmp_path / "m"), "--variants", "", "--fixtures", "",
                       "--evals", "", "--work", str(tmp_path / "work"), "--set", "sft_procs=2"])
    training = json.loads((tmp_path / "m" / "reverie.json").read_text())["training"]
    assert training["hyperparameters"]["sft_procs"] == 2 and training["time_s"]["sft_cpu_s"] >= 1
    hp = dict(make_default.SMOKE)
    two = make_default.stage_digest(dict(hp, sft_procs=2), make_default.SFT_KEYS)
    assert (tmp_path / "work" / f"sft-4321-{two}.pt").exists()
    assert two != make_default.stage_digest(dict(hp, sft_procs=1), make_default.SFT_KEYS)

def kill_at(stop_at):
    """A checkpoint callback that interrupts the run at step `stop_at` (None: never), as a kill would."""
    def killed(step):
        if step == stop_at:
            raise KeyboardInterrupt
    return killed


def test_an_interrupted_sft_continues_to_the_same_weights(tmp_path):
    """A run killed after a saved state and started again ends bit for bit where an uninterrupted
    run ends (weights, history), with the drill's random state and the optimizer carried over."""
    from training.sft import train_sft
    pool = mixed_pool("train", 40, 3)

    def run(resume_path=None, stop_at=None):
        torch.manual_seed(0)
        m = LlamaForCausalLM(CFG)
        killed = kill_at(stop_at)
        h = train_sft(m, pool, 12, 4, 1e-3, 2, log=lambda s: None, log_every=5, seed=1, checkpoint_every=4,
                      copy_rows=2, copy_weight=0.5, resume_path=resume_path, on_checkpoint=killed)
        return m, h

    straight, h_straight = run()
    state = str(tmp_path / "sft.partial.pt")
    with pytest.raises(KeyboardInterrupt):
        run(state, stop_at=8)
    resumed, h_resumed = run(state)
    assert h_resumed == h_straight
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_state_of_another_run_is_refused(tmp_path):
    from training.sft import train_sft
    pool = mixed_pool("train", 40, 3)
    state = str(tmp_path / "s.pt")
    m = LlamaForCausalLM(CFG)
    train_sft(m, pool, 6, 4, 1e-3, 2, log=lambda s: None, seed=1, checkpoint_every=3, resume_path=state)
    with pytest.raises(ValueError, match="another run"):
        train_sft(LlamaForCausalLM(CFG), pool, 9, 4, 1e-3, 2, log=lambda s: None, seed=1, resume_path=state)


def test_an_interrupted_rl_run_continues_to_the_same_weights(tmp_path):
    """As for SFT: the optimizer and both samplers (prompt choice, rollout sampling) carry over."""
    pool = mixed_pool("train", 20, 4)

    def run(resume_path=None, stop_at=None):
        torch.manual_seed(0)
        m = LlamaForCausalLM(CFG)
        killed = kill_at(stop_at)
        h = train_rl(m, pool, "soft", 6, 2, 2, 1e-3, 1, seed=5, think_budget=6, answer_budget=2,
                     log=lambda s: None, log_every=1, resume_path=resume_path, save_every=2, on_save=killed)
        return m, h

    straight, h_straight = run()
    state = str(tmp_path / "rl.partial.pt")
    with pytest.raises(KeyboardInterrupt):
        run(state, stop_at=4)
    resumed, h_resumed = run(state)
    assert [x["reward"] for x in h_resumed] == [x["reward"] for x in h_straight]
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_make_default_continues_an_interrupted_sft_and_counts_its_time(tmp_path, monkeypatch):
    """A run killed in SFT and run again with --reuse writes the weights of a run never interrupted,
    and the manifest's SFT time includes what the killed run had spent."""
    from training import make_default
    from training.safetensors_io import load_file

    def run(out, work, reuse):
        make_default.main(["--smoke", "--rl", "", "--out", str(tmp_path / out), "--variants", "", "--fixtures", "",
                           "--evals", "", "--work", str(tmp_path / work)] + (["--reuse"] if reuse else []))
        with open(tmp_path / out / "reverie.json") as f:
            return json.load(f)["training"], load_file(str(tmp_path / out / "model.safetensors"))

    straight, w_straight = run("a", "w1", reuse=False)
    real = make_default.train_sft

    def killed_at_20(*args, **kwargs):
        keep = kwargs["on_checkpoint"]

        def hook(step):
            keep(step)
            if step == 20:
                state = torch.load(kwargs["resume_path"])
                state["time_s"] = {"wall": 600.0, "cpu": 500.0}  # as if the killed run had spent 10 minutes
                torch.save(state, kwargs["resume_path"])
                raise KeyboardInterrupt
        return real(*args, **{**kwargs, "on_checkpoint": hook})

    monkeypatch.setattr(make_default, "train_sft", killed_at_20)
    with pytest.raises(KeyboardInterrupt):
        run("b", "w2", reuse=False)
    assert list((tmp_path / "w2").glob("sft-*.partial.pt"))
    monkeypatch.setattr(make_default, "train_sft", real)
    resumed, w_resumed = run("b", "w2", reuse=True)
    assert not list((tmp_path / "w2").glob("*.partial.pt"))  # removed once the stage is done
    for name, a in w_straight.items():
        assert torch.equal(a, w_resumed[name]), name
    assert resumed["time_s"]["sft_wall_s"] >= 600 and resumed["time_s"]["sft_cpu_s"] >= 500
    assert resumed["time_s"]["total_cpu_s"] >= 500 + resumed["time_s"]["latent_cpu_s"]
    assert straight["time_s"]["sft_wall_s"] < 600


def test_openblas_kernels_are_named_from_the_cpu_flags():
    from training import _openblas_coretype
    skx = {"avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"}
    assert _openblas_coretype(skx) == "SkylakeX"
    assert _openblas_coretype(skx - {"avx512bw"}) == "Haswell"  # Knights Landing has avx512f without bw
    assert _openblas_coretype({"avx", "avx2", "fma"}) == "Haswell"
    assert _openblas_coretype({"avx"}) == "SandyBridge"
    # a machine whose environment names other kernels than its CPU's gets other weights: make_default says so
    from training.make_default import kernel_warning
    assert kernel_warning("SkylakeX", "SkylakeX") is None and kernel_warning(None, "Haswell") is None
    assert "OPENBLAS_CORETYPE=Haswell" in kernel_warning("SkylakeX", "Haswell")
    assert _openblas_coretype({"sse4_2"}) is None


def test_sft_lr_decays_to_its_floor():
    from training.sft import cosine_lr
    assert cosine_lr(0, 100, 1.0, 10) == pytest.approx(0.1)
    assert cosine_lr(10, 100, 1.0, 10) == pytest.approx(1.0)
    assert cosine_lr(99, 100, 1.0, 10, 0.025) == pytest.approx(0.025, abs=1e-3)
    assert cosine_lr(99, 100, 1.0, 10) == pytest.approx(0.1, abs=1e-3)


def _rl_in_process(start, pool, hp, state):
    """make_default's --rl-procs 1 path: RL on a copy of the latent model in make_default's process."""
    import copy

    from training import make_default

    torch.set_num_threads(1)  # --threads 1
    model = copy.deepcopy(start)
    history, _ = make_default.train_rl_variant(model, pool, "soft", hp, 4321, state)
    return model.state_dict(), history


def test_an_rl_variant_trains_the_same_weights_in_a_worker_process(tmp_path):
    """`--rl-procs 2` trains the RL variants side by side in spawned processes: a variant's weights and
    history must be bit for bit those of the in-process run. Starts from the committed default
    checkpoint, whose rollouts earn rewards, so the weights move (a random model's never do)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from training import make_default
    from training.probe_latent import load

    start = load(os.path.join(ROOT, "models", open(os.path.join(ROOT, "models", "DEFAULT")).read().strip()))
    hp = dict(make_default.FULL, rl_steps=3, rl_prompts=2, rl_group=4, rl_warmup=1)
    pool = mixed_pool("train", 50, 7)
    # the in-process path (--rl-procs 1) runs in a fresh process too: run in this pytest process it
    # differed in the last bits (gradient norm 407.93 against the worker's 407.92), as pytest loads torch
    # before make_default sets its one-thread BLAS environment
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
        here, history = ex.submit(_rl_in_process, start, pool, hp, str(tmp_path / "a.partial.pt")).result()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
        state, worker_history, spent = ex.submit(make_default.rl_worker, start.state_dict(), start.cfg, "cpu", 1, pool, "soft",
                                                 hp, 4321, str(tmp_path / "b.partial.pt"), time.time()).result()
    assert any(not torch.equal(v, start.state_dict()[k]) for k, v in here.items())  # it learned
    assert all(torch.equal(v, state[k]) for k, v in here.items())
    assert [h["reward"] for h in history] == [h["reward"] for h in worker_history] and spent["cpu"] > 0


def test_the_run_warns_when_the_sft_never_learned_to_copy():
    from training import make_default

    def history(copy_losses):
        return [{"step": 25 * (i + 1), "loss": 0.1, "arithmetic": 0.01, "copy": c, "reachability": 0.1}
                for i, c in enumerate(copy_losses)]
    # drill losses like those at the end of data version 4's first try, seed 4321 (never formed: 2.43 at
    # step 12000), and of the data-version-3 run (formed at step ~2700: 0.08)
    warning = make_default.copy_warning(history([2.39, 2.41, 2.45, 2.43, 2.40, 2.44, 2.42, 2.43]))
    assert warning and "2.42" in warning and "training/README.md" in warning
    assert make_default.copy_warning(history([2.6] * 20 + [0.08] * 8)) is None
    assert make_default.copy_warning(history([0.08] * 7 + [2.5])) is None  # one noisy entry is not a run without the copy
    assert make_default.copy_warning([{"step": 25, "loss": 0.1, "reachability": 0.1}]) is None  # copy_rows 0: no drill


def test_the_sft_goes_on_when_its_reachability_falls_short_of_the_gate(tmp_path):
    """Below `sft_gate` greedy reachability validation the SFT continues for `sft_more_steps` (cached as a
    stage of its own); the manifest records the gate, the continuation's losses and time, and the later
    stages' weights are named apart from those of a run whose SFT passed."""
    from training import make_default

    def run(out, gate):
        make_default.main(["--smoke", "--rl", "", "--out", str(tmp_path / out), "--variants", "", "--fixtures", "",
                           "--evals", "", "--work", str(tmp_path / "work"), "--reuse", "--set", f"sft_gate={gate}"])
        return json.loads((tmp_path / out / "reverie.json").read_text())["training"]

    went_on = run("a", 1)  # a 30-step SFT validates far below 100%
    g = went_on["sft_gate"]
    assert g["continued"] and g["gate"] == 1 and 0 <= g["reachability"] < 1 and 0 <= g["reachability_after"] <= 1
    assert [h["step"] for h in went_on["loss_history"]["sft_more"]] == [10]
    assert went_on["time_s"]["sft_more_wall_s"] >= 0 and went_on["reused_weights"]["sft_more"] is False
    hp = dict(make_default.SMOKE, sft_gate=1.0)
    more = make_default.SFT_KEYS + make_default.MORE_KEYS
    assert (tmp_path / "work" / f"sft_more-4321-{make_default.stage_digest(hp, more)}.pt").exists()
    latent_more = make_default.stage_digest(hp, make_default.LATENT_KEYS + make_default.MORE_KEYS)
    assert (tmp_path / "work" / f"latent-4321-{latent_more}.pt").exists()

    again = run("c", 0.999)  # another threshold that also sends the SFT on: the same continuation, reused
    assert again["reused_weights"]["sft_more"] is True and again["sft_gate"]["continued"]
    assert again["sft_gate"]["reachability_after"] == g["reachability_after"]

    passed = run("b", 0)  # the same SFT (reused), let through
    assert passed["sft_gate"] == {"gate": 0, "reachability": g["reachability"], "continued": False}
    assert "sft_more" not in passed["loss_history"] and "sft_more_wall_s" not in passed["time_s"]
    plain = make_default.stage_digest(dict(hp, sft_gate=0.0), make_default.LATENT_KEYS)
    assert plain != latent_more and (tmp_path / "work" / f"latent-4321-{plain}.pt").exists()


def test_the_gate_leaves_a_run_it_lets_through_as_it_was(tmp_path, monkeypatch):
    """The gate's validation runs between the SFT and the latent stage; it must change neither the
    weights nor what the later stages draw: a run through the real check trains the weights of a run
    whose check is skipped."""
    from training import make_default
    from training.safetensors_io import load_file

    def run(out):
        make_default.main(["--smoke", "--rl", "hard", "--rl-procs", "1", "--out", str(tmp_path / out), "--variants", "",
                           "--fixtures", "", "--evals", "", "--work", str(tmp_path / out / "work")])
        return load_file(str(tmp_path / out / "model.safetensors"))

    checked = run("a")
    monkeypatch.setattr(make_default, "reach_validation", lambda model, examples, hp: 1.0)
    skipped = run("b")
    assert checked.keys() == skipped.keys()
    assert all(torch.equal(checked[k], skipped[k]) for k in checked)

