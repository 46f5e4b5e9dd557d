"""The ``curate`` command: run, plan, status, inspect, generate, tokens, dedup, decon,
train, anneal, bench."""

from __future__ import annotations

import argparse
import os
import runpy
import sys

from curation.core.errors import CurationError
from curation.core.pipeline import Pipeline


def load_pipeline(path: str) -> Pipeline:
    """The ``Pipeline`` a pipeline file builds: its ``pipeline`` variable, or the only one."""
    if not os.path.isfile(path):
        raise CurationError(f"{path}: no such pipeline file")
    # A run name outside sys.modules makes cloudpickle ship the file's classes by value to Ray.
    namespace = runpy.run_path(path, run_name="curate_pipeline")
    if isinstance(namespace.get("pipeline"), Pipeline):
        return namespace["pipeline"]
    found = [v for v in namespace.values() if isinstance(v, Pipeline)]
    if len(found) != 1:
        raise CurationError(f"{path}: define one Pipeline (named 'pipeline'); found {len(found)}")
    return found[0]


def _run(args: argparse.Namespace) -> int:
    pipeline = load_pipeline(args.file)
    options = {}
    if args.executor == "ray":
        options = {"address": args.address, "num_cpus": args.num_cpus}
    result = pipeline.run(executor=args.executor, workdir=args.workdir, **options)
    print(result.summary())
    return 0


def _plan(args: argparse.Namespace) -> int:
    print(load_pipeline(args.file).describe())
    return 0


def _status(args: argparse.Namespace) -> int:
    from curation.core.status import format_status

    print(format_status(args.workdir))
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from curation.report import gather, html_report, text_report

    view = gather(args.path, args.samples)
    print(text_report(view))
    if args.html:
        from curation.core import fs

        fs.atomic_write_bytes(args.html, html_report(view).encode())
        print(f"wrote {args.html}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from curation.synthetic.generator import main as generate_main

    return generate_main(args.passthrough) or 0


def _tokens(args: argparse.Namespace) -> int:
    from curation.tokenize.cli import main as tokens_main

    return tokens_main(args.passthrough) or 0


def _decon(args: argparse.Namespace) -> int:
    from curation.decon.report import main as decon_main

    if args.passthrough[:1] != ["report"]:
        print("usage: curate decon report WORKDIR [--out FILE.jsonl]", file=sys.stderr)
        return 2
    return decon_main(args.passthrough[1:]) or 0


def _dedup(args: argparse.Namespace) -> int:
    from curation.dedup.report import main as dedup_main

    if args.passthrough[:1] != ["report"]:
        print("usage: curate dedup report WORKDIR [--json FILE] [--top N]", file=sys.stderr)
        return 2
    return dedup_main(args.passthrough[1:]) or 0


def _train(args: argparse.Namespace) -> int:
    from train.trainer import main as train_main

    return train_main(args.passthrough) or 0


def _anneal(args: argparse.Namespace) -> int:
    from train.anneal import main as anneal_main

    return anneal_main(args.passthrough) or 0


def _bench(args: argparse.Namespace) -> int:
    from curation.bench import main as bench_main

    return bench_main(args.passthrough) or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="curate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run a pipeline file")
    p.add_argument("file")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start one)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray cluster")
    p.add_argument("--workdir", default=None, help="override the pipeline's work dir")
    p.set_defaults(fn=_run)

    p = sub.add_parser("plan", help="print a pipeline's DAG and steps")
    p.add_argument("file")
    p.set_defaults(fn=_plan)

    p = sub.add_parser("status", help="per-step progress of a work dir")
    p.add_argument("workdir")
    p.set_defaults(fn=_status)

    p = sub.add_parser("inspect", help="a work dir, dataset or mix plan as tables (and HTML)")
    p.add_argument("path")
    p.add_argument("--html", default=None, help="also write a self-contained HTML report")
    p.add_argument("--samples", type=int, default=3, help="sample documents per drop reason")
    p.set_defaults(fn=_inspect)

    p = sub.add_parser(
        "generate", help="synthetic web corpus with ground truth (--help)", add_help=False
    )
    p.set_defaults(fn=_generate, passthrough=True)

    p = sub.add_parser(
        "tokens", help="tokenizers, token shards, .npy export/import (--help)", add_help=False
    )
    p.set_defaults(fn=_tokens, passthrough=True)

    p = sub.add_parser("decon", help="decontamination reports (--help)", add_help=False)
    p.set_defaults(fn=_decon, passthrough=True)

    p = sub.add_parser("dedup", help="dedup reports (--help)", add_help=False)
    p.set_defaults(fn=_dedup, passthrough=True)

    p = sub.add_parser("train", help="train a model from a config file (--help)",
                       add_help=False)
    p.set_defaults(fn=_train, passthrough=True)

    p = sub.add_parser("anneal", help="microanneal a checkpoint on a target dataset (--help)",
                       add_help=False)
    p.set_defaults(fn=_anneal, passthrough=True)

    p = sub.add_parser("bench", help="benchmarks against peers (--help)", add_help=False)
    p.set_defaults(fn=_bench, passthrough=True)

    args, extra = parser.parse_known_args(argv)
    if getattr(args, "passthrough", False):
        args.passthrough = extra  # generate and bench parse their own arguments
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.fn(args)
    except CurationError as e:
        print(f"curate: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
