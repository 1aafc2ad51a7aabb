"""Stochastic multiple partitions: batches made of the union of q sampled clusters.

Each batch takes q of the p METIS clusters, extracts the subgraph induced by
the union of their nodes (which restores the edges between the chosen
clusters that a per-cluster batch would drop), normalises it, and returns
its features, labels and training-node mask. A ``DataLoader`` over the
cluster ids with ``batch_size=q`` and ``shuffle=True`` draws a new grouping
every epoch, as in Algorithm 1 of Chiang et al. (KDD 2019).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch
from torch.utils.data import DataLoader

from paperzoo.cluster_gcn.normalize import adjacency_for, csr_to_coo
from paperzoo.cluster_gcn.partition import Partition


@dataclass
class ClusterBatch:
    """One training batch: the subgraph induced by a union of clusters.

    Attributes:
        x: ``(n, F)`` node features.
        adjacency: ``(n, n)`` sparse CSR adjacency of the subgraph, normalised
            for the model's layer type.
        y: ``(n,)`` class ids or ``(n, C)`` float 0/1 targets.
        loss_mask: ``(n,)`` bool, True for the training nodes the loss uses.
        nodes: ``(n,)`` ids of the nodes in the training graph.
    """

    x: torch.Tensor
    adjacency: torch.Tensor
    y: torch.Tensor
    loss_mask: torch.Tensor
    nodes: torch.Tensor

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> ClusterBatch:
        """Return the batch on ``device`` (accelerate calls this for every batch)."""
        moved = {f.name: getattr(self, f.name).to(device, non_blocking=non_blocking) for f in fields(self)}
        return ClusterBatch(**moved)


class InducedSubgraphs:
    """Extract induced subgraphs of a CSR graph, reusing one position buffer.

    Args:
        indptr, indices: the graph's CSR structure (see
            :func:`paperzoo.cluster_gcn.normalize.graph_csr`).
    """

    def __init__(self, indptr: torch.Tensor, indices: torch.Tensor):
        self.indptr = indptr
        self.indices = indices
        num_nodes = len(indptr) - 1
        # position[v] is v's row in the current batch, or -1: an O(N) buffer kept instead of reallocated.
        self._position = torch.full((num_nodes,), -1, dtype=torch.long)

    def __call__(self, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(rows, cols)`` of the edges among ``nodes``, numbered by position in ``nodes``.

        Every edge of the full graph whose two ends are both in ``nodes`` is
        kept, including edges between nodes of different clusters.
        """
        count = len(nodes)
        starts = self.indptr[nodes]
        degrees = self.indptr[nodes + 1] - starts
        rows = torch.repeat_interleave(torch.arange(count), degrees)
        offsets = torch.cumsum(degrees, 0) - degrees
        flat = starts[rows] + (torch.arange(len(rows)) - offsets[rows])
        neighbours = self.indices[flat]

        self._position[nodes] = torch.arange(count)
        cols = self._position[neighbours]
        self._position[nodes] = -1
        keep = cols >= 0
        return rows[keep], cols[keep]


class ClusterCollate:
    """Turn a list of cluster ids into a :class:`ClusterBatch` (the ``collate_fn`` of the loader).

    Args:
        partition: the clusters of the training graph.
        subgraphs: the induced-subgraph extractor of the training graph.
        x: ``(N, F)`` features of the training graph.
        y: ``(N,)`` or ``(N, C)`` targets.
        loss_mask: ``(N,)`` bool training nodes.
        adjacency_kind: ``"normalized"`` or ``"binary"`` (see the model).
        diag_lambda: lambda of the diagonal enhancement.
    """

    def __init__(
        self,
        partition: Partition,
        subgraphs: InducedSubgraphs,
        x: torch.Tensor,
        y: torch.Tensor,
        loss_mask: torch.Tensor,
        adjacency_kind: str,
        diag_lambda: float,
    ):
        self.partition = partition
        self.subgraphs = subgraphs
        self.x, self.y, self.loss_mask = x, y, loss_mask
        self.adjacency_kind = adjacency_kind
        self.diag_lambda = diag_lambda
        self.node_order = torch.from_numpy(partition.node_order)
        self.part_ptr = partition.part_ptr.tolist()
        # With one batch per epoch (full-batch training) every call requests the same clusters.
        self._last: tuple[tuple[int, ...], ClusterBatch] | None = None

    def nodes_of(self, parts: Sequence[int]) -> torch.Tensor:
        """Return the node ids of the union of clusters ``parts``, cluster by cluster."""
        pieces = [self.node_order[self.part_ptr[p] : self.part_ptr[p + 1]] for p in parts]
        return torch.cat(pieces) if len(pieces) > 1 else pieces[0]

    def __call__(self, parts: Sequence[int] | torch.Tensor) -> ClusterBatch:
        key = tuple(sorted(int(p) for p in parts))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        if self.partition.num_parts == 1:
            # The whole graph in its own order (full-batch training): no gathered copies of features or edges.
            nodes = self.node_order
            rows, cols = csr_to_coo(self.subgraphs.indptr, self.subgraphs.indices)
            adjacency = adjacency_for(self.adjacency_kind, rows, cols, len(nodes), self.diag_lambda)
            batch = ClusterBatch(self.x, adjacency, self.y, self.loss_mask, nodes)
        else:
            nodes = self.nodes_of(key)
            rows, cols = self.subgraphs(nodes)
            adjacency = adjacency_for(self.adjacency_kind, rows, cols, len(nodes), self.diag_lambda)
            batch = ClusterBatch(self.x[nodes], adjacency, self.y[nodes], self.loss_mask[nodes], nodes)
        if len(key) == self.partition.num_parts:
            self._last = (key, batch)
        return batch


def cluster_loader(collate: ClusterCollate, parts_per_batch: int, shuffle: bool = True, seed: int = 0) -> DataLoader:
    """Return a loader yielding one :class:`ClusterBatch` of ``parts_per_batch`` clusters per step.

    The last batch of an epoch contains the remaining clusters when
    ``parts_per_batch`` does not divide the number of clusters. The loader
    draws from its own generator, never from torch's global one: each new
    epoch iterator takes a draw, and a run resumed from a checkpoint at the
    end of an epoch creates one more iterator than an uninterrupted run, which
    would shift the dropout masks that follow.
    """
    num_parts = collate.partition.num_parts
    if not 1 <= parts_per_batch <= num_parts:
        raise ValueError(
            f"parts_per_batch={parts_per_batch} is invalid with {num_parts} clusters; choose a value in 1..{num_parts}"
        )
    return DataLoader(
        list(range(num_parts)),
        batch_size=parts_per_batch,
        shuffle=shuffle,
        collate_fn=collate,
        drop_last=False,
        generator=torch.Generator().manual_seed(seed),
    )
