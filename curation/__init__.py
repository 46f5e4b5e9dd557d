"""curation: Ray-parallel curation of LLM pretraining corpora (see README.md)."""

from curation.core.pipeline import Node, Pipeline
from curation.core.readers import Reader, read
from curation.core.stage import Filter, GlobalStage, MapStage, Stage

__all__ = ["Filter", "GlobalStage", "MapStage", "Node", "Pipeline", "Reader", "Stage", "read"]
