"""Keep datatrove's readers, extractors and filters inside a curation DAG.

- ``DatatroveStep(step)`` wraps any datatrove ``PipelineStep`` (a filter such as
  ``GopherQualityFilter``, an extractor such as ``Trafilatura``, a formatter...) as a map stage.
  Each batch becomes datatrove ``Document`` objects (``text``, ``id``, ``metadata`` holding
  ``url``, ``source``, ``created`` as an ISO string and every other non-base column); the
  documents that come out become the batch again: same columns in the same order, ``text`` as
  the step left it, plus the ``adds`` columns read from the documents' metadata. Nothing is
  dropped silently: a ``BaseFilter`` is asked for each document's decision through its own
  ``filter_batch`` (in chunks of its ``batch_size``, as datatrove's ``BaseFilter.run`` does)
  and a drop is reported under datatrove's reason (``gopher_short_doc``...) or, without one,
  under the filter's snake-cased name (``gopher_quality``); any other step is run with
  ``step.run`` and the documents that did not come out are reported as ``<step name>_dropped``
  (``trafilatura_dropped``). An extractor runs in datatrove's sandbox process (one per batch);
  ``setup()`` first calls it once in the worker, so a missing library fails the task instead of
  every document timing out.
- ``DatatroveReader(reader)`` is a source built from a datatrove disk reader (``WarcReader``,
  ``JsonlReader``, ``ParquetReader``...): each file of its data folder matching its glob is one
  shard, read with the reader's own ``read_file`` and finished like our own readers' records
  (ids, ``source``, ``created``, schema). A file that fails to parse goes to the quarantine.

Limitations: the work is per-document Python exactly as in datatrove, so a wrapped step is as
fast as datatrove, not faster (the Arrow <-> Document conversion adds a little). Output rows are
matched to input rows by document id: a step must not change ids or emit new documents. Values
a step writes into metadata come back only for the keys named in ``adds``; other columns keep
their input values. A filter's ``exclusion_writer`` is refused (use ``keep_rejects=True``).
Records that datatrove's reader skips by itself (no text, a JSON line it cannot parse: it only
logs a warning) are never seen here, so they are not counted. Shard paths must be openable by
pyarrow (local paths, ``s3://``, ``gs://``...) since the runner fingerprints input files.
"""

from __future__ import annotations

import enum
import re
import types
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa

from curation.core.errors import CurationError, InputError
from curation.core.quarantine import OnError, Quarantine
from curation.core.readers import Reader
from curation.core.schema import BASE_FIELDS, CREATED, ID, SOURCE, TEXT, URL
from curation.core.stage import BatchContext, MapStage, snake_case

_SKIP = object()
_SKIPPED_ATTRS = {"stats"}


# -- helpers ---------------------------------------------------------------------------------
def _class_path(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def step_name(step: object) -> str:
    """A datatrove step's ``name`` as snake case (``"🥇 Gopher Quality"`` -> gopher_quality)."""
    words = re.findall(r"[A-Za-z0-9]+", getattr(step, "name", None) or "")
    return "_".join(words).lower() if words else snake_case(type(step).__name__)


def _canonical(value: object) -> str | object:
    """A stable ``repr`` of a simple value (sets sorted), or ``_SKIP`` for anything else."""
    if value is None or isinstance(value, bool | int | float | str | bytes | enum.Enum):
        return repr(value)
    if isinstance(value, list | tuple):
        items = [_canonical(v) for v in value]
        if any(i is _SKIP for i in items):
            return _SKIP
        return ("[{}]" if isinstance(value, list) else "({})").format(", ".join(items))
    if isinstance(value, set | frozenset):
        items = [_canonical(v) for v in value]
        return _SKIP if any(i is _SKIP for i in items) else "{" + ", ".join(sorted(items)) + "}"
    if isinstance(value, dict):
        items = [(_canonical(k), _canonical(v)) for k, v in value.items()]
        if any(k is _SKIP or v is _SKIP for k, v in items):
            return _SKIP
        return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(items)) + "}"
    if isinstance(value, types.FunctionType | types.MethodType | types.BuiltinFunctionType):
        func = getattr(value, "__func__", value)
        return f"<function {func.__module__}.{func.__qualname__}>"
    folder = getattr(value, "resolve_paths", None)  # a datatrove DataFolder
    if callable(folder):
        try:
            return repr(folder(""))
        except Exception:  # noqa: BLE001 (an odd filesystem: leave it out)
            return _SKIP
    return _SKIP


def step_params(step: object) -> dict[str, str]:
    """The public, simple attributes of a datatrove step as stable ``repr`` strings."""
    params = {}
    for key, value in sorted(vars(step).items()):
        if key.startswith("_") or key in _SKIPPED_ATTRS:
            continue
        canonical = _canonical(value)
        if canonical is not _SKIP:
            params[key] = canonical
    return params


def _datatrove_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("datatrove")
    except PackageNotFoundError:
        return "unknown"


def _py(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


# -- map stage -------------------------------------------------------------------------------
class DatatroveStep(MapStage):
    """A datatrove ``PipelineStep`` as a map stage (see the module docstring).

    ``adds`` names metadata keys the step sets that should become typed columns (a key already
    among the columns is replaced by the step's value). ``name`` defaults to the step's name in
    snake case.
    """

    requires = (ID, TEXT)
    version = 2  # 2: a filter's decisions come from filter_batch at batch_size 1 too

    def __init__(
        self,
        step,
        adds: dict[str, pa.DataType] | None = None,
        name: str | None = None,
        keep_rejects: bool = False,
    ):
        from datatrove.pipeline.base import PipelineStep

        if not isinstance(step, PipelineStep):
            raise TypeError(f"DatatroveStep wraps a datatrove PipelineStep, not {type(step)}")
        if getattr(step, "exclusion_writer", None) is not None:
            raise ValueError(
                f"{type(step).__name__} has an exclusion_writer: drops are reported by the "
                "pipeline; pass keep_rejects=True to keep the dropped documents instead"
            )
        self.step = step
        self.adds = dict(adds or {})
        self.name = name
        self.keep_rejects = keep_rejects

    def default_name(self) -> str:
        return step_name(self.step)

    def config(self) -> dict:
        return {
            "step": _class_path(self.step),
            "params": step_params(self.step),
            "datatrove": _datatrove_version(),
            "adds": {k: str(v) for k, v in self.adds.items()},
            "keep_rejects": self.keep_rejects,
        }

    def setup(self) -> None:
        """Warm an extractor up in this process: its libraries get imported once here (so the
        sandbox processes it forks start at once) and a missing one fails the task, instead of
        every document timing out in the sandbox and being dropped."""
        from datatrove.pipeline.extractors.base import BaseExtractor

        if isinstance(self.step, BaseExtractor):
            try:
                self.step.extract("<html><body><p>warm up</p></body></html>")
            except ImportError:
                raise
            except Exception:  # noqa: BLE001 (an extractor may dislike the warm-up page)
                return  # only a missing library matters here

    def _is_plain_filter(self) -> bool:
        from datatrove.pipeline.filters.base_filter import BaseFilter

        return isinstance(self.step, BaseFilter) and type(self.step).run is BaseFilter.run

    def _documents(self, batch: pa.Table) -> list:
        from datatrove.data import Document

        columns = {c: batch.column(c).to_pylist() for c in batch.column_names}
        texts, ids = columns.pop(TEXT), columns.pop(ID)
        docs = []
        for i, (text, doc_id) in enumerate(zip(texts, ids, strict=True)):
            metadata = {c: _py(values[i]) for c, values in columns.items()}
            docs.append(Document(text=text, id=doc_id, metadata=metadata))
        return docs

    def process(self, batch: pa.Table, ctx: BatchContext) -> pa.Table:
        if batch.num_rows == 0:
            return self._output(batch, [], [])
        docs = self._documents(batch)
        if self._is_plain_filter():
            kept = self._filter(batch, docs, ctx)
        else:
            kept = self._run(batch, docs, ctx)
        return self._output(batch, [i for i, _ in kept], [d for _, d in kept])

    def _filter(self, batch: pa.Table, docs: list, ctx: BatchContext) -> list[tuple[int, object]]:
        """(input row, document) of the kept documents; drops reported by reason."""
        from datatrove.pipeline.filters.base_filter import get_filter_result

        size = max(1, int(getattr(self.step, "batch_size", 1) or 1))
        default = step_name(self.step)
        kept: list[tuple[int, object]] = []
        dropped: dict[str, list[int]] = {}
        for start in range(0, len(docs), size):
            chunk = docs[start : start + size]
            results = self.step.filter_batch(chunk)  # as BaseFilter.run does, for any size
            for offset, (doc, result) in enumerate(zip(chunk, results, strict=True)):
                keep, reason = get_filter_result(result)
                if keep:
                    kept.append((start + offset, doc))
                else:
                    dropped.setdefault(reason or default, []).append(start + offset)
        for reason, rows in dropped.items():
            ctx.drop(reason, batch.take(rows))
        return kept

    def _run(self, batch: pa.Table, docs: list, ctx: BatchContext) -> list[tuple[int, object]]:
        """(input row, document) of what ``step.run`` let through; the rest reported."""
        row_of = {doc.id: i for i, doc in enumerate(docs)}
        if len(row_of) != len(docs):
            raise CurationError(f"stage '{self.name or self.default_name()}': duplicate ids")
        kept: dict[int, object] = {}
        for doc in self.step.run(iter(docs), rank=ctx.shard, world_size=1):
            row = row_of.get(doc.id)
            if row is None or row in kept:
                what = "an unknown" if row is None else "a repeated"
                raise CurationError(
                    f"stage '{self.name or self.default_name()}': {type(self.step).__name__} "
                    f"emitted {what} document id {doc.id!r}; only steps that keep ids are supported"
                )
            kept[row] = doc
        missing = [i for i in range(len(docs)) if i not in kept]
        if missing:
            ctx.drop(f"{step_name(self.step)}_dropped", batch.take(missing))
        return sorted(kept.items(), key=lambda item: item[0])

    def _output(self, batch: pa.Table, rows: list[int], docs: list) -> pa.Table:
        out = batch.take(pa.array(rows, pa.int64()))
        text = pa.array([d.text for d in docs], out.schema.field(TEXT).type)
        out = out.set_column(out.column_names.index(TEXT), TEXT, text)
        for key, typ in self.adds.items():
            values = [d.metadata.get(key) for d in docs]
            try:
                column = pa.array(values, typ)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise CurationError(
                    f"stage '{self.name or self.default_name()}': metadata '{key}' does not fit "
                    f"{typ}: {e}"
                ) from None
            if key in out.column_names:
                out = out.set_column(out.column_names.index(key), key, column)
            else:
                out = out.append_column(key, column)
        return out


# -- source ----------------------------------------------------------------------------------
class DatatroveReader(Reader):
    """A source reading a datatrove disk reader's files, one shard per file.

    ``source`` fills the ``source`` column (else the documents' ``source`` metadata).
    ``url_key`` and ``created_key`` name the metadata holding the url and the date (WARC and
    FineWeb use ``url`` and ``date``; a ``created`` key wins over ``created_key``). ``columns``
    names further metadata keys to keep, with their Arrow types. The datatrove reader's
    ``limit`` and ``skip`` apply per file (a file is a task here); ``shuffle_files`` is ignored.
    """

    def __init__(
        self,
        reader_step,
        source: str | None = None,
        on_error: OnError = "raise",
        columns: dict[str, pa.DataType] | None = None,
        url_key: str = "url",
        created_key: str | None = "date",
        max_doc_bytes: int | None = 16 << 20,
        batch_rows: int = 4096,
        batch_bytes: int = 32 << 20,
    ):
        from datatrove.pipeline.readers.base import BaseDiskReader

        if not isinstance(reader_step, BaseDiskReader):
            raise TypeError(
                f"DatatroveReader takes a datatrove disk reader (BaseDiskReader), "
                f"not {type(reader_step)}"
            )
        super().__init__(
            paths=reader_step.data_folder.resolve_paths(""),
            source=source,
            columns=dict(columns or {}),
            on_error=on_error,
            max_doc_bytes=max_doc_bytes,
            batch_rows=batch_rows,
            batch_bytes=batch_bytes,
        )
        self.reader_step = reader_step
        self.url_key = url_key
        self.created_key = created_key

    def config(self) -> dict:
        return {
            "reader": _class_path(self.reader_step),
            "params": step_params(self.reader_step),
            "datatrove": _datatrove_version(),
            "source": self.source,
            "columns": {k: str(v) for k, v in self.columns.items()},
            "on_error": self.on_error,
            "url_key": self.url_key,
            "created_key": self.created_key,
            "max_doc_bytes": self.max_doc_bytes,
            "batch_rows": self.batch_rows,
            "batch_bytes": self.batch_bytes,
        }

    def _relative(self) -> list[str]:
        step = self.reader_step
        if step.paths_file:
            from datatrove.io import get_shard_from_paths_file

            return [p for p in get_shard_from_paths_file(step.paths_file, 0, 1) if p]
        return step.data_folder.list_files(recursive=step.recursive, glob_pattern=step.glob_pattern)

    def files(self) -> list[str]:
        files = sorted(set(self.reader_step.data_folder.resolve_paths(self._relative())))
        if not files:
            glob = self.reader_step.glob_pattern
            where = f"{self.paths} (glob {glob!r})" if glob else str(self.paths)
            raise InputError(where, "no_input", "the datatrove reader finds no file here")
        return files

    def _relative_path(self, path: str) -> str:
        """``path`` relative to the reader's folder ("" when the reader was given one file)."""
        base = str(self.paths).rstrip("/")
        if path == base:
            return ""
        return path[len(base) :].lstrip("/") if path.startswith(base + "/") else path

    def read(self, path: str, quarantine: Quarantine, drops: Counter) -> Iterator[pa.Table]:
        """Batches of conformed documents from one file of the datatrove reader."""
        step = self.reader_step
        docs = iter(step.read_file(self._relative_path(path)))
        rows: list[dict] = []
        where: list[str] = []
        nbytes, n, seen = 0, 0, 0
        while step.limit == -1 or n < step.limit:
            try:
                doc = next(docs)
            except StopIteration:
                break
            except Exception as e:  # noqa: BLE001 (any parse failure of a third-party reader)
                if rows:
                    yield from self._finish(self._table(rows), where, quarantine, drops)
                    rows, where = [], []
                quarantine.bad(
                    path,
                    "unreadable",
                    f"datatrove's {type(step).__name__} cannot read past document {seen}: "
                    f"{type(e).__name__}: {e}",
                )
                return
            seen += 1
            if seen <= step.skip:
                continue
            n += 1
            loc = f"{path}:document {seen - 1}"
            record = self._record(doc, loc, quarantine)
            if record is None:
                continue
            rows.append(record)
            where.append(loc)
            nbytes += len(record[TEXT])
            if len(rows) >= self.batch_rows or nbytes >= self.batch_bytes:
                yield from self._finish(self._table(rows), where, quarantine, drops)
                rows, where, nbytes = [], [], 0
        if rows:
            yield from self._finish(self._table(rows), where, quarantine, drops)

    def _record(self, doc, loc: str, q: Quarantine) -> dict | None:
        """The document as a flat record of our columns, or None if it is too large."""
        text = doc.text or ""
        if self.oversized(text, loc, q):
            return None
        meta = doc.metadata or {}
        created = meta.get(CREATED)
        if created is None and self.created_key:
            created = meta.get(self.created_key)
        record = {
            TEXT: text,
            ID: doc.id,
            SOURCE: meta.get(SOURCE),
            URL: meta.get(self.url_key),
            CREATED: _py(created),
        }
        for name in self.columns:
            if name not in BASE_FIELDS:
                record[name] = meta.get(name)
        return record


__all__ = ["DatatroveReader", "DatatroveStep", "step_name", "step_params"]
