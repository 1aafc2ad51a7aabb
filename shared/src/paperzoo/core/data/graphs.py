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

The container and node splits live in :mod:`.graph_dataset`, the readers of
user files in :mod:`.graph_files`; this module re-exports both.

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
from pathlib import Path
from typing import Any

import numpy as np

from paperzoo.core.cache import cache_path
from paperzoo.core.data.graph_dataset import GraphDataset, complete_node_splits, graph_from_pyg
from paperzoo.core.data.graph_files import (
    GRAPH_FILE_SUFFIXES,
    load_graph_file,
    pyg_safe_globals,
    read_gnn_benchmark_npz,
    read_pyg_file,
)
from paperzoo.core.data.resolve import resolve_data_dir
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

__all__ = [
    "GRAPH_FILE_SUFFIXES",
    "GRAPH_SPLITS",
    "GraphDataset",
    "complete_node_splits",
    "graph_from_pyg",
    "load_citeseer",
    "load_cora",
    "load_graph_file",
    "load_planetoid",
    "load_ppi",
    "load_reddit",
    "process_in_cache",
    "read_gnn_benchmark_npz",
    "read_pyg_file",
]


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
            with contextlib.redirect_stderr(io.StringIO()), pyg_safe_globals():
                build(str(staging))
            (staging / ".complete").write_text("")
    with pyg_safe_globals():
        return build(str(root))


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
