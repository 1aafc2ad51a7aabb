from __future__ import annotations

import json
import os
import stat
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch_geometric")

import scipy.sparse as sp
import torch

from paperzoo.core.data import DataNotFoundError, GraphDataset, complete_node_splits, get_dataset_info, load_dataset
from paperzoo.core.data.graphs import read_gnn_benchmark_npz
from paperzoo.core.testing import requires_data

DATA = Path(os.environ.get("PAPERZOO_DATA", "/nonexistent"))


def _tiny_graph(**overrides) -> GraphDataset:
    values = {
        "x": np.eye(4, dtype=np.float32),
        "edge_index": np.array([[0, 1, 2], [1, 2, 3]]),
        "labels": np.array([0, 1, 0, 1]),
        "classes": ["a", "b"],
    }
    values.update(overrides)
    labels, classes = values.pop("labels"), values.pop("classes")
    return GraphDataset("tiny", "full", labels, classes, "f", **values)


def test_graph_registry_names():
    for name in ("cora", "citeseer", "ppi", "reddit", "graph_file"):
        assert get_dataset_info(name).modality == "graph"


def test_graph_rejects_edges_outside_nodes():
    with pytest.raises(ValueError, match=r"outside 0\.\.3"):
        _tiny_graph(edge_index=np.array([[0], [4]]))


def test_graph_rejects_label_length():
    with pytest.raises(ValueError, match="labels must be"):
        _tiny_graph(labels=np.array([0, 1]))


def test_graph_to_pyg_shares_arrays():
    graph = _tiny_graph(train_mask=np.array([1, 0, 0, 0], bool))
    data = graph.to_pyg()
    assert data.num_nodes == 4
    assert torch.equal(data.edge_index, torch.tensor([[0, 1, 2], [1, 2, 3]]))
    assert data.train_mask.tolist() == [True, False, False, False]


@requires_data("planetoid/Cora/raw/ind.cora.x")
def test_cora_public_split():
    cora = load_dataset("cora")
    assert (cora.num_nodes, cora.num_edges, cora.num_features, cora.num_classes) == (2708, 10556, 1433, 7)
    assert (cora.train_mask.sum(), cora.val_mask.sum(), cora.test_mask.sum()) == (140, 500, 1000)
    assert np.bincount(cora.labels[cora.train_mask]).tolist() == [20] * 7
    assert not (cora.train_mask & cora.test_mask).any()


@requires_data("planetoid/CiteSeer/raw/ind.citeseer.x")
def test_citeseer_keeps_isolated_nodes():
    citeseer = load_dataset("citeseer")
    assert citeseer.num_nodes == 3327
    degree = np.bincount(citeseer.edge_index[0], minlength=citeseer.num_nodes)
    assert (degree == 0).sum() >= 15


@requires_data("planetoid/Cora/raw/ind.cora.x")
def test_planetoid_writes_only_to_cache(tmp_path):
    raw = tmp_path / "Cora" / "raw"
    raw.mkdir(parents=True)
    for file in (DATA / "planetoid/Cora/raw").iterdir():
        (raw / file.name).write_bytes(file.read_bytes())
    tmp_path.joinpath("Cora").chmod(stat.S_IRUSR | stat.S_IXUSR)
    raw.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        cora = load_dataset("cora", data_dir=tmp_path)
    finally:
        tmp_path.joinpath("Cora").chmod(0o755)
        raw.chmod(0o755)
    assert cora.num_nodes == 2708
    assert sorted(p.name for p in tmp_path.joinpath("Cora").iterdir()) == ["raw"]
    cache = Path(os.environ["PAPERZOO_CACHE"]) / "graphs"
    assert any(cache.glob("*/Cora/processed/*.pt"))


def test_planetoid_missing_files_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERZOO_DATA", str(tmp_path))
    monkeypatch.setenv("PAPERZOO_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match=r"ind\.cora\.x.*kimiyoung/planetoid"):
        load_dataset("cora")


def test_graph_file_reads_pyg_data(tmp_path):
    from torch_geometric.data import Data

    data = Data(
        x=torch.randn(5, 3),
        edge_index=torch.tensor([[0, 1, 3], [1, 0, 4]]),
        y=torch.tensor([0, 1, 2, 1, 0]),
        train_mask=torch.tensor([True, True, False, False, False]),
    )
    torch.save(data, tmp_path / "graph.pt")
    graph = load_dataset("graph_file", data_dir=tmp_path / "graph.pt")
    assert graph.num_nodes == 5
    assert graph.classes == ["0", "1", "2"]
    assert graph.train_mask.tolist() == [True, True, False, False, False]
    assert graph.val_mask is None
    np.testing.assert_allclose(graph.x, data.x.numpy())


def test_graph_file_reads_multilabel_dict(tmp_path):
    y = torch.tensor([[1, 0, 1], [0, 0, 1], [1, 1, 0]])
    torch.save({"x": torch.ones(3, 2), "edge_index": torch.tensor([[0], [2]]), "y": y}, tmp_path / "g.pt")
    graph = load_dataset("graph_file", data_dir=tmp_path)
    assert graph.multilabel
    assert graph.num_classes == 3
    assert graph.labels.dtype == np.uint8


def test_graph_file_rejects_foreign_pickle(tmp_path):
    torch.save({"x": Fraction(1, 3)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="objects other than"):
        load_dataset("graph_file", data_dir=tmp_path / "bad.pt")


def test_graph_file_without_data_dir():
    with pytest.raises(ValueError, match="needs --data-dir"):
        load_dataset("graph_file")


def _write_npz(path: Path, labels: bool = True, directed: bool = True) -> None:
    adjacency = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]], np.float32))
    attributes = sp.csr_matrix(np.array([[1, 0], [0, 2], [3, 0], [0, 0]], np.float32))
    arrays = {
        "adj_data": adjacency.data,
        "adj_indices": adjacency.indices,
        "adj_indptr": adjacency.indptr,
        "adj_shape": np.array(adjacency.shape),
        "attr_data": attributes.data,
        "attr_indices": attributes.indices,
        "attr_indptr": attributes.indptr,
        "attr_shape": np.array(attributes.shape),
        "class_names": np.array(["x", "y"]),
    }
    if labels:
        arrays["labels"] = np.array([0, 1, 1, 0])
    np.savez(path, **arrays)


def test_gnn_benchmark_npz_layout(tmp_path):
    _write_npz(tmp_path / "toy.npz")
    graph = load_dataset("graph_file", data_dir=tmp_path / "toy.npz")
    assert graph.name == "toy"
    assert sorted(map(tuple, graph.edge_index.T.tolist())) == [(0, 1), (1, 2), (3, 0)]
    np.testing.assert_allclose(graph.x, [[1, 0], [0, 2], [3, 0], [0, 0]])
    assert graph.classes == ["x", "y"]
    assert graph.labels.tolist() == [0, 1, 1, 0]


def test_gnn_benchmark_npz_without_labels(tmp_path):
    _write_npz(tmp_path / "toy.npz", labels=False)
    graph = read_gnn_benchmark_npz(tmp_path / "toy.npz")
    assert graph.labels is None
    with pytest.raises(ValueError, match="has no node labels"):
        complete_node_splits(graph)


def test_gnn_benchmark_npz_wrong_layout(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not in the gnn-benchmark layout"):
        read_gnn_benchmark_npz(tmp_path / "other.npz")


def test_complete_node_splits_from_nothing():
    labels = np.repeat(np.arange(4), 50)
    graph = _tiny_graph(
        x=np.zeros((200, 2), np.float32), edge_index=np.zeros((2, 0)), labels=labels, classes=list("abcd")
    )
    split = complete_node_splits(graph, seed=3)
    assert (split.train_mask.sum(), split.val_mask.sum(), split.test_mask.sum()) == (120, 40, 40)
    assert not (split.train_mask & split.val_mask).any()
    assert not (split.val_mask & split.test_mask).any()
    assert (split.train_mask | split.val_mask | split.test_mask).all()
    assert np.bincount(labels[split.test_mask]).tolist() == [10] * 4
    again = complete_node_splits(graph, seed=3)
    assert np.array_equal(again.val_mask, split.val_mask)


def test_complete_node_splits_carves_validation_from_train():
    train = np.zeros(100, bool)
    train[:60] = True
    test = ~train
    graph = _tiny_graph(
        x=np.zeros((100, 2), np.float32),
        edge_index=np.zeros((2, 0)),
        labels=np.arange(100) % 2,
        train_mask=train,
        test_mask=test,
    )
    split = complete_node_splits(graph, val_fraction=0.2)
    assert split.val_mask.sum() == 12
    assert not (split.val_mask & ~train).any()
    assert np.array_equal(split.test_mask, test)


def _write_ppi_raw(folder: Path) -> None:
    """Write a tiny PPI release in GraphSAGE's raw layout: two graphs per split."""
    import networkx as nx
    from networkx.readwrite import json_graph

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split in ("train", "valid", "test"):
        graph = nx.DiGraph()
        graph.add_nodes_from(range(6))
        graph.add_edges_from([(0, 1), (1, 0), (1, 2), (2, 1), (3, 4), (4, 3), (4, 5), (5, 4)])
        payload = json_graph.node_link_data(graph, edges="links")
        (folder / f"{split}_graph.json").write_text(json.dumps(payload))
        np.save(folder / f"{split}_feats.npy", rng.normal(size=(6, 4)).astype(np.float32))
        np.save(folder / f"{split}_labels.npy", rng.integers(0, 2, size=(6, 3)))
        np.save(folder / f"{split}_graph_id.npy", np.array([1, 1, 1, 2, 2, 2]))


def test_ppi_joins_graphs_with_masks(tmp_path):
    pytest.importorskip("networkx")
    _write_ppi_raw(tmp_path / "ppi" / "raw")
    graph = load_dataset("ppi", data_dir=tmp_path)
    assert graph.multilabel
    assert graph.num_nodes == 18
    assert graph.labels.shape == (18, 3)
    assert graph.train_mask[:6].all()
    assert graph.val_mask[6:12].all()
    assert graph.test_mask[12:].all()
    assert graph.edge_index.max() == 17
    assert sorted(p.name for p in (tmp_path / "ppi").iterdir()) == ["raw"]


def test_reddit_reads_raw_layout(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    np.savez(
        raw / "reddit_data.npz",
        feature=np.arange(12, dtype=np.float32).reshape(4, 3),
        label=np.array([0, 1, 2, 1]),
        node_types=np.array([1, 1, 2, 3]),
    )
    sp.save_npz(raw / "reddit_graph.npz", sp.coo_matrix((np.ones(2), ([0, 1], [1, 0])), shape=(4, 4)))
    graph = load_dataset("reddit", data_dir=tmp_path)
    assert graph.num_nodes == 4
    assert graph.train_mask.tolist() == [True, True, False, False]
    assert graph.test_mask.tolist() == [False, False, False, True]
    assert graph.num_classes == 3
