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
from curation.decon.presets import PRESETS
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


def _entries(evals: EvalSet | str | list, mode: str | None) -> list[EvalSet | tuple[str, str]]:
    """``evals`` as a list of ``EvalSet`` objects (a ``mode`` other than theirs is an error)
    and ``(path or glob, mode)`` pairs, ``mode`` (``simple`` when None) for a bare path. No
    file is opened."""
    entries = evals if isinstance(evals, list | tuple) and not (
        len(evals) == 2 and isinstance(evals[1], str) and evals[1] in MODES) else [evals]
    out: list[EvalSet | tuple[str, str]] = []
    for entry in entries:
        if isinstance(entry, EvalSet):
            if mode is not None and entry.mode != mode:
                raise CurationError(
                    f"Decontaminate(mode={mode!r}) contradicts eval set {entry.name!r}, built "
                    f"in mode {entry.mode!r}: an EvalSet keeps the mode it was loaded with "
                    f"(load_eval(path, mode={mode!r})), so leave mode= unset or load it again")
            out.append(entry)
        else:
            path, entry_mode = entry if isinstance(entry, tuple | list) else (
                entry, mode or "simple")
            if entry_mode not in MODES:
                raise ValueError(f"mode must be one of {MODES}, not {entry_mode!r}")
            out.append((str(path), entry_mode))
    return out


def _unique(names: list[str]) -> None:
    if len(set(names)) != len(names):
        raise ValueError(f"eval set names must be unique: {names}")


def _eval_sets(entries: list[EvalSet | tuple[str, str]]) -> list[EvalSet]:
    """The eval sets of ``_entries``: paths and globs loaded with ``load_eval``."""
    sets = []
    for entry in entries:
        if isinstance(entry, EvalSet):
            sets.append(entry)
            continue
        path, mode = entry
        paths = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
        if not paths:
            raise ValueError(f"no eval files match {path!r}")
        sets += [load_eval(p, mode=mode) for p in paths]
    _unique([s.name for s in sets])
    return sets


class Decontaminate(MapStage):
    """Decontamination against eval sets: ``EvalSet`` objects (each with its own mode), paths or
    globs of JSONL/Parquet files (loaded with ``load_eval(path, mode=mode)``, ``simple`` when
    ``mode`` is unset), or ``(path, mode)`` pairs; one of these or a list of them. A ``mode``
    that contradicts an ``EvalSet``'s is refused rather than ignored.

    ``n``: n-gram size of the ``simple`` mode (``ngram8`` uses 8); ``tokenizer``: a
    tokenizer.json path (None: words), whose tokens make the n-grams and count the lengths of
    the SIMPLE length rule; ``preset``: ``default`` or ``olmo3`` (AI2 decon's OLMo web
    configuration, ``curation.decon.presets``); the other keywords are ``ScanParams`` fields or
    the ``IndexParams`` fields ``answer_n``, ``passage_n``, ``hot_min_items`` and
    ``hot_fraction``, over the preset's values.
    """

    version = 3  # 3: decon's cumulative length rule, tokenizer tokens, presets

    _INDEX_FIELDS = ("answer_n", "passage_n", "hot_min_items", "hot_fraction")

    requires = ("id", "text")
    adds = {"decon_score": pa.float64(), "decon_eval": pa.string()}

    def __init__(self, evals: EvalSet | str | list, purify: str = "tag", mode: str | None = None,
                 n: int = 5, tokenizer: str | None = None, cache_dir: str | None = None,
                 name: str | None = None, preset: str = "default", **scan_params):
        if purify not in PURIFY:
            raise ValueError(f"purify must be one of {PURIFY}, not {purify!r}")
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {PRESETS}, not {preset!r}")
        entries = _entries(evals, mode)
        _unique([e.name for e in entries if isinstance(e, EvalSet)])  # the rest when loaded
        self.purify, self.n, self.tokenizer, self.name = purify, n, tokenizer, name
        self.preset = preset
        index_fields = {k: scan_params.pop(k) for k in self._INDEX_FIELDS if k in scan_params}
        self.params = asdict(ScanParams.preset(preset, **scan_params))
        # eval files are loaded and indexed when a run starts (artifacts()), not here; their
        # content reaches the fingerprint through the index directories' digests
        self.evals = [{"name": e.name, "mode": e.mode, "fingerprint": e.fingerprint()}
                      if isinstance(e, EvalSet) else {"path": e[0], "mode": e[1]}
                      for e in entries]
        self.index_params = asdict(IndexParams.preset(preset, n=n, tokenizer=tokenizer,
                                                      **index_fields))
        self._entries, self._cache = entries, cache_dir or default_cache_dir()
        self._dirs: list[str] | None = None
        self._indexes: list[DeconIndex] | None = None
        self._tokens: Tokens | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_indexes": None, "_tokens": None}

    def eval_sets(self) -> list[EvalSet]:
        """The eval sets, files loaded (read on each call)."""
        return _eval_sets(self._entries)

    def index_dirs(self) -> list[str]:
        """Each eval set's index directory, loading and indexing the sets on first use."""
        if self._dirs is None:
            params = IndexParams(**self.index_params)
            self._dirs = [cached_index(s, params, self._cache) for s in self.eval_sets()]
        return self._dirs

    def artifacts(self) -> dict[str, str]:
        files = {f"index-{i}": d for i, d in enumerate(self.index_dirs())}
        return files | ({"tokenizer": self.tokenizer} if self.tokenizer else {})

    def setup(self) -> None:
        self._indexes = [DeconIndex.load(self.artifact(f"index-{i}"))
                         for i in range(len(self.index_dirs()))]
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
