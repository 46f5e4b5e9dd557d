"""Config files through `TrainConfig.from_file` (train.config): the repo's configs load and
round-trip, and unknown keys, wrong types and non-configs are errors that name the file and
the path of every problem."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from train.config import TrainConfig
from train.model import RopeScaling


def _write_yaml(path, text: str) -> str:
    path.write_text(text)
    return str(path)


TINY_YAML = """
out_dir: runs/x
batch_rows: 8
model: {vocab_size: 400, dim: 32, n_layers: 2, n_heads: 4,
        moe: {n_experts: 4, top_k: 2, expert_hidden: 16}}
optim: {name: adamw, lr: 0.003}
stages:
  - {name: pretrain, sources: {web: out/web}, steps: 10, seq_len: 32}
"""


def test_config_files_load_and_round_trip(tmp_path):
    """The repo's configs load; a config with every nested section survives to_dict -> JSON
    -> from_file unchanged."""
    root = Path(__file__).resolve().parents[2] / "train" / "configs"
    for path in sorted(root.glob("*.yaml")):
        assert TrainConfig.from_file(str(path)).stages
    cfg = TrainConfig.from_file(_write_yaml(tmp_path / "tiny.yaml", TINY_YAML))
    assert cfg.model.moe.n_experts == 4 and cfg.optim.betas == (0.9, 0.95)
    cfg.model.rope_scaling = RopeScaling(kind="theta", theta=1e5)
    cfg.stages[0].rope_scaling = {"kind": "yarn", "factor": 4.0}
    path = tmp_path / "round.json"
    path.write_text(json.dumps(cfg.to_dict()))
    assert TrainConfig.from_file(str(path)) == cfg


def test_config_file_unknown_keys_name_the_file_and_the_closest_key(tmp_path):
    """Every unknown key, at any depth, is reported with its section and the closest valid
    key, in one ValueError naming the file (not the dataclass constructor's TypeError)."""
    text = (TINY_YAML.replace("batch_rows:", "batch_row:")
            .replace("expert_hidden:", "expert_hiden:")
            .replace("seq_len: 32}", "seq_len: 32, warmup_step: 2, colour: red,\n"
                     "     rope_scaling: {kind: yarn, factr: 4.0}}"))
    path = _write_yaml(tmp_path / "typos.yaml", text)
    with pytest.raises(ValueError) as info:
        TrainConfig.from_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: 5 problems:")
    for line in ("unknown key 'batch_row' (did you mean 'batch_rows'?)",
                 "model.moe: unknown key 'expert_hiden' (did you mean 'expert_hidden'?)",
                 "stages[0]: unknown key 'warmup_step' (did you mean 'warmup_steps'?)",
                 "stages[0].rope_scaling: unknown key 'factr' (did you mean 'factor'?)"):
        assert f"\n  {line}" in message
    assert "stages[0]: unknown key 'colour' (valid keys: name, sources, steps," in message
    assert "missing required key" not in message  # 'batch_rows' has a default anyway

    with pytest.raises(ValueError, match=r"bad\.yaml: unknown key 'modle' \(did you mean "
                                         r"'model'\?\)$"):
        TrainConfig.from_file(_write_yaml(tmp_path / "bad.yaml",
                                          TINY_YAML.replace("model:", "modle:")))
    no_steps = TINY_YAML.replace(" steps: 10,", "")
    with pytest.raises(ValueError, match=r"stages\[0\]: missing required key 'steps'$"):
        TrainConfig.from_file(_write_yaml(tmp_path / "no_steps.yaml", no_steps))


@pytest.mark.parametrize(("change", "expected"), [
    (("lr: 0.003", "lr: 3e-4"),
     "optim.lr: expected a number, got str '3e-4' (YAML 1.1 reads 3e-4 as a string: "
     "write 3.0e-4)"),
    (("steps: 10", "steps: 10.5"), "stages[0].steps: expected an integer, got float 10.5"),
    (("batch_rows: 8", "batch_rows: true"), "batch_rows: expected an integer, got bool True"),
    (("out_dir: runs/x", "out_dir: runs/x\nparallel: zero"),
     "parallel: expected one of 'ddp', 'fsdp', got str 'zero'"),
    (("sources: {web: out/web}", "sources: [out/web]"),
     "stages[0].sources: expected a mapping, got list ['out/web']"),
    (("top_k: 2", "top_k: 5"), "model.moe: top_k=5 must be in [1, n_experts=4]"),
    (("lr: 0.003", "lr: 0.003, betas: [0.9]"), "optim.betas: expected 2 items, got list [0.9]"),
])
def test_config_file_wrong_types_are_clear_errors(tmp_path, change, expected):
    """A value of the wrong type, or one a section's own check rejects, is a ValueError with
    the file and the key's path."""
    path = _write_yaml(tmp_path / "c.yaml", TINY_YAML.replace(*change))
    with pytest.raises(ValueError) as info:
        TrainConfig.from_file(path)
    assert str(info.value) == f"{path}: {expected}"


def test_config_file_that_is_not_a_config(tmp_path):
    for name, text, expected in (
        ("empty.yaml", "", "expected a mapping of TrainConfig keys, got null"),
        ("list.json", "[1, 2]", "expected a mapping of TrainConfig keys, got list [1, 2]"),
        ("broken.yaml", "model: {dim: 32", "not valid YAML"),
        ("broken.json", "{", "not valid JSON"),
    ):
        path = _write_yaml(tmp_path / name, text)
        with pytest.raises(ValueError, match="^" + re.escape(f"{path}: {expected}")):
            TrainConfig.from_file(path)
