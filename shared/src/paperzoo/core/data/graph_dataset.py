"""The in-memory graph container, conversion from torch_geometric, and node splits.

torch-geometric is imported only by :meth:`GraphDataset.to_pyg`; the rest
needs numpy alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from paperzoo.core.data.base import LabelledDataset
from paperzoo.core.data.splits import train_val_split

log = logging.getLogger(__name__)


@dataclass
class GraphDataset(LabelledDataset):
    """One graph with node features, node labels and node splits.

    Attributes:
        x: ``(N, F)`` float32 node features.
        edge_index: ``(2, E)`` int64 edges, row 0 the source node and row 1
            the target node, as in torch_geometric. An undirected graph lists
            both directions.
        labels: ``(N,)`` int64 class ids, or ``(N, C)`` uint8 0/1 indicators
            when ``multilabel``; ``None`` when the file contains no labels.
        train_mask, val_mask, test_mask: ``(N,)`` bool node masks, or
            ``None`` when the source defines no split (see
            :func:`complete_node_splits`).
        multilabel: True when a node may carry several labels.
    """

    x: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    edge_index: np.ndarray = field(default_factory=lambda: np.zeros((2, 0), np.int64))
    train_mask: np.ndarray | None = None
    val_mask: np.ndarray | None = None
    test_mask: np.ndarray | None = None
    multilabel: bool = False

    modality = "graph"

    def __post_init__(self) -> None:
        self.x = np.ascontiguousarray(self.x, dtype=np.float32)
        self.edge_index = np.ascontiguousarray(self.edge_index, dtype=np.int64)
        if self.x.ndim != 2:
            raise ValueError(f"graph {self.name!r}: node features must be 2-D (nodes, features), got {self.x.shape}")
        num_nodes = self.x.shape[0]
        if self.edge_index.ndim != 2 or self.edge_index.shape[0] != 2:
            raise ValueError(f"graph {self.name!r}: edge_index must have shape (2, E), got {self.edge_index.shape}")
        if self.edge_index.size and (self.edge_index.min() < 0 or self.edge_index.max() >= num_nodes):
            raise ValueError(
                f"graph {self.name!r}: edge_index refers to nodes outside 0..{num_nodes - 1} "
                f"(min {self.edge_index.min()}, max {self.edge_index.max()})"
            )
        if self.labels is not None:
            expected = 2 if self.multilabel else 1
            if self.labels.ndim != expected or len(self.labels) != num_nodes:
                kind = "(N, C) indicators" if self.multilabel else "(N,) class ids"
                raise ValueError(
                    f"graph {self.name!r}: labels must be {kind} for {num_nodes} nodes, got {self.labels.shape}"
                )
        for name in ("train_mask", "val_mask", "test_mask"):
            mask = getattr(self, name)
            if mask is None:
                continue
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (num_nodes,):
                raise ValueError(f"graph {self.name!r}: {name} must have shape ({num_nodes},), got {mask.shape}")
            setattr(self, name, mask)

    def __len__(self) -> int:
        return self.num_nodes

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_edges(self) -> int:
        """Number of stored (directed) edges; an undirected edge counts twice."""
        return int(self.edge_index.shape[1])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def num_classes(self) -> int:
        if self.multilabel and self.labels is not None:
            return int(self.labels.shape[1])
        return len(self.classes)

    @property
    def has_splits(self) -> bool:
        return self.train_mask is not None and self.val_mask is not None and self.test_mask is not None

    def split_nodes(self, split: str) -> np.ndarray:
        """Return the sorted node ids of ``split`` (``"train"``, ``"val"`` or ``"test"``)."""
        mask = {"train": self.train_mask, "val": self.val_mask, "test": self.test_mask}.get(split)
        if split not in ("train", "val", "test"):
            raise ValueError(f"invalid node split {split!r}; choose train, val or test")
        if mask is None:
            raise ValueError(f"graph {self.name!r} defines no {split} nodes; call complete_node_splits first")
        return np.flatnonzero(mask)

    def to_pyg(self):
        """Return a ``torch_geometric.data.Data`` sharing this graph's memory."""
        import torch
        from torch_geometric.data import Data

        data = Data(x=torch.from_numpy(self.x), edge_index=torch.from_numpy(self.edge_index))
        if self.labels is not None:
            data.y = torch.from_numpy(self.labels)
        for name in ("train_mask", "val_mask", "test_mask"):
            if getattr(self, name) is not None:
                data[name] = torch.from_numpy(getattr(self, name))
        return data


def graph_from_pyg(data: Any, name: str, fingerprint: str, multilabel: bool | None = None) -> GraphDataset:
    """Convert a ``torch_geometric.data.Data`` (or a dict of its tensors) to a :class:`GraphDataset`.

    Args:
        data: needs ``x`` and ``edge_index``; ``y`` and the masks are optional.
            A 2-D ``y`` is read as multi-label indicators, a 1-D ``y`` as class ids.
        name: the data set name, for messages.
        fingerprint: the cache key of this graph.
        multilabel: override the guess from the shape of ``y``.

    Raises:
        ValueError: when ``x`` or ``edge_index`` is missing.
    """
    items = dict(data) if isinstance(data, dict) else data.to_dict()
    for required in ("x", "edge_index"):
        if items.get(required) is None:
            raise ValueError(
                f"graph {name!r} has no {required!r}; a graph file needs node features 'x' (N, F) and "
                "'edge_index' (2, E)"
            )
    x = _to_numpy(items["x"]).astype(np.float32, copy=False)
    if x.ndim == 1:
        x = x[:, None]
    edge_index = _to_numpy(items["edge_index"]).astype(np.int64, copy=False)
    labels, classes = None, []
    y = items.get("y")
    if y is not None:
        y = _to_numpy(y)
        is_multilabel = y.ndim == 2 and y.shape[1] > 1 if multilabel is None else multilabel
        if is_multilabel:
            labels = (y > 0).astype(np.uint8)
            classes = [str(i) for i in range(labels.shape[1])]
        else:
            labels = y.reshape(-1).astype(np.int64)
            if labels.size and labels.min() < 0:
                raise ValueError(f"graph {name!r} has negative class ids in y (min {labels.min()})")
            classes = [str(i) for i in range(int(labels.max()) + 1 if labels.size else 0)]
        multilabel = is_multilabel
    masks = {
        key: _to_numpy(items[key]).astype(bool)
        for key in ("train_mask", "val_mask", "test_mask")
        if items.get(key) is not None
    }
    return GraphDataset(
        name, "full", labels, classes, fingerprint, x=x, edge_index=edge_index, multilabel=bool(multilabel), **masks
    )


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def complete_node_splits(
    graph: GraphDataset, *, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> GraphDataset:
    """Return ``graph`` with train, validation and test masks, filling the missing ones.

    - All three present: returned unchanged.
    - None present: a seeded split of the labelled nodes, ``test_fraction``
      for testing and ``val_fraction`` for validation (stratified by class
      for single-label graphs).
    - Train (and test) present but no validation mask: ``val_fraction`` of
      the training nodes is held out for validation.
    - Otherwise, nodes in no given mask become training nodes.

    Raises:
        ValueError: when the graph has no labels or a part would be empty.
    """
    if graph.labels is None:
        raise ValueError(f"graph {graph.name!r} has no node labels, so no node split can be made")
    if graph.has_splits:
        return graph
    num_nodes = graph.num_nodes
    stratify = None if graph.multilabel else graph.labels
    train, val, test = graph.train_mask, graph.val_mask, graph.test_mask
    if train is None and val is None and test is None:
        rest, test_rows = train_val_split(num_nodes, test_fraction, seed=seed, labels=stratify)
        share = val_fraction / (1.0 - test_fraction)
        train_rows, val_rows = train_val_split(
            len(rest), share, seed=seed + 1, labels=None if stratify is None else stratify[rest]
        )
        train, val, test = (_mask(num_nodes, rows) for rows in (rest[train_rows], rest[val_rows], test_rows))
    elif val is None and train is not None:
        rows = np.flatnonzero(train)
        kept_rows, held_out_rows = train_val_split(
            len(rows), val_fraction, seed=seed, labels=None if stratify is None else stratify[rows]
        )
        train, val = _mask(num_nodes, rows[kept_rows]), _mask(num_nodes, rows[held_out_rows])
        if test is None:
            test = ~(train | val)
    else:
        val = np.zeros(num_nodes, bool) if val is None else val
        test = np.zeros(num_nodes, bool) if test is None else test
        train = ~(val | test) if train is None else train
    for name, mask in (("train", train), ("validation", val), ("test", test)):
        if not mask.any():
            raise ValueError(f"graph {graph.name!r}: the {name} split is empty; provide masks in the file")
    log.info(
        "graph %s: made node split train %d / val %d / test %d (seed %d)",
        graph.name, int(train.sum()), int(val.sum()), int(test.sum()), seed,
    )  # fmt: skip
    return replace(graph, train_mask=train, val_mask=val, test_mask=test)


def _mask(num_nodes: int, rows: np.ndarray) -> np.ndarray:
    mask = np.zeros(num_nodes, dtype=bool)
    mask[rows] = True
    return mask
