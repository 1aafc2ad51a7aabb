from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Give the test session its own cache so tests never see a stale user cache."""
    monkeypatch.setenv("PAPERZOO_CACHE", str(tmp_path_factory.getbasetemp() / "paperzoo-cache"))
    monkeypatch.setenv("PAPERZOO_NO_PROGRESS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
