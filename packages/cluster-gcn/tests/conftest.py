from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Give the test session its own cache so tests never see a stale user cache."""
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path_factory.getbasetemp() / "paperzoo-cache"))
    monkeypatch.setenv("PAPERZOO_NO_PROGRESS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Run torch on one thread: the tiny graphs here are slower with two threads on a shared CPU."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
