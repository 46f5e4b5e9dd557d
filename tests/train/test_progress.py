"""Console progress: a line every N steps with step, stage, loss, LR, tokens/s, time left and
evaluation BPB; nothing in quiet mode; metrics.jsonl unchanged either way."""

from __future__ import annotations

import io
import re

from test_data import tokenized_source
from test_trainer import config, metrics

from train.cli import main as train_main
from train.progress import Progress, duration, progress_line
from train.trainer import Trainer

LINE = re.compile(r"step +(\d+)/(\d+) \| (\w+) \| loss \d+\.\d{3} \| lr \d\.\de[-+]\d\d \| "
                  r"[\d,]+ tok/s \| (\w+) left")


def test_a_line_holds_every_figure():
    record = {"step": 40, "stage": "main", "loss": 5.2139, "lr": 0.00291, "tokens_per_s": 48117.4,
              "eval_bpb": {"docs": 2.3104, "web": 1.5}}
    assert progress_line(record, 200, 62.4) == (
        "step  40/200 | main | loss 5.214 | lr 2.9e-03 | 48,117 tok/s | 1m02s left | "
        "bpb docs 2.310 web 1.500")
    assert [duration(s) for s in (12.4, 185, 3725)] == ["12s", "3m05s", "1h02m"]


def test_lines_come_every_n_steps_the_last_and_evaluations():
    out = io.StringIO()
    progress = Progress(total=7, every=3, stream=out)
    for step in range(1, 8):
        progress.update({"step": step, "stage": "s", **({"eval_bpb": {"d": 1.0}}
                                                         if step == 5 else {})})
    assert [line.split(" |")[0] for line in out.getvalue().splitlines()] == [
        "step 3/7", "step 5/7", "step 6/7", "step 7/7"]
    quiet = io.StringIO()
    Progress(total=7, every=0, stream=quiet).update({"step": 7})
    assert quiet.getvalue() == ""


def test_the_trainer_prints_progress_and_quiet_prints_none(tmp_path, tokenizer_path, capsys):
    web = tokenized_source(tmp_path, "web", tokenizer_path, 200, "alpha")
    Trainer(config(tmp_path, {"web": web}, 6, progress_every=2,
                   eval_domains={"web": web}, eval_every=3, eval_rows=4)).fit()
    lines = capsys.readouterr().err.splitlines()
    steps = [int(m[1]) for line in lines if (m := LINE.match(line))]
    assert steps == [2, 3, 4, 6] and all("/6 | main |" in line for line in lines)
    assert "bpb web " in lines[1] and "bpb web " in lines[-1]  # steps 3 and 6 evaluated
    assert len(metrics(tmp_path / "run")) >= 6 and "lr" in metrics(tmp_path / "run")[0]
    cfg_file = tmp_path / "quiet.yaml"
    cfg_file.write_text(f"""
model: {{vocab_size: 400, dim: 32, n_layers: 2, n_heads: 4, n_kv_heads: 2, max_seq_len: 64}}
stages: [{{name: main, sources: {{web: {web}}}, steps: 2, seq_len: 32}}]
out_dir: {tmp_path / "quiet"}
cache_dir: {tmp_path / "cache"}
batch_rows: 4
progress_every: 1
""")
    assert train_main([str(cfg_file), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and '"step": 2' in captured.out
