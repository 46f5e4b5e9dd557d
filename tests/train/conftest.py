"""Fixtures the trainer's tests share."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny shapes run fastest, and steadiest on a shared machine, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
