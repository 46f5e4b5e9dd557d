"""The curate command: plan, run, status, and errors as one clear line."""

from __future__ import annotations

import sys
import textwrap

import pytest
from corpora import corpus, write_jsonl

from curation.cli import main, parser

PIPELINE = textwrap.dedent('''
    from curation import Pipeline, read
    from curation.dedup import ExactDedup
    from curation.filters import DocumentLength

    pipeline = Pipeline("cli", workdir="{work}")
    docs = pipeline.source(read("{inputs}/*.jsonl", source="s"))
    pipeline.sink(docs >> DocumentLength(min_chars=20) >> ExactDedup(partitions=2), "{out}")
''')


@pytest.fixture
def pipeline_file(tmp_path):
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "a.jsonl", corpus(20))
    write_jsonl(tmp_path / "in" / "b.jsonl", corpus(10))
    path = tmp_path / "p.py"
    path.write_text(PIPELINE.format(work=tmp_path / "w", inputs=tmp_path / "in",
                                    out=tmp_path / "o"))
    return path


def test_plan_run_status(pipeline_file, tmp_path, capsys):
    assert main(["plan", str(pipeline_file)]) == 0
    plan = capsys.readouterr().out
    assert "[global] exact_dedup" in plan and "scan -> reduce x2 -> apply" in plan

    assert main(["status", str(tmp_path / "w")]) == 1
    assert "no run has started" in capsys.readouterr().err

    assert main(["run", str(pipeline_file)]) == 0
    summary = capsys.readouterr().out
    assert "exact_dedup" in summary and "exact_duplicate=" in summary
    assert f"in {tmp_path / 'o'}" in summary

    assert main(["status", str(tmp_path / "w")]) == 0
    status = capsys.readouterr().out
    assert "finished" in status and "scan 2/2  reduce 2/2  apply 2/2" in status


def test_run_with_workdir_override_and_bad_input(pipeline_file, tmp_path, capsys):
    (tmp_path / "in" / "c.jsonl").write_bytes(b'{"text": "fine"}\n{"text": \n')
    assert main(["run", str(pipeline_file), "--workdir", str(tmp_path / "w2")]) == 1
    err = capsys.readouterr().err
    (last,) = [line for line in err.splitlines() if line.startswith("curate: error: ")]
    assert "c.jsonl:line 2: malformed JSON" in last
    assert (tmp_path / "w2" / "_run.json").exists()


def test_generate_writes_corpus_and_truth(tmp_path, capsys):
    out = tmp_path / "synthetic"
    assert main(["generate", "--out", str(out), "--docs", "300", "--seed", "3"]) == 0
    summary = capsys.readouterr().out
    assert '"docs": 300' in summary
    assert (out / "truth.parquet").exists() and list((out / "docs").glob("*.jsonl.zst"))


def test_bench_lists_and_rejects_unknown_names(capsys):
    assert main(["bench", "list"]) == 0
    assert "exact_dedup" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["bench", "no-such-bench"])
    assert "curate bench list" in capsys.readouterr().err


def test_decon_report_needs_its_subcommand(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["decon", str(tmp_path)])
    assert exit_.value.code == 2
    assert "usage: curate decon [-h] ACTION" in capsys.readouterr().err
    assert main(["decon", "report", str(tmp_path)]) == 0
    assert '"matches": 0' in capsys.readouterr().out


def test_missing_pipeline_or_config_file_is_one_line(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.py")]) == 1
    assert capsys.readouterr().err.strip() == f"curate: error: {tmp_path / 'nope.py'}: no such " \
        "pipeline file"
    assert main(["train", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {dim: 8}\nstages: []\nout_dir: x\nbatch_row: 2\n")
    assert main(["train", str(bad)]) == 2
    assert "did you mean 'batch_rows'" in capsys.readouterr().err


def _commands() -> list[list[str]]:
    """Every subcommand, and every action of a subcommand group."""
    out = []
    for action in parser()._subparsers._group_actions:
        for name, sub in action.choices.items():
            out.append([name])
            groups = sub._subparsers._group_actions if sub._subparsers else []
            out += [[name, inner] for group in groups for inner in group.choices]
    return out


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_subcommand_explains_itself(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: curate {' '.join(command)} ")
    assert len(out.splitlines()) > 3  # a description and the options, not a bare usage line
    assert "example" in out.lower()


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("curate ")


def test_a_command_whose_extra_is_missing_says_which_to_install(monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "train" or m.startswith("train.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails as if absent
    assert main(["train", "train/configs/tiny.yaml"]) == 1
    assert "this command needs the 'train' extra (torch is not installed): pip install " \
        "'curation[train]'" in capsys.readouterr().err


ENV_PIPELINE = textwrap.dedent('''
    import os
    import pyarrow as pa
    from curation import MapStage, Pipeline, read

    class Marked(MapStage):
        adds = {"mark": pa.string()}

        def process(self, batch, ctx):
            mark = os.environ.get("CURATE_TEST_MARK", "unset")
            return batch.append_column("mark", pa.array([mark] * batch.num_rows, pa.string()))

    pipeline = Pipeline("env", workdir=os.environ["WORK"])
    pipeline.sink(pipeline.source(read(os.environ["INPUTS"], source="s")) >> Marked(),
                  os.environ["OUT"])
''')


@pytest.mark.ray
def test_runtime_env_reaches_the_ray_tasks(tmp_path, pipeline_file):
    import os
    import subprocess
    import sys

    import pyarrow.parquet as pq

    script = tmp_path / "env.py"
    script.write_text(ENV_PIPELINE)
    (tmp_path / "env.yaml").write_text("env_vars:\n  CURATE_TEST_MARK: from-runtime-env\n")
    done = subprocess.run([sys.executable, "-m", "curation.cli", "run", str(script),
                           "--executor", "ray", "--num-cpus", "1",
                           "--runtime-env", str(tmp_path / "env.yaml")],
                          capture_output=True, text=True, timeout=300,
                          env=os.environ | {"WORK": str(tmp_path / "we"),
                                            "INPUTS": str(tmp_path / "in" / "*.jsonl"),
                                            "OUT": str(tmp_path / "oe")})
    assert done.returncode == 0, done.stderr[-3000:]
    marks = {m for f in (tmp_path / "oe").glob("*.parquet")
             for m in pq.read_table(f).column("mark").to_pylist()}
    assert marks == {"from-runtime-env"}


def test_runtime_env_file_and_working_dir(tmp_path):
    from curation.cli import _runtime_env
    from curation.core.errors import CurationError

    (tmp_path / "env.json").write_text('{"env_vars": {"A": "1"}}')
    assert _runtime_env(str(tmp_path / "env.json"), "proj") == {"env_vars": {"A": "1"},
                                                                "working_dir": "proj"}
    assert _runtime_env(None, None) is None
    (tmp_path / "list.yaml").write_text("- a\n")
    for bad, message in [(tmp_path / "list.yaml", "a runtime env is a mapping"),
                         (tmp_path / "missing.yaml", "no such runtime-env file")]:
        with pytest.raises(CurationError, match=message):
            _runtime_env(str(bad), None)
