"""``Decontaminate``: the map stage that finds benchmark items in documents and purifies them.

Adds ``decon_score`` (float64: the best score of a contaminating item, 0.0 when clean) and
``decon_eval`` (string: that item's eval set, the first in ``evals`` order on a tie; null when
clean), and emits one row per
(document, item) match to the side output ``matches`` (``MATCH_SCHEMA``; spans in Unicode code
points of the text as it came in, end exclusive). ``purify``:

- ``tag``: keep every document as is;
- ``drop``: drop contaminated documents, counted under the reason ``contaminated``;
- ``spans``: keep them with every matched span cut out of ``text`` (scores are kept).

Indexes are built (or found) on the driver when the stage is created, in ``cache_dir`` under a
name that fingerprints the eval contents and every parameter; that fingerprint is part of the
stage config, so changed evals redo the stage. A run ships the indexes (and the tokenizer
file) to the workers as artifacts (core/artifacts.py); each task memory-maps its node's copy in
``setup``.
"""

from __future__ import annotations

import glob
import os
from dataclasses import asdict

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.errors import CurationError
from curation.core.stage import BatchContext, MapStage
from curation.decon.evals import MODES, EvalSet, load_eval
from curation.decon.index import DeconIndex, IndexParams, cached_index
from curation.decon.scan import ScanParams, scan
from curation.decon.tokens import Tokens

PURIFY = ("tag", "drop", "spans")
MATCHES = "matches"  # the side output holding MATCH_SCHEMA rows
MATCH_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("shard", pa.int32()),
    ("eval", pa.string()),
    ("item", pa.string()),
    ("score", pa.float64()),
    ("start", pa.int64()),
    ("end", pa.int64()),
    ("text", pa.large_string()),
])


def default_cache_dir() -> str:
    """``$CURATION_DECON_CACHE``, else ``~/.cache/curation/decon``."""
    return os.environ.get("CURATION_DECON_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "curation", "decon")


def cut_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` without the characters of the (possibly overlapping) ``[start, end)`` spans."""
    pieces, at = [], 0
    for start, end in sorted(spans):
        if start > at:
            pieces.append(text[at:start])
        at = max(at, end)
    pieces.append(text[at:])
    return "".join(pieces)


def _eval_sets(evals: EvalSet | str | list, mode: str | None) -> list[EvalSet]:
    """``EvalSet`` objects as given (a ``mode`` other than theirs is an error); a path or glob
    of JSONL/Parquet files, or a ``(path, mode)`` pair, loaded with ``load_eval`` in ``mode``
    (``simple`` when None)."""
    entries = evals if isinstance(evals, list | tuple) and not (
        len(evals) == 2 and isinstance(evals[1], str) and evals[1] in MODES) else [evals]
    sets = []
    for entry in entries:
        if isinstance(entry, EvalSet):
            if mode is not None and entry.mode != mode:
                raise CurationError(
                    f"Decontaminate(mode={mode!r}) contradicts eval set {entry.name!r}, built "
                    f"in mode {entry.mode!r}: an EvalSet keeps the mode it was loaded with "
                    f"(load_eval(path, mode={mode!r})), so leave mode= unset or load it again")
            sets.append(entry)
            continue
        path, entry_mode = entry if isinstance(entry, tuple | list) else (entry, mode or "simple")
        paths = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
        if not paths:
            raise ValueError(f"no eval files match {path!r}")
        sets += [load_eval(p, mode=entry_mode) for p in paths]
    return sets


class Decontaminate(MapStage):
    """Decontamination against eval sets: ``EvalSet`` objects (each with its own mode), paths or
    globs of JSONL/Parquet files (loaded with ``load_eval(path, mode=mode)``, ``simple`` when
    ``mode`` is unset), or ``(path, mode)`` pairs; one of these or a list of them. A ``mode``
    that contradicts an ``EvalSet``'s is refused rather than ignored.

    ``n``: n-gram size of the ``simple`` mode (``ngram8`` uses 8); ``tokenizer``: a
    tokenizer.json path (None: words); the other keywords are ``ScanParams`` fields.
    """

    version = 2  # 2: words with combining marks; symmetric passage window

    requires = ("id", "text")
    adds = {"decon_score": pa.float64(), "decon_eval": pa.string()}

    def __init__(self, evals: EvalSet | str | list, purify: str = "tag", mode: str | None = None,
                 n: int = 5, tokenizer: str | None = None, cache_dir: str | None = None,
                 name: str | None = None, **scan_params):
        if purify not in PURIFY:
            raise ValueError(f"purify must be one of {PURIFY}, not {purify!r}")
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        sets = _eval_sets(evals, mode)
        names = [s.name for s in sets]
        if len(set(names)) != len(names):
            raise ValueError(f"eval set names must be unique: {names}")
        self.purify, self.n, self.tokenizer, self.name = purify, n, tokenizer, name
        self.params = asdict(ScanParams(**scan_params))
        params = IndexParams(n=n, tokenizer=tokenizer)
        cache = cache_dir or default_cache_dir()
        self._dirs = [cached_index(s, params, cache) for s in sets]
        self.evals = [{"name": s.name, "mode": s.mode, "items": len(s.items),
                       "index": os.path.basename(d)} for s, d in zip(sets, self._dirs,
                                                                     strict=True)]
        self._indexes: list[DeconIndex] | None = None
        self._tokens: Tokens | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_indexes": None, "_tokens": None}

    def artifacts(self) -> dict[str, str]:
        files = {f"index-{i}": d for i, d in enumerate(self._dirs)}
        return files | ({"tokenizer": self.tokenizer} if self.tokenizer else {})

    def setup(self) -> None:
        self._indexes = [DeconIndex.load(self.artifact(f"index-{i}"))
                         for i in range(len(self._dirs))]
        self._tokens = Tokens(self.artifact("tokenizer") if self.tokenizer else None)

    def process(self, batch: pa.Table, ctx: BatchContext) -> pa.Table:
        if self._indexes is None:
            self.setup()
        texts = pl.from_arrow(batch.column("text").combine_chunks()).cast(pl.String)
        params, tokens = ScanParams(**self.params), self._tokens
        n = batch.num_rows
        score = np.zeros(n, np.float64)
        best_eval: list[str | None] = [None] * n
        side: dict[str, list] = {f: [] for f in MATCH_SCHEMA.names}
        spans: dict[int, list[tuple[int, int]]] = {}
        ids = batch.column("id")
        for index in self._indexes:
            for m in scan(index, tokens, texts, params):
                text = texts[m.row]
                if m.score > score[m.row]:
                    score[m.row], best_eval[m.row] = m.score, index.name
                spans.setdefault(m.row, []).append((m.start, m.end))
                for f, v in zip(MATCH_SCHEMA.names, (
                        ids[m.row].as_py(), ctx.shard, index.name, str(index.ids[m.item]),
                        m.score, m.start, m.end, text[m.start:m.end]), strict=True):
                    side[f].append(v)
        if side["id"]:
            ctx.emit(MATCHES, pa.table(side, schema=MATCH_SCHEMA))
        out = batch.append_column("decon_score", pa.array(score, pa.float64()))
        out = out.append_column("decon_eval", pa.array(best_eval, pa.string()))
        if self.purify == "drop" and spans:
            contaminated = pa.array(score > 0)
            ctx.drop("contaminated", out.filter(contaminated))
            return out.filter(pc.invert(contaminated))
        if self.purify == "spans" and spans:
            new = [cut_spans(texts[r], spans[r]) if r in spans else None for r in range(n)]
            column = pc.if_else(pa.array([r in spans for r in range(n)]),
                                pa.array(new, pa.large_string()),
                                batch.column("text").combine_chunks().cast(pa.large_string()))
            i = out.schema.get_field_index("text")
            return out.set_column(i, out.schema.field(i).with_type(pa.large_string()), column)
        return out
