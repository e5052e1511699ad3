"""A small Llama (RMSNorm, RoPE, SwiGLU, grouped-query attention, tied embeddings) in plain PyTorch.

Parameter names match Hugging Face's LlamaForCausalLM, so `state_dict()` is saved unchanged.
The forward takes input embeddings (soft tokens are mixtures of rows of E), position ids, a mask
of valid keys and an optional KV cache; it works on PyTorch 1.13 and on current releases.
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

NEG_INF = -1e9  # finite, so a fully masked (padding) row stays finite instead of NaN


@dataclass
class LlamaConfig:
    vocab_size: int = 264
    hidden_size: int = 256
    intermediate_size: int = 768
    num_hidden_layers: int = 4
    num_attention_heads: int = 8
    num_key_value_heads: int = 2
    max_position_embeddings: int = 512
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    def hf_config(self, eos=(258, 256), bos=257, pad=256):
        d = asdict(self)
        d.update({
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
            "head_dim": self.head_dim, "tie_word_embeddings": True, "attention_bias": False,
            "mlp_bias": False, "torch_dtype": "float32", "initializer_range": 0.02,
            "bos_token_id": bos, "eos_token_id": list(eos), "pad_token_id": pad, "use_cache": True,
            "rope_scaling": None, "attention_dropout": 0.0, "pretraining_tp": 1,
        })
        return d


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.num_heads, self.num_kv, self.head_dim = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.q_proj = nn.Linear(cfg.hidden_size, self.num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.hidden_size, self.num_kv * self.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.hidden_size, self.num_kv * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, cfg.hidden_size, bias=False)

    def forward(self, x, cos, sin, bias, past):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.num_kv, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.num_kv, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        # grouped-query attention without copying K/V: query head h uses K/V head h // rep
        rep = self.num_heads // self.num_kv
        qg = q.reshape(b, self.num_kv, rep * t, self.head_dim)
        att = (qg @ k.transpose(-1, -2)) / math.sqrt(self.head_dim) + bias
        out = (torch.softmax(att, dim=-1) @ v).view(b, self.num_heads, t, self.head_dim)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1)), (k, v)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, bias, past):
        h, kv = self.self_attn(self.input_layernorm(x), cos, sin, bias, past)
        x = x + h
        return x + self.mlp(self.post_attention_layernorm(x)), kv


class Backbone(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = Backbone(cfg)
        inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float32) / cfg.head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)
        self.apply(self._init)
        for layer in self.model.layers:  # scale residual branches by depth (GPT-2 style)
            for w in (layer.self_attn.o_proj.weight, layer.mlp.down_proj.weight):
                nn.init.normal_(w, std=0.02 / math.sqrt(2 * cfg.num_hidden_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    @property
    def embedding(self):
        return self.model.embed_tokens.weight

    def forward(self, embeds, positions, key_mask, past=None):
        """embeds [B,T,d]; positions [B,T]; key_mask [B,Tpast+T] bool (valid keys).

        Returns logits [B,T,V], last hidden state [B,T,d] (after the final norm), new cache."""
        b, t, _ = embeds.shape
        tk = key_mask.shape[1]
        dev = embeds.device
        q_idx = torch.arange(tk - t, tk, device=dev).view(t, 1)
        allowed = (torch.arange(tk, device=dev).view(1, tk) <= q_idx).view(1, 1, t, tk) & key_mask.view(b, 1, 1, tk)
        bias = torch.zeros(allowed.shape, dtype=embeds.dtype, device=dev).masked_fill(~allowed, NEG_INF)
        rep = self.cfg.num_attention_heads // self.cfg.num_key_value_heads
        bias = bias.unsqueeze(2).expand(b, 1, rep, t, tk).reshape(b, 1, rep * t, tk)
        freqs = positions.to(torch.float32).unsqueeze(-1) * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1).unsqueeze(1)
        cos, sin = emb.cos().to(embeds.dtype), emb.sin().to(embeds.dtype)
        x, new_past = embeds, []
        for i, layer in enumerate(self.model.layers):
            x, kv = layer(x, cos, sin, bias, None if past is None else past[i])
            new_past.append(kv)
        h = self.model.norm(x)
        return h @ self.embedding.t(), h, new_past

    def forward_ids(self, ids):
        """Logits of a single unpadded batch of token ids [B,T] (training, fixtures)."""
        b, t = ids.shape
        pos = torch.arange(t, device=ids.device).expand(b, t)
        return self(self.model.embed_tokens(ids), pos, torch.ones(b, t, dtype=torch.bool, device=ids.device))[0]


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())
