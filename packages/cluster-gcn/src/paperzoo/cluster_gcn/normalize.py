"""Adjacency matrices of (sub)graphs as torch sparse CSR tensors.

Convention: row ``i`` of an adjacency lists the nodes whose messages node
``i`` receives, so an edge ``j -> i`` of a torch_geometric ``edge_index``
(row 0 the source) is the entry ``A[i, j]``, and ``A @ Z`` aggregates over
in-neighbours. For an undirected graph, which lists both directions, ``A`` is
symmetric and the distinction vanishes.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch


def graph_csr(
    edge_index: np.ndarray | torch.Tensor, num_nodes: int, *, to_undirected: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the binary adjacency of a graph as CSR ``(indptr, indices)``, both int64.

    Self-loops and duplicate edges are dropped; normalisation adds the
    diagonal back where the method wants it.

    Args:
        edge_index: ``(2, E)`` edges, row 0 the source.
        num_nodes: N.
        to_undirected: also add the reverse of every edge.

    Returns:
        ``indptr`` of shape ``(N + 1,)`` and ``indices`` of shape ``(nnz,)``:
        the in-neighbours of node ``i`` are ``indices[indptr[i]:indptr[i + 1]]``,
        sorted.
    """
    edges = torch.as_tensor(np.asarray(edge_index) if not isinstance(edge_index, torch.Tensor) else edge_index)
    sources, targets = edges[0].long(), edges[1].long()
    if to_undirected:
        sources, targets = torch.cat([sources, targets]), torch.cat([targets, sources])
    keep = sources != targets
    keys = torch.unique(targets[keep] * num_nodes + sources[keep])
    rows, cols = keys // num_nodes, keys % num_nodes
    counts = torch.bincount(rows, minlength=num_nodes)
    indptr = torch.zeros(num_nodes + 1, dtype=torch.long)
    torch.cumsum(counts, 0, out=indptr[1:])
    return indptr, cols


def csr_tensor(
    indptr: torch.Tensor, indices: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]
) -> torch.Tensor:
    """Build a sparse CSR tensor from parts this module has already sorted (no invariant checks)."""
    with warnings.catch_warnings():
        # torch warns once per process that CSR support is in beta; the operations used here are stable.
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(indptr, indices, values, size=shape, check_invariants=False)


def _sorted_csr(rows: torch.Tensor, cols: torch.Tensor, num_rows: int, num_cols: int) -> tuple[torch.Tensor, ...]:
    order = torch.argsort(rows * num_cols + cols)
    rows, cols = rows[order], cols[order]
    indptr = torch.zeros(num_rows + 1, dtype=torch.long)
    torch.cumsum(torch.bincount(rows, minlength=num_rows), 0, out=indptr[1:])
    return indptr, rows, cols


def diag_enhanced_adjacency(rows: torch.Tensor, cols: torch.Tensor, num_nodes: int, diag_lambda: float) -> torch.Tensor:
    """Normalise a square adjacency with Cluster-GCN's diagonal enhancement.

    .. math::
        \\tilde A = (D + I)^{-1} (A + I), \\qquad A' = \\tilde A + \\lambda\\, \\mathrm{diag}(\\tilde A)

    so row ``i`` holds ``1 / (d_i + 1)`` for each neighbour and
    ``(1 + lambda) / (d_i + 1)`` on the diagonal, where ``d_i`` is the number
    of neighbours of ``i`` in this (sub)graph.

    Args:
        rows, cols: ``(E,)`` int64 entries ``A[rows, cols] = 1`` without
            self-loops or duplicates (as :func:`graph_csr` and the batch
            sampler produce them).
        num_nodes: n, the size of the square matrix.
        diag_lambda: lambda >= 0 (1 on PPI, 1e-4 on Reddit in Chiang et al.'s recipes; 0
            gives the plain random-walk normalisation with self-loops).

    Returns:
        ``(n, n)`` float32 sparse CSR tensor.
    """
    if diag_lambda < 0:
        raise ValueError(f"diag_lambda must be >= 0, got {diag_lambda}")
    degree = torch.bincount(rows, minlength=num_nodes)
    loops = torch.arange(num_nodes, dtype=torch.long)
    indptr, all_rows, all_cols = _sorted_csr(torch.cat([rows, loops]), torch.cat([cols, loops]), num_nodes, num_nodes)
    scale = 1.0 / (degree.to(torch.float32) + 1.0)
    values = scale[all_rows]
    values = torch.where(all_rows == all_cols, values * (1.0 + diag_lambda), values)
    return csr_tensor(indptr, all_cols, values, (num_nodes, num_nodes))


def binary_adjacency(
    rows: torch.Tensor, cols: torch.Tensor, num_rows: int, num_cols: int | None = None
) -> torch.Tensor:
    """Return ``A`` with ones at ``(rows, cols)`` as an ``(num_rows, num_cols)`` float32 sparse CSR tensor."""
    num_cols = num_rows if num_cols is None else num_cols
    indptr, _, sorted_cols = _sorted_csr(rows, cols, num_rows, num_cols)
    values = torch.ones(len(sorted_cols), dtype=torch.float32)
    return csr_tensor(indptr, sorted_cols, values, (num_rows, num_cols))


def csr_to_coo(indptr: torch.Tensor, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the ``(rows, cols)`` of a CSR structure."""
    rows = torch.repeat_interleave(torch.arange(len(indptr) - 1), indptr[1:] - indptr[:-1])
    return rows, indices


def adjacency_for(
    kind: str, rows: torch.Tensor, cols: torch.Tensor, num_nodes: int, diag_lambda: float
) -> torch.Tensor:
    """Return the adjacency a layer type consumes: ``"normalized"`` (diagonal enhancement) or ``"binary"``."""
    if kind == "normalized":
        return diag_enhanced_adjacency(rows, cols, num_nodes, diag_lambda)
    if kind == "binary":
        return binary_adjacency(rows, cols, num_nodes)
    raise ValueError(f"invalid adjacency kind {kind!r}; choose 'normalized' or 'binary'")


def slice_rows(adjacency: torch.Tensor, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return rows ``start:stop`` of a CSR tensor, with columns renumbered to the ones used.

    Returns:
        ``(block, columns)``: ``block`` is a ``(stop - start, len(columns))``
        sparse CSR tensor and ``columns`` the original column of each of its
        columns, so ``adjacency[start:stop] @ Z == block @ Z[columns]``.
    """
    indptr = adjacency.crow_indices()
    first, last = int(indptr[start]), int(indptr[stop])
    local_ptr = indptr[start : stop + 1] - first
    columns, local_cols = torch.unique(adjacency.col_indices()[first:last], return_inverse=True)
    values = adjacency.values()[first:last]
    block = csr_tensor(local_ptr, local_cols, values, (stop - start, len(columns)))
    return block, columns
