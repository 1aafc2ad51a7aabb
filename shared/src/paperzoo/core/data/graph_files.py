"""Readers for the graph files users bring: PyG ``Data`` files and gnn-benchmark ``.npz`` files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from paperzoo.core.data.graph_dataset import GraphDataset, graph_from_pyg
from paperzoo.core.files import fingerprint_files, fingerprint_value

GRAPH_FILE_SUFFIXES = (".pt", ".pth", ".npz")


def pyg_safe_globals():
    """Allow torch_geometric's data classes in ``torch.load(weights_only=True)``, so no file can run code."""
    import torch
    from torch_geometric.data import Data
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    return torch.serialization.safe_globals([Data, DataEdgeAttr, DataTensorAttr, GlobalStorage])


def _find_graph_file(data_dir: str | os.PathLike | None) -> Path:
    if data_dir is None:
        raise ValueError(
            "dataset 'graph_file' needs --data-dir pointing at a PyG Data file (.pt) or a gnn-benchmark .npz file"
        )
    path = Path(data_dir).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix in GRAPH_FILE_SUFFIXES)
        if len(found) != 1:
            listed = ", ".join(p.name for p in found) or "none"
            raise FileNotFoundError(
                f"{path} must hold exactly one graph file ({', '.join(GRAPH_FILE_SUFFIXES)}); found {listed}. "
                "Point --data-dir at the file itself."
            )
        return found[0]
    if not path.is_file():
        raise FileNotFoundError(f"graph file {path} not found")
    if path.suffix not in GRAPH_FILE_SUFFIXES:
        raise ValueError(
            f"graph file {path} has suffix {path.suffix!r}; expected one of {', '.join(GRAPH_FILE_SUFFIXES)}"
        )
    return path


def load_graph_file(split: str = "full", data_dir: str | os.PathLike | None = None) -> GraphDataset:
    """Load a graph from ``--data-dir``: a ``.pt`` PyG ``Data`` (or dict of tensors) or a gnn-benchmark ``.npz``.

    ``.pt`` files are read with ``torch.load(weights_only=True)``, allowing
    only torch_geometric's ``Data`` classes, so a file cannot run code.
    """
    path = _find_graph_file(data_dir)
    name = path.stem
    fingerprint = fingerprint_value({"dataset": "graph_file", "source": fingerprint_files([path])})
    if path.suffix == ".npz":
        return read_gnn_benchmark_npz(path, name=name, fingerprint=fingerprint)
    return read_pyg_file(path, name=name, fingerprint=fingerprint)


def read_pyg_file(path: str | os.PathLike, name: str | None = None, fingerprint: str | None = None) -> GraphDataset:
    """Read a ``torch.save``-d PyG ``Data`` object or a dict with ``x``, ``edge_index``, ``y`` and masks.

    Raises:
        ValueError: when the file contains something else, or objects outside
            the allow-list of torch_geometric's data classes.
    """
    import pickle

    import torch
    from torch_geometric.data import Data

    path = Path(path)
    name = name or path.stem
    try:
        with pyg_safe_globals():
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{path} contains objects other than a torch_geometric Data or tensors ({str(error).splitlines()[0]}); "
            "save the graph with torch.save(data.to_dict(), path) or torch.save(data, path)"
        ) from error
    if not isinstance(loaded, Data | dict):
        raise ValueError(
            f"{path} contains a {type(loaded).__name__}; expected a torch_geometric Data or a dict of tensors"
        )
    return graph_from_pyg(loaded, name, fingerprint or fingerprint_value({"file": fingerprint_files([path])}))


def _csr_from_npz(arrays: Any, prefix: str) -> Any:
    import scipy.sparse as sp

    return sp.csr_matrix(
        (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
        shape=tuple(arrays[f"{prefix}_shape"]),
    )


def read_gnn_benchmark_npz(
    path: str | os.PathLike, name: str | None = None, fingerprint: str | None = None
) -> GraphDataset:
    """Read an ``.npz`` graph in the gnn-benchmark layout (Shchur et al., 2018).

    Keys: ``adj_{data,indices,indptr,shape}`` (CSR adjacency, required);
    node attributes as ``attr_{data,indices,indptr,shape}`` (CSR) or a dense
    ``attr_matrix`` (required); labels as ``labels`` (``(N,)`` class ids or ``(N, C)``
    indicators) or ``labels_{data,indices,indptr,shape}`` (multi-label CSR).
    Edges are kept as stored: a directed file stays directed and self-loops
    stay, so the method decides how to treat them.
    """
    path = Path(path)
    name = name or path.stem
    with np.load(path, allow_pickle=False) as arrays:
        keys = set(arrays.files)
        if "adj_indptr" not in keys:
            raise ValueError(f"{path} is not in the gnn-benchmark layout: no adj_data/adj_indices/adj_indptr/adj_shape")
        adjacency = _csr_from_npz(arrays, "adj").tocoo()
        if "attr_indptr" in keys:
            x = _csr_from_npz(arrays, "attr").toarray()
        elif "attr_matrix" in keys:
            x = np.asarray(arrays["attr_matrix"])
        else:
            raise ValueError(f"{path} has no node attributes (attr_* or attr_matrix); node features are required")
        labels: np.ndarray | None = None
        if "labels_indptr" in keys:
            labels = _csr_from_npz(arrays, "labels").toarray()
        elif "labels" in keys:
            labels = np.asarray(arrays["labels"])
        class_names = [str(c) for c in arrays["class_names"]] if "class_names" in keys else None
    if adjacency.shape[0] != adjacency.shape[1] or adjacency.shape[0] != x.shape[0]:
        raise ValueError(f"{path}: adjacency {adjacency.shape} does not match {x.shape[0]} nodes with attributes")
    edge_index = np.stack([adjacency.row, adjacency.col]).astype(np.int64)
    graph = graph_from_pyg(
        {"x": x, "edge_index": edge_index, "y": labels},
        name,
        fingerprint or fingerprint_value({"file": fingerprint_files([path])}),
        multilabel=None if labels is None else labels.ndim == 2 and labels.shape[1] > 1,
    )
    if class_names is not None and not graph.multilabel and len(class_names) >= len(graph.classes):
        graph.classes = class_names
    return graph
