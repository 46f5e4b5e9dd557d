"""The HTML report in a real browser: headless Chromium (Debian's ``chromium`` package) renders
it to a screenshot that is not blank. Skipped where no Chromium is installed."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from test_inspect import run_dir  # noqa: F401 (fixture)

from curation.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt install chromium)")
def test_report_renders_in_headless_chromium(run_dir, tmp_path):  # noqa: F811
    import matplotlib.image

    html, shot = tmp_path / "report.html", tmp_path / "shot.png"
    assert main(["inspect", str(run_dir / "w"), "--html", str(html)]) == 0
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1000,1600", f"--screenshot={shot}", html.as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[:2] == (1600, 1000)
    rows = pixels[..., :3].mean(axis=(1, 2))
    assert np.ptp(rows) > 0.2  # text and plots, not a blank page
    assert (pixels[..., :3].std(axis=2) > 0.1).mean() > 0.001  # some coloured plot pixels
