"""Finding the test data sets (``PAPERZOO_DATA``) and skipping when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paperzoo.core.data.resolve import DATA_ENV


def data_root() -> Path | None:
    """Return ``$PAPERZOO_DATA`` as a path, or ``None`` when unset or missing."""
    root = os.environ.get(DATA_ENV)
    return Path(root) if root and Path(root).is_dir() else None


def requires_data(*relative_paths: str):
    """Skip the test unless every path exists under ``$PAPERZOO_DATA``.

    Example: ``@requires_data("cifar10/test-00000-of-00001.parquet")``.
    """
    root = data_root()
    missing = [p for p in relative_paths if root is None or not (root / p).exists()]
    reason = f"needs {', '.join(missing)} under ${DATA_ENV}" + ("" if root else f" ({DATA_ENV} is not set)")
    return pytest.mark.skipif(bool(missing), reason=reason)
