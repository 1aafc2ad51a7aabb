from __future__ import annotations

import numpy as np
import pytest
import torch

from paperzoo.cluster_gcn.batching import ClusterCollate, InducedSubgraphs, cluster_loader
from paperzoo.cluster_gcn.normalize import csr_to_coo, diag_enhanced_adjacency, graph_csr
from paperzoo.cluster_gcn.partition import partition_graph
from paperzoo.cluster_gcn.synthetic import stochastic_block_model


@pytest.fixture(scope="module")
def graph_parts():
    graph = stochastic_block_model(500, num_blocks=5, average_degree=8, within_fraction=0.7, seed=0)
    indptr, indices = graph_csr(graph.edge_index, graph.num_nodes)
    partition = partition_graph(graph.edge_index, graph.num_nodes, 10, seed=0, backend="pymetis")
    return graph, indptr, indices, partition


def _collate(graph, indptr, indices, partition, kind="normalized"):
    return ClusterCollate(
        partition,
        InducedSubgraphs(indptr, indices),
        torch.from_numpy(graph.x),
        torch.from_numpy(graph.labels),
        torch.from_numpy(graph.train_mask),
        kind,
        1.0,
    )


def test_induced_subgraph_restores_between_cluster_edges(graph_parts):
    graph, indptr, indices, partition = graph_parts
    collate = _collate(graph, indptr, indices, partition)
    chosen = [1, 4, 7]
    nodes = collate.nodes_of(chosen)
    rows, cols = InducedSubgraphs(indptr, indices)(nodes)
    got = {(int(nodes[c]), int(nodes[r])) for r, c in zip(rows, cols)}  # (source, target) in global ids

    members = set(nodes.tolist())
    expected = {(int(s), int(t)) for s, t in graph.edge_index.T if s in members and t in members}
    assert got == expected
    between = {(s, t) for s, t in expected if partition.assignment[s] != partition.assignment[t]}
    assert between, "the test graph must have edges between the chosen clusters"
    assert between <= got


def test_induced_subgraph_buffer_is_reset(graph_parts):
    _, indptr, indices, partition = graph_parts
    extract = InducedSubgraphs(indptr, indices)
    extract(torch.from_numpy(partition.nodes(0)))
    assert (extract._position == -1).all()


def test_batch_matches_dense_reference(graph_parts):
    graph, indptr, indices, partition = graph_parts
    collate = _collate(graph, indptr, indices, partition)
    batch = collate([2, 5])
    nodes = batch.nodes.numpy()
    np.testing.assert_array_equal(batch.x.numpy(), graph.x[nodes])
    np.testing.assert_array_equal(batch.y.numpy(), graph.labels[nodes])
    np.testing.assert_array_equal(batch.loss_mask.numpy(), graph.train_mask[nodes])

    position = {node: i for i, node in enumerate(nodes.tolist())}
    dense = np.zeros((len(nodes), len(nodes)))
    for source, target in graph.edge_index.T:
        if source in position and target in position:
            dense[position[target], position[source]] = 1
    degree = dense.sum(axis=1)
    expected = (dense + np.eye(len(nodes))) / (degree + 1)[:, None]
    expected += np.diag(np.diag(expected))
    np.testing.assert_allclose(batch.adjacency.to_dense().numpy(), expected, rtol=1e-6)


def test_batch_normalises_with_batch_degrees(graph_parts):
    graph, indptr, indices, partition = graph_parts
    batch = _collate(graph, indptr, indices, partition)([0])
    rows, cols = InducedSubgraphs(indptr, indices)(batch.nodes)
    expected = diag_enhanced_adjacency(rows, cols, batch.num_nodes, 1.0).to_dense()
    torch.testing.assert_close(batch.adjacency.to_dense(), expected)
    full_rows, _ = csr_to_coo(indptr, indices)
    full_degree = torch.bincount(full_rows, minlength=graph.num_nodes)[batch.nodes]
    batch_degree = torch.bincount(rows, minlength=batch.num_nodes)
    assert (batch_degree < full_degree).any(), "cut edges must not count in the batch degree"


def test_loader_visits_each_cluster_once_per_epoch(graph_parts):
    graph, indptr, indices, partition = graph_parts
    loader = cluster_loader(_collate(graph, indptr, indices, partition), parts_per_batch=3)
    batches = list(loader)
    assert len(batches) == 4  # 10 clusters in batches of 3, 3, 3 and 1
    seen = torch.cat([batch.nodes for batch in batches])
    assert sorted(seen.tolist()) == list(range(graph.num_nodes))


def test_loader_rejects_too_many_parts_per_batch(graph_parts):
    graph, indptr, indices, partition = graph_parts
    with pytest.raises(ValueError, match=r"parts_per_batch=11 is invalid with 10 clusters"):
        cluster_loader(_collate(graph, indptr, indices, partition), parts_per_batch=11)


def test_full_batch_is_built_once(graph_parts):
    graph, indptr, indices, _ = graph_parts
    whole = partition_graph(graph.edge_index, graph.num_nodes, 1)
    collate = _collate(graph, indptr, indices, whole)
    assert collate([0]) is collate([0])
    assert collate([0]).num_nodes == graph.num_nodes


def test_binary_batches_for_sage(graph_parts):
    graph, indptr, indices, partition = graph_parts
    batch = _collate(graph, indptr, indices, partition, kind="binary")([3])
    values = batch.adjacency.values()
    assert torch.all(values == 1)
    assert torch.all(batch.adjacency.to_dense().diagonal() == 0)
