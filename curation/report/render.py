"""``curate inspect`` output: terminal tables, and one self-contained HTML page.

``text_report`` prints markdown tables for a terminal. ``html_report`` writes the same content
as a page that needs no other file and opens offline:

- every table is a real ``<table>`` (``<caption>``, ``<thead>``, ``<tbody>``) built by one
  helper, ``_html_table``: values HTML-escaped, numeric columns right-aligned (class ``num``),
  integers with thousands separators, floats with five significant digits (blank: null);
- a small inline script sorts a table by the column whose header is clicked (again: the
  other way); ``#sort=T.C`` (``#sort=T.C.desc``) in the page's URL opens it with table ``T``
  sorted by column ``C``, both counted from 0;
- plots are matplotlib PNGs embedded as base64 ``<img>`` in ``<figure>`` with the title as
  ``<figcaption>`` and alt text: the funnel (documents after each stage), drops by stage and
  reason, tokens per source, the topic x vigintile heatmap of tagged data, the multiplier per
  quality vigintile of each topic's fitted ``Upsample`` curve, and a plan's token shares before
  and after mixing with its repetition factors.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence

import polars as pl

from curation.mixing.upsample import CURVE_COLUMNS
from curation.report.gather import SAMPLE_CHARS, DatasetView, PlanView, RunView, UpsampleView

# the headings of an Upsample step's two tables
CURVES = "fitted upsampling curve per topic"
FORMULA = "f(x) = scale (x - cut)^p exp(lam (x - cut)) for x >= cut"
TERMS = ("(x: token fraction, quality ascending; tokens: n_tokens, else words; "
         "target = ratio x tokens)")
RATES = "repetitions per token by quality vigintile (0 = lowest; {null}: no tokens there)"


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
        "MB/s": round(s["bytes_in"] / 1e6 / s["seconds"], 2) if s["seconds"] else None,
        "dropped": ", ".join(f"{k}={v}" for k, v in s["dropped"].items()),
        "counts": ", ".join(f"{k}={v}" for k, v in s.get("counts", {}).items()),
    } for s in run.stages])


def _summary(view: RunView | DatasetView | PlanView) -> str:
    """The line that heads the report of ``view``."""
    if isinstance(view, RunView):
        return f"pipeline {view.pipeline}: {view.path}, {view.seconds:.1f} s"
    if isinstance(view, DatasetView):
        t = view.totals
        return (f"{view.path}: {t['shards']} shards, {t['docs']:,} documents, "
                f"{t['tokens']:,} tokens, {t['text_bytes'] / 1e6:.1f} MB of text")
    e = view.entries
    return (f"mix plan {view.path} (seed {view.seed}): {int(e['tokens'].sum()):,} tokens "
            f"available, {int(e['target_tokens'].sum()):,} in the mix")


def _by_column(view: DatasetView) -> list[pl.DataFrame]:
    """Documents, tokens and bytes per source, topic and vigintile (those the data has)."""
    return [view.by(c) for c in ("source", "topic", "vigintile") if c in view.domains.columns]


def text_report(view: RunView | DatasetView | PlanView) -> str:
    """Terminal tables for a work dir, a dataset or a plan."""
    out = [_summary(view)]
    if isinstance(view, RunView):
        out += ["", _table(stages_frame(view))]
        for stage, reasons in view.samples.items():
            for reason, texts in reasons.items():
                out += ["", f"{stage} / {reason}:"] + [f"  - {t[:160]!r}" for t in texts]
        for up in view.upsampling:
            out += ["", f"{up.step}: {CURVES}, {FORMULA}", TERMS,
                    _table(_significant(up.curves(), CURVE_COLUMNS)),
                    "", f"{up.step}: {RATES.format(null='null')}:", _table(up.rates(), width=-1)]
        for sink, data in view.sinks.items():
            out += ["", f"sink {sink}:", text_report(data)]
    elif isinstance(view, DatasetView):
        out += [line for df in _by_column(view) for line in ("", _table(df))]
        grid = view.grid()
        if grid is not None:
            out += ["", "topic x vigintile:", _table(grid)]
    else:
        out += ["", _table(view.entries)]
    return "\n".join(out)


# ---- HTML ---------------------------------------------------------------------------------

STYLE = """
body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h2{margin-top:2em;border-bottom:1px solid #ccc}
.scroll{overflow-x:auto;margin:1em 0}
table{border-collapse:collapse;font-size:13px}
caption{text-align:left;font-weight:bold;padding:.3em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;vertical-align:top;overflow-wrap:break-word}
th{background:#f0f0f0;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}
tbody tr:nth-child(even){background:#fafafa}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
figure{margin:1.5em 0}
figcaption{font-weight:bold;margin-bottom:.4em}
img{max-width:100%;border:1px solid #ddd}
"""

# Click a header: sort its table by that column, ascending, then the other way; numeric columns
# (class num) by value, blanks last. #sort=T.C[.desc] in the URL does the same on load.
SCRIPT = """
function compare(a, b, sign) {
  if (typeof a !== "number") return sign * a.localeCompare(b, undefined, {numeric: true});
  if (isNaN(a) || isNaN(b)) return isNaN(a) - isNaN(b);
  return sign * (a - b);
}
document.querySelectorAll("table.data th").forEach(th => th.addEventListener("click", () => {
  const table = th.closest("table"), column = th.cellIndex, numeric = th.classList.contains("num");
  const sign = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
  table.querySelectorAll("th").forEach(h => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", sign > 0 ? "ascending" : "descending");
  const key = row => {
    const text = row.cells[column].textContent;
    return numeric ? (text === "" ? NaN : Number(text.replace(/,/g, ""))) : text;
  };
  const rows = [...table.tBodies[0].rows].map(row => [key(row), row]);
  rows.sort((a, b) => compare(a[0], b[0], sign));
  rows.forEach(([, row]) => table.tBodies[0].appendChild(row));
}));
const wanted = location.hash.match(/^#sort=(\\d+)\\.(\\d+)(\\.desc)?$/);
const header = wanted && document.querySelectorAll("table.data")[wanted[1]]?.tHead.rows[0]
  .cells[wanted[2]];
if (header) { header.click(); if (wanted[3]) header.click(); }
"""


def _cell(value) -> str:
    """A table cell's text: integers with thousands separators, floats with five significant
    digits (at least the integer digits), null as blank."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1e5 else f"{value:,.5g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _html_table(df: pl.DataFrame, caption: str) -> str:
    """``df`` as a sortable HTML table; numeric columns right-aligned (class ``num``)."""
    num = [" class='num'" if dtype.is_numeric() else "" for dtype in df.dtypes]
    head = "".join(f"<th{n}>{html.escape(c)}</th>" for c, n in zip(df.columns, num, strict=True))
    body = "\n".join("<tr>" + "".join(f"<td{n}>{html.escape(_cell(v))}</td>"
                                      for v, n in zip(row, num, strict=True)) + "</tr>"
                     for row in df.iter_rows())
    return (f"<div class='scroll'><table class='data'><caption>{html.escape(caption)}</caption>\n"
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>")


def _html_figure(title: str, png: str) -> str:
    return (f"<figure><figcaption>{html.escape(title)}</figcaption>"
            f"<img alt='{html.escape(title)}' src='data:image/png;base64,{png}'></figure>")


def _axes(width: float, height: float):
    """A new matplotlib figure and its axes, drawn off screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def _png(fig) -> str:
    """``fig`` as base64 PNG (and closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _bars(labels: Sequence[str], values: Sequence[float], xlabel: str, color: str) -> str:
    """Base64 PNG of horizontal bars, the first label on top."""
    fig, ax = _axes(8, 0.35 * len(labels) + 1)
    ax.barh(list(labels)[::-1], list(values)[::-1], color=color)
    ax.set_xlabel(xlabel)
    return _png(fig)


def _per_vigintile(lines: Iterable[tuple[str, Sequence[int], Sequence[float]]],
                   ylabel: str) -> str:
    """Base64 PNG of one line per (label, vigintiles, values) against the quality vigintile."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _axes(8, 3.5)
    for i, (label, vigintiles, values) in enumerate(lines):  # 10 colours, then other dashes
        ax.plot(vigintiles, values, marker=".", label=label,
                linestyle=("-", "--", ":")[i // 10 % 3])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("quality vigintile (0 = lowest)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=6, ncol=1 + len(ax.lines) // 16, loc="upper left",
              bbox_to_anchor=(1.01, 1.0))  # beside the plot: many lines meet at the top
    return _png(fig)


def _heatmap(grid: pl.DataFrame, weight: str) -> str:
    """Base64 PNG of ``weight`` per topic (rows) x vigintile (columns)."""
    cols = [c for c in grid.columns if c != "topic"]
    fig, ax = _axes(9, 0.32 * grid.height + 1.5)
    image = ax.imshow(grid.select(cols).to_numpy(), aspect="auto", cmap="viridis")
    ax.set_yticks(range(grid.height), grid["topic"].to_list(), fontsize=7)
    ax.set_xticks(range(len(cols)), cols, fontsize=7)
    ax.set_xlabel("quality vigintile (0 = lowest)")
    fig.colorbar(image, ax=ax, label=weight)
    return _png(fig)


def _shares(e: pl.DataFrame) -> str:
    """Base64 PNG of each domain's token share, available and in the mix (``e``: the plan's
    entries with a ``domain`` column)."""
    shares = (e.group_by("domain").agg(pl.col("tokens").sum(), pl.col("target_tokens").sum())
              .sort("domain"))
    fig, ax = _axes(8, 0.35 * shares.height + 1)
    y = list(range(shares.height))
    before = shares["tokens"] / shares["tokens"].sum()
    after = shares["target_tokens"] / max(1e-12, shares["target_tokens"].sum())
    ax.barh([i + 0.2 for i in y], before.to_list(), 0.4, label="available")
    ax.barh([i - 0.2 for i in y], after.to_list(), 0.4, label="in the mix")
    ax.set_yticks(y, shares["domain"].to_list(), fontsize=7)
    ax.set_xlabel("token share")
    ax.legend()
    return _png(fig)


def _upsampling_html(up: UpsampleView) -> list[str]:
    """An ``Upsample`` step's curves and multipliers: two tables and the figure."""
    rates = up.rates(digits=6)
    lines = [(f"{topic} (ratio {t.curve.ratio:g})", range(len(t.rates)), rates.row(i)[1:])
             for i, (topic, t) in enumerate(up.topics.items())]
    return [f"<h2>{html.escape(up.step)}: upsampling</h2>",
            f"<p>{html.escape(f'{FORMULA} {TERMS}')}</p>",
            _html_table(up.curves(), f"{up.step}: {CURVES}"),
            _html_table(up.rates(), f"{up.step}: {RATES.format(null='blank')}"),
            _html_figure(f"{up.step}: upsampling multiplier per vigintile (fitted curves)",
                         _per_vigintile(lines, "repetitions per token"))]


def _run_html(run: RunView) -> list[str]:
    parts = [_html_table(stages_frame(run), "Stages in pipeline order"),
             _html_figure("Funnel: documents after each stage",
                          _bars([s["name"] for s in run.stages],
                                [s["docs_out"] for s in run.stages], "documents out", "#4c72b0"))]
    drops = [(f"{s['name']}: {r}", n) for s in run.stages for r, n in s["dropped"].items()]
    if drops:
        parts.append(_html_figure("Drops by stage and reason", _bars(
            [d[0] for d in drops], [d[1] for d in drops], "documents dropped", "#dd8452")))
    samples = [{"stage": stage, "reason": reason, "document start": text}
               for stage, reasons in run.samples.items()
               for reason, texts in reasons.items() for text in texts]
    if samples:
        parts.append(_html_table(pl.DataFrame(samples), "Rejected documents: samples per stage "
                                 f"and reason (first {SAMPLE_CHARS} characters)"))
    for up in run.upsampling:
        parts += _upsampling_html(up)
    for sink, data in run.sinks.items():
        parts += [f"<h2>sink {html.escape(sink)}</h2>",
                  f"<p>{html.escape(_summary(data))}</p>", *_dataset_html(data, f"{sink}: ")]
    return parts


def _dataset_html(view: DatasetView, prefix: str = "") -> list[str]:
    """Tables and figures of a dataset; ``prefix`` starts every title (a run's sink name)."""
    weight = "tokens" if view.totals.get("tokens") else "docs"
    parts = [_html_table(df, f"{prefix}Documents, tokens and text bytes per {df.columns[0]}")
             for df in _by_column(view)]
    by_source = view.by("source")
    parts.append(_html_figure(f"{prefix}{weight.capitalize()} per source", _bars(
        by_source["source"].to_list(), by_source[weight].to_list(), weight, "#4c72b0")))
    grid = view.grid()
    if grid is not None:
        title = f"{prefix}{weight.capitalize()} per topic x vigintile"
        parts += [_html_table(grid, title), _html_figure(title, _heatmap(grid, weight))]
    return parts


def _plan_html(plan: PlanView) -> list[str]:
    e = plan.entries.with_columns(
        pl.concat_str([pl.col("source"), pl.col("topic").fill_null("-")], separator="/")
        .alias("domain"))
    parts = [_html_table(plan.entries, "Plan entries: tokens available, repetition and target "
                         "tokens per domain and vigintile"),
             _html_figure("Token shares before and after mixing", _shares(e))]
    if e["vigintile"].null_count() < e.height:
        groups = e.filter(pl.col("vigintile").is_not_null()).sort("vigintile").group_by(
            "domain", maintain_order=True)
        lines = [(domain, part["vigintile"].to_list(), part["repetition"].to_list())
                 for (domain,), part in groups]
        parts.append(_html_figure("Repetition per vigintile (upsampling)",
                                  _per_vigintile(lines, "repetition")))
    return parts


def html_report(view: RunView | DatasetView | PlanView) -> str:
    """One self-contained HTML page: every table of the terminal report and every plot."""
    title = html.escape(f"curate inspect: {view.path}")
    if isinstance(view, RunView):
        body = _run_html(view)
    elif isinstance(view, DatasetView):
        body = _dataset_html(view)
    else:
        body = _plan_html(view)
    return "\n".join([
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{title}</title>",
        f"<style>{STYLE}</style></head><body>", f"<h1>{title}</h1>",
        f"<p>{html.escape(_summary(view))}</p>", *body,
        f"<script>{SCRIPT}</script>", "</body></html>"])
