"""Pipeline parameters (``param``, ``--set``) and declared inputs (``Pipeline.input``)."""

from __future__ import annotations

import pytest

from curation import Pipeline, param, read
from curation.cli import load_pipeline, main
from curation.core.errors import CurationError
from curation.core.params import parse_settings, settings

FILE = '''
import os
from curation import Pipeline, param, read
from curation.filters import DocumentLength

WORKDIR = param("workdir", "{workdir}", "where the run goes")
MIN_CHARS = param("min_chars", 10, "shortest document kept")
KEEP_EMPTY = param("keep_empty", False, "a boolean")
MODE = param("mode", "fast", "a choice", choices=["fast", "exact"])

pipeline = Pipeline("p", workdir=os.path.join(WORKDIR, "work"))
data = pipeline.input("data", os.path.join(WORKDIR, "data"), build={build}, help="made later")
docs = pipeline.source(read(data, source="t"))
pipeline.sink(docs >> DocumentLength(min_chars=MIN_CHARS), os.path.join(WORKDIR, "out"))
'''

BUILD = '''lambda d: (os.makedirs(d, exist_ok=True), open(os.path.join(d, "a.jsonl"), "w").write(
    '{"id": "1", "text": "a short one"}\\n{"id": "2", "text": "a document long enough"}\\n'))'''


@pytest.fixture
def pipeline_file(tmp_path):
    path = tmp_path / "p.py"
    path.write_text(FILE.format(workdir=tmp_path / "run", build=BUILD))
    return str(path)


def test_set_converts_to_the_defaults_type_and_records_where_it_came_from(pipeline_file,
                                                                          monkeypatch):
    monkeypatch.setenv("CURATE_MIN_CHARS", "15")
    _, declared = load_pipeline(pipeline_file, {"keep_empty": "yes", "mode": "exact"})
    assert declared["min_chars"].value == 15 and declared["min_chars"].origin == "CURATE_MIN_CHARS"
    assert declared["keep_empty"].value is True and declared["keep_empty"].origin == "--set"
    assert declared["mode"].value == "exact" and declared["workdir"].origin == "default"
    _, declared = load_pipeline(pipeline_file, {"min_chars": "20"})  # --set beats the env
    assert declared["min_chars"].value == 20


@pytest.mark.parametrize("given, message", [
    ({"min_chars": "many"}, "min_chars: 'many' is not a int"),
    ({"keep_empty": "maybe"}, "not a boolean"),
    ({"mode": "slow"}, "'slow' is not one of"),
    ({"min_char": "3"}, "no parameter named min_char .*it declares: keep_empty, min_chars"),
])
def test_bad_settings_are_errors_naming_the_parameter(pipeline_file, given, message):
    with pytest.raises(CurationError, match=message):
        load_pipeline(pipeline_file, given)


def test_parse_settings():
    assert parse_settings(["a=1", "b_c=x=y", "d="]) == {"a": "1", "b_c": "x=y", "d": ""}
    for bad in ["a", "A=1", "=1"]:
        with pytest.raises(CurationError, match="NAME=VALUE"):
            parse_settings([bad])


def test_param_outside_a_session_reads_the_environment(monkeypatch):
    assert param("some_size", 3) == 3
    monkeypatch.setenv("CURATE_SOME_SIZE", "4")
    assert param("some_size", 3) == 4
    with settings({}, "x") as declared:
        param("some_size", 3, "h")
    assert declared["some_size"].describe().startswith("some_size = 4  [int, default 3, env "
                                                       "CURATE_SOME_SIZE]  (from CURATE_SOME_SIZE)")


def test_plan_builds_nothing_and_lists_parameters_and_inputs(pipeline_file, tmp_path, capsys):
    assert main(["plan", pipeline_file, "--set", "min_chars=12"]) == 0
    out = capsys.readouterr().out
    assert "min_chars = 12  [int, default 10" in out and "(from --set)" in out
    assert f"data: {tmp_path / 'run' / 'data'}  [built when the run starts]  made later" in out
    assert not (tmp_path / "run").exists()


def test_run_builds_inputs_first_then_runs(pipeline_file, tmp_path, capsys):
    import pyarrow.parquet as pq

    assert main(["run", pipeline_file, "--set", "min_chars=12"]) == 0  # 11 chars < 12 <= 22
    assert (tmp_path / "run" / "data" / "a.jsonl").exists()
    shards = sorted((tmp_path / "run" / "out").glob("*.parquet"))
    out = [t for s in shards for t in pq.read_table(s).column("text").to_pylist()]
    assert out == ["a document long enough"]
    assert main(["run", pipeline_file, "--set", "bogus=1"]) == 1
    assert "no parameter named bogus" in capsys.readouterr().err


def test_an_input_without_a_build_must_exist(tmp_path):
    p = Pipeline("p", workdir=str(tmp_path / "w"))
    p.sink(p.source(read(p.input("docs", str(tmp_path / "none.jsonl")))), str(tmp_path / "o"))
    assert "docs: " in p.describe() and "[MISSING]" in p.describe()
    with pytest.raises(FileNotFoundError, match="input 'docs'"):
        p.run()
    assert not (tmp_path / "o").exists()
