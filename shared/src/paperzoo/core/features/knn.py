"""Nearest-neighbour search with faiss (exact inner product or IVF)."""

from __future__ import annotations

import logging
import math
import os
import tempfile
from typing import Any

import numpy as np

from paperzoo.core.cache import cache_path
from paperzoo.core.files import fingerprint_value
from paperzoo.core.progress import progress_bar

log = logging.getLogger(__name__)

METRICS = ("cosine", "ip", "l2")


def _faiss():
    try:
        import faiss
    except ImportError as error:
        raise ImportError("kNN search needs faiss: pip install 'paperzoo-core[knn]' (faiss-cpu)") from error
    return faiss


def l2_normalize(vectors: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Return a float32 copy of ``vectors`` with unit-length rows."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, eps)


def build_index(
    vectors: np.ndarray,
    metric: str = "cosine",
    index: str = "flat",
    nlist: int | None = None,
    nprobe: int = 16,
    seed: int = 0,
):
    """Build a faiss index over ``vectors``.

    Args:
        vectors: ``(N, D)`` database vectors (normalised here for ``"cosine"``).
        metric: ``"cosine"``, ``"ip"`` (inner product) or ``"l2"``.
        index: ``"flat"`` (exact) or ``"ivf"`` (inverted lists, approximate,
            for large N).
        nlist: IVF cell count; default ``4 * sqrt(N)``.
        nprobe: IVF cells visited per query.
        seed: seed of the IVF training sample and k-means.
    """
    faiss = _faiss()
    if metric not in METRICS:
        raise ValueError(f"invalid metric {metric!r}; choose one of {', '.join(METRICS)}")
    if index not in ("flat", "ivf"):
        raise ValueError(f"invalid index type {index!r}; choose 'flat' or 'ivf'")
    data = l2_normalize(vectors) if metric == "cosine" else np.ascontiguousarray(vectors, dtype=np.float32)
    dim = data.shape[1]
    faiss_metric = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    if index == "flat":
        built = faiss.IndexFlat(dim, faiss_metric)
    else:
        nlist = nlist or max(1, int(4 * math.sqrt(len(data))))
        if nlist > len(data):
            raise ValueError(f"IVF needs nlist <= number of vectors, got nlist={nlist} for {len(data)} vectors")
        quantizer = faiss.IndexFlat(dim, faiss_metric)
        built = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss_metric)
        train_size = min(len(data), max(nlist * 64, 10_000))
        sample = np.random.default_rng(seed).choice(len(data), size=train_size, replace=False)
        built.cp.seed = seed
        built.train(data[np.sort(sample)])
        built.nprobe = min(nprobe, nlist)
    built.add(data)
    return built


def cached_index(
    vectors: np.ndarray,
    key: str,
    metric: str = "cosine",
    index: str = "flat",
    nlist: int | None = None,
    nprobe: int = 16,
    seed: int = 0,
):
    """Return :func:`build_index` over ``vectors``, read from the cache when built before.

    Args:
        vectors: ``(N, D)`` database vectors.
        key: identifies the content of ``vectors``, e.g. the name of their
            embedding cache file or a fingerprint; with the index settings it
            forms the cache key, so a changed corpus needs a changed key.
        metric, index, nlist, nprobe, seed: see :func:`build_index`.
            ``nprobe`` is applied after loading and is not part of the key.
    """
    faiss = _faiss()
    path = cache_path(
        "faiss",
        fingerprint_value(
            {"key": key, "rows": len(vectors), "metric": metric, "index": index, "nlist": nlist, "seed": seed}
        ),
        ".faiss",
    )
    if path.exists():
        built = faiss.read_index(str(path))
        log.info("using cached %s index %s", index, path)
    else:
        built = build_index(vectors, metric=metric, index=index, nlist=nlist, nprobe=nprobe, seed=seed)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            faiss.write_index(built, tmp_name)
            os.replace(tmp_name, path)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
    if index == "ivf":
        built.nprobe = min(nprobe, built.nlist)
    return built


def search_index(
    built: Any, queries: np.ndarray, k: int, *, metric: str = "cosine", query_batch: int = 16384
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``k`` best database rows for each query of a built index.

    Args:
        built: an index from :func:`build_index` or :func:`cached_index`.
        queries: ``(M, D)`` query vectors (normalised here for ``"cosine"``).
        k: results per query; more than the index holds gives -1 rows.
        metric: the metric the index was built with.
        query_batch: queries per faiss call.

    Returns:
        ``(scores, indices)``, both ``(M, k)``, best first; scores are
        similarities (negative squared distance for ``"l2"``).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    scores = np.empty((len(queries), k), dtype=np.float32)
    indices = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), query_batch):
        block = np.asarray(queries[start : start + query_batch], dtype=np.float32)
        block = l2_normalize(block) if metric == "cosine" else np.ascontiguousarray(block)
        found_scores, found = built.search(block, k)
        scores[start : start + len(block)] = -found_scores if metric == "l2" else found_scores
        indices[start : start + len(block)] = found
    return scores, indices


def knn(
    vectors: np.ndarray,
    k: int,
    queries: np.ndarray | None = None,
    *,
    metric: str = "cosine",
    index: str = "flat",
    nlist: int | None = None,
    nprobe: int = 16,
    query_batch: int = 16384,
    show_progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``k`` nearest neighbours of each query among ``vectors``.

    When ``queries`` is ``None`` the database rows query themselves and each
    row's own index is removed from its neighbour list wherever it appears
    (for every query batch, not only the first), so a row is never its own
    neighbour; a duplicate row at another index still counts as a neighbour.

    Args:
        vectors: ``(N, D)`` database.
        k: neighbours per query.
        queries: ``(M, D)`` queries, or ``None`` for self-search.
        metric, index, nlist, nprobe: see :func:`build_index`.
        query_batch: queries per faiss call (bounds memory).
        show_progress: show a progress bar over query batches.

    Returns:
        ``(scores, indices)``, both ``(M, k)``: similarities (inner product or
        cosine; negative squared distance for ``"l2"``), best first, and int64
        row numbers into ``vectors``.
    """
    num_vectors = len(vectors)
    self_search = queries is None
    available = num_vectors - 1 if self_search else num_vectors
    if k < 1 or k > available:
        raise ValueError(f"k must be in [1, {available}] for {num_vectors} vectors, got {k}")
    built = build_index(vectors, metric=metric, index=index, nlist=nlist, nprobe=nprobe)
    query_data = vectors if self_search else queries
    num_queries = len(query_data)
    search_k = k + 1 if self_search else k
    scores = np.empty((num_queries, k), dtype=np.float32)
    indices = np.empty((num_queries, k), dtype=np.int64)

    with progress_bar(total=num_queries, desc="kNN search", unit="query", disable=not show_progress) as bar:
        for start in range(0, num_queries, query_batch):
            block = np.asarray(query_data[start : start + query_batch], dtype=np.float32)
            block = l2_normalize(block) if metric == "cosine" else np.ascontiguousarray(block)
            found_scores, found = built.search(block, search_k)
            if metric == "l2":
                found_scores = -found_scores
            if self_search:
                found_scores, found = _drop_self(found_scores, found, np.arange(start, start + len(block)), k)
            scores[start : start + len(block)] = found_scores
            indices[start : start + len(block)] = found
            bar.update(len(block))

    if (indices < 0).any():
        log.warning("some queries found fewer than %d neighbours (IVF with small nprobe?); missing entries are -1", k)
    return scores, indices


def _drop_self(scores: np.ndarray, found: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index from its ``k + 1`` results, keeping ``k``."""
    is_self = found == rows[:, None]
    # Where the row itself was not returned (ties, IVF misses), drop the last result instead.
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    keep = ~is_self
    return scores[keep].reshape(len(rows), k), found[keep].reshape(len(rows), k)


def neighbour_label_agreement(neighbours: np.ndarray, labels: np.ndarray) -> float:
    """Return the share of (row, neighbour) pairs whose labels agree.

    A ceiling for any method that trains on neighbour pairs (TEMI, SCAN).
    """
    labels = np.asarray(labels)
    valid = neighbours >= 0
    return float((labels[neighbours[valid]] == np.repeat(labels, valid.sum(axis=1))).mean())
