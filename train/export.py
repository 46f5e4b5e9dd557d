"""Export a checkpoint as a Hugging Face model directory that ``transformers`` loads.

``curate export CKPT OUT`` writes ``model.safetensors`` (float32, the checkpoint's weights),
``config.json``, ``tokenizer.json`` and ``tokenizer_config.json``;
``AutoModelForCausalLM.from_pretrained(OUT)`` then gives our logits (to float32 rounding) and
``AutoTokenizer.from_pretrained(OUT)`` our token ids. The class is the first that represents
the model exactly:

- a mixture of experts (sigmoid scores, shared experts, the balancing bias used for selection
  only): ``Glm4MoeForCausalLM``, its dense first layers from ``n_dense_layers``;
- QK-norm (RMSNorm over each head's D dims, before RoPE): ``Qwen3ForCausalLM``, sliding-window
  layers included (``layer_types``);
- no QK-norm, with NoPE or sliding-window layers: ``SmolLM3ForCausalLM``;
- otherwise: ``LlamaForCausalLM``.

All are pre-norm RMSNorm blocks with SwiGLU FFNs and no biases. Our RoPE rotates the pairs
``(x[i], x[i + D/2])``, the layout of transformers' ``rotate_half``: q and k need no
permutation. Our window of ``w`` tokens is transformers' ``sliding_window=w`` (both: the query
and its ``w - 1`` predecessors). An option no class represents is refused, by name, rather
than exported as another model. The z-loss, the MoE aux loss and the bias update rate are
training-only and do not matter.

Checkpoints hold full state dicts whatever the parallelism (`train.checkpoint`), so DDP and
FSDP runs export alike. ``state.json``'s config is the model as trained at the save: the
trainer's ``set_context`` updates it in place, so a context extension (longer
``max_seq_len``, a RoPE theta) is what gets exported. The tokenizer is the file the run's
``tokenizer_path`` names, or ``--tokenizer``; either must hash to the tokenizer the data was
tokenized with.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterator

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer

from curation.core.commands import command_parser
from curation.core.errors import CurationError
from curation.tokenize.tokenizer import (
    DEFAULT_SPECIALS,
    TokenizerInfo,
    load_tokenizer,
    tokenizer_hash,
)
from train.checkpoint import read_state
from train.config import TrainConfig
from train.model import ModelConfig, Transformer

# our parameter name -> the transformers one; layer entries are relative to ``blocks.{i}.``
# and ``model.layers.{i}.``
TOP_LEVEL = {
    "tok_emb.weight": "model.embed_tokens.weight",
    "norm.weight": "model.norm.weight",
    "lm_head.weight": "lm_head.weight",
}
PER_LAYER = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn.wq.weight": "self_attn.q_proj.weight",
    "attn.wk.weight": "self_attn.k_proj.weight",
    "attn.wv.weight": "self_attn.v_proj.weight",
    "attn.wo.weight": "self_attn.o_proj.weight",
    "attn.q_norm.weight": "self_attn.q_norm.weight",
    "attn.k_norm.weight": "self_attn.k_norm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn.w1.weight": "mlp.gate_proj.weight",  # dense SwiGLU: w2(silu(w1 x) * w3 x)
    "ffn.w3.weight": "mlp.up_proj.weight",
    "ffn.w2.weight": "mlp.down_proj.weight",
    "ffn.router.weight": "mlp.gate.weight",
    "ffn.expert_bias": "mlp.gate.e_score_correction_bias",
    "ffn.shared.w1.weight": "mlp.shared_experts.gate_proj.weight",
    "ffn.shared.w3.weight": "mlp.shared_experts.up_proj.weight",
    "ffn.shared.w2.weight": "mlp.shared_experts.down_proj.weight",
}
# routed experts, stacked (E, out, in): split into ``mlp.experts.{e}.<name>.weight`` (the hub
# layout, which transformers fuses on load)
EXPERTS = {"ffn.w1": "gate_proj", "ffn.w3": "up_proj", "ffn.w2": "down_proj"}
_LAYER_KEY = re.compile(r"blocks\.(\d+)\.(.+)")


class ExportError(ValueError):
    """A checkpoint that cannot be exported as it is (the message says why)."""


def unsupported(cfg: ModelConfig) -> list[str]:
    """The options of ``cfg`` that no transformers class represents, one line each; [] when
    the model exports exactly."""
    problems = []
    windowed = any(cfg.is_windowed(i) for i in range(cfg.n_layers))
    nope = any(not cfg.uses_rope(i) for i in range(cfg.n_layers))
    if cfg.logit_softcap > 0:
        problems.append(f"logit_softcap={cfg.logit_softcap}: no transformers class with this "
                        "architecture soft-caps its logits")
    scaling = cfg.rope_scaling
    if scaling is not None and scaling.kind == "yarn" and scaling.factor != 1.0:
        problems.append("rope_scaling kind='yarn': our ramp between beta_slow and beta_fast is "
                        "linear in rotations, transformers' YaRN ramp is linear in the "
                        "dimension index (other frequencies)")
    if scaling is not None and scaling.kind == "theta" and windowed:
        problems.append("rope_scaling with sliding-window layers: our windowed layers keep the "
                        "base rope_theta, transformers uses one RoPE for every layer")
    if cfg.moe is not None:
        if cfg.moe.score_func != "sigmoid":
            problems.append(f"moe.score_func={cfg.moe.score_func!r}: the transformers MoE with "
                            "shared experts and a selection bias (Glm4Moe) scores by sigmoid")
        if cfg.moe.n_experts < 2:
            problems.append("moe.n_experts=1: Glm4Moe's router needs at least 2 experts")
        if windowed:
            problems.append("moe with window_pattern: Glm4Moe has no sliding-window layers")
        if nope:
            problems.append("moe with nope_every: Glm4Moe has no NoPE layers")
    elif cfg.qk_norm and nope:
        problems.append(f"nope_every={cfg.nope_every} with qk_norm: no transformers class has "
                        "both QK-norm and NoPE layers (SmolLM3 has NoPE without QK-norm)")
    return problems


def architecture(cfg: ModelConfig) -> str:
    """The transformers class that represents ``cfg`` (see the module docstring)."""
    if cfg.moe is not None:
        return "Glm4MoeForCausalLM"
    if cfg.qk_norm:
        return "Qwen3ForCausalLM"
    if any(cfg.is_windowed(i) or not cfg.uses_rope(i) for i in range(cfg.n_layers)):
        return "SmolLM3ForCausalLM"
    return "LlamaForCausalLM"


def check_exportable(cfg: ModelConfig) -> None:
    """Raise ExportError naming every option of ``cfg`` that `unsupported` finds."""
    problems = unsupported(cfg)
    if problems:
        raise ExportError("cannot export to transformers:\n" + "\n".join(
            f"  {p}" for p in problems))


def hf_config(cfg: ModelConfig, special_ids: dict[str, int | None]) -> dict:
    """``config.json`` for ``cfg`` (which passes `check_exportable`); ``special_ids``: the
    ``bos``, ``eos`` and ``pad`` ids, or None."""
    arch = architecture(cfg)
    theta = cfg.rope_theta
    if cfg.rope_scaling is not None and cfg.rope_scaling.kind == "theta":
        theta = cfg.rope_scaling.theta
    out = {
        "architectures": [arch],
        "model_type": {"Glm4MoeForCausalLM": "glm4_moe", "Qwen3ForCausalLM": "qwen3",
                       "SmolLM3ForCausalLM": "smollm3", "LlamaForCausalLM": "llama"}[arch],
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.dim,
        "intermediate_size": cfg.ffn_hidden,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": cfg.max_seq_len,
        "rms_norm_eps": cfg.norm_eps,
        "rope_parameters": {"rope_type": "default", "rope_theta": theta},
        "attention_bias": False,
        "tie_word_embeddings": cfg.tie_embeddings,
        "initializer_range": cfg.init_std,
        "bos_token_id": special_ids["bos"],
        "eos_token_id": special_ids["eos"],
        "pad_token_id": special_ids["pad"],
        "dtype": "float32",
    }
    if arch in ("LlamaForCausalLM", "SmolLM3ForCausalLM"):
        out["mlp_bias"] = False
    if arch in ("Qwen3ForCausalLM", "SmolLM3ForCausalLM"):
        windowed = [cfg.is_windowed(i) for i in range(cfg.n_layers)]
        out |= {"use_sliding_window": any(windowed),
                "sliding_window": cfg.window if any(windowed) else None,
                "layer_types": ["sliding_attention" if w else "full_attention"
                                for w in windowed]}
    if arch == "SmolLM3ForCausalLM":
        out["no_rope_layers"] = [int(cfg.uses_rope(i)) for i in range(cfg.n_layers)]
    if arch == "Glm4MoeForCausalLM":
        moe = cfg.moe
        out["rope_parameters"]["partial_rotary_factor"] = 1.0  # Glm4Moe's default is 0.5
        out |= {"use_qk_norm": cfg.qk_norm,
                "first_k_dense_replace": cfg.n_dense_layers,
                "n_routed_experts": moe.n_experts,
                "num_experts_per_tok": moe.top_k,
                "moe_intermediate_size": moe.expert_hidden,
                "n_shared_experts": moe.n_shared,
                "norm_topk_prob": moe.norm_topk,
                "routed_scaling_factor": moe.route_scale,
                "n_group": 1, "topk_group": 1,  # no group-limited routing
                "num_mtp_layers": 0}
    return out


def hf_tensors(name: str, tensor: torch.Tensor) -> Iterator[tuple[str, torch.Tensor]]:
    """The transformers tensors (name, contiguous tensor) of our parameter or buffer ``name``."""
    if name in TOP_LEVEL:
        yield TOP_LEVEL[name], tensor.contiguous()
        return
    match = _LAYER_KEY.fullmatch(name)
    layer, rest = (match[1], match[2]) if match else (None, name)
    if layer is not None and rest in PER_LAYER:
        yield f"model.layers.{layer}.{PER_LAYER[rest]}", tensor.contiguous()
    elif layer is not None and rest in EXPERTS:
        for e, weight in enumerate(tensor):
            hf_name = f"model.layers.{layer}.mlp.experts.{e}.{EXPERTS[rest]}.weight"
            yield hf_name, weight.contiguous()
    else:
        raise ExportError(f"{name}: no transformers name for this tensor")


def hf_state_dict(cfg: ModelConfig, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` (our full state dict, float32) renamed and split for transformers. Raises
    ExportError unless its names and shapes are those of ``Transformer(cfg)``."""
    with torch.device("meta"):
        want = {k: v.shape for k, v in Transformer(cfg).state_dict().items()}
    got = {k: v.shape for k, v in state.items()}
    if got != want:
        missing, extra = sorted(want.keys() - got.keys()), sorted(got.keys() - want.keys())
        shapes = [k for k in want.keys() & got.keys() if want[k] != got[k]]
        raise ExportError(f"the weights do not match the model config: missing {missing}, "
                          f"unexpected {extra}, other shapes {sorted(shapes)}")
    out = {}
    for name, tensor in state.items():
        if name == "lm_head.weight" and cfg.tie_embeddings:
            continue  # transformers ties it to the embedding again on load
        out.update(hf_tensors(name, tensor.float()))
    if cfg.moe is not None and cfg.moe.n_shared == 0:
        # Glm4Moe always builds shared experts: ours have width 0, not missing weights
        shapes = {"gate_proj": (0, cfg.dim), "up_proj": (0, cfg.dim), "down_proj": (cfg.dim, 0)}
        for layer in range(cfg.n_layers):
            if cfg.is_moe(layer):
                out |= {f"model.layers.{layer}.mlp.shared_experts.{k}.weight": torch.zeros(s)
                        for k, s in shapes.items()}
    return out


def run_tokenizer(state: dict, path: str | None) -> tuple[Tokenizer, TokenizerInfo]:
    """The run's tokenizer (from ``path``, else the run's ``tokenizer_path``) and the
    ``TokenizerInfo`` the checkpoint recorded. Raises ExportError when neither names a file
    or the file is another tokenizer."""
    info = TokenizerInfo.from_dict(state["tokenizer"])
    path = path or state["config"].get("tokenizer_path")
    if path is None:
        raise ExportError(f"the run names no tokenizer file (tokenizer_path): pass --tokenizer, "
                          f"the tokenizer.json its data was tokenized with ({info.name}, hash "
                          f"{info.hash[:12]})")
    tokenizer = load_tokenizer(path)
    if tokenizer_hash(tokenizer) != info.hash:
        raise ExportError(f"{path} is not the tokenizer the run was trained on ({info.name}, "
                          f"hash {info.hash[:12]})")
    return tokenizer, info


def tokenizer_config(tokenizer: Tokenizer, info: TokenizerInfo,
                     max_len: int) -> tuple[dict, dict[str, int | None]]:
    """``tokenizer_config.json`` (the tokenizers-backed fast class, so that AutoTokenizer uses
    ``tokenizer.json`` as it is) and the special ids ``bos``, ``eos``, ``pad`` (None if none)."""
    ids = {"bos": info.bos_id, "eos": info.eos_id,
           "pad": tokenizer.token_to_id(DEFAULT_SPECIALS["pad"])}
    out = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_len,
           "clean_up_tokenization_spaces": False}
    out |= {f"{key}_token": tokenizer.id_to_token(tid) for key, tid in ids.items()
            if tid is not None}
    return out, ids


def export(checkpoint: str, out: str, tokenizer: str | None = None) -> dict:
    """Write the Hugging Face directory ``out`` (new or empty) from the checkpoint directory
    ``checkpoint``; returns its config.json. Written under ``<out>.tmp`` and renamed, so ``out``
    is complete or absent. Raises ExportError (a ValueError) for what cannot be exported."""
    if os.path.isdir(out) and os.listdir(out):
        raise ExportError(f"{out} exists and is not empty")
    state = read_state(checkpoint)
    cfg = TrainConfig.from_dict(state["config"], source=f"{checkpoint}/state.json").model
    check_exportable(cfg)
    tok, info = run_tokenizer(state, tokenizer)
    tok_cfg, special_ids = tokenizer_config(tok, info, cfg.max_seq_len)
    config = hf_config(cfg, special_ids)
    weights = torch.load(os.path.join(checkpoint, "model.pt"), map_location="cpu",
                         weights_only=True)
    tensors = hf_state_dict(cfg, weights)
    tmp = out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    save_file(tensors, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
    for name, content in (("config.json", config), ("tokenizer_config.json", tok_cfg)):
        with open(os.path.join(tmp, name), "w") as f:
            json.dump(content, f, indent=2)
    with open(os.path.join(tmp, "tokenizer.json"), "w") as f:
        f.write(tok.to_str())
    os.replace(tmp, out)
    return config


def main(argv: list[str] | None = None) -> int:
    """``curate export CKPT OUT``. Exit status: 0 when written, 2 when the checkpoint cannot be
    exported (one message, no traceback)."""
    parser = command_parser(
        "curate export", __doc__,
        "curate export runs/my-run/checkpoints/ckpt-0004000 runs/my-run/hf\n"
        "python -c \"import transformers as t; "
        "t.AutoModelForCausalLM.from_pretrained('runs/my-run/hf')\"")
    parser.add_argument("checkpoint", help="a checkpoint directory (ckpt-NNNNNNN: model.pt, "
                        "state.json), from a 1-process, DDP or FSDP run")
    parser.add_argument("out", help="the model directory to write (new, or empty)")
    parser.add_argument("--tokenizer", default=None, metavar="PATH",
                        help="the run's tokenizer.json (default: the run's tokenizer_path); "
                        "checked against the tokenizer the data was tokenized with")
    args = parser.parse_args(argv)
    try:
        config = export(args.checkpoint, args.out, args.tokenizer)
    except (OSError, ValueError, CurationError) as e:
        print(f"curate export: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({config['architectures'][0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
