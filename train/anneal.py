"""Microanneals: what is a target dataset worth, measured from a checkpoint.

From a checkpoint, two arms of equal tokens are trained with the LR decayed linearly to zero
from the checkpoint's LR: **target+web** (a 50/50 mix of the target dataset and web data) and
**web** (web data only). Bits per byte on each evaluation domain is measured before and after
each arm; the report's ``delta`` is ``bpb(web arm) - bpb(target+web arm)``: positive where the
target data helped. Written to ``<out>/report.json``, ``report.md`` and ``report.png``.

    python -m train.anneal CHECKPOINT --target DIR --web DIR --eval NAME=DIR ... --steps N --out DIR
"""

from __future__ import annotations

import json
import os
from dataclasses import replace

from curation.core.commands import command_parser
from train.checkpoint import read_state
from train.config import StageConfig, TrainConfig
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


def microanneal(checkpoint: str, target: str, web: str, eval_domains: dict[str, str],
                steps: int, out: str, seq_len: int | None = None) -> dict:
    """Run both arms and write the report; returns it."""
    state = read_state(checkpoint)
    base = TrainConfig.from_dict(state["config"])
    seq_len = seq_len or base.stages[-1].seq_len
    start_lr = checkpoint_lr(state)
    arms = {"target+web": ({"target": target, "web": web}, {"target": 0.5, "web": 0.5}),
            "web": ({"web": web}, None)}
    before, after = None, {}
    for name, (sources, weights) in arms.items():
        trainer = _arm(base, checkpoint, name, sources, weights, steps, seq_len, start_lr,
                       eval_domains, out)
        if before is None:
            before = trainer.evaluate()
        after[name] = trainer.fit()["eval_bpb"]
    report = {
        "checkpoint": checkpoint, "steps": steps, "seq_len": seq_len, "start_lr_scale": start_lr,
        "tokens_per_arm": steps * base.batch_rows * base.grad_accum * seq_len,
        "domains": {d: {"before": before[d], "target+web": after["target+web"][d],
                        "web": after["web"][d],
                        "delta": after["web"][d] - after["target+web"][d]}
                    for d in sorted(before)},
    }
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
    return "\n".join(lines) + "\n"


def plot_report(report: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = list(report["domains"])
    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(domains)), 3.2))
    width = 0.27
    for k, key in enumerate(("before", "target+web", "web")):
        xs = [i + (k - 1) * width for i in range(len(domains))]
        ax.bar(xs, [report["domains"][d][key] for d in domains], width, label=key)
    ax.set_xticks(range(len(domains)), domains)
    ax.set_ylabel("bits per byte")
    ax.set_title(f"microanneal, {report['tokens_per_arm']:,} tokens per arm")
    ax.legend(fontsize=8)
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
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    domains = dict(e.split("=", 1) for e in args.eval) or {"target": args.target,
                                                           "web": args.web}
    report = microanneal(args.checkpoint, args.target, args.web, domains, args.steps, args.out,
                         args.seq_len)
    print(report_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
