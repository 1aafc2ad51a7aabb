from __future__ import annotations

import numpy as np
import pytest

from paperzoo.cluster_gcn import partition as partition_module
from paperzoo.cluster_gcn.partition import Partition, metis_adjacency, partition_graph
from paperzoo.cluster_gcn.synthetic import stochastic_block_model


def _assert_covers_once(partition: Partition, num_nodes: int) -> None:
    assert partition.num_nodes == num_nodes
    assert sorted(partition.node_order.tolist()) == list(range(num_nodes))
    assert partition.part_ptr[0] == 0
    assert partition.part_ptr[-1] == num_nodes
    assert (partition.sizes > 0).all()
    for part in range(partition.num_parts):
        assert (partition.assignment[partition.nodes(part)] == part).all()


def test_partition_covers_every_node_once():
    graph = stochastic_block_model(600, num_blocks=6, average_degree=8, seed=1)
    partition = partition_graph(graph.edge_index, graph.num_nodes, 12, seed=0)
    _assert_covers_once(partition, 600)
    assert partition.num_parts == 12
    assert partition.backend in ("pymetis", "pyg")


def test_partition_cuts_few_edges_of_planted_blocks():
    graph = stochastic_block_model(600, num_blocks=6, average_degree=10, within_fraction=0.95, seed=2)
    partition = partition_graph(graph.edge_index, graph.num_nodes, 6, seed=0)
    random_cut = 1 - 1 / 6
    assert partition.cut_edges(graph.edge_index) / graph.num_edges < random_cut / 3


def test_directed_input_is_symmetrised():
    graph = stochastic_block_model(300, num_blocks=3, average_degree=6, seed=3)
    one_direction = graph.edge_index[:, graph.edge_index[0] < graph.edge_index[1]]
    directed = partition_graph(one_direction, graph.num_nodes, 5, seed=4, backend="pymetis")
    undirected = partition_graph(graph.edge_index, graph.num_nodes, 5, seed=4, backend="pymetis")
    np.testing.assert_array_equal(directed.assignment, undirected.assignment)


def test_metis_input_is_symmetric_without_loops():
    edges = np.array([[0, 0, 1, 2, 2], [1, 1, 2, 2, 0]])
    indptr, indices = metis_adjacency(edges, 4)
    neighbours = [sorted(indices[indptr[i] : indptr[i + 1]].tolist()) for i in range(4)]
    assert neighbours == [[1, 2], [0, 2], [0, 1], []]


def test_isolated_nodes_are_placed():
    edges = np.array([[0, 1, 2, 3], [1, 2, 3, 0]])
    partition = partition_graph(edges, 40, 4, seed=0, backend="pymetis")
    _assert_covers_once(partition, 40)


def test_graph_without_edges():
    partition = partition_graph(np.zeros((2, 0), np.int64), 10, 3, seed=0, backend="pymetis")
    _assert_covers_once(partition, 10)


def test_graph_of_self_loops_only():
    partition = partition_graph(np.array([[0, 1, 2], [0, 1, 2]]), 6, 2, seed=0, backend="pymetis")
    _assert_covers_once(partition, 6)


def test_one_part_and_one_node_per_part():
    edges = np.array([[0, 1], [1, 2]])
    single = partition_graph(edges, 3, 1)
    assert single.backend == "trivial"
    assert single.assignment.tolist() == [0, 0, 0]
    each = partition_graph(edges, 3, 3)
    assert sorted(each.assignment.tolist()) == [0, 1, 2]


@pytest.mark.parametrize("num_parts", [0, -1, 11])
def test_invalid_part_counts(num_parts):
    with pytest.raises(ValueError, match=r"num_parts=.* is invalid for a graph of 10 nodes; choose a value in 1\.\.10"):
        partition_graph(np.zeros((2, 0), np.int64), 10, num_parts)


def test_non_integer_part_count():
    with pytest.raises(ValueError, match="must be an integer"):
        partition_graph(np.zeros((2, 0), np.int64), 10, 2.5)


def test_unknown_backend():
    with pytest.raises(ValueError, match="invalid partition backend 'metis5'"):
        partition_graph(np.array([[0], [1]]), 4, 2, backend="metis5")


def test_pyg_backend_without_its_libraries(monkeypatch):
    monkeypatch.setattr(partition_module, "pyg_metis_available", lambda: False)
    with pytest.raises(ImportError, match="pyg-lib or torch-sparse"):
        partition_graph(np.array([[0, 1], [1, 2]]), 4, 2, backend="pyg")


def test_pyg_backend_reads_cluster_data(monkeypatch):
    """The ClusterData path yields the same assignment as the METIS call inside it."""
    import torch
    from torch_geometric.loader import ClusterData

    graph = stochastic_block_model(200, num_blocks=4, average_degree=6, seed=5)
    reference = partition_graph(graph.edge_index, graph.num_nodes, 4, seed=0, backend="pymetis")

    def fake_metis(self, edge_index, num_nodes):
        # Stands in for pyg-lib's METIS, which is not installable here: returns the pymetis clusters.
        return torch.from_numpy(reference.assignment)

    monkeypatch.setattr(partition_module, "pyg_metis_available", lambda: True)
    monkeypatch.setattr(ClusterData, "_metis", fake_metis)
    through_pyg = partition_graph(graph.edge_index, graph.num_nodes, 4, backend="pyg")
    assert through_pyg.backend == "pyg"
    np.testing.assert_array_equal(through_pyg.assignment, reference.assignment)
    _assert_covers_once(through_pyg, 200)


def test_auto_backend_choice(monkeypatch):
    monkeypatch.setattr(partition_module, "pyg_metis_available", lambda: False)
    assert partition_module.resolve_backend("auto") == "pymetis"
    monkeypatch.setattr(partition_module, "pyg_metis_available", lambda: True)
    assert partition_module.resolve_backend("auto") == "pyg"


def test_empty_parts_are_dropped():
    partition = Partition.from_assignment(np.array([0, 3, 3, 5]), backend="pymetis", requested_parts=6)
    assert partition.num_parts == 3
    assert partition.requested_parts == 6
    assert partition.assignment.tolist() == [0, 1, 1, 2]


def test_same_seed_same_partition():
    graph = stochastic_block_model(400, num_blocks=4, average_degree=6, seed=6)
    first = partition_graph(graph.edge_index, graph.num_nodes, 8, seed=3, backend="pymetis")
    again = partition_graph(graph.edge_index, graph.num_nodes, 8, seed=3, backend="pymetis")
    np.testing.assert_array_equal(first.assignment, again.assignment)
