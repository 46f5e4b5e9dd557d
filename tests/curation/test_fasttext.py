"""The fastText runtime: a user's model with ``__label__`` names loads, maps labels, predicts in
batches and gives fastText's own top label; files that are not models are refused clearly."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from curation.core.errors import CurationError
from curation.fasttext import FastTextModel, load_cached, one_line

SPORT = "the team won the match after the striker scored a late goal in the stadium"
FOOD = "the chef added garlic butter and fresh basil to the pasta sauce in the kitchen"


def fasttext_cli(lines: list[str], path, **options) -> None:
    """Train with fastText itself, as a user would (in a child process, like our helper)."""
    data = path.with_suffix(".txt")
    data.write_text("\n".join(lines) + "\n")
    options = {"epoch": 20, "lr": 0.5, "wordNgrams": 2, "dim": 8, "thread": 1, **options}
    code = ("import fasttext, sys; fasttext.train_supervised(sys.argv[1], verbose=0, "
            f"**{options!r}).save_model(sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(data), str(path)], check=True)


def user_model(tmp_path, labels=("sports_and_fitness", "food_and_dining")):
    path = tmp_path / "user.bin"
    fasttext_cli([f"__label__{labels[0]} {SPORT}", f"__label__{labels[1]} {FOOD}"] * 50, path)
    return path


def test_user_model_loads_and_maps(tmp_path):
    model = FastTextModel(user_model(tmp_path))
    assert set(model.labels) == {"sports_and_fitness", "food_and_dining"}
    texts = [SPORT, "garlic pasta\nwith basil\r\nbutter", FOOD] * 3
    proba = model.predict_proba(texts, batch_size=2)
    assert proba.shape == (9, 2) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    top, score = model.predict(texts)
    assert top[:3] == ["sports_and_fitness", "food_and_dining", "food_and_dining"]
    assert (score > 0.5).all()
    assert proba[0, model.index["sports_and_fitness"]] == pytest.approx(score[0])
    labels, probs = model.top(texts)
    assert labels == top and probs.dtype == np.float32
    np.testing.assert_allclose(probs, score, atol=1e-5)


def test_cache_reloads_a_rewritten_file(tmp_path):
    path = user_model(tmp_path)
    first = load_cached(path)
    assert load_cached(path) is first
    user_model(tmp_path, labels=("games", "health"))
    assert set(load_cached(path).labels) == {"games", "health"}


def test_refuses_labels_without_prefix_and_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        FastTextModel(tmp_path / "missing.bin")
    fasttext_cli([f"#cat {SPORT}", f"#dog {FOOD}"] * 20, tmp_path / "odd.bin", label="#")
    with pytest.raises(ValueError, match="__label__"):
        FastTextModel(tmp_path / "odd.bin")
    (tmp_path / "text.bin").write_text("not a model")
    with pytest.raises(CurationError, match="text.bin: not a fastText model"):
        FastTextModel(tmp_path / "text.bin")


def test_one_line():
    assert one_line("a\nb\r\nc") == "a b  c"
