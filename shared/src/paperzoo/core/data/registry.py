"""The data set registry.

Built-in data sets register themselves when :mod:`paperzoo.core.data` is
imported; third-party packages add theirs through the ``paperzoo.datasets``
entry-point group, whose entries are callables that call
:func:`register_dataset`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetInfo:
    """How to load one named data set.

    Attributes:
        name: the registry name used by the CLI.
        modality: ``"image"``, ``"text"``, ``"graph"``, ...
        splits: the splits available, e.g. ``("train", "test")``.
        loader: ``loader(split, data_dir, **options)`` returning the data.
        description: one line for ``--help`` and error messages.
        options: the keyword options the loader accepts, with their choices
            (``None`` for free values) and defaults.
        test_split: the held-out split methods evaluate on by default, or
            ``None`` when the data set ships without one (methods then
            evaluate on the split they were fitted on and say so).
    """

    name: str
    modality: str
    splits: tuple[str, ...]
    loader: Callable[..., Any]
    description: str = ""
    options: dict[str, tuple[tuple[str, ...] | None, Any]] = field(default_factory=dict)
    test_split: str | None = None

    @property
    def default_split(self) -> str:
        """The split methods fit on by default: the first one listed."""
        return self.splits[0]


_REGISTRY: dict[str, DatasetInfo] = {}
_ENTRY_POINTS_LOADED = False


def register_dataset(info: DatasetInfo, *, overwrite: bool = False) -> DatasetInfo:
    """Add ``info`` to the registry; a clash with another loader is an error."""
    if info.name in _REGISTRY and not overwrite and _REGISTRY[info.name].loader is not info.loader:
        raise ValueError(f"dataset name {info.name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[info.name] = info
    return info


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    for entry in entry_points(group="paperzoo.datasets"):
        try:
            entry.load()()
        except Exception:
            log.exception("failed to load data set plug-in %s", entry.value)


def list_datasets(modality: str | None = None) -> list[str]:
    """Return the registered names, optionally only those of one modality."""
    _load_entry_points()
    return sorted(name for name, info in _REGISTRY.items() if modality is None or info.modality == modality)


def get_dataset_info(name: str) -> DatasetInfo:
    """Return the registry entry for ``name``.

    Raises:
        KeyError: with the list of known names.
    """
    _load_entry_points()
    if name not in _REGISTRY:
        raise KeyError(f"unknown dataset {name!r}; known datasets: {', '.join(list_datasets())}")
    return _REGISTRY[name]


def load_dataset(name: str, split: str | None = None, data_dir: str | os.PathLike | None = None, **options: Any) -> Any:
    """Load split ``split`` of the registered data set ``name``.

    Args:
        name: a registry name (see :func:`list_datasets`).
        split: one of the data set's splits; default ``"train"``, or the
            first split listed when the data set has no ``"train"`` split
            (graphs hold all nodes in one ``"full"`` split).
        data_dir: an explicit folder holding the files; see
            :func:`paperzoo.core.data.resolve.resolve_data_dir`.
        **options: data-set specific options, e.g. ``side="de"``.

    Raises:
        KeyError: unknown name.
        ValueError: unknown split or option value.
        DataNotFoundError: files missing and not downloadable.
    """
    info = get_dataset_info(name)
    if split is None:
        split = "train" if "train" in info.splits else info.default_split
    if split not in info.splits:
        raise ValueError(f"dataset {name!r} has no split {split!r}; available splits: {', '.join(info.splits)}")
    resolved = {}
    for option, (choices, default) in info.options.items():
        value = options.pop(option, None)
        value = default if value is None else value
        if choices is not None and value not in choices:
            raise ValueError(
                f"dataset {name!r}: invalid {option}={value!r}; choose one of {', '.join(map(str, choices))}"
            )
        resolved[option] = value
    if options:
        known = ", ".join(info.options) or "none"
        raise ValueError(f"dataset {name!r} does not accept option(s) {', '.join(options)}; known options: {known}")
    return info.loader(split, data_dir, **resolved)
