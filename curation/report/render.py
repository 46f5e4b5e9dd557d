"""``curate inspect`` output: terminal tables, and one self-contained HTML page with plots.

Plots are matplotlib PNGs embedded as base64 ``<img>`` tags, so the page needs no other file
and opens offline: the funnel (documents after each stage), drops by reason, token shares per
source, the topic x vigintile heatmap of tagged data, the multiplier per quality vigintile of
each topic's fitted ``Upsample`` curve, and a plan's token shares before and after mixing with
its repetition factors.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence

import polars as pl

from curation.mixing.upsample import CURVE_COLUMNS
from curation.report.gather import DatasetView, PlanView, RunView


def _table(df: pl.DataFrame, max_rows: int = 40, width: int = 160) -> str:
    """``df`` as a markdown table, cells wrapped to fit ``width`` characters (-1: never)."""
    with pl.Config(tbl_rows=max_rows, tbl_cols=30, tbl_width_chars=width,
                   tbl_formatting="ASCII_MARKDOWN", tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, thousands_separator=",",
                   fmt_str_lengths=120):
        return str(df)


def _significant(df: pl.DataFrame, columns: Sequence[str], digits: int = 5) -> pl.DataFrame:
    """``columns`` of ``df`` as text with ``digits`` significant digits (tiny values stay
    visible, where the table's fixed-point floats would show 0.0)."""
    return df.with_columns(pl.Series(c, [f"{v:.{digits}g}" for v in df[c]]) for c in columns)


def stages_frame(run: RunView) -> pl.DataFrame:
    return pl.DataFrame([{
        "stage": s["name"], "docs in": s["docs_in"], "docs out": s["docs_out"],
        "kept %": round(100 * s["docs_out"] / s["docs_in"], 1) if s["docs_in"] else 0.0,
        "MB out": round(s["bytes_out"] / 1e6, 2), "tokens out": s.get("tokens_out", 0),
        "seconds": round(s["seconds"], 2),
        "dropped": ", ".join(f"{k}={v}" for k, v in s["dropped"].items()),
    } for s in run.stages])


def text_report(view: RunView | DatasetView | PlanView) -> str:
    """Terminal tables for a work dir, a dataset or a plan."""
    out: list[str] = []
    if isinstance(view, RunView):
        out += [f"pipeline {view.pipeline}: {view.path}, {view.seconds:.1f} s", "",
                _table(stages_frame(view))]
        for stage, reasons in view.samples.items():
            for reason, texts in reasons.items():
                out += ["", f"{stage} / {reason}:"] + [f"  - {t[:160]!r}" for t in texts]
        for up in view.upsampling:
            out += ["", f"{up.step}: fitted upsampling curve per topic, f(x) = scale "
                    "(x - cut)^p exp(lam (x - cut)) for x >= cut",
                    "(x: token fraction, quality ascending; tokens: n_tokens, else words; "
                    "target = ratio x tokens)", _table(_significant(up.curves(), CURVE_COLUMNS)),
                    "", f"{up.step}: repetitions per token by quality vigintile (0 = lowest; "
                    "null: no tokens there):", _table(up.rates(), width=-1)]
        for sink, data in view.sinks.items():
            out += ["", f"sink {sink}:", text_report(data)]
    elif isinstance(view, DatasetView):
        t = view.totals
        out.append(f"{view.path}: {t['shards']} shards, {t['docs']:,} documents, "
                   f"{t['tokens']:,} tokens, {t['text_bytes'] / 1e6:.1f} MB of text")
        for column in ("source", "topic", "vigintile"):
            if column in view.domains.columns:
                out += ["", _table(view.by(column))]
        grid = view.grid()
        if grid is not None:
            out += ["", "topic x vigintile:", _table(grid)]
    else:
        e = view.entries
        out += [f"mix plan {view.path} (seed {view.seed}): {int(e['tokens'].sum()):,} tokens "
                f"available, {int(e['target_tokens'].sum()):,} in the mix", "", _table(e)]
    return "\n".join(out)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _per_vigintile(lines: Iterable[tuple[str, Sequence[int], Sequence[float]]],
                   ylabel: str) -> str:
    """Base64 PNG of one line per (label, vigintiles, values) against the quality vigintile."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(8, 3.5))
    for i, (label, vigintiles, values) in enumerate(lines):  # 10 colours, then other dashes
        ax.plot(vigintiles, values, marker=".", label=label,
                linestyle=("-", "--", ":")[i // 10 % 3])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("quality vigintile (0 = lowest)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=6, ncol=1 + len(ax.lines) // 16, loc="upper left",
              bbox_to_anchor=(1.01, 1.0))  # beside the plot: many lines meet at the top
    return _png(fig)


def _figures(view: RunView | DatasetView | PlanView) -> list[tuple[str, str]]:
    """(title, base64 PNG) of every plot that applies to ``view``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: list[tuple[str, str]] = []
    if isinstance(view, RunView):
        names = [s["name"] for s in view.stages]
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1))
        ax.barh(names[::-1], [s["docs_out"] for s in view.stages][::-1], color="#4c72b0")
        ax.set_xlabel("documents out")
        figs.append(("Funnel: documents after each stage", _png(fig)))
        drops = [(f"{s['name']}: {r}", n) for s in view.stages for r, n in s["dropped"].items()]
        if drops:
            fig, ax = plt.subplots(figsize=(8, 0.3 * len(drops) + 1))
            ax.barh([d[0] for d in drops][::-1], [d[1] for d in drops][::-1], color="#dd8452")
            ax.set_xlabel("documents dropped")
            figs.append(("Drops by stage and reason", _png(fig)))
        for up in view.upsampling:
            rates = up.rates(digits=6)
            lines = [(f"{topic} (ratio {t.curve.ratio:g})", range(len(t.rates)),
                      rates.row(i)[1:]) for i, (topic, t) in enumerate(up.topics.items())]
            figs.append((f"{up.step}: upsampling multiplier per vigintile (fitted curves)",
                         _per_vigintile(lines, "repetitions per token")))
        for sink, data in view.sinks.items():
            figs += [(f"{sink}: {title}", png) for title, png in _figures(data)]
    elif isinstance(view, DatasetView):
        by_source = view.by("source")
        weight = "tokens" if view.totals.get("tokens") else "docs"
        fig, ax = plt.subplots(figsize=(6, 0.4 * by_source.height + 1))
        ax.barh(by_source["source"].to_list()[::-1], by_source[weight].to_list()[::-1])
        ax.set_xlabel(weight)
        figs.append((f"{weight.capitalize()} per source", _png(fig)))
        grid = view.grid()
        if grid is not None:
            cols = [c for c in grid.columns if c != "topic"]
            fig, ax = plt.subplots(figsize=(9, 0.32 * grid.height + 1.5))
            image = ax.imshow(grid.select(cols).to_numpy(), aspect="auto", cmap="viridis")
            ax.set_yticks(range(grid.height), grid["topic"].to_list(), fontsize=7)
            ax.set_xticks(range(len(cols)), cols, fontsize=7)
            ax.set_xlabel("quality vigintile (0 = lowest)")
            fig.colorbar(image, ax=ax, label=weight)
            figs.append((f"{weight.capitalize()} per topic x vigintile", _png(fig)))
    else:
        e = view.entries.with_columns(
            pl.concat_str([pl.col("source"), pl.col("topic").fill_null("-")], separator="/")
            .alias("domain"))
        shares = e.group_by("domain").agg(pl.col("tokens").sum(), pl.col("target_tokens").sum())
        shares = shares.sort("domain")
        fig, ax = plt.subplots(figsize=(8, 0.35 * shares.height + 1))
        y = list(range(shares.height))
        before = shares["tokens"] / shares["tokens"].sum()
        after = shares["target_tokens"] / max(1e-12, shares["target_tokens"].sum())
        ax.barh([i + 0.2 for i in y], before.to_list(), 0.4, label="available")
        ax.barh([i - 0.2 for i in y], after.to_list(), 0.4, label="in the mix")
        ax.set_yticks(y, shares["domain"].to_list(), fontsize=7)
        ax.set_xlabel("token share")
        ax.legend()
        figs.append(("Token shares before and after mixing", _png(fig)))
        if e["vigintile"].null_count() < e.height:
            parts = e.filter(pl.col("vigintile").is_not_null()).sort("vigintile").group_by(
                "domain", maintain_order=True)
            lines = [(domain, part["vigintile"].to_list(), part["repetition"].to_list())
                     for (domain,), part in parts]
            figs.append(("Repetition per vigintile (upsampling)",
                         _per_vigintile(lines, "repetition")))
    return figs


def html_report(view: RunView | DatasetView | PlanView) -> str:
    """One self-contained HTML page: the terminal tables and every plot."""
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>curate inspect</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px}"
             "img{max-width:100%;border:1px solid #ddd}</style></head><body>",
             f"<h1>curate inspect: {html.escape(getattr(view, 'path', ''))}</h1>",
             f"<pre>{html.escape(text_report(view))}</pre>"]
    for title, png in _figures(view):
        parts.append(f"<h2>{html.escape(title)}</h2>"
                     f"<img alt='{html.escape(title)}' src='data:image/png;base64,{png}'>")
    parts.append("</body></html>")
    return "\n".join(parts)
