import math

import torch

from training.model import LlamaConfig, LlamaForCausalLM

CFG = LlamaConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)


def reference_forward(model, ids):
    """Textbook Llama forward (repeat_interleave GQA, explicit RoPE) on the same weights."""
    cfg, sd = model.cfg, model.state_dict()
    t, hd = ids.shape[1], cfg.head_dim
    x = sd["model.embed_tokens.weight"][ids[0]]

    def rms(v, w):
        return w * v / torch.sqrt(v.pow(2).mean(-1, keepdim=True) + cfg.rms_norm_eps)

    pos = torch.arange(t, dtype=torch.float32)
    inv = 1.0 / cfg.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    ang = torch.cat([pos[:, None] * inv, pos[:, None] * inv], -1)

    def rope(v):  # v [heads, t, hd]
        return v * ang.cos() + torch.cat([-v[..., hd // 2:], v[..., :hd // 2]], -1) * ang.sin()

    causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        h = rms(x, sd[p + "input_layernorm.weight"])
        q = (h @ sd[p + "self_attn.q_proj.weight"].t()).view(t, -1, hd).transpose(0, 1)
        k = (h @ sd[p + "self_attn.k_proj.weight"].t()).view(t, -1, hd).transpose(0, 1)
        v = (h @ sd[p + "self_attn.v_proj.weight"].t()).view(t, -1, hd).transpose(0, 1)
        rep = cfg.num_attention_heads // cfg.num_key_value_heads
        q, k, v = rope(q), rope(k).repeat_interleave(rep, 0), v.repeat_interleave(rep, 0)
        a = (q @ k.transpose(-1, -2) / math.sqrt(hd)).masked_fill(~causal, float("-inf")).softmax(-1) @ v
        x = x + a.transpose(0, 1).reshape(t, -1) @ sd[p + "self_attn.o_proj.weight"].t()
        h = rms(x, sd[p + "post_attention_layernorm.weight"])
        g = torch.nn.functional.silu(h @ sd[p + "mlp.gate_proj.weight"].t()) * (h @ sd[p + "mlp.up_proj.weight"].t())
        x = x + g @ sd[p + "mlp.down_proj.weight"].t()
    return rms(x, sd["model.norm.weight"]) @ sd["model.embed_tokens.weight"].t()


def make():
    torch.manual_seed(0)
    m = LlamaForCausalLM(CFG).eval()
    with torch.no_grad():  # non-trivial norms so that a wrong norm placement shows
        for n, p in m.named_parameters():
            if n.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
    return m


def test_hf_parameter_names():
    names = set(make().state_dict())
    assert "model.embed_tokens.weight" in names and "model.norm.weight" in names and "lm_head.weight" not in names
    assert "model.layers.1.self_attn.k_proj.weight" in names and "model.layers.0.mlp.down_proj.weight" in names
    assert make().state_dict()["model.layers.0.self_attn.k_proj.weight"].shape == (2 * 16, 64)


def test_matches_reference_forward():
    m = make()
    ids = torch.randint(0, 261, (1, 12))
    with torch.no_grad():
        assert torch.allclose(m.forward_ids(ids)[0], reference_forward(m, ids), atol=1e-4)


def test_kv_cache_and_left_padding_match_the_full_forward():
    m = make()
    ids = torch.randint(0, 261, (1, 10))
    with torch.no_grad():
        full = m.forward_ids(ids)
        E = m.embedding
        pos = torch.arange(10).view(1, 10)
        ones = torch.ones(1, 10, dtype=torch.bool)
        a, _, past = m(E[ids[:, :6]], pos[:, :6], ones[:, :6])
        b, _, _ = m(E[ids[:, 6:]], pos[:, 6:], ones, past)
        assert torch.allclose(torch.cat([a, b], 1), full, atol=1e-5)
        padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), ids], 1)
        mask = torch.cat([torch.zeros(1, 3, dtype=torch.bool), ones], 1)
        pos2 = torch.cat([torch.zeros(1, 3, dtype=torch.long), pos], 1)
        c = m(E[padded], pos2, mask)[0][:, 3:]
        assert torch.allclose(c, full, atol=1e-5)
