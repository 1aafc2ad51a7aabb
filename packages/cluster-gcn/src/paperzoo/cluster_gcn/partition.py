"""METIS partitions of a graph's nodes into clusters.

Two back ends compute the same thing, a cluster id per node:

- ``"pyg"``: torch_geometric's :class:`~torch_geometric.loader.ClusterData`,
  which needs ``pyg-lib`` or ``torch-sparse`` for its METIS call;
- ``"pymetis"``: the ``pymetis`` bindings from PyPI.

``"auto"`` takes ``"pyg"`` when one of its METIS back ends imports, else
``"pymetis"``. Both receive the same METIS input: the graph made undirected
(METIS requires it), without self-loops and without duplicate edges.
Isolated nodes are ordinary vertices of weight 1 that METIS places to keep
the parts balanced.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

BACKENDS = ("auto", "pymetis", "pyg")


@dataclass
class Partition:
    """Nodes grouped into clusters.

    Attributes:
        assignment: ``(N,)`` int64 cluster id of each node, in ``0..num_parts-1``.
        node_order: ``(N,)`` int64 node ids sorted by cluster (stable), so the
            nodes of cluster ``c`` are ``node_order[part_ptr[c]:part_ptr[c + 1]]``.
        part_ptr: ``(num_parts + 1,)`` int64 offsets into ``node_order``.
        backend: ``"pymetis"``, ``"pyg"`` or ``"trivial"`` (one part, or one
            node per part, where METIS is not needed).
        seconds: wall time of the partitioning.
        requested_parts: the number of parts asked for; ``num_parts`` is
            smaller when METIS left some parts empty (they are dropped).
    """

    assignment: np.ndarray
    node_order: np.ndarray
    part_ptr: np.ndarray
    backend: str
    seconds: float
    requested_parts: int

    @classmethod
    def from_assignment(
        cls, assignment: np.ndarray, *, backend: str, seconds: float = 0.0, requested_parts: int | None = None
    ) -> Partition:
        """Build a partition from cluster ids, renumbering them to drop empty clusters."""
        assignment = np.asarray(assignment, dtype=np.int64)
        used, assignment = np.unique(assignment, return_inverse=True)
        assignment = assignment.astype(np.int64)
        node_order = np.argsort(assignment, kind="stable").astype(np.int64)
        sizes = np.bincount(assignment, minlength=len(used))
        part_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return cls(assignment, node_order, part_ptr, backend, seconds, requested_parts or len(used))

    @property
    def num_parts(self) -> int:
        return len(self.part_ptr) - 1

    @property
    def num_nodes(self) -> int:
        return len(self.assignment)

    @property
    def sizes(self) -> np.ndarray:
        """``(num_parts,)`` number of nodes in each cluster."""
        return np.diff(self.part_ptr)

    def nodes(self, part: int) -> np.ndarray:
        """Return the node ids of cluster ``part``."""
        return self.node_order[self.part_ptr[part] : self.part_ptr[part + 1]]

    def cut_edges(self, edge_index: np.ndarray) -> int:
        """Return how many of the given edges join two different clusters."""
        return int(np.sum(self.assignment[edge_index[0]] != self.assignment[edge_index[1]]))


def metis_adjacency(edge_index: np.ndarray, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the CSR ``(indptr, indices)`` METIS needs: symmetric, no self-loops, no duplicates.

    Args:
        edge_index: ``(2, E)`` edges, directed or not.
        num_nodes: N; nodes without edges keep an empty neighbour list.
    """
    edge_index = np.asarray(edge_index, dtype=np.int64)
    rows = np.concatenate([edge_index[0], edge_index[1]])
    cols = np.concatenate([edge_index[1], edge_index[0]])
    keep = rows != cols
    ones = np.ones(int(keep.sum()), dtype=np.int8)
    matrix = sp.csr_matrix((ones, (rows[keep], cols[keep])), shape=(num_nodes, num_nodes))
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64)


def pyg_metis_available() -> bool:
    """Return True when torch_geometric can run METIS (``pyg-lib`` or ``torch-sparse`` is installed)."""
    try:
        import torch_geometric.typing as pyg_typing
    except ImportError:
        return False
    return bool(pyg_typing.WITH_METIS or pyg_typing.WITH_TORCH_SPARSE)


def resolve_backend(backend: str) -> str:
    """Return the back end ``"auto"`` stands for, after checking the name."""
    if backend not in BACKENDS:
        raise ValueError(f"invalid partition backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "pyg" if pyg_metis_available() else "pymetis"
    return backend


def partition_graph(
    edge_index: np.ndarray,
    num_nodes: int,
    num_parts: int,
    *,
    seed: int = 0,
    backend: str = "auto",
    recursive: bool = False,
) -> Partition:
    """Split the nodes of a graph into ``num_parts`` clusters with METIS.

    Args:
        edge_index: ``(2, E)`` int edges; directed input is made undirected
            for METIS, self-loops and duplicates are ignored.
        num_nodes: N, which counts isolated nodes too.
        num_parts: clusters requested, in ``1..N``. One part, or N parts,
            needs no METIS call. METIS may leave a few parts empty on graphs
            with many components; those are dropped with a warning.
        seed: METIS's random seed (``pymetis`` back end; ``pyg-lib`` and
            ``torch-sparse`` take none).
        backend: ``"auto"``, ``"pymetis"`` or ``"pyg"`` (see the module docstring).
        recursive: multilevel recursive bisection instead of k-way partitioning.

    Raises:
        ValueError: ``num_parts`` outside ``1..num_nodes`` or an unknown back end.
        ImportError: ``backend="pyg"`` without ``pyg-lib`` or ``torch-sparse``.
    """
    if isinstance(num_parts, bool) or not isinstance(num_parts, int | np.integer):
        raise ValueError(f"num_parts must be an integer, got {num_parts!r}")
    if num_nodes < 1:
        raise ValueError("cannot partition a graph without nodes")
    if not 1 <= num_parts <= num_nodes:
        raise ValueError(
            f"num_parts={num_parts} is invalid for a graph of {num_nodes} nodes; choose a value in 1..{num_nodes}"
        )
    chosen = resolve_backend(backend)
    started = time.perf_counter()
    if num_parts == 1:
        return Partition.from_assignment(np.zeros(num_nodes, np.int64), backend="trivial", requested_parts=1)
    if num_parts == num_nodes:
        return Partition.from_assignment(np.arange(num_nodes), backend="trivial", requested_parts=num_parts)

    indptr, indices = metis_adjacency(edge_index, num_nodes)
    if chosen == "pyg":
        assignment = _metis_pyg(indptr, indices, num_nodes, num_parts, recursive)
    else:
        assignment = _metis_pymetis(indptr, indices, num_parts, seed, recursive)
    partition = Partition.from_assignment(
        assignment, backend=chosen, seconds=time.perf_counter() - started, requested_parts=num_parts
    )
    if partition.num_parts < num_parts:
        log.warning(
            "METIS left %d of %d parts empty; training with the %d non-empty parts",
            num_parts - partition.num_parts, num_parts, partition.num_parts,
        )  # fmt: skip
    log.info(
        "partitioned %d nodes into %d parts with %s in %.2f s (sizes %d-%d)",
        num_nodes, partition.num_parts, chosen, partition.seconds, partition.sizes.min(), partition.sizes.max(),
    )  # fmt: skip
    return partition


def _metis_pymetis(indptr: np.ndarray, indices: np.ndarray, num_parts: int, seed: int, recursive: bool) -> np.ndarray:
    import pymetis

    options = pymetis.Options(seed=int(seed) % (2**31))
    if hasattr(pymetis, "CSRAdjacency"):  # pymetis 2025.2 and later; older releases take xadj/adjncy
        graph = pymetis.CSRAdjacency(indptr, indices)
        result = pymetis.part_graph(num_parts, graph, recursive=recursive, options=options)
    else:
        result = pymetis.part_graph(num_parts, xadj=indptr, adjncy=indices, recursive=recursive, options=options)
    return np.asarray(result.vertex_part if hasattr(result, "vertex_part") else result[1], dtype=np.int64)


def _metis_pyg(indptr: np.ndarray, indices: np.ndarray, num_nodes: int, num_parts: int, recursive: bool) -> np.ndarray:
    if not pyg_metis_available():
        raise ImportError(
            "the 'pyg' partition backend needs pyg-lib or torch-sparse, which torch_geometric's ClusterData "
            "uses for METIS; install one of them or use backend='pymetis'"
        )
    import torch
    from torch_geometric.data import Data
    from torch_geometric.loader import ClusterData

    rows = np.repeat(np.arange(num_nodes, dtype=np.int64), np.diff(indptr))
    edge_index = torch.from_numpy(np.stack([rows, indices]))
    clusters = ClusterData(Data(edge_index=edge_index, num_nodes=num_nodes), num_parts, recursive=recursive, log=False)
    node_perm = clusters.partition.node_perm.numpy()
    part_ptr = clusters.partition.partptr.numpy()
    assignment = np.empty(num_nodes, dtype=np.int64)
    for part in range(len(part_ptr) - 1):
        assignment[node_perm[part_ptr[part] : part_ptr[part + 1]]] = part
    return assignment
