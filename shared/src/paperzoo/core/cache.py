"""The paperzoo cache directory.

Derived artefacts (decoded data sets, embeddings, processed graphs) live under
``$PAPERZOO_CACHE`` (default ``~/.cache/paperzoo``), in a file or folder named
by a content hash of everything that produced them. Entries are written
atomically, so two processes racing on the same key at worst compute it twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from paperzoo.core.files import atomic_save_npy, atomic_write_text, fingerprint_value

CACHE_ENV = "PAPERZOO_CACHE"


def cache_dir() -> Path:
    """Return the cache root, creating it when missing."""
    root = os.environ.get(CACHE_ENV)
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "paperzoo"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_path(kind: str, key: str, suffix: str = "") -> Path:
    """Return the cache location for an entry of ``kind`` with hash ``key``.

    Args:
        kind: a sub-folder such as ``"embeddings"`` or ``"datasets"``.
        key: a content hash (see :mod:`paperzoo.core.files`).
        suffix: a file suffix such as ``".npy"``; empty for a folder.
    """
    folder = cache_dir() / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key[:32]}{suffix}"


def cached_arrays(key_parts: dict, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Return the arrays ``build()`` makes, cached as ``.npy`` files under a hash of ``key_parts``.

    Each array is written atomically; a partial entry (one file missing) is rebuilt.
    """
    key = fingerprint_value(key_parts)
    index_path = cache_path("arrays", key, ".parts")
    if index_path.exists():
        names = index_path.read_text().split()
        paths = {name: cache_path("arrays", key, f"-{name}.npy") for name in names}
        if all(path.exists() for path in paths.values()):
            return {name: np.load(path, allow_pickle=False) for name, path in paths.items()}
    arrays = build()
    for name, array in arrays.items():
        atomic_save_npy(cache_path("arrays", key, f"-{name}.npy"), array)
    atomic_write_text(index_path, "\n".join(arrays))
    return arrays
