"""Train a config to the end, resuming from its latest checkpoint, and print the last metrics
as JSON. Under ``torchrun`` each rank runs it (``torchrun --nproc-per-node N -m train.cli
CONFIG``): DDP, or FSDP2 with ``parallel: fsdp``."""

from __future__ import annotations

import dataclasses
import json
import sys

from curation.core.commands import command_parser
from train import parallel
from train.config import TrainConfig
from train.trainer import Trainer


def main(argv: list[str] | None = None) -> int:
    """``curate train CONFIG`` / ``python -m train.cli CONFIG``. Exit status: 0 when trained,
    2 for a missing or invalid config (one line, no traceback)."""
    parser = command_parser(
        "curate train", __doc__, "curate train train/configs/tiny.yaml\n"
        "torchrun --nproc-per-node 8 -m train.cli train/configs/proxy-30m.yaml")
    parser.add_argument("config", help="a TrainConfig as YAML (.yaml, .yml) or JSON")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress lines (metrics.jsonl and the final JSON line stay)")
    args = parser.parse_args(argv)
    try:
        cfg = TrainConfig.from_file(args.config)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.quiet:
        cfg = dataclasses.replace(cfg, progress_every=0)
    record = Trainer(cfg).fit()
    print(json.dumps({k: v for k, v in record.items() if not isinstance(v, list)}))
    parallel.leave()
    return 0


if __name__ == "__main__":
    sys.exit(main())
