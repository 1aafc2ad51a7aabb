"""Run directories: the saved config, resume rules, results and provenance.

A run directory holds ``config.yaml`` (the resolved config), ``metrics.jsonl``
while training, ``results.json`` at the end, checkpoints and plots. Running
the same command on the same directory resumes it when the saved config
matches and stops with :class:`RunConflictError` when it does not.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from paperzoo.core.files import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

RESULTS_FILE = "results.json"
CONFIG_FILE = "config.yaml"
TRACKED_PACKAGES = (
    "torch", "accelerate", "numpy", "faiss-cpu", "transformers", "timm", "torch-geometric", "scikit-learn",
)  # fmt: skip


class RunConflictError(RuntimeError):
    """The output directory holds a different run or unrelated files."""


def default_run_dir(method: str, name: str, root: str | os.PathLike = "runs") -> Path:
    """Return ``runs/<method>/<UTC timestamp>-<name>``."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(root) / method / f"{stamp}-{name}"


def _differences(saved: Mapping[str, Any], current: Mapping[str, Any], ignore: Iterable[str]) -> list[str]:
    ignored = set(ignore)
    keys = sorted((set(saved) | set(current)) - ignored)
    return [
        f"{key}: saved {saved.get(key)!r}, now {current.get(key)!r}"
        for key in keys
        if saved.get(key) != current.get(key)
    ]


# Files a run may write before it starts training; a directory holding only
# these (and no metrics, results, checkpoints or other folders) never trained.
PREPARATION_FILES = (CONFIG_FILE, "splits.json", "splits.npz")
MAX_LISTED_DIFFERENCES = 8


def _never_started(path: Path) -> bool:
    return all(entry.is_file() and entry.name in PREPARATION_FILES for entry in path.iterdir())


def _summarize(differences: list[str]) -> str:
    listed = "; ".join(differences[:MAX_LISTED_DIFFERENCES])
    unlisted = len(differences) - MAX_LISTED_DIFFERENCES
    return f"{listed}; and {unlisted} more" if unlisted > 0 else listed


def prepare_run_dir(path: str | os.PathLike, config: Mapping[str, Any], *, ignore: Iterable[str] = ()) -> bool:
    """Claim ``path`` for a run with ``config``; returns True when resuming.

    Args:
        path: the run directory (created when missing).
        config: the resolved config as a plain mapping.
        ignore: keys that may differ between the saved and the new config
            without making it another run (worker counts, progress bars).

    Raises:
        RunConflictError: the directory holds a run with a different config,
            or files that are not a paperzoo run.
    """
    path = Path(path)
    config_path = path / CONFIG_FILE
    current = yaml.safe_load(yaml.safe_dump(dict(config)))
    if path.exists() and not path.is_dir():
        raise RunConflictError(f"--output-dir {path} is a file, not a directory; choose a directory path")
    if config_path.is_file():
        try:
            saved = yaml.safe_load(config_path.read_text()) or {}
        except yaml.YAMLError as error:
            raise RunConflictError(
                f"{config_path} is not valid YAML ({error.__class__.__name__}); "
                "delete that directory or choose another --output-dir"
            ) from error
        if not isinstance(saved, dict):
            raise RunConflictError(f"{config_path} is not a paperzoo config; choose another --output-dir")
        differences = _differences(saved, current, ignore)
        if differences and _never_started(path):
            # An earlier command stopped on bad input after claiming the directory;
            # nothing was trained, so the corrected command may take it over.
            log.warning("replacing the config of a run in %s that stopped before training", path)
            for name in PREPARATION_FILES:
                (path / name).unlink(missing_ok=True)
        elif differences:
            raise RunConflictError(
                f"{path} holds another run whose config differs ({_summarize(differences)}). "
                "Choose a new --output-dir, or delete that directory to start over."
            )
        else:
            log.info("resuming the run in %s", path)
            return True
    elif path.exists() and any(path.iterdir()):
        raise RunConflictError(
            f"{path} is not empty and holds no {CONFIG_FILE}, so it is not a paperzoo run; "
            "choose an empty or new --output-dir"
        )
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(config_path, yaml.safe_dump(current, sort_keys=False))
    return False


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(
    *, data: Mapping[str, str] | None = None, device: str | None = None, precision: str | None = None
) -> dict[str, Any]:
    """Return what a reader needs to trust or reproduce a result.

    Args:
        data: name to fingerprint of each data set used.
        device: the training device, e.g. ``"cpu"`` or ``"cuda:0"``.
        precision: ``"fp32"``, ``"bf16"``, ...
    """
    import torch

    versions = {}
    names = sorted({dist.metadata["Name"] for dist in metadata.distributions() if dist.metadata["Name"]})
    for name in names:
        if name.lower().startswith("paperzoo-") or name.lower() in TRACKED_PACKAGES:
            versions[name] = metadata.version(name)
    record: dict[str, Any] = {
        "packages": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
        "torch_threads": torch.get_num_threads(),
        "cpu": _cpu_name(),
        "device": device or "cpu",
        "precision": precision,
        "data": dict(data or {}),
        "finished_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if torch.cuda.is_available():
        record["gpu"] = torch.cuda.get_device_name(0)
    return record


def write_results(
    path: str | os.PathLike, metrics: Mapping[str, Any], *, provenance_record: Mapping[str, Any], **extra: Any
) -> Path:
    """Write ``results.json`` (``metrics``, any extra sections, ``provenance``) atomically."""
    target = Path(path) / RESULTS_FILE
    atomic_write_json(target, {"metrics": dict(metrics), **extra, "provenance": dict(provenance_record)})
    return target
