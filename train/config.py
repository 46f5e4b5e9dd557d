"""The run's configuration: `TrainConfig` and `StageConfig`, and the checked loading of the
YAML / JSON files that fill them.

`parse_section` turns a parsed YAML / JSON mapping into a dataclass, walking the type
annotations: nested dataclasses, ``Literal`` choices, unions with None, lists, tuples and
mappings, and bool / int / float / str scalars. Every problem is collected with its path
(``model.moe``, ``stages[1].steps``) rather than failing on the first, and an unknown key
names the closest valid one. A field whose metadata has ``"schema": SomeDataclass`` is
checked against that class but kept as the mapping it was given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import types
import typing
from dataclasses import asdict, dataclass, field
from typing import Literal

from train.data import Packing
from train.model import ModelConfig, RopeScaling
from train.optim import OptimConfig

Parallel = Literal["ddp", "fsdp"]
LoggerName = Literal["tensorboard", "wandb"]  # besides metrics.jsonl (see train.loggers)


@dataclass
class StageConfig:
    """One stage of training. ``lr_scale`` multiplies the optimiser's base LRs at the peak;
    ``schedule`` is wsd, cosine, linear_to_zero or constant. ``seq_len`` above the model's
    ``max_seq_len`` with ``rope_scaling`` set makes a context-extension stage (the RoPE of
    full-attention layers is rescaled, windowed layers keep theirs)."""

    name: str
    sources: dict[str, str]  # source name -> tokenized output directory
    steps: int
    weights: dict[str, float] | None = None
    seq_len: int = 256
    lr_scale: float = 1.0
    schedule: str = "wsd"
    warmup_steps: int = 0
    decay_fraction: float = 0.2
    # RopeScaling's fields, kept as a mapping ("schema": what the config file is checked against)
    rope_scaling: dict | None = field(default=None, metadata={"schema": RopeScaling})
    packing: Packing = "concat"  # "best_fit": whole documents per row, padded (see train.data)


@dataclass
class TrainConfig:
    """A training run (see `train.trainer`); ``batch_rows`` is per rank and micro-batch."""

    model: ModelConfig
    stages: list[StageConfig]
    out_dir: str
    optim: OptimConfig = field(default_factory=OptimConfig)
    batch_rows: int = 8  # per rank, per micro-batch
    grad_accum: int = 1
    grad_clip: float = 1.0
    seed: int = 0
    eval_domains: dict[str, str] = field(default_factory=dict)
    eval_every: int = 0  # steps; 0: only at the end
    eval_rows: int = 32
    checkpoint_every: int = 0  # steps; 0: only at the end
    keep_checkpoints: int = 2
    cache_dir: str = "runs/cache/npy"
    log_every: int = 1
    progress_every: int = 10  # steps between console lines (train/progress.py); 0: quiet
    tokenizer_path: str | None = None  # tokenizer.json, for the PAD id of best-fit rows
    parallel: Parallel = "ddp"  # with WORLD_SIZE > 1: "ddp" (replicas) or "fsdp" (FSDP2 shards)
    loggers: list[LoggerName] = field(default_factory=list)
    wandb_project: str = "curation"
    wandb_mode: Literal["offline", "online"] = "offline"  # offline: `wandb sync` uploads later

    def __post_init__(self) -> None:
        known = typing.get_args(LoggerName)
        for name in self.loggers:
            if name not in known:
                raise ValueError(f"loggers: unknown logger {name!r} "
                                 f"(known: {', '.join(known)})")

    @property
    def total_steps(self) -> int:
        return sum(s.steps for s in self.stages)

    def stage_at(self, step: int) -> tuple[int, int]:
        """(stage index, step within it) of global ``step`` (0-based optimiser steps)."""
        for i, s in enumerate(self.stages):
            if step < s.steps:
                return i, step
            step -= s.steps
        raise IndexError("step past the last stage")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> TrainConfig:
        """A config from its parsed YAML / JSON (or `to_dict`) form: nested sections become
        their dataclasses. Raises ValueError naming `source` and every problem: unknown keys
        (with the closest valid key), missing keys, values of the wrong type, and the
        sections' own checks (e.g. ``model.moe: top_k=3 must be in [1, n_experts=2]``)."""
        problems: list[str] = []
        cfg = parse_section(d, cls, "", problems)
        if len(problems) == 1:
            raise ValueError(f"{source}: {problems[0]}")
        if problems:
            raise ValueError(f"{source}: {len(problems)} problems:\n"
                             + "\n".join(f"  {p}" for p in problems))
        return cfg

    @classmethod
    def from_file(cls, path: str) -> TrainConfig:
        """`from_dict` of a YAML (``.yaml``, ``.yml``) or JSON file; errors name the file."""
        with open(path) as f:
            text = f.read()
        if path.endswith((".yaml", ".yml")):
            import yaml

            try:
                raw = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise ValueError(f"{path}: not valid YAML: {e}") from None
        else:
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: not valid JSON: {e}") from None
        return cls.from_dict(raw, source=path)


# -- config files checked against the dataclasses -------------------------------------------
def _at(where: str, message: str) -> str:
    return f"{where}: {message}" if where else message


def _shown(value: object) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


_SCALARS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _parse(value: object, hint: object, where: str, problems: list[str]) -> object:
    """`value` (parsed YAML / JSON) checked against the annotation `hint` and converted:
    mappings to dataclasses, lists to tuples where annotated. Each mismatch is appended to
    `problems` with its path (``model.moe``, ``stages[1].steps``); the result is then None.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options[:-1]:  # the first alternative that fits; else the last's error
            trial: list[str] = []
            out = _parse(value, option, where, trial)
            if not trial:
                return out
        return _parse(value, options[-1], where, problems)
    if dataclasses.is_dataclass(hint):
        return parse_section(value, hint, where, problems)
    if origin is Literal:
        if value in args:
            return value
        problems.append(_at(where, f"expected one of {', '.join(map(repr, args))}, "
                                   f"got {_shown(value)}"))
        return None
    if hint in _SCALARS:
        if hint in (bool, str):
            ok = isinstance(value, hint)
        else:  # a YAML true is an int to Python: not a number here
            ok = isinstance(value, int | float if hint is float else int)
            ok = ok and not isinstance(value, bool)
        if ok:
            return value
        message = f"expected {_SCALARS[hint]}, got {_shown(value)}"
        if hint is float and isinstance(value, str):
            with contextlib.suppress(ValueError):
                float(value)
                message += (" (YAML 1.1 reads 3e-4 as a string: write 3.0e-4)"
                            if "." not in value else " (write it without quotes)")
        problems.append(_at(where, message))
        return None
    container = origin or hint
    if container in (list, tuple, dict):
        want = {list: "a list", tuple: "a list", dict: "a mapping"}[container]
        if not isinstance(value, dict if container is dict else list | tuple):
            problems.append(_at(where, f"expected {want}, got {_shown(value)}"))
            return None
        if container is dict:
            if len(args) != 2:
                return value
            return {k: _parse(v, args[1], f"{where}.{k}", problems) for k, v in value.items()}
        if container is tuple and args and Ellipsis not in args:
            if len(value) != len(args):
                problems.append(_at(where, f"expected {len(args)} items, got {_shown(value)}"))
                return None
            return tuple(_parse(v, a, f"{where}[{i}]", problems)
                         for i, (v, a) in enumerate(zip(value, args, strict=True)))
        item = args[0] if args else typing.Any
        items = [_parse(v, item, f"{where}[{i}]", problems) for i, v in enumerate(value)]
        return tuple(items) if container is tuple else items
    return value  # typing.Any or an annotation these configs do not use: unchecked


def parse_section(value: object, cls: type, where: str, problems: list[str]) -> object:
    """The dataclass `cls` from the mapping `value`: unknown keys (with the closest valid
    one), missing required keys, field types and the class's own ValueErrors are problems."""
    if not isinstance(value, dict):
        problems.append(_at(where, f"expected a mapping of {cls.__name__} keys, "
                                   f"got {_shown(value)}"))
        return None
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    before = len(problems)
    suggested = set()
    for key in value:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            suggested.update(close)
            hint = (f"did you mean {close[0]!r}?" if close
                    else f"valid keys: {', '.join(fields)}")
            problems.append(_at(where, f"unknown key {key!r} ({hint})"))
    for name, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and name not in value and name not in suggested:
            problems.append(_at(where, f"missing required key {name!r}"))
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, raw in value.items():
        if name not in fields:
            continue
        path = f"{where}.{name}" if where else name
        kwargs[name] = _parse(raw, hints[name], path, problems)
        schema = fields[name].metadata.get("schema")
        if schema is not None and raw is not None:  # checked as `schema`, kept as given
            _parse(raw, schema, path, problems)
    if len(problems) > before:
        return None
    try:
        return cls(**kwargs)
    except ValueError as e:  # the section's own checks (__post_init__)
        problems.append(_at(where, str(e)))
        return None

