"""Map stages that tag documents with a fastText model: ``Topic`` and ``Quality``.

Both take the path of a fastText ``.bin``/``.ftz`` model (``classifiers/`` trains them), which a
run ships to the workers (core/artifacts.py), load the node's copy in ``setup()`` once per task
through ``curation.fasttext``'s per-process cache (so a worker that runs many tasks loads each
file once), and predict over a batch's texts in chunks of
``batch_size`` documents. The model file's SHA-256 is part of the stage's config: retraining
the model in place redoes the stage on resume.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from curation.core.stage import BatchContext, MapStage
from curation.fasttext import FastTextModel, load_cached
from curation.tagging.taxonomy import TOPICS, Taxonomy


class _FastTextStage(MapStage):
    requires = ("text",)

    def __init__(self, model_path: str | os.PathLike, batch_size: int = 1024,
                 name: str | None = None):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model_path = str(model_path)  # opened when a run starts (its digest) or in setup
        self.batch_size, self.name = batch_size, name
        self._model: FastTextModel | None = None

    def __getstate__(self) -> dict:
        # the loaded model stays in its process; a worker loads its own in setup()
        return {**self.__dict__, "_model": None}

    def artifacts(self) -> dict[str, str]:
        return {"model": self.model_path}

    def setup(self) -> None:
        self._model = load_cached(self.artifact("model"))
        self._check(self._model)

    def _check(self, model: FastTextModel) -> None:
        """Raise if the model's labels do not fit this stage."""

    def _proba(self, batch: pa.Table) -> np.ndarray:
        if self._model is None:
            self.setup()
        return self._model.predict_proba(batch.column("text"), self.batch_size)


class Topic(_FastTextStage):
    """Adds ``topic`` (string: the best label's id in ``taxonomy``) and ``topic_score``
    (float32: its probability, in (0, 1]). With ``distribution=True`` it also adds
    ``topic_distribution``: ``fixed_size_list<float32>[len(taxonomy)]``, the probability of each
    taxonomy id in taxonomy order (0 for ids the model lacks; each list sums to 1 up to
    rounding).

    The model's labels may be taxonomy ids (``__label__science_math_and_technology``) or the
    published names with spaces written as ``_``; a label outside the taxonomy is an error at
    ``setup()``. Ties go to the model's first label.
    """

    version = 2  # 2: ties go to the model's first label

    def __init__(self, model_path: str | os.PathLike, distribution: bool = False,
                 taxonomy: Taxonomy = TOPICS, batch_size: int = 1024, name: str | None = None):
        super().__init__(model_path, batch_size, name)
        self.distribution = distribution
        self.taxonomy = taxonomy.name
        self._taxonomy = taxonomy

    def output_columns(self) -> dict[str, pa.DataType]:
        cols = {"topic": pa.string(), "topic_score": pa.float32()}
        if self.distribution:
            cols["topic_distribution"] = pa.list_(pa.float32(), len(self._taxonomy))
        return cols

    def _check(self, model: FastTextModel) -> None:
        try:
            self._columns = np.array([self._taxonomy.index(self._taxonomy.id_of(label))
                                      for label in model.labels])
        except KeyError as e:
            raise ValueError(f"Topic: model {self.model_path} has a label outside the "
                             f"{self._taxonomy.name} taxonomy: {e}") from None

    def process(self, batch: pa.Table, ctx: BatchContext) -> pa.Table:
        proba = self._proba(batch)
        ids = np.array(self._taxonomy.ids, dtype=object)
        n = batch.num_rows
        full = np.zeros((n, len(self._taxonomy)), np.float32)
        full[:, self._columns] = proba
        # the best label in the model's order (ties: its first label), as a taxonomy column
        best = self._columns[proba.argmax(axis=1)] if n else np.zeros(0, np.int64)
        batch = batch.append_column("topic", pa.array(ids[best], pa.string()))
        batch = batch.append_column("topic_score",
                                    pa.array(full[np.arange(n), best], pa.float32()))
        if self.distribution:
            values = pa.array(full.reshape(-1), pa.float32())
            batch = batch.append_column(
                "topic_distribution", pa.FixedSizeListArray.from_arrays(values, len(ids))
            )
        return batch


class Quality(_FastTextStage):
    """Adds ``quality`` (float32 in [0, 1]): the model's probability of ``positive_label``
    (``"hq"``, what ``classifiers.quality`` trains), the DCLM-style score."""

    def __init__(self, model_path: str | os.PathLike, positive_label: str = "hq",
                 batch_size: int = 1024, name: str | None = None):
        super().__init__(model_path, batch_size, name)
        self.positive_label = positive_label

    def output_columns(self) -> dict[str, pa.DataType]:
        return {"quality": pa.float32()}

    def _check(self, model: FastTextModel) -> None:
        if self.positive_label not in model.index:
            raise ValueError(f"Quality: model {self.model_path} has no label "
                             f"{self.positive_label!r}; its labels: {list(model.labels)}")

    def process(self, batch: pa.Table, ctx: BatchContext) -> pa.Table:
        column = self._model_index()
        proba = self._proba(batch)
        return batch.append_column("quality", pa.array(proba[:, column], pa.float32()))

    def _model_index(self) -> int:
        if self._model is None:
            self.setup()
        return self._model.index[self.positive_label]
