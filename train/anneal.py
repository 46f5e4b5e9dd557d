"""Microanneals: what is a target dataset worth, measured from a checkpoint.

From a checkpoint, two arms of equal tokens are trained with the LR decayed linearly to zero
from the checkpoint's LR: **target+web** (a 50/50 mix of the target dataset and web data) and
**web** (web data only). Bits per byte on each evaluation domain is measured before and after
each arm; the report's ``delta`` is ``bpb(web arm) - bpb(target+web arm)``: positive where the
target data helped. Written to ``<out>/report.json``, ``report.md`` and ``report.png``.

With ``--tasks FILE[,FILE...]`` (local eval files in the shapes decontamination reads, each one
task named by its stem) the checkpoint and both arms are also scored on downstream tasks by
log-likelihood (`train.downstream`: multiple choice ``acc`` and ``acc_norm``, question/answer
``acc`` (greedy) and ``bpb``), beside the BPB; the report's ``tasks`` hold each task's metrics
``before`` and after each arm and their ``delta``, positive where the target data helped
(``target+web - web`` for accuracies, ``web - target+web`` for ``bpb``). Scoring needs the
run's tokenizer file: the run's ``tokenizer_path``, or ``--tokenizer``.

    python -m train.anneal CHECKPOINT --target DIR --web DIR --eval NAME=DIR ... --steps N --out DIR
    python -m train.anneal ... --tasks evals/arc.jsonl,evals/piqa.jsonl --tokenizer tokenizer.json
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace

from tokenizers import Tokenizer

from curation.core.commands import command_parser
from train.checkpoint import read_state
from train.config import StageConfig, TrainConfig
from train.downstream import Task, load_tasks, score_tasks
from train.export import run_tokenizer
from train.parallel import reshard
from train.schedule import lr_multiplier
from train.trainer import Trainer


def checkpoint_lr(state: dict) -> float:
    """The LR multiplier in force at the checkpoint's last step."""
    cfg = TrainConfig.from_dict(state["config"])
    index, step = cfg.stage_at(min(max(0, state["step"] - 1), cfg.total_steps - 1))
    return lr_multiplier(cfg.stages[index], step)


def _arm(base: TrainConfig, checkpoint: str, name: str, sources: dict[str, str],
         weights: dict[str, float] | None, steps: int, seq_len: int, start_lr: float,
         eval_domains: dict[str, str], out: str) -> Trainer:
    stage = StageConfig(name, sources, steps, weights=weights, seq_len=seq_len,
                        lr_scale=start_lr, schedule="linear_to_zero")
    cfg = replace(base, stages=[stage], out_dir=os.path.join(out, name),
                  eval_domains=eval_domains, eval_every=0, checkpoint_every=0)
    trainer = Trainer(cfg)
    trainer.load(checkpoint)  # weights and optimiser moments
    trainer.step = 0
    return trainer


def _score(trainer: Trainer, tasks: list[Task], tokenizer: Tokenizer | None) -> dict[str, dict]:
    if not tasks:
        return {}
    scores = score_tasks(trainer.model, tasks, tokenizer, trainer.tokenizer,
                         trainer.cfg.batch_rows, trainer.world.device)
    reshard(trainer.model)  # an FSDP root stays gathered after a forward with no backward
    return scores


def task_report(before: dict[str, dict], after: dict[str, dict[str, dict]]) -> dict:
    """Per task: kind, items, the metrics before and after each arm, and their ``delta``
    (positive where the target data helped)."""
    out = {}
    for name, b in before.items():
        keys = [k for k in ("acc", "acc_norm", "bpb") if k in b]
        arms = {arm: {k: v for k, v in scores[name].items() if k not in ("kind", "items")}
                for arm, scores in after.items()}
        tw, w = arms["target+web"], arms["web"]
        out[name] = {"kind": b["kind"], "items": b["items"],
                     "before": {k: v for k, v in b.items() if k not in ("kind", "items")},
                     **arms,
                     "delta": {k: (w[k] - tw[k]) if k == "bpb" else (tw[k] - w[k])
                               for k in keys}}
    return out


def microanneal(checkpoint: str, target: str, web: str, eval_domains: dict[str, str],
                steps: int, out: str, seq_len: int | None = None,
                tasks: Sequence[str] = (), tokenizer: str | None = None,
                task_template: str | None = None) -> dict:
    """Run both arms and write the report; returns it. ``tasks``: eval files scored before and
    after each arm (`train.downstream`), with the run's tokenizer (``tokenizer``, else the
    run's ``tokenizer_path``) and ``task_template`` making each item's context."""
    state = read_state(checkpoint)
    base = TrainConfig.from_dict(state["config"])
    seq_len = seq_len or base.stages[-1].seq_len
    start_lr = checkpoint_lr(state)
    task_list = load_tasks(tasks, task_template) if tasks else []
    tok = run_tokenizer(state, tokenizer)[0] if task_list else None
    arms = {"target+web": ({"target": target, "web": web}, {"target": 0.5, "web": 0.5}),
            "web": ({"web": web}, None)}
    before, after, task_before, task_after = None, {}, {}, {}
    for name, (sources, weights) in arms.items():
        trainer = _arm(base, checkpoint, name, sources, weights, steps, seq_len, start_lr,
                       eval_domains, out)
        if before is None:
            before = trainer.evaluate()
            task_before = _score(trainer, task_list, tok)
        after[name] = trainer.fit()["eval_bpb"]
        task_after[name] = _score(trainer, task_list, tok)
    report = {
        "checkpoint": checkpoint, "steps": steps, "seq_len": seq_len, "start_lr_scale": start_lr,
        "tokens_per_arm": steps * base.batch_rows * base.grad_accum * seq_len,
        "domains": {d: {"before": before[d], "target+web": after["target+web"][d],
                        "web": after["web"][d],
                        "delta": after["web"][d] - after["target+web"][d]}
                    for d in sorted(before)},
    }
    if task_list:
        report["tasks"] = task_report(task_before, task_after)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(report_table(report))
    plot_report(report, os.path.join(out, "report.png"))
    return report


def report_table(report: dict) -> str:
    lines = ["| domain | BPB before | after target+web | after web | delta (web - target+web) |",
             "|---|---|---|---|---|"]
    for d, r in report["domains"].items():
        lines.append(f"| {d} | {r['before']:.4f} | {r['target+web']:.4f} | {r['web']:.4f} | "
                     f"{r['delta']:+.4f} |")
    if report.get("tasks"):
        lines += ["", "| task | metric | before | after target+web | after web | "
                  "delta (> 0: target helped) |", "|---|---|---|---|---|---|"]
        for name, t in report["tasks"].items():
            for k, delta in t["delta"].items():
                cells = [f"{t[arm][k]:.4f}" + (f" ± {t[arm]['acc_stderr']:.4f}" if k == "acc"
                                               else "")
                         for arm in ("before", "target+web", "web")]
                lines.append(f"| {name} ({t['kind']}, {t['items']} items) | {k} | "
                             + " | ".join(cells) + f" | {delta:+.4f} |")
    return "\n".join(lines) + "\n"


def plot_report(report: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = list(report["domains"])
    tasks = list(report.get("tasks") or {})
    # (names, y label, y limits, value of a name for an arm): BPB per domain, accuracy per task
    panels = [(domains, "bits per byte", None, lambda d, arm: report["domains"][d][arm])]
    if tasks:
        panels.append((tasks, "accuracy", (0, 1), lambda t, arm: report["tasks"][t][arm]["acc"]))
    fig, axes = plt.subplots(1, len(panels), squeeze=False, figsize=(
        sum(max(4, 1.6 * len(names)) for names, *_ in panels), 3.2))
    width = 0.27
    for ax, (names, ylabel, ylim, value) in zip(axes[0], panels, strict=True):
        for k, arm in enumerate(("before", "target+web", "web")):
            xs = [i + (k - 1) * width for i in range(len(names))]
            ax.bar(xs, [value(n, arm) for n in names], width, label=arm)
        ax.set_xticks(range(len(names)), names)
        ax.set_ylabel(ylabel)
        if ylim:
            ax.set_ylim(*ylim)
        ax.legend(fontsize=8)
    axes[0][0].set_title(f"microanneal, {report['tokens_per_arm']:,} tokens per arm")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(
        "curate anneal", __doc__, "curate anneal runs/tiny/checkpoints/ckpt-0000400 "
        "--target out/math --web out/web --steps 200 --out runs/anneal-math")
    parser.add_argument("checkpoint")
    parser.add_argument("--target", required=True, help="tokenized target dataset directory")
    parser.add_argument("--web", required=True, help="tokenized web dataset directory")
    parser.add_argument("--eval", action="append", default=[], metavar="NAME=DIR",
                        help="held-out tokenized domain (repeatable)")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--seq-len", type=int, default=None)
    parser.add_argument("--tasks", action="append", default=[], metavar="FILE[,FILE...]",
                        help="downstream task files (JSONL/Parquet, the shapes decontamination "
                        "reads), each one task named by its stem; repeatable")
    parser.add_argument("--task-template", default=None, metavar="TEXT",
                        help="each item's context, e.g. 'Question: {question}\\nAnswer:' "
                        "({question}, {passage}; \\n is a newline); default: the question, "
                        "after the passage")
    parser.add_argument("--tokenizer", default=None, metavar="PATH",
                        help="the run's tokenizer.json, for --tasks (default: the run's "
                        "tokenizer_path)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    domains = dict(e.split("=", 1) for e in args.eval) or {"target": args.target,
                                                           "web": args.web}
    tasks = [p for arg in args.tasks for p in arg.split(",") if p]
    template = args.task_template and args.task_template.replace("\\n", "\n")
    report = microanneal(args.checkpoint, args.target, args.web, domains, args.steps, args.out,
                         args.seq_len, tasks, args.tokenizer, template)
    print(report_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
