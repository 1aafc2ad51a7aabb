"""Graph data sets for node classification, and the graph files users bring.

- ``cora``, ``citeseer``: the Planetoid citation graphs with their public
  split (20 labelled nodes per class for training, 500 for validation, 1,000
  for testing), read from the original ``ind.<name>.*`` files.
- ``ppi``: the 24 protein-protein interaction graphs (121 labels per node,
  multi-label) joined into one graph. The 20 training graphs, 2 validation
  and 2 test graphs become node masks. Training on the training nodes alone
  is then the inductive setting of GraphSAGE and Cluster-GCN.
- ``reddit``: the Reddit post graph (232,965 nodes, 41 communities).
- ``graph_file``: a PyG ``Data`` object saved with ``torch.save`` (``.pt``),
  or an ``.npz`` file in the gnn-benchmark layout (Shchur et al., 2018).

torch_geometric's dataset classes write ``processed/`` beside ``raw/``. Data
folders are read-only, so they run on links to the raw files inside the cache
(``$PAPERZOO_CACHE/graphs/<hash of the raw files>``), never in the data folder.
torch-geometric is imported only when a graph is loaded (extra ``graph``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from paperzoo.core.cache import cache_path
from paperzoo.core.data.base import LabelledDataset
from paperzoo.core.data.resolve import resolve_data_dir
from paperzoo.core.data.splits import train_val_split
from paperzoo.core.files import atomic_directory, fingerprint_files, fingerprint_value

log = logging.getLogger(__name__)

GRAPH_SPLITS = ("full",)
PLANETOID_NAMES = {"cora": "Cora", "citeseer": "CiteSeer"}
PLANETOID_SUFFIXES = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
PPI_FILES = tuple(
    f"{split}_{kind}"
    for split in ("train", "valid", "test")
    for kind in ("graph.json", "feats.npy", "labels.npy", "graph_id.npy")
)
REDDIT_FILES = ("reddit_data.npz", "reddit_graph.npz")
GRAPH_FILE_SUFFIXES = (".pt", ".pth", ".npz")


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


# --- running torch_geometric dataset classes on links inside the cache ------------


def process_in_cache(
    build: Callable[[str], Any], raw_folder: Path, raw_files: Sequence[str], raw_subdir: str, kind: str
) -> Any:
    """Run a torch_geometric dataset class on links to read-only raw files.

    Args:
        build: ``build(root)`` instantiates the dataset class at ``root``.
        raw_folder: the folder holding the raw files (never written to).
        raw_files: file names inside ``raw_folder`` that the class reads.
        raw_subdir: where the class looks for raw files relative to its root
            (``"raw"``, or ``"<Name>/raw"`` for Planetoid).
        kind: a label for the cache key, e.g. ``"planetoid-Cora"``.

    Returns:
        The dataset object, with its processed files in the cache.
    """
    import torch_geometric

    paths = [raw_folder / name for name in raw_files]
    key = fingerprint_value(
        {"kind": kind, "raw": fingerprint_files(paths), "torch_geometric": torch_geometric.__version__}
    )
    root = cache_path("graphs", key)
    if not (root / ".complete").exists():
        log.info("processing %s from %s into %s", kind, raw_folder, root)
        with atomic_directory(root) as staging:
            raw_dir = staging / raw_subdir
            raw_dir.mkdir(parents=True)
            for path in paths:
                os.symlink(path.resolve(), raw_dir / path.name)
            # The classes print "Processing..." to stderr, which the log line above replaces.
            with contextlib.redirect_stderr(io.StringIO()), _pyg_safe_globals():
                build(str(staging))
            (staging / ".complete").write_text("")
    with _pyg_safe_globals():
        return build(str(root))


def _pyg_safe_globals():
    """Allow torch_geometric's data classes in ``torch.load(weights_only=True)``, so no file can run code."""
    import torch
    from torch_geometric.data import Data
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    return torch.serialization.safe_globals([Data, DataEdgeAttr, DataTensorAttr, GlobalStorage])


# --- Planetoid: Cora, CiteSeer --------------------------------------------------


def _planetoid_files(name: str) -> list[str]:
    return [f"ind.{name}.{suffix}" for suffix in PLANETOID_SUFFIXES]


def _download_planetoid(name: str) -> Callable[[Path], None]:
    def fetch(target: Path) -> None:
        from torch_geometric.data import download_url
        from torch_geometric.datasets import Planetoid

        for file in _planetoid_files(name):
            download_url(f"{Planetoid.url}/{file}", str(target), log=False)

    return fetch


def _explicit_folder(data_dir: str | os.PathLike | None, candidates: Sequence[str], probe: str) -> Path | None:
    """Return the first of ``data_dir/<candidate>`` that contains ``probe``, so --data-dir may name any level."""
    if data_dir is None:
        return None
    base = Path(data_dir).expanduser()
    for candidate in ("", *candidates):
        folder = base / candidate if candidate else base
        if (folder / probe).exists():
            return folder
    return base


def load_planetoid(dataset: str, split: str = "full", data_dir: str | os.PathLike | None = None) -> GraphDataset:
    """Load a Planetoid citation graph (``cora`` or ``citeseer``) with its public split.

    Files: ``ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}`` in
    ``$PAPERZOO_DATA/planetoid/<Name>/raw`` (or ``--data-dir``). When missing
    and online, torch_geometric's downloader fetches them into the cache.
    """
    from torch_geometric.datasets import Planetoid

    pyg_name = PLANETOID_NAMES[dataset]
    files = _planetoid_files(dataset)
    folder_name = f"planetoid/{pyg_name}/raw"
    explicit = _explicit_folder(data_dir, ["raw", f"{pyg_name}/raw", folder_name], files[0])
    folder = resolve_data_dir(
        dataset,
        folder_name,
        files,
        data_dir=explicit,
        source="the Planetoid repository (github.com/kimiyoung/planetoid, data/ind.<name>.*)",
        download=_download_planetoid(dataset),
    )
    pyg = process_in_cache(
        lambda root: Planetoid(root, pyg_name, split="public"),
        folder,
        files,
        f"{pyg_name}/raw",
        f"planetoid-{pyg_name}",
    )
    fingerprint = fingerprint_value({"dataset": dataset, "source": fingerprint_files([folder / f for f in files])})
    graph = graph_from_pyg(pyg[0], dataset, fingerprint, multilabel=False)
    graph.classes = [str(i) for i in range(pyg.num_classes)]
    return graph


def load_cora(split: str = "full", data_dir: str | os.PathLike | None = None) -> GraphDataset:
    """Load Cora: 2,708 papers, 5,429 citation links, 1,433 word features, 7 classes."""
    return load_planetoid("cora", split, data_dir)


def load_citeseer(split: str = "full", data_dir: str | os.PathLike | None = None) -> GraphDataset:
    """Load CiteSeer: 3,327 papers (15 test papers have no features or links), 6 classes."""
    return load_planetoid("citeseer", split, data_dir)


# --- PPI and Reddit through torch_geometric's classes ---------------------------


def load_ppi(split: str = "full", data_dir: str | os.PathLike | None = None) -> GraphDataset:
    """Load PPI as one graph: 56,944 nodes in 24 components, 50 features, 121 labels.

    The 20 training graphs, 2 validation and 2 test graphs are joined as a
    disjoint union, in that order. Their nodes form the train, val and test
    masks. Files: GraphSAGE's ``{train,valid,test}_{graph.json,feats.npy,
    labels.npy,graph_id.npy}`` in ``$PAPERZOO_DATA/ppi/raw``.
    """
    from torch_geometric.datasets import PPI

    explicit = _explicit_folder(data_dir, ["raw", "ppi/raw"], PPI_FILES[0])
    folder = resolve_data_dir(
        "ppi",
        "ppi/raw",
        list(PPI_FILES),
        data_dir=explicit,
        source=f"GraphSAGE's PPI release as packaged by DGL ({PPI.url})",
        download=_download_with(lambda root: PPI(root, split="train")),
    )
    parts = {
        name: process_in_cache(lambda root, s=name: PPI(root, split=s), folder, PPI_FILES, "raw", "ppi")
        for name in ("train", "val", "test")
    }
    xs, ys, edges, masks = [], [], [], {name: [] for name in parts}
    offset = 0
    for name, dataset in parts.items():
        for graph in dataset:
            xs.append(graph.x.numpy())
            ys.append(graph.y.numpy())
            edges.append(graph.edge_index.numpy() + offset)
            for other in parts:
                masks[other].append(np.full(graph.num_nodes, other == name))
            offset += graph.num_nodes
    fingerprint = fingerprint_value({"dataset": "ppi", "source": fingerprint_files([folder / f for f in PPI_FILES])})
    labels = (np.concatenate(ys) > 0).astype(np.uint8)
    return GraphDataset(
        "ppi",
        "full",
        labels,
        [str(i) for i in range(labels.shape[1])],
        fingerprint,
        x=np.concatenate(xs),
        edge_index=np.concatenate(edges, axis=1),
        train_mask=np.concatenate(masks["train"]),
        val_mask=np.concatenate(masks["val"]),
        test_mask=np.concatenate(masks["test"]),
        multilabel=True,
    )


def load_reddit(split: str = "full", data_dir: str | os.PathLike | None = None) -> GraphDataset:
    """Load Reddit: 232,965 posts, 602 features, 41 communities, GraphSAGE's split.

    Files: ``reddit_data.npz`` and ``reddit_graph.npz`` (DGL's packaging) in
    ``$PAPERZOO_DATA/reddit/raw``.
    """
    from torch_geometric.datasets import Reddit

    explicit = _explicit_folder(data_dir, ["raw", "reddit/raw"], REDDIT_FILES[0])
    folder = resolve_data_dir(
        "reddit",
        "reddit/raw",
        list(REDDIT_FILES),
        data_dir=explicit,
        source=f"GraphSAGE's Reddit release as packaged by DGL ({Reddit.url})",
        download=_download_with(Reddit),
    )
    dataset = process_in_cache(Reddit, folder, REDDIT_FILES, "raw", "reddit")
    fingerprint = fingerprint_value(
        {"dataset": "reddit", "source": fingerprint_files([folder / f for f in REDDIT_FILES])}
    )
    graph = graph_from_pyg(dataset[0], "reddit", fingerprint, multilabel=False)
    graph.classes = [str(i) for i in range(dataset.num_classes)]
    return graph


def _download_with(build: Callable[[str], Any]) -> Callable[[Path], None]:
    """Return a downloader that lets a torch_geometric class fetch its raw files into ``<target>/..``."""

    def fetch(target: Path) -> None:
        build(str(target.parent))

    return fetch


# --- graph files users bring ----------------------------------------------------


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
        with _pyg_safe_globals():
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


# --- node splits ------------------------------------------------------------------


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
        kept, held = train_val_split(
            len(rows), val_fraction, seed=seed, labels=None if stratify is None else stratify[rows]
        )
        train, val = _mask(num_nodes, rows[kept]), _mask(num_nodes, rows[held])
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
