"""A decoder-only transformer in one file, configured by `ModelConfig`.

Pre-norm blocks (RMSNorm) of attention and a SwiGLU FFN (dense, or a mixture of experts from
`train.moe`). Attention has grouped-query heads, optional per-head QK RMSNorm, RoPE (or none:
NoPE layers), a sliding-window / full pattern over layers, and document masking from per-token
document ids. The head's logits can be soft-capped; the loss is cross-entropy plus z-loss plus
the MoE balance loss.

Shapes: B batch, T sequence length, d `dim`, H query heads, Hkv key/value heads, D head dim,
V vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from train.attention import attention
from train.loss import IGNORE_INDEX, lm_losses
from train.moe import MoE, MoEConfig, SwiGLU

__all__ = ["IGNORE_INDEX", "ModelConfig", "RopeScaling", "Transformer", "flops_per_token"]


@dataclass
class RopeScaling:
    """Context extension applied to the RoPE of full-attention layers only.

    kind="theta": replace the base by `theta`. kind="yarn": YaRN (Peng et al. 2023) with
    scale `factor` over a model trained at `original_seq_len`: frequencies whose wavelength
    is shorter than ``original_seq_len / beta_fast`` are kept, longer than
    ``original_seq_len / beta_slow`` are divided by `factor`, a linear ramp in between; cos
    and sin are multiplied by ``0.1 ln(factor) + 1`` (the attention temperature).
    """

    kind: str = "yarn"
    theta: float | None = None
    factor: float = 1.0
    original_seq_len: int = 4096
    beta_fast: float = 32.0
    beta_slow: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("theta", "yarn"):
            raise ValueError(f"rope_scaling kind must be 'theta' or 'yarn', not {self.kind!r}")
        if self.kind == "theta" and self.theta is None:
            raise ValueError("rope_scaling kind='theta' needs theta")


@dataclass
class ModelConfig:
    """Model shape and options.

    window_pattern: a string over layers, repeated: "S" a sliding-window layer of `window`
    tokens (the query itself included), "F" a full-attention layer; e.g. "SSSF" is three
    windowed then one full. The last layer is always full. Empty means all full.
    nope_every: every n-th layer (layers n-1, 2n-1, ...) has no positional encoding; 0: none.
    ffn_hidden: SwiGLU width of dense layers, default ``8/3 dim`` rounded up to 64.
    moe: when set, layers from index `n_dense_layers` on use a mixture of experts.
    logit_softcap: logits become ``cap * tanh(logits / cap)``; 0 disables it.
    z_loss_coef: weight of ``mean(logsumexp(logits)^2)`` in the total loss.
    """

    vocab_size: int = 32768
    dim: int = 768
    n_layers: int = 12
    n_heads: int = 12
    n_kv_heads: int | None = None
    head_dim: int | None = None
    ffn_hidden: int | None = None
    max_seq_len: int = 2048
    rope_theta: float = 10000.0
    rope_scaling: RopeScaling | None = None
    nope_every: int = 0
    window: int | None = None
    window_pattern: str = ""
    qk_norm: bool = True
    logit_softcap: float = 0.0
    z_loss_coef: float = 1e-4
    tie_embeddings: bool = True
    norm_eps: float = 1e-6
    init_std: float = 0.02
    moe: MoEConfig | None = None
    n_dense_layers: int = 0

    def __post_init__(self) -> None:
        self.n_kv_heads = self.n_kv_heads or self.n_heads
        self.head_dim = self.head_dim or self.dim // self.n_heads
        if self.ffn_hidden is None:
            self.ffn_hidden = 64 * math.ceil(8 * self.dim / 3 / 64)
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads={self.n_heads} not a multiple of n_kv_heads")
        if self.head_dim % 2:
            raise ValueError(f"head_dim={self.head_dim} must be even for RoPE")
        if set(self.window_pattern) - {"S", "F"}:
            raise ValueError(f"window_pattern {self.window_pattern!r} may only hold 'S' and 'F'")
        if "S" in self.window_pattern and not self.window:
            raise ValueError("window_pattern has sliding layers but window is not set")

    def is_windowed(self, layer: int) -> bool:
        """Whether `layer` uses sliding-window attention."""
        if not self.window_pattern or layer == self.n_layers - 1:
            return False
        return self.window_pattern[layer % len(self.window_pattern)] == "S"

    def uses_rope(self, layer: int) -> bool:
        """Whether `layer` applies RoPE (False for NoPE layers)."""
        return not (self.nope_every and (layer + 1) % self.nope_every == 0)

    def is_moe(self, layer: int) -> bool:
        """Whether `layer`'s FFN is a mixture of experts."""
        return self.moe is not None and layer >= self.n_dense_layers


def rope_frequencies(head_dim: int, theta: float, scaling: RopeScaling | None = None):
    """Inverse frequencies (head_dim/2,) in radians per token, and the cos/sin multiplier."""
    if scaling is not None and scaling.kind == "theta":
        theta = scaling.theta
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    mscale = 1.0
    if scaling is not None and scaling.kind == "yarn" and scaling.factor != 1.0:
        rotations = scaling.original_seq_len * inv_freq / (2 * math.pi)  # turns in orig. context
        keep = ((rotations - scaling.beta_slow) / (scaling.beta_fast - scaling.beta_slow)).clamp(
            0, 1
        )  # 1: high frequency, kept; 0: low frequency, interpolated
        inv_freq = keep * inv_freq + (1 - keep) * inv_freq / scaling.factor
        mscale = 0.1 * math.log(scaling.factor) + 1.0
    return inv_freq.float(), mscale


def rope_table(seq_len: int, head_dim: int, theta: float, scaling: RopeScaling | None = None):
    """cos and sin tables, each (seq_len, head_dim/2) float32."""
    inv_freq, mscale = rope_frequencies(head_dim, theta, scaling)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)
    return angles.cos() * mscale, angles.sin() * mscale


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (B, H, T, D) by position: pairs are (x[..., i], x[..., i + D/2])."""
    x1, x2 = x.float().chunk(2, dim=-1)
    cos, sin = cos[: x.shape[2]], sin[: x.shape[2]]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).type_as(x)


class Attention(nn.Module):
    """Causal self-attention of one layer: (B, T, d) -> (B, T, d)."""

    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)
        self.q_norm = nn.RMSNorm(cfg.head_dim, eps=cfg.norm_eps) if cfg.qk_norm else None
        self.k_norm = nn.RMSNorm(cfg.head_dim, eps=cfg.norm_eps) if cfg.qk_norm else None
        self.window = cfg.window if cfg.is_windowed(layer) else None
        self.use_rope = cfg.uses_rope(layer)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        doc_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x: (B, T, d); rope: (cos, sin) tables (T' >= T, D/2), unused by NoPE layers;
        doc_ids: (B, T) or None. Returns (B, T, d)."""
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        if self.q_norm is not None:
            q, k = rms_norm_like_input(self.q_norm, q), rms_norm_like_input(self.k_norm, k)
        if self.use_rope:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        y = attention(q, k, v, doc_ids=doc_ids, window=self.window)  # (B, H, T, D)
        return self.wo(y.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim))


def rms_norm_like_input(norm: nn.RMSNorm, x: torch.Tensor) -> torch.Tensor:
    """``norm(x)`` in x's dtype. Under bf16 autocast the q/k projections are bf16 while the
    gain stays fp32; torch would then take its unfused path and promote q and k to fp32."""
    return F.rms_norm(x, norm.normalized_shape, norm.weight.to(x.dtype), norm.eps)


class Block(nn.Module):
    """Pre-norm transformer block: (B, T, d) -> ((B, T, d), MoE aux loss scalar)."""

    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        self.attn_norm = nn.RMSNorm(cfg.dim, eps=cfg.norm_eps)
        self.attn = Attention(cfg, layer)
        self.ffn_norm = nn.RMSNorm(cfg.dim, eps=cfg.norm_eps)
        self.ffn = MoE(cfg.dim, cfg.moe) if cfg.is_moe(layer) else SwiGLU(cfg.dim, cfg.ffn_hidden)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        doc_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = x + self.attn(self.attn_norm(x), rope, doc_ids)
        h = self.ffn(self.ffn_norm(x))
        if isinstance(h, tuple):
            h, aux = h
        else:
            aux = x.new_zeros((), dtype=torch.float32)
        return x + h, aux


class Transformer(nn.Module):
    """The language model. See `forward`."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        self.norm = nn.RMSNorm(cfg.dim, eps=cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.tok_emb.weight
        self.set_context(cfg.max_seq_len, cfg.rope_scaling)
        self.reset_parameters()

    def set_context(self, max_seq_len: int, rope_scaling: RopeScaling | None) -> None:
        """(Re)build the RoPE tables for `max_seq_len` tokens, `rope_scaling` applied to the
        full-attention layers only (context extension); updates `cfg` to match.

        Buffers (T, D/2) float32, not checkpointed: ``rope_{cos,sin}_local`` for windowed
        layers (never scaled), ``rope_{cos,sin}_global`` for full layers.
        """
        cfg = self.cfg
        cfg.max_seq_len, cfg.rope_scaling = max_seq_len, rope_scaling
        device = self.tok_emb.weight.device
        for kind, scaling in (("local", None), ("global", rope_scaling)):
            cos, sin = rope_table(max_seq_len, cfg.head_dim, cfg.rope_theta, scaling)
            self.register_buffer(f"rope_cos_{kind}", cos.to(device), persistent=False)
            self.register_buffer(f"rope_sin_{kind}", sin.to(device), persistent=False)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Normal(0, init_std) matrices and embeddings; output projections (attention wo,
        FFN w2) scaled by 1/sqrt(2 n_layers); norm gains 1; balancing biases 0."""
        std = self.cfg.init_std
        out_std = std / math.sqrt(2 * self.cfg.n_layers)
        for name, p in self.named_parameters():
            if p.ndim < 2:
                nn.init.ones_(p)
            else:
                is_out = name.endswith(("wo.weight", "w2.weight", ".w2"))
                nn.init.normal_(p, std=out_std if is_out else std)
        for m in self.modules():
            if isinstance(m, MoE):
                m.expert_bias.zero_()

    def rope_for(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The (cos, sin) tables layer `layer` uses."""
        if self.cfg.is_windowed(layer):
            return self.rope_cos_local, self.rope_sin_local
        return self.rope_cos_global, self.rope_sin_global

    def forward(
        self,
        input_ids: torch.Tensor,
        doc_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        return_logits: bool = True,
    ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """Logits and losses.

        input_ids: (B, T) int64 token ids, T <= max_seq_len. doc_ids: (B, T) integer document
        ids (tokens attend only within their document) or None. labels: (B, T) int64 targets
        aligned with the inputs (``labels[:, t]`` is the token following ``input_ids[:, t]``),
        IGNORE_INDEX (-100) where no loss is taken, or None. return_logits: False returns None
        for the logits, so that training never holds them in fp32 (the losses come from
        `train.loss.lm_losses`: on CUDA a kernel that reads the head's bf16 output in chunks).

        Returns logits (B, T, V) float32 (soft-capped if configured) and a dict of scalar
        tensors: always ``moe_aux`` (the coefficient-weighted balance loss summed over
        layers, 0 for dense models); with labels also ``ce`` (mean cross-entropy over
        labelled tokens, nats), ``z_loss`` (mean squared logsumexp of the capped logits over
        labelled tokens, unweighted) and ``loss``
        (``ce + z_loss_coef * z_loss + moe_aux``, the one to backpropagate).
        """
        _, t = input_ids.shape
        if t > self.cfg.max_seq_len:
            raise ValueError(f"sequence of {t} tokens exceeds max_seq_len={self.cfg.max_seq_len}")
        x = self.tok_emb(input_ids)
        moe_aux = x.new_zeros((), dtype=torch.float32)
        for i, block in enumerate(self.blocks):
            x, aux = block(x, self.rope_for(i), doc_ids)
            moe_aux = moe_aux + aux
        raw = self.lm_head(self.norm(x))  # (B, T, V), the compute dtype, not soft-capped
        cap = self.cfg.logit_softcap

        losses = {"moe_aux": moe_aux}
        if labels is not None:
            ce, z_loss = lm_losses(raw.flatten(0, 1), labels.reshape(-1), cap)
            loss = ce + self.cfg.z_loss_coef * z_loss + moe_aux
            losses.update(ce=ce, z_loss=z_loss, loss=loss)
        if not return_logits:
            return None, losses
        logits = raw.float()
        return (cap * torch.tanh(logits / cap) if cap > 0 else logits), losses

    def moe_layers(self) -> list[MoE]:
        """The MoE FFNs, in layer order."""
        return [b.ffn for b in self.blocks if isinstance(b.ffn, MoE)]

    def update_moe_biases(self) -> list[torch.Tensor]:
        """Update every MoE balancing bias (call after each optimiser step).

        Returns the tokens-per-expert counts (E,) of each MoE layer since the last update.
        """
        return [moe.update_bias() for moe in self.moe_layers()]


def param_counts(cfg: ModelConfig) -> dict[str, int]:
    """Parameter counts from the config.

    total: every parameter (a tied head counted once); embedding: the token embedding;
    active: parameters used per token (routed experts counted top_k of n_experts);
    matmul_active: active parameters that are matmul weights (embedding lookup, norm gains
    excluded; the head included, tied or not) - the N of `flops_per_token`.
    """
    d, hd = cfg.dim, cfg.head_dim
    emb = cfg.vocab_size * d
    head = 0 if cfg.tie_embeddings else emb
    attn = d * hd * (2 * cfg.n_heads + 2 * cfg.n_kv_heads)
    gains_layer = 2 * d + (2 * hd if cfg.qk_norm else 0)
    total = emb + head + d  # + final norm
    active_mm = cfg.vocab_size * d
    for layer in range(cfg.n_layers):
        total += attn + gains_layer
        active_mm += attn
        if cfg.is_moe(layer):
            m = cfg.moe
            expert = 3 * d * m.expert_hidden
            shared = m.n_shared * expert
            router = m.n_experts * d
            total += router + m.n_experts * expert + shared
            active_mm += router + m.top_k * expert + shared
        else:
            total += 3 * d * cfg.ffn_hidden
            active_mm += 3 * d * cfg.ffn_hidden
    inactive = sum(
        (cfg.moe.n_experts - cfg.moe.top_k) * 3 * d * cfg.moe.expert_hidden
        for layer in range(cfg.n_layers)
        if cfg.is_moe(layer)
    )
    return {
        "total": total,
        "embedding": emb,
        "active": total - inactive,
        "matmul_active": active_mm,
    }


def flops_per_token(cfg: ModelConfig, seq_len: int) -> float:
    """Training FLOPs per token (forward + backward), for MFU.

    ``6 * N + 12 * sum_l(H * D * ctx_l)`` where N is `param_counts(cfg)["matmul_active"]`
    (every matmul weight a token goes through, the head included, the embedding lookup
    not; for MoE the router, shared experts and top_k routed experts), and the second term
    is the attention score and value matmuls (2 matmuls x 2 FLOPs x 3 for fwd+bwd) with
    ``ctx_l = seq_len`` for full layers and ``min(window, seq_len)`` for windowed ones.
    Causal masking is not discounted (as in PaLM appendix B and nanochat).
    """
    n = param_counts(cfg)["matmul_active"]
    attn = 0
    for layer in range(cfg.n_layers):
        ctx = min(cfg.window, seq_len) if cfg.is_windowed(layer) else seq_len
        attn += 12 * cfg.n_heads * cfg.head_dim * ctx
    return float(6 * n + attn)


def num_parameters(model: nn.Module) -> int:
    """Parameters of a built model (shared tensors counted once)."""
    return sum(p.numel() for p in model.parameters())
