"""curation: Ray-parallel curation of LLM pretraining corpora (see README.md)."""

from curation.core.dag import Node
from curation.core.params import param
from curation.core.pipeline import Pipeline
from curation.core.plan import Plan, compile_plan
from curation.core.readers import Reader, read
from curation.core.runner import RunResult, run
from curation.core.stage import Filter, GlobalStage, MapStage, Stage

__all__ = ["Filter", "GlobalStage", "MapStage", "Node", "Pipeline", "Plan", "Reader",
           "RunResult", "Stage", "compile_plan", "param", "read", "run"]
