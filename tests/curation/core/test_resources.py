"""Resources per stage: what a task asks of its worker (one CPU by default, memory estimated
where a stage can), a user's override, Ray given it, and a task larger than any node refused
before anything is submitted."""

from __future__ import annotations

import pytest
from test_executors import make_inputs, output_bytes

from curation import Pipeline, read
from curation.core.errors import CurationError
from curation.core.executors import RayExecutor
from curation.dedup import ExactDedup, MinHashDedup, SubstringDedup
from curation.dedup.minhash import MERGE_BYTES_PER_PARQUET_BYTE
from curation.dedup.substring import BYTES_PER_BLOCK_BYTE, TEXT_PER_PARQUET_BYTE
from curation.filters import DocumentLength


def test_estimates_and_overrides():
    assert DocumentLength().resources("map", 10**9) == {"num_cpus": 1}
    small = SubstringDedup(partition_bytes=1000)
    assert small.resources("reduce", 10**6)["memory"] == \
        TEXT_PER_PARQUET_BYTE * 10**6 + BYTES_PER_BLOCK_BYTE * 1000
    assert "memory" not in small.resources("scan", 10**6)
    assert MinHashDedup().resources("merge", 10**6)["memory"] == \
        MERGE_BYTES_PER_PARQUET_BYTE * 10**6
    pinned = SubstringDedup().with_resources(num_cpus=2, memory=5e9)
    assert pinned.resources("reduce", 10**12) == {"num_cpus": 2, "memory": 5e9}
    assert pinned.identity() == SubstringDedup().identity()  # resources are not fingerprinted
    with pytest.raises(CurationError, match=r"unknown resources \['gpus'\]"):
        DocumentLength().with_resources(gpus=1)
    custom = DocumentLength().with_resources(num_gpus=1, resources={"highmem": 2})
    assert custom.resources("map", 1) == {"num_cpus": 1, "num_gpus": 1, "highmem": 2}
    with pytest.raises(CurationError, match=r"\['CPU'\] are not custom resources"):
        DocumentLength().with_resources(resources={"CPU": 4})


def _pipeline(tmp_path, name: str, dedup) -> Pipeline:
    p = Pipeline(name, str(tmp_path / f"w-{name}"), seed=1)
    docs = p.source(read(str(tmp_path / "in") + "/in-*.jsonl.zst", source="a"))
    p.sink(docs >> DocumentLength(50) >> dedup, str(tmp_path / f"o-{name}"))
    return p


@pytest.mark.ray
def test_ray_gets_the_resources_and_refuses_what_fits_no_node(tmp_path, ray_cluster):
    make_inputs(tmp_path / "in", shards=3, docs=120)
    local = _pipeline(tmp_path, "local", ExactDedup(partitions=2)).run(progress=False)
    executor = RayExecutor()
    asked = _pipeline(tmp_path, "ray", ExactDedup(partitions=2).with_resources(
        num_cpus=1, memory=50e6))
    asked.run(executor, progress=False)
    assert output_bytes(str(tmp_path / "o-ray")) == output_bytes(local.outputs["sink"][0]
                                                                .rsplit("/", 1)[0])
    huge = _pipeline(tmp_path, "huge", ExactDedup(partitions=2).with_resources(memory=1e15))
    with pytest.raises(CurationError, match=r"step 'exact_dedup', scan task 0 .* needs "
                                            r"1000000\.0 GB of memory, more than any node"):
        huge.run(executor, progress=False)
    assert not (tmp_path / "w-huge" / "_tasks" / "exact_dedup").exists()
    nowhere = _pipeline(tmp_path, "nowhere", ExactDedup(partitions=2).with_resources(
        resources={"highmem": 1}))
    with pytest.raises(CurationError, match=r"scan task 0 .* needs 1 of resource 'highmem', "
                                            r"more than any node of the cluster has \(0 of"):
        nowhere.run(executor, progress=False)
