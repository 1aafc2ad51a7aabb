"""Batched embedding of a data set with a frozen encoder, cached on disk.

Embeddings are stored as ``.npy`` files in ``$PAPERZOO_CACHE/embeddings``,
named by a hash of the data set's fingerprint and the encoder's identity,
written row block by row block into a memory map, and renamed into place only
when complete. Loading returns a read-only memory map, so a set larger than
RAM can be embedded and used.

Under ``accelerate launch`` or ``torchrun`` each process embeds one contiguous
shard and writes it to its own part file; the main process then joins the
parts in order. The part files and the result live in the cache directory,
which must therefore be shared by all processes (true on one machine).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from paperzoo.core.cache import cache_path
from paperzoo.core.features.encoders import Encoder
from paperzoo.core.files import atomic_open, fingerprint_value
from paperzoo.core.progress import progress_bar

log = logging.getLogger(__name__)


class _PreparedBatches(torch.utils.data.Dataset):
    """Map a list of row indices to the encoder's model input (runs in workers)."""

    def __init__(self, dataset: Any, encoder: Encoder, batches: list[np.ndarray]):
        self.dataset = dataset
        self.encoder = encoder
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> tuple[np.ndarray, Any]:
        rows = self.batches[index]
        return rows, self.encoder.prepare(self.dataset, rows)


def embedding_cache_path(dataset: Any, encoder: Encoder) -> Path:
    """Return where the embeddings of ``dataset`` under ``encoder`` are cached."""
    key = fingerprint_value({"dataset": dataset.fingerprint, "encoder": encoder.identity(), "format": 1})
    return cache_path("embeddings", key, ".npy")


def _plan_batches(dataset: Any, encoder: Encoder, rows: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Cut ``rows`` into batches; text is grouped by length so padding stays short."""
    sort_key = getattr(encoder, "sort_key", None)
    if sort_key is not None:
        rows = np.asarray(sorted(rows.tolist(), key=lambda i: sort_key(dataset, i)), dtype=np.int64)
    return [rows[start : start + batch_size] for start in range(0, len(rows), batch_size)]


def _embed_rows(
    dataset: Any,
    encoder: Encoder,
    rows: np.ndarray,
    out: np.ndarray,
    row_offset: int,
    batch_size: int,
    num_workers: int,
    show_progress: bool,
    description: str,
) -> None:
    """Embed ``rows`` of ``dataset`` and write row ``r`` to ``out[r - row_offset]``."""
    batches = _plan_batches(dataset, encoder, rows, batch_size)
    loader = DataLoader(
        _PreparedBatches(dataset, encoder, batches),
        batch_size=None,
        shuffle=False,
        num_workers=num_workers,
        persistent_workers=False,
    )
    unit = "img" if encoder.modality == "image" else "text"
    written = 0
    with progress_bar(total=len(rows), desc=description, unit=unit, disable=not show_progress) as bar:
        for batch_rows, prepared in loader:
            features = encoder.forward(prepared).numpy()
            out[np.asarray(batch_rows) - row_offset] = features
            written += len(batch_rows)
            bar.update(len(batch_rows))
    if written != len(rows):  # never let a partly filled matrix into the cache
        raise RuntimeError(f"embedded {written} of {len(rows)} rows; the embeddings were not saved")


def embed(
    dataset: Any,
    encoder: Encoder,
    *,
    batch_size: int | None = None,
    num_workers: int = 0,
    use_cache: bool = True,
    accelerator: Any | None = None,
    show_progress: bool = True,
) -> np.ndarray:
    """Return the ``(N, D)`` float32 embeddings of every row of ``dataset``.

    Args:
        dataset: an :class:`~paperzoo.core.data.ImageDataset` or
            :class:`~paperzoo.core.data.TextDataset` (anything the encoder's
            ``prepare`` understands, with a ``fingerprint``).
        encoder: a frozen encoder; it is moved to the accelerator's device.
        batch_size: rows per forward pass; the encoder's default when ``None``.
        num_workers: data loader worker processes for decoding and tokenising.
        use_cache: read and write the embedding cache; when False the result
            is computed in memory and nothing is written.
        accelerator: an ``accelerate.Accelerator``; with several processes each
            embeds a shard and all of them return the full matrix.
        show_progress: show a progress bar (main process only).

    Returns:
        A read-only memory map when cached, otherwise an in-memory array.
    """
    batch_size = encoder.default_batch_size if batch_size is None else batch_size
    if batch_size < 1:
        raise ValueError(f"the embedding batch size must be at least 1, got {batch_size}")
    if num_workers < 0:
        raise ValueError(f"num_workers must be 0 (load in this process) or more, got {num_workers}")
    num_rows = len(dataset)
    rank, world = (0, 1) if accelerator is None else (accelerator.process_index, accelerator.num_processes)
    is_main = rank == 0
    device = "cpu" if accelerator is None else accelerator.device
    encoder.to(device)
    description = f"embedding {getattr(dataset, 'name', 'data')} with {encoder.name}"

    if not use_cache:
        if world > 1:
            raise ValueError("embedding across processes needs use_cache=True (the shards meet in the cache)")
        result = np.empty((num_rows, encoder.embed_dim), dtype=np.float32)
        _embed_rows(
            dataset, encoder, np.arange(num_rows), result, 0, batch_size, num_workers, show_progress, description
        )
        return result

    target = embedding_cache_path(dataset, encoder)
    if target.exists():
        log.info("using cached embeddings %s", target)
        return np.load(target, mmap_mode="r")

    started = time.perf_counter()
    bounds = np.linspace(0, num_rows, world + 1).astype(np.int64)
    shard = np.arange(bounds[rank], bounds[rank + 1])
    part = target.with_name(f"{target.stem}.part{rank}-of-{world}.npy") if world > 1 else target

    with atomic_open(part, "wb") as handle:
        out = _open_npy_memmap(handle, (len(shard), encoder.embed_dim))
        _embed_rows(
            dataset,
            encoder,
            shard,
            out,
            int(bounds[rank]),
            batch_size,
            num_workers,
            show_progress and is_main,
            description,
        )
        out.flush()
        del out

    if world > 1:
        accelerator.wait_for_everyone()
        if is_main:
            _join_parts(target, [target.with_name(f"{target.stem}.part{r}-of-{world}.npy") for r in range(world)])
        accelerator.wait_for_everyone()

    if is_main:
        log.info("embedded %d rows in %.1f s into %s", num_rows, time.perf_counter() - started, target)
    return np.load(target, mmap_mode="r")


def _open_npy_memmap(handle: Any, shape: tuple[int, int]) -> np.memmap:
    """Write a ``.npy`` header to an open file and return a writable memory map of its body."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(handle, header)
    offset = handle.tell()
    body = int(np.prod(shape)) * 4
    handle.truncate(offset + body)
    handle.flush()
    if body == 0:
        return np.zeros(shape, dtype=np.float32)
    return np.memmap(handle, dtype=np.float32, mode="r+", offset=offset, shape=shape)


def _join_parts(target: Path, parts: Sequence[Path]) -> None:
    arrays = [np.load(part, mmap_mode="r") for part in parts]
    shape = (sum(a.shape[0] for a in arrays), arrays[0].shape[1])
    with atomic_open(target, "wb") as handle:
        out = _open_npy_memmap(handle, shape)
        offset = 0
        for array in arrays:
            out[offset : offset + len(array)] = array
            offset += len(array)
        out.flush()
        del out
    for part in parts:
        os.unlink(part)


def check_finite(embeddings: np.ndarray, source: str = "embeddings", chunk_rows: int = 65536) -> None:
    """Raise ValueError naming the first rows that hold NaN or infinite values."""
    for start in range(0, len(embeddings), chunk_rows):
        block = np.asarray(embeddings[start : start + chunk_rows])
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            rows = (np.flatnonzero(bad) + start)[:5].tolist()
            count = int(bad.sum())
            raise ValueError(
                f"{source} contain NaN or infinite values in {count}+ rows (first rows: {rows}); "
                "fix or drop those rows before clustering"
            )
