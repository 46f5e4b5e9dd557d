"""Downstream tasks scored by log-likelihood: the batched scorer equals a plain per-item loop,
a model taught the answers gets them right where an untrained one does not, eval files in the
decontamination shapes load, and (when lm-eval is installed) lm-evaluation-harness scores an
exported model on a locally defined task as we do."""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_trainer import tiny_model

from curation.tokenize import describe, load_tokenizer
from train.downstream import (
    Task,
    TaskItem,
    encode_pair,
    load_task,
    load_tasks,
    loglikelihoods,
    score_task,
    task_metrics,
)
from train.model import Transformer

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/train/conftest.py

# what each animal says, and the items asking it (the correct answer at varying positions)
FACTS = {"cats": "meow", "dogs": "woof woof", "cows": "moo", "owls": "hoot hoot hoot",
         "ducks": "quack"}
SOUNDS = list(FACTS.values())


def animal_records() -> list[dict]:
    """ARC-like records: choices with labels and a letter answer key."""
    out = []
    for k, (animal, sound) in enumerate(FACTS.items()):
        choices = SOUNDS[k % 2:] + SOUNDS[:k % 2]  # rotated: the answer moves
        out.append({"id": animal, "question": f"The {animal} say",
                    "choices": {"text": choices, "label": list("ABCDE")},
                    "answerKey": "ABCDE"[choices.index(sound)]})
    return out


def write_jsonl(path, records) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def plain_loglikelihood(model, ctx: list[int], cont: list[int]) -> tuple[float, bool]:
    """One request alone, log-softmax by hand in float64, token by token."""
    ids = (ctx + cont)[-(model.cfg.max_seq_len + 1):]
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids[:-1]]))
    total, greedy = 0.0, True
    for j in range(len(cont)):
        pos = len(ids) - 1 - len(cont) + j  # the position whose next token is cont[j]
        row = logits[0, pos].double()
        total += float(row[cont[j]] - torch.logsumexp(row, 0))
        greedy &= int(row.argmax()) == cont[j]
    return total, greedy


def teach(model: Transformer, tokenizer, texts: list[str], steps: int) -> Transformer:
    """A few full-batch AdamW steps on ``texts`` (one row each, end-padded, pads unlabelled)."""
    rows = [tokenizer.encode(t).ids for t in texts]
    width = max(map(len, rows))
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    labels = torch.full((len(rows), width), -100)
    for r, row in enumerate(rows):
        ids[r, :len(row)] = torch.tensor(row)
        labels[r, :len(row) - 1] = torch.tensor(row[1:])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        _, losses = model(ids, labels=labels)
        losses["loss"].backward()
        opt.step()
        opt.zero_grad()
    return model.eval()


def test_batched_loglikelihoods_equal_a_plain_loop(tokenizer_path):
    tok = load_tokenizer(tokenizer_path)
    info = describe(tok, "tokenizer.json")
    torch.manual_seed(0)
    model = Transformer(tiny_model(max_seq_len=24)).eval()
    g = torch.Generator().manual_seed(1)
    requests = []
    for n_ctx, n_cont in [(5, 1), (1, 3), (12, 4), (30, 6), (3, 24), (7, 2), (1, 1)]:
        ids = torch.randint(2, 400, (n_ctx + n_cont,), generator=g).tolist()
        requests.append((ids[:n_ctx], ids[n_ctx:]))  # (30, 6) and (3, 24): cut on the left
    requests.append(encode_pair(tok, info, "The cats say  ", "meow"))
    got = loglikelihoods(model, requests, batch_rows=3)  # 8 requests: a partial last batch
    for (ctx, cont), (ll, greedy) in zip(requests, got, strict=True):
        want_ll, want_greedy = plain_loglikelihood(model, list(ctx), list(cont))
        assert math.isclose(ll, want_ll, rel_tol=1e-5, abs_tol=1e-5) and greedy == want_greedy
    assert model.training is False
    with pytest.raises(ValueError, match="cannot be scored"):
        loglikelihoods(model, [([1], list(range(2, 27)))])
    with pytest.raises(ValueError, match="empty context"):
        loglikelihoods(model, [([], [5])])


def test_encode_pair_moves_trailing_space_and_starts_with_bos_or_eos(tokenizer_path):
    tok = load_tokenizer(tokenizer_path)
    info = describe(tok, "tokenizer.json")
    ctx, cont = encode_pair(tok, info, "The cats say ", "meow")
    assert ctx == tok.encode("The cats say").ids and cont == tok.encode(" meow").ids
    assert encode_pair(tok, info, "", "meow") == ([info.eos_id], tok.encode("meow").ids)
    with_bos = describe(tok, "tokenizer.json", bos="<|pad|>")
    assert encode_pair(tok, with_bos, "The", " cats")[0] == [with_bos.bos_id,
                                                             *tok.encode("The").ids]


def test_metrics_match_lls_scored_one_by_one(tokenizer_path, tmp_path):
    """acc and acc_norm from the batched scorer equal argmaxes over plain per-choice scores."""
    tok = load_tokenizer(tokenizer_path)
    info = describe(tok, "tokenizer.json")
    task = load_task(write_jsonl(tmp_path / "animals.jsonl", animal_records()))
    torch.manual_seed(3)
    model = Transformer(tiny_model()).eval()
    got = score_task(model, task, tok, info, batch_rows=4)
    acc = acc_norm = 0
    for item in task.items:
        lls = [plain_loglikelihood(model, *encode_pair(tok, info, item.context, " " + c))[0]
               for c in item.choices]
        norm = [ll / len(c.encode()) for ll, c in zip(lls, item.choices, strict=True)]
        acc += max(range(len(lls)), key=lls.__getitem__) == item.gold
        acc_norm += max(range(len(lls)), key=norm.__getitem__) == item.gold
    assert got["acc"] == acc / 5 and got["acc_norm"] == acc_norm / 5 and got["items"] == 5


def test_a_model_taught_the_answers_gets_them_right(tokenizer_path, tmp_path):
    """Every choice is a sound the model has learnt; only the question tells which is right.
    Before teaching the model is near chance; after, it answers every item."""
    tok = load_tokenizer(tokenizer_path)
    info = describe(tok, "tokenizer.json")
    task = load_task(write_jsonl(tmp_path / "animals.jsonl", animal_records()))
    assert task.kind == "mc" and [it.gold for it in task.items] == [0, 0, 2, 2, 4]
    torch.manual_seed(0)
    model = Transformer(tiny_model())
    before = score_task(model, task, tok, info)
    teach(model, tok, [f"The {a} say {s}." for a, s in FACTS.items()], 100)
    after = score_task(model, task, tok, info)
    assert before["acc"] <= 0.4 and before["acc_norm"] <= 0.4
    assert after["acc"] == after["acc_norm"] == 1.0 and after["acc_stderr"] == 0.0

    # the same facts as question/answer records: the answers become the greedy continuations
    qa = load_task(write_jsonl(tmp_path / "sounds.jsonl", [
        {"question": f"The {a} say", "answer": s} for a, s in FACTS.items()]))
    assert qa.kind == "continuation"
    scores = score_task(model, qa, tok, info)
    assert scores["acc"] == 1.0 and 0 < scores["bpb"] < 1
    assert score_task(Transformer(tiny_model()), qa, tok, info)["acc"] == 0.0


def test_tasks_load_from_the_decontamination_shapes(tmp_path):
    hellaswag = write_jsonl(tmp_path / "hs.jsonl", [
        {"question": "She picks up the", "endings": ["cup", "sky"], "label": "0"}])
    arc = write_jsonl(tmp_path / "arc.jsonl", [
        {"question": "Which?", "choices": {"text": ["a", "b", "c"], "label": ["1", "2", "3"]},
         "answerKey": "3", "context": "Some passage."}])
    code = write_jsonl(tmp_path / "code.jsonl", [
        {"task_id": "t/0", "prompt": "def f():\n", "canonical_solution": "    return 1\n"}])
    tasks = load_tasks([hellaswag, arc, code], template=None)
    assert [(t.name, t.kind) for t in tasks] == [("hs", "mc"), ("arc", "mc"),
                                                 ("code", "continuation")]
    assert tasks[0].items[0] == TaskItem("0", "She picks up the", ("cup", "sky"), 0)
    assert tasks[1].items[0].context == "Some passage.\n\nWhich?" and tasks[1].items[0].gold == 2
    assert tasks[2].items[0] == TaskItem("t/0", "def f():\n", ("    return 1\n",), 0, "")
    templated = load_task(arc, template="Question: {question}\nAnswer:")
    assert templated.items[0].context == "Question: Which?\nAnswer:"
    with pytest.raises(ValueError, match="same name"):
        load_tasks([arc, arc])
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [
        {"question": "q", "choices": ["a", "b"], "answer": 1}, {"question": "q", "answer": "a"}])
    with pytest.raises(ValueError, match="mixes"):
        load_task(mixed)
    with pytest.raises(ValueError, match="record 0"):
        load_task(write_jsonl(tmp_path / "bad.jsonl", [{"question": "q", "choices": ["a"],
                                                        "answer": 3}]))


def test_continuation_bpb_counts_the_delimiter_bytes():
    task = Task("t", "continuation", (TaskItem("0", "q", ("ab",)), TaskItem("1", "q", ("c",))))
    got = task_metrics(task, [(-math.log(2) * 3, True), (-math.log(2) * 3, False)])
    assert got["bpb"] == pytest.approx(6 / 5) and got["acc"] == 0.5  # " ab" + " c": 5 bytes
    assert got["acc_stderr"] == pytest.approx(math.sqrt(0.25))


@pytest.mark.slow  # about 17 s on 2 cores, most of it lm-eval's start
def test_lm_eval_scores_an_exported_model_as_we_do(tmp_path, tokenizer_path, monkeypatch):
    """lm-evaluation-harness, through its Hugging Face backend, on the exported half-taught
    model and a task defined in a local YAML file: the same accuracies as ours, and the same
    log-likelihood and greedy flag for every choice."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):  # read when they are imported
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))
    lm_eval = pytest.importorskip("lm_eval")
    from lm_eval.tasks import TaskManager
    from test_export import save

    from train.export import export

    tok = load_tokenizer(tokenizer_path)
    info = describe(tok, "tokenizer.json")
    torch.manual_seed(0)
    model = teach(Transformer(tiny_model()), tok,
                  [f"The {a} say {s}." for a, s in FACTS.items()], 25)
    hf_dir = str(tmp_path / "hf")
    export(save(tmp_path / "run", model, tokenizer_path, tokenizer_path), hf_dir)
    data = write_jsonl(tmp_path / "animals.jsonl", animal_records())
    tasks_dir = tmp_path / "tasks"
    tasks_dir.mkdir()
    (tasks_dir / "animals.yaml").write_text(
        "task: animals\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\noutput_type: multiple_choice\n"
        "doc_to_text: '{{question}}'\ndoc_to_choice: '{{choices.text}}'\n"
        "doc_to_target: '{{choices.label.index(answerKey)}}'\n"
        "metric_list:\n  - metric: acc\n  - metric: acc_norm\n")
    results = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={hf_dir},dtype=float32", tasks=["animals"],
        task_manager=TaskManager(include_path=str(tasks_dir)), device="cpu", batch_size=4,
        log_samples=True)
    theirs = results["results"]["animals"]
    ours = score_task(model, load_task(data), tok, info)
    assert theirs["acc,none"] == ours["acc"] and theirs["acc_norm,none"] == ours["acc_norm"]
    assert 0 < ours["acc"] < 1  # 25 steps: some items right, not all
    task = load_task(data)
    for sample in results["samples"]["animals"]:
        item = next(it for it in task.items if it.context == sample["doc"]["question"])
        for (ll, greedy), choice in zip(sample["filtered_resps"], item.choices, strict=True):
            want = plain_loglikelihood(model, *encode_pair(tok, info, item.context, " " + choice))
            assert ll == pytest.approx(want[0], abs=1e-4) and greedy == want[1]
