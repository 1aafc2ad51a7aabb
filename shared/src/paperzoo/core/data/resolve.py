"""Find a data set's files on disk, or fetch them from their publisher.

Resolution order, first match wins:

1. an explicit ``data_dir`` (the data set's own folder, or a root holding it);
2. ``$PAPERZOO_DATA/<folder>``;
3. ``$PAPERZOO_CACHE/data/<folder>`` (where downloads land);
4. the publisher's download path, unless ``PAPERZOO_OFFLINE`` or
   ``HF_HUB_OFFLINE`` is set.

Data directories are treated as read-only: nothing is ever written into 1 or 2.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from paperzoo.core.cache import cache_dir

log = logging.getLogger(__name__)

DATA_ENV = "PAPERZOO_DATA"


class DataNotFoundError(FileNotFoundError):
    """The files of a data set are missing and could not be downloaded."""


def is_offline() -> bool:
    """Return True when downloads are disabled by environment variables."""
    return any(
        os.environ.get(var, "").lower() in {"1", "true", "yes"} for var in ("PAPERZOO_OFFLINE", "HF_HUB_OFFLINE")
    )


def _has_all(folder: Path, patterns: Sequence[str]) -> bool:
    return folder.is_dir() and all(any(folder.glob(pattern)) for pattern in patterns)


def resolve_data_dir(
    dataset: str,
    folder: str,
    patterns: Sequence[str],
    *,
    data_dir: str | os.PathLike | None = None,
    source: str,
    download: Callable[[Path], None] | None = None,
) -> Path:
    """Return the folder that holds every file in ``patterns``.

    Args:
        dataset: the registry name, for messages.
        folder: the data set's folder name under a data root, e.g. ``"cifar10"``.
        patterns: glob patterns, relative to the folder, that must all match.
        data_dir: an explicit folder from the user; when given and the files
            are not there, that is an error (no fallback to other places).
        source: where the files come from, for the error message.
        download: fetches the files into the given folder; ``None`` when the
            publisher offers no scriptable download.

    Raises:
        DataNotFoundError: naming the expected files, the places searched and
            where the files come from.
    """
    searched: list[str] = []

    if data_dir is not None:
        explicit = Path(data_dir).expanduser()
        for candidate in (explicit, explicit / folder):
            if _has_all(candidate, patterns):
                return candidate
        raise DataNotFoundError(
            f"dataset {dataset!r}: {', '.join(patterns)} not found in --data-dir {explicit} "
            f"(nor in {explicit / folder}). Point --data-dir at the folder holding these files; "
            f"they come from {source}."
        )

    root = os.environ.get(DATA_ENV)
    if root:
        candidate = Path(root).expanduser() / folder
        if _has_all(candidate, patterns):
            return candidate
        searched.append(f"${DATA_ENV}/{folder} = {candidate}")
    else:
        searched.append(f"${DATA_ENV}/{folder} (PAPERZOO_DATA is not set)")

    cached = cache_dir() / "data" / folder
    if _has_all(cached, patterns):
        return cached
    searched.append(str(cached))

    failure = "offline mode is on (PAPERZOO_OFFLINE or HF_HUB_OFFLINE)" if is_offline() else None
    if download is None:
        failure = "this publisher offers no scriptable download"
    elif failure is None:
        log.info("downloading %s from %s into %s", dataset, source, cached)
        try:
            download(cached)
        except Exception as error:  # noqa: BLE001 - any network or HTTP failure ends in the same message
            failure = f"the download failed: {type(error).__name__}: {error}"
        else:
            if _has_all(cached, patterns):
                return cached
            failure = f"the download finished but {', '.join(patterns)} are still missing in {cached}"

    raise DataNotFoundError(
        f"dataset {dataset!r}: files {', '.join(patterns)} not found. Searched: {'; '.join(searched)}. "
        f"They come from {source}; {failure}. Place the files in one of those folders "
        f"or pass --data-dir."
    )


def download_urls(urls: dict[str, str]) -> Callable[[Path], None]:
    """Return a downloader that fetches ``{file name: url}`` into a folder atomically."""

    def fetch(target: Path) -> None:
        import urllib.request

        from paperzoo.core.files import atomic_open

        target.mkdir(parents=True, exist_ok=True)
        for name, url in urls.items():
            if (target / name).exists():
                continue
            with urllib.request.urlopen(url, timeout=60) as response, atomic_open(target / name, "wb") as out:  # noqa: S310
                while chunk := response.read(1 << 20):
                    out.write(chunk)

    return fetch


def download_hf_dataset(repo_id: str, allow_patterns: Sequence[str]) -> Callable[[Path], None]:
    """Return a downloader that snapshots files of a Hugging Face hub data set."""

    def fetch(target: Path) -> None:
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id=repo_id, repo_type="dataset", allow_patterns=list(allow_patterns), local_dir=target)

    return fetch
