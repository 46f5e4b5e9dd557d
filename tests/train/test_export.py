"""`curate export`: a checkpoint becomes a Hugging Face directory that transformers loads with
our logits (Llama, Qwen3, SmolLM3, Glm4Moe), options without an equivalent are refused by name,
the tokenizer round-trips, and FSDP and trainer checkpoints export alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from test_data import tokenized_source
from test_trainer import config
from torch.distributed.fsdp import fully_shard
from transformers import AutoModelForCausalLM, AutoTokenizer

from curation.cli import main as curate
from curation.tokenize import describe, load_tokenizer
from train import checkpoint
from train.config import StageConfig, TrainConfig
from train.export import ExportError, export
from train.model import ModelConfig, RopeScaling, Transformer
from train.moe import MoE, MoEConfig
from train.parallel import World
from train.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]
ATOL = 1e-4  # max |logits_ours - logits_transformers|, float32


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/train/conftest.py


def tiny(**kw) -> ModelConfig:
    base = dict(vocab_size=400, dim=32, n_layers=3, n_heads=4, n_kv_heads=2, max_seq_len=64)
    return ModelConfig(**(base | kw))


def random_model(cfg: ModelConfig, seed: int = 0) -> Transformer:
    """A model whose norm gains and MoE biases are random too (a freshly built model has gains
    of 1 and biases of 0, which would hide a misplaced norm or a dropped bias)."""
    torch.manual_seed(seed)
    model = Transformer(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 1:
                p.copy_(1 + 0.2 * torch.randn_like(p))
        for m in model.modules():
            if isinstance(m, MoE):
                m.expert_bias.copy_(0.5 * torch.randn_like(m.expert_bias))
    return model


def save(root, model: Transformer, tokenizer_path: str | None, recorded: str) -> str:
    """``model`` checkpointed by `train.checkpoint.save` as a run would; returns its path.
    ``recorded``: the tokenizer file the data was tokenized with (its identity is recorded)."""
    run = TrainConfig(model=model.cfg, stages=[StageConfig("main", {"web": "unused"}, 1)],
                      out_dir=str(root), tokenizer_path=tokenizer_path)
    state = {"config": run.to_dict(),
             "tokenizer": describe(load_tokenizer(recorded), "tokenizer.json").to_dict()}
    optimizer = torch.optim.AdamW(model.parameters())
    return checkpoint.save(str(root / "checkpoints"), 1, model, optimizer, state,
                           World(0, 1, torch.device("cpu")), keep=1)


def max_logit_diff(model: Transformer, out, seq_len: int = 24) -> float:
    """max |ours - transformers'| over the logits of random token ids (2, seq_len)."""
    ids = torch.randint(0, model.cfg.vocab_size, (2, seq_len), generator=torch.Generator()
                        .manual_seed(1))
    hf = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    with torch.no_grad():
        return (model(ids)[0] - hf(ids).logits).abs().max().item()


MOE = MoEConfig(n_experts=4, top_k=2, expert_hidden=16, n_shared=1)
EXPORTED = {  # name: (model options, transformers class)
    "llama-gqa-untied": (dict(qk_norm=False, tie_embeddings=False), "LlamaForCausalLM"),
    "llama-mha-tied-head_dim": (dict(qk_norm=False, n_kv_heads=4, head_dim=16,
                                     rope_theta=5e5, norm_eps=1e-5), "LlamaForCausalLM"),
    "qwen3-gqa-tied": (dict(), "Qwen3ForCausalLM"),
    "qwen3-untied-windows": (dict(tie_embeddings=False, window=5, window_pattern="SF"),
                             "Qwen3ForCausalLM"),
    "qwen3-theta-extension": (dict(rope_scaling=RopeScaling(kind="theta", theta=1e5)),
                              "Qwen3ForCausalLM"),
    "smollm3-nope-windows": (dict(qk_norm=False, nope_every=2, window=5, window_pattern="S"),
                             "SmolLM3ForCausalLM"),
    "glm4moe-qknorm-dense-first": (dict(moe=MOE, n_dense_layers=1, tie_embeddings=False),
                                   "Glm4MoeForCausalLM"),
    "glm4moe-no-shared-scaled": (dict(qk_norm=False, moe=MoEConfig(
        n_experts=4, top_k=2, expert_hidden=16, n_shared=0, norm_topk=False, route_scale=2.5)),
        "Glm4MoeForCausalLM"),
}


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")  # width-0 shared experts
@pytest.mark.parametrize("name", EXPORTED)
def test_transformers_gives_our_logits(tmp_path, tokenizer_path, name):
    options, cls = EXPORTED[name]
    model = random_model(tiny(**options))
    config_json = export(save(tmp_path, model, tokenizer_path, tokenizer_path),
                         str(tmp_path / "hf"))
    assert config_json["architectures"] == [cls]
    assert sorted(p.name for p in (tmp_path / "hf").iterdir()) == [
        "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    diff = max_logit_diff(model, tmp_path / "hf")
    print(f"{name}: {cls}, max |logit diff| {diff:.2e}")
    assert diff < ATOL


def test_the_comparison_sees_a_wrong_mapping(tmp_path, tokenizer_path):
    """Swapping two layers' norm gains in the export moves the logits far past ATOL."""
    from safetensors.torch import load_file, save_file

    model = random_model(tiny(qk_norm=False))
    export(save(tmp_path, model, tokenizer_path, tokenizer_path), str(tmp_path / "hf"))
    path = str(tmp_path / "hf" / "model.safetensors")
    tensors = load_file(path)
    a, b = (f"model.layers.{i}.input_layernorm.weight" for i in (0, 1))
    tensors[a], tensors[b] = tensors[b], tensors[a]
    save_file(tensors, path, metadata={"format": "pt"})
    assert max_logit_diff(model, tmp_path / "hf") > 100 * ATOL


REFUSED = {  # model options: the words the refusal names them by
    "softcap": (dict(logit_softcap=30.0), "logit_softcap=30.0"),
    "yarn": (dict(rope_scaling=RopeScaling(factor=4.0, original_seq_len=16)),
             "rope_scaling kind='yarn'"),
    "theta-with-windows": (dict(window=4, window_pattern="SF",
                                rope_scaling=RopeScaling(kind="theta", theta=1e5)),
                           "rope_scaling with sliding-window layers"),
    "nope-with-qk_norm": (dict(nope_every=2), "nope_every=2 with qk_norm"),
    "moe-softmax": (dict(moe=MoEConfig(n_experts=4, top_k=2, expert_hidden=16,
                                       score_func="softmax")), "moe.score_func='softmax'"),
    "moe-one-expert": (dict(moe=MoEConfig(n_experts=1, top_k=1, expert_hidden=16)),
                       "moe.n_experts=1"),
    "moe-windows": (dict(moe=MOE, window=4, window_pattern="SF"), "moe with window_pattern"),
    "moe-nope": (dict(moe=MOE, qk_norm=False, nope_every=2), "moe with nope_every"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_options_without_an_equivalent_are_refused_by_name(tmp_path, tokenizer_path, name):
    options, words = REFUSED[name]
    ckpt = save(tmp_path, Transformer(tiny(**options)), tokenizer_path, tokenizer_path)
    with pytest.raises(ExportError, match="cannot export to transformers") as refused:
        export(ckpt, str(tmp_path / "hf"))
    assert words in str(refused.value)
    assert not (tmp_path / "hf").exists() and not (tmp_path / "hf.tmp").exists()


def test_the_tokenizer_round_trips(tmp_path, tokenizer_path):
    model = Transformer(tiny())
    export(save(tmp_path, model, tokenizer_path, tokenizer_path), str(tmp_path / "hf"))
    ours = load_tokenizer(tokenizer_path)
    theirs = AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    for text in ("The quick brown fox.", "  tabs\tand\nnewlines, naïve café 12345 \U0001F600",
                 "alpha<|endoftext|>beta"):
        assert theirs(text)["input_ids"] == ours.encode(text).ids
        assert theirs.decode(theirs(text)["input_ids"]) == text
    info = describe(ours, "tokenizer.json")
    assert theirs.eos_token_id == info.eos_id == 0 and theirs.pad_token_id == 1
    hf = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert (hf["eos_token_id"], hf["pad_token_id"], hf["bos_token_id"]) == (0, 1, None)


def test_the_tokenizer_must_be_the_runs(tmp_path, tokenizer_path, other_tokenizer_path):
    no_path = save(tmp_path / "a", Transformer(tiny()), None, tokenizer_path)
    with pytest.raises(ExportError, match="pass --tokenizer"):
        export(no_path, str(tmp_path / "hf"))
    with pytest.raises(ExportError, match="is not the tokenizer the run was trained on"):
        export(no_path, str(tmp_path / "hf"), tokenizer=other_tokenizer_path)
    export(no_path, str(tmp_path / "hf"), tokenizer=tokenizer_path)
    with pytest.raises(ExportError, match="not empty"):
        export(no_path, str(tmp_path / "hf"), tokenizer=tokenizer_path)


def test_an_fsdp_models_checkpoint_exports(tmp_path, tokenizer_path):
    """Saved from FSDP2-sharded parameters (DTensors; one gloo rank in this process), the
    checkpoint is gathered into plain tensors and exports with the unsharded model's logits."""
    model = random_model(tiny(tie_embeddings=False))
    reference = random_model(tiny(tie_embeddings=False))
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        for block in model.blocks:
            fully_shard(block)
        fully_shard(model)
        assert type(model.tok_emb.weight).__name__ == "DTensor"
        ckpt = save(tmp_path, model, tokenizer_path, tokenizer_path)
    finally:
        dist.destroy_process_group()
    export(ckpt, str(tmp_path / "hf"))
    assert max_logit_diff(reference, tmp_path / "hf") < ATOL


def test_a_trained_run_exports_its_extended_context(tmp_path, tokenizer_path):
    """The trainer's checkpoint after a context-extension stage exports the extended context
    (max_seq_len 96, RoPE theta 1e5), with the trained weights' logits at 80 tokens."""
    web = tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")
    stages = [StageConfig("pretrain", {"web": web}, 2, seq_len=16),
              StageConfig("long", {"web": web}, 1, seq_len=96, schedule="constant",
                          rope_scaling={"kind": "theta", "theta": 1e5})]
    trainer = Trainer(config(tmp_path, {}, 0, stages=stages, tokenizer_path=tokenizer_path))
    trainer.fit()
    ckpt = checkpoint.latest(trainer.ckpt_root)
    hf = export(ckpt, str(tmp_path / "hf"))
    assert hf["max_position_embeddings"] == 96 and hf["rope_parameters"]["rope_theta"] == 1e5
    assert max_logit_diff(trainer.model.eval(), tmp_path / "hf", seq_len=80) < ATOL


def test_curate_export_command(tmp_path, tokenizer_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        curate(["export", "--help"])
    assert exit_.value.code == 0 and "example" in capsys.readouterr().out
    ckpt = save(tmp_path, Transformer(tiny()), tokenizer_path, tokenizer_path)
    assert curate(["export", ckpt, str(tmp_path / "hf")]) == 0
    assert "Qwen3ForCausalLM" in capsys.readouterr().out
    # the shipped tiny config: soft-capped logits, NoPE layers with QK-norm
    shipped = TrainConfig.from_file(str(REPO / "train" / "configs" / "tiny.yaml")).model
    ckpt = save(tmp_path / "tiny", Transformer(shipped), tokenizer_path, tokenizer_path)
    assert curate(["export", ckpt, str(tmp_path / "tiny-hf")]) == 2
    err = capsys.readouterr().err
    assert "logit_softcap=30.0" in err and "nope_every=4 with qk_norm" in err
    assert "Traceback" not in err
