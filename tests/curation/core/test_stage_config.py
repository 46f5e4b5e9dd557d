"""Stage configs are explicit JSON data: every concrete stage in the package, built here with
small real arguments (models trained here, files written here), has a config that JSON holds
and the same fingerprint when built twice; a public attribute that is not JSON data is refused
when the stage is constructed. A new stage must be added to ``EXAMPLES``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable

import pytest

import curation
from curation.bench.components import EdgeListDedup
from curation.core.errors import CurationError
from curation.core.hashing import fingerprint
from curation.core.stage import Stage
from curation.decon import Decontaminate
from curation.dedup import ExactDedup, MinHashDedup, SubstringDedup, UrlDedup
from curation.filters import (
    C4Filter,
    C4Quality,
    Compressibility,
    DocumentLength,
    FineWebQuality,
    GopherQuality,
    GopherRepetition,
    LanguageID,
    LengthFilter,
    MaskPII,
    UrlBlockList,
)
from curation.interop.datatrove import DatatroveStep
from curation.mixing.mix import Mix
from curation.mixing.sampler import Sample
from curation.mixing.upsample import Upsample
from curation.reliability.soak import Chaos
from curation.tagging import Quality, Topic, Vigintiles
from curation.tokenize import Tokenize

PROSE = "the cat sat on the mat while the dog slept by the warm fire in the old house"


def _stage_classes() -> list[type[Stage]]:
    for module in pkgutil.walk_packages(curation.__path__, "curation."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found, todo = set(), [Stage]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("curation.") and sub not in found:
                found.add(sub)
                todo.append(sub)
    concrete = [c for c in found if not inspect.isabstract(c) and not c.__name__.startswith("_")]
    return sorted(concrete, key=lambda c: c.__name__)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, tokenizer_path) -> dict[str, str]:
    """Small real files the stages load: fastText models, a domain list, a mix plan."""
    from classifiers.fasttext_model import FastTextParams, train
    from curation.mixing.mix_plan import MixPlan, PlanEntry
    from curation.tagging import TOPICS

    root = tmp_path_factory.mktemp("stage-config")
    texts = [f"{PROSE} {i}" for i in range(20)]
    params = FastTextParams(dim=4, epoch=1)
    train(texts, [TOPICS.ids[i % 2] for i in range(20)], root / "topic.bin", params)
    train(texts, ["hq" if i % 2 else "lq" for i in range(20)], root / "quality.bin", params)
    (root / "domains.txt").write_text("spam.example\n")
    plan = MixPlan((PlanEntry("web", None, None, 1000, 1.0),)).save(str(root / "plan.json"))
    return {"topic": str(root / "topic.bin"), "quality": str(root / "quality.bin"),
            "domains": str(root / "domains.txt"), "plan": plan, "tokenizer": tokenizer_path,
            "root": str(root)}


def _evals():
    from curation.decon import EvalItem, build_set

    return [build_set("farm_qa", [EvalItem("q1", PROSE, "the answer is in the old house")])]


def _datatrove_step():
    from datatrove.pipeline.filters import GopherQualityFilter

    return GopherQualityFilter()


EXAMPLES: dict[str, Callable[[dict[str, str]], Stage]] = {
    "C4Quality": lambda a: C4Quality(),
    "C4Filter": lambda a: C4Filter(),  # deprecated name
    "Chaos": lambda a: Chaos(0.1, a["root"]),
    "Compressibility": lambda a: Compressibility(),
    "DatatroveStep": lambda a: DatatroveStep(_datatrove_step()),
    "Decontaminate": lambda a: Decontaminate(_evals(), cache_dir=a["root"]),
    "EdgeListDedup": lambda a: EdgeListDedup("edges"),  # curate bench components' stage
    "ExactDedup": lambda a: ExactDedup(),
    "FineWebQuality": lambda a: FineWebQuality(),
    "GopherQuality": lambda a: GopherQuality(),
    "GopherRepetition": lambda a: GopherRepetition(),
    "LanguageID": lambda a: LanguageID(keep=["en"]),
    "DocumentLength": lambda a: DocumentLength(),
    "LengthFilter": lambda a: LengthFilter(),  # deprecated name
    "MaskPII": lambda a: MaskPII(kinds=["email"], placeholders={"email": "<e>"}, spans=True),
    "MinHashDedup": lambda a: MinHashDedup(),
    "Mix": lambda a: Mix({"web": 1.0}, tokens=1000),
    "Quality": lambda a: Quality(a["quality"]),
    "Sample": lambda a: Sample(a["plan"]),
    "SubstringDedup": lambda a: SubstringDedup(),
    "Tokenize": lambda a: Tokenize(a["tokenizer"]),
    "Topic": lambda a: Topic(a["topic"]),
    "UrlBlockList": lambda a: UrlBlockList(a["domains"]),
    "UrlDedup": lambda a: UrlDedup(tracking_params=["utm_*", "ref"]),
    "Upsample": lambda a: Upsample(2.0),
    "Vigintiles": lambda a: Vigintiles(),
}


def test_every_stage_has_an_example():
    assert sorted(c.__name__ for c in _stage_classes()) == sorted(EXAMPLES)


@pytest.mark.filterwarnings("ignore:.* is now:DeprecationWarning")
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_config_is_json_and_stable(name, artifacts):
    first, second = EXAMPLES[name](artifacts), EXAMPLES[name](artifacts)
    assert type(first).__name__ == name
    assert fingerprint(first.identity()) == fingerprint(second.identity())


def test_an_attribute_that_is_not_json_is_refused_at_construction():
    class Holding(DocumentLength):
        def __init__(self, thing, **options):
            super().__init__(**options)
            self.thing = thing

    with pytest.raises(CurationError, match=r"Holding: config field 'thing' \(object\)"):
        Holding(object())
    with pytest.raises(CurationError, match="'thing' \\(set\\)"):
        Holding({"a", "b"})
    assert Holding(["plain", 1, None]).config()["thing"] == ["plain", 1, None]

    class Private(DocumentLength):
        def __init__(self):
            super().__init__()
            self._model = object()  # not config

    assert "_model" not in Private().config()


@pytest.mark.parametrize(("old", "new", "node"), [(LengthFilter, DocumentLength, "length_filter"),
                                                  (C4Filter, C4Quality, "c4_filter")])
def test_former_filter_names_warn_and_keep_their_identity(old, new, node):
    with pytest.warns(DeprecationWarning, match=f"{old.__name__} is now {new.__name__}"):
        stage = old()
    assert isinstance(stage, new) and stage.default_name() == node
    assert stage.identity()["class"] == f"{old.__module__}.{old.__name__}"  # same fingerprint


def test_describe_is_the_former_name_of_identity():
    with pytest.warns(DeprecationWarning, match=r"Stage.describe\(\) is now Stage.identity\(\)"):
        assert DocumentLength().describe() == DocumentLength().identity()
