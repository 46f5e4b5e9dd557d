"""The HTML report in a real browser: headless Chromium (Debian's ``chromium`` package, which
``make test`` installs when run as root) loads it and, after its script ran, shows the stages
table with the right cells, sorts it when a header is clicked (``#sort=T.C`` in the URL clicks
header ``C`` of table ``T`` on load) and draws the plots (a screenshot that is not blank).
Skipped only where no Chromium is found."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from test_inspect import Page, run_dir  # noqa: F401 (fixture)

from curation.cli import main

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)


def chromium(tmp_path, *args: str) -> str:
    """Run headless Chromium with ``args`` (its own profile under ``tmp_path``); its stdout."""
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
                           *args], check=True, capture_output=True, text=True, timeout=120)
    return done.stdout


@pytest.fixture
def report(run_dir, tmp_path):  # noqa: F811
    html = tmp_path / "report.html"
    assert main(["inspect", str(run_dir / "w"), "--html", str(html)]) == 0
    return html


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt install chromium)")
def test_report_shows_its_tables_and_sorts_them_in_headless_chromium(report, tmp_path):
    shown = Page(chromium(tmp_path, "--dump-dom", report.as_uri()))
    stages = shown.table("Stages")
    assert stages.header[:3] == ["stage", "docs in", "docs out"]
    assert stages.column("stage") == ["web", "document_length", "exact_dedup", "tokenize"]
    assert stages.row("document_length")["docs in"] == "65"
    assert stages.row("exact_dedup")["docs out"] == "49"
    assert len(shown.figures) >= 3 and all(f.alt and f.src.startswith("data:image/png;base64,")
                                           for f in shown.figures)
    # "docs out" clicked once: ascending, ties in pipeline order; twice: descending
    ascending = Page(chromium(tmp_path, "--dump-dom", f"{report.as_uri()}#sort=0.2"))
    stages = ascending.table("Stages")
    assert stages.column("stage") == ["exact_dedup", "tokenize", "document_length", "web"]
    assert stages.column("docs out") == ["49", "49", "60", "65"]
    assert stages.row("document_length")["docs in"] == "65"  # rows move whole
    assert stages.header_attrs[2].get("aria-sort") == "ascending"
    descending = Page(chromium(tmp_path, "--dump-dom", f"{report.as_uri()}#sort=0.0.desc"))
    assert descending.table("Stages").column("stage") == [
        "web", "tokenize", "exact_dedup", "document_length"]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt install chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    import matplotlib.image

    shot = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1000,1600", f"--screenshot={shot}", report.as_uri())
    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[:2] == (1600, 1000)
    rows = pixels[..., :3].mean(axis=(1, 2))
    assert np.ptp(rows) > 0.2  # text and plots, not a blank page
    assert (pixels[..., :3].std(axis=2) > 0.1).mean() > 0.001  # some coloured plot pixels
