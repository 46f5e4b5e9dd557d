"""Feed-forward layers: the SwiGLU MLP and a mixture of experts built from the same MLP.

The MoE follows DeepSeek-V3: many fine-grained routed experts of which each token uses
``top_k``, plus ``n_shared`` shared experts every token uses; auxiliary-loss-free load
balancing (a per-expert bias added to the router scores for *selection only*, updated after
each optimiser step by ``bias += rate * sign(mean_load - load)``), and an optional
sequence-wise auxiliary loss.

The routed computation is one operation, ``moe_experts``, with a torch reference (sort the
token-expert pairs by expert, run each expert on its contiguous segment, scatter back the
weighted outputs) and a dispatch hook for a Triton grouped GEMM (see `train.get_kernel`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from train import get_kernel, register_kernel


class SwiGLU(nn.Module):
    """``w2(silu(w1 x) * w3 x)``: (..., dim) -> (..., dim) with a `hidden`-wide gate."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


@dataclass
class MoEConfig:
    """Mixture-of-experts FFN settings (used for every layer past `ModelConfig.n_dense_layers`).

    n_experts: routed experts; top_k: routed experts per token; expert_hidden: SwiGLU width of
    one expert; n_shared: shared experts (fused into one SwiGLU of width
    ``n_shared * expert_hidden``); score_func: "sigmoid" (DeepSeek-V3) or "softmax";
    norm_topk: renormalise the selected scores to sum to 1; route_scale: multiplier on the
    routing weights; bias_update_rate: step of the balancing bias per update (0 disables it);
    aux_loss_coef: coefficient of the sequence-wise balance loss (0 disables it).
    """

    n_experts: int = 8
    top_k: int = 2
    expert_hidden: int = 256
    n_shared: int = 1
    score_func: str = "sigmoid"
    norm_topk: bool = True
    route_scale: float = 1.0
    bias_update_rate: float = 1e-3
    aux_loss_coef: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= self.n_experts:
            raise ValueError(f"top_k={self.top_k} must be in [1, n_experts={self.n_experts}]")
        if self.score_func not in ("sigmoid", "softmax"):
            raise ValueError(f"score_func must be 'sigmoid' or 'softmax', not {self.score_func!r}")


def moe_experts_torch(
    x: torch.Tensor,
    expert_idx: torch.Tensor,
    expert_weight: torch.Tensor,
    w1: torch.Tensor,
    w3: torch.Tensor,
    w2: torch.Tensor,
) -> torch.Tensor:
    """Weighted sum of each token's selected experts (reference implementation).

    x: (N, d) tokens; expert_idx: (N, k) int64 selected experts; expert_weight: (N, k)
    routing weights; w1, w3: (E, h, d) and w2: (E, d, h) expert weights in nn.Linear's
    (out, in) layout. Returns (N, d): ``sum_j weight[n, j] * expert_{idx[n, j]}(x[n])``.
    """
    n_tokens, top_k = expert_idx.shape
    n_experts = w1.shape[0]
    flat = expert_idx.reshape(-1)  # (N*k,)
    order = torch.argsort(flat, stable=True)  # token-expert pairs grouped by expert
    token_of = order // top_k  # (N*k,) which token each sorted pair belongs to
    counts = torch.bincount(flat, minlength=n_experts).tolist()
    xs = x[token_of]  # (N*k, d), contiguous per expert
    ys = torch.empty_like(xs)
    start = 0
    for e, count in enumerate(counts):
        if count:
            seg = xs[start : start + count]
            ys[start : start + count] = (F.silu(seg @ w1[e].T) * (seg @ w3[e].T)) @ w2[e].T
        start += count
    ys = ys * expert_weight.reshape(-1)[order, None].to(ys.dtype)
    return torch.zeros_like(x).index_add_(0, token_of, ys)


register_kernel("moe_experts", "torch", moe_experts_torch)


class MoE(nn.Module):
    """Routed + shared experts: (B, T, dim) -> ((B, T, dim), aux loss scalar).

    Buffers: ``expert_bias`` (E,) float32 the balancing bias (checkpointed, kept float32
    whatever the module's dtype); ``tokens_per_expert`` (E,) int64 token-expert assignments
    counted in training forwards since the last `update_bias` (not checkpointed);
    ``last_load`` (E,) int64 the counts of the latest forward, for logging.
    """

    def __init__(self, dim: int, cfg: MoEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        e, h = cfg.n_experts, cfg.expert_hidden
        self.router = nn.Linear(dim, e, bias=False)
        self.w1 = nn.Parameter(torch.empty(e, h, dim))
        self.w3 = nn.Parameter(torch.empty(e, h, dim))
        self.w2 = nn.Parameter(torch.empty(e, dim, h))
        self.shared = SwiGLU(dim, cfg.n_shared * h) if cfg.n_shared > 0 else None
        self.register_buffer("expert_bias", torch.zeros(e))
        self.register_buffer(
            "tokens_per_expert", torch.zeros(e, dtype=torch.long), persistent=False
        )
        self.register_buffer("last_load", torch.zeros(e, dtype=torch.long), persistent=False)
        for w in (self.w1, self.w3, self.w2):
            nn.init.normal_(w, std=1.0 / math.sqrt(w.shape[-1]))

    def _apply(self, fn, recurse=True):
        # Keep the balancing bias in float32 when the module is cast (e.g. .bfloat16()):
        # its updates (~1e-3) would be lost to bf16 rounding.
        super()._apply(fn, recurse)
        self.expert_bias = self.expert_bias.float()
        return self

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Scores and selection for tokens x (N, dim).

        Returns (scores (N, E) float32, expert_idx (N, k) int64, weights (N, k) float32).
        The bias only changes which experts are selected, never the weights.
        """
        logits = self.router(x).float()
        if self.cfg.score_func == "sigmoid":
            scores = torch.sigmoid(logits)
        else:
            scores = torch.softmax(logits, dim=-1)
        expert_idx = (scores + self.expert_bias.float()).topk(self.cfg.top_k, dim=-1).indices
        weights = scores.gather(-1, expert_idx)
        if self.cfg.norm_topk:
            weights = weights / weights.sum(-1, keepdim=True).clamp_min(1e-20)
        return scores, expert_idx, weights * self.cfg.route_scale

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        xf = x.reshape(b * t, d)
        scores, expert_idx, weights = self.route(xf)
        experts = get_kernel("moe_experts", x.device.type)
        y = experts(xf, expert_idx, weights.to(x.dtype), self.w1, self.w3, self.w2)
        if self.shared is not None:
            y = y + self.shared(xf)

        with torch.no_grad():
            load = torch.bincount(expert_idx.reshape(-1), minlength=self.cfg.n_experts)
            self.last_load.copy_(load)
            if self.training:
                self.tokens_per_expert += load

        aux = x.new_zeros((), dtype=torch.float32)
        if self.cfg.aux_loss_coef > 0:
            aux = self.cfg.aux_loss_coef * self.sequence_aux_loss(scores, expert_idx, b, t)
        return y.reshape(b, t, d), aux

    def sequence_aux_loss(
        self, scores: torch.Tensor, expert_idx: torch.Tensor, batch: int, seq_len: int
    ) -> torch.Tensor:
        """DeepSeek-V3's sequence-wise balance loss, averaged over the batch (unscaled).

        For each sequence: ``sum_i f_i * P_i`` with ``f_i = E / (k T) * (tokens selecting
        expert i)`` and ``P_i`` the mean over the sequence of the scores normalised over all
        experts. Equals 1 when both are uniform.
        """
        n_exp, k = self.cfg.n_experts, self.cfg.top_k
        probs = scores / scores.sum(-1, keepdim=True)
        p = probs.reshape(batch, seq_len, n_exp).mean(1)  # (B, E)
        onehot = F.one_hot(expert_idx.reshape(batch, seq_len * k), n_exp).sum(1)  # (B, E)
        f = onehot.float() * (n_exp / (k * seq_len))
        return (f * p).sum(-1).mean()

    @torch.no_grad()
    def update_bias(self, rate: float | None = None) -> torch.Tensor:
        """Apply ``bias += rate * sign(mean_load - load)`` and reset the counts.

        `load` is `tokens_per_expert` summed over all ranks when torch.distributed is
        initialised. Call once after each optimiser step. Returns the load used (E,).
        """
        rate = self.cfg.bias_update_rate if rate is None else rate
        load = self.tokens_per_expert.clone()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(load)
        if rate > 0 and load.sum() > 0:
            self.expert_bias += rate * torch.sign(load.float().mean() - load)
        self.tokens_per_expert.zero_()
        return load
