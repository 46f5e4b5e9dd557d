"""Where a run's metrics go: ``metrics.jsonl`` always, and the loggers the config names.

The trainer makes one record per logged step (the dict ``metrics.jsonl`` holds) and hands it
to every sink; only rank 0 opens any. The optional loggers (``loggers: [tensorboard, wandb]``
in the config) log the record's numbers with the step as x-axis, under the record's keys
(mappings flattened: ``eval_bpb/web``), and the whole config once per process:

- ``tensorboard``: event files in ``<out_dir>/tensorboard``, the config as text. A resumed run
  purges what an earlier try logged after the checkpoint, as ``metrics.jsonl`` forgets it.
- ``wandb``: a Weights & Biases run in ``<out_dir>/wandb``, the config as its ``config``;
  ``wandb_mode: offline`` (the default) needs no network or account (``wandb sync`` uploads).

Each package is imported only when its logger is selected.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Protocol

from train.config import TrainConfig


class Logger(Protocol):
    """A sink of metrics records."""

    def log(self, record: dict) -> None: ...

    def close(self) -> None: ...


def scalars(record: dict) -> dict[str, float]:
    """The numbers of a record by name, nested mappings flattened (``eval_bpb/web``); the step,
    text, lists and None left out."""
    out = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update({f"{key}/{k}": v for k, v in scalars(value).items()})
        elif isinstance(value, int | float) and not isinstance(value, bool) and key != "step":
            out[key] = float(value)
    return out


def _missing(package: str) -> ImportError:
    return ImportError(f"the {package} logger needs the {package} package: "
                       f"pip install 'curation[train]'")


class JsonlLogger:
    """Appends each record to ``path`` as one JSON line, flushed at once (a killed run keeps
    every line logged)."""

    def __init__(self, path: str):
        self.file = open(path, "a")  # noqa: SIM115 (closed by close())

    def log(self, record: dict) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class TensorBoardLogger:
    """Scalars and the config (as text) in ``<out_dir>/tensorboard``, from ``step`` on."""

    def __init__(self, config: TrainConfig, step: int):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:
            raise _missing("tensorboard") from e
        # events an earlier try logged after the checkpoint at `step` are hidden
        self.writer = SummaryWriter(os.path.join(config.out_dir, "tensorboard"),
                                    purge_step=step + 1)
        text = json.dumps(config.to_dict(), indent=2)
        self.writer.add_text("config", "\n".join("    " + line for line in text.splitlines()),
                             step)  # indented: a Markdown code block

    def log(self, record: dict) -> None:
        for tag, value in scalars(record).items():
            self.writer.add_scalar(tag, value, record["step"])

    def close(self) -> None:
        self.writer.close()


class WandbLogger:
    """A W&B run in ``<out_dir>/wandb`` named after ``out_dir``, with the config."""

    def __init__(self, config: TrainConfig, step: int):
        try:
            import wandb
        except ImportError as e:
            raise _missing("wandb") from e
        self.run = wandb.init(project=config.wandb_project, mode=config.wandb_mode,
                              dir=config.out_dir, config=config.to_dict(),
                              name=os.path.basename(os.path.abspath(config.out_dir)))

    def log(self, record: dict) -> None:
        self.run.log(scalars(record), step=record["step"])

    def close(self) -> None:
        self.run.finish()


OPENERS: dict[str, Callable[[TrainConfig, int], Logger]] = {
    "tensorboard": TensorBoardLogger, "wandb": WandbLogger}


class Loggers:
    """``metrics.jsonl`` and the loggers ``config.loggers`` names, opened at ``step`` (0, or
    the step a run resumed from); ``Loggers()`` is no sink at all (ranks other than 0)."""

    def __init__(self, config: TrainConfig | None = None, step: int = 0):
        self.sinks: list[Logger] = []
        if config is not None:
            os.makedirs(config.out_dir, exist_ok=True)
            self.sinks.append(JsonlLogger(os.path.join(config.out_dir, "metrics.jsonl")))
            self.sinks += [OPENERS[name](config, step) for name in config.loggers]

    def log(self, record: dict) -> None:
        for sink in self.sinks:
            sink.log(record)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
