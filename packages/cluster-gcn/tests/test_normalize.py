from __future__ import annotations

import numpy as np
import pytest
import torch

from paperzoo.cluster_gcn.normalize import (
    binary_adjacency,
    csr_to_coo,
    diag_enhanced_adjacency,
    graph_csr,
    slice_rows,
)

# A hand-made 6-node graph: a directed edge 0 -> 1, both directions of 1-2, 2-3 and 3-4,
# a self-loop on 4, a repeated edge 2 -> 3, and node 5 isolated.
EDGES = np.array(
    [
        [0, 1, 2, 2, 3, 3, 4, 4, 2],
        [1, 2, 1, 3, 2, 4, 3, 4, 3],
    ]
)


def _dense_reference(adjacency: np.ndarray, diag_lambda: float) -> np.ndarray:
    """A' = (D + I)^-1 (A + I), then A' + lambda * diag(A'), written with dense NumPy matrices."""
    size = len(adjacency)
    with_loops = adjacency + np.eye(size)
    degree_plus_one = np.diag(adjacency.sum(axis=1) + 1.0)
    normalised = np.linalg.inv(degree_plus_one) @ with_loops
    return normalised + diag_lambda * np.diag(np.diag(normalised))


def _dense_binary(edges: np.ndarray, size: int, undirected: bool) -> np.ndarray:
    dense = np.zeros((size, size))
    for source, target in edges.T:
        if source != target:
            dense[target, source] = 1.0  # row = the node that receives the message
            if undirected:
                dense[source, target] = 1.0
    return dense


def test_graph_csr_drops_loops_and_repeats():
    indptr, indices = graph_csr(EDGES, 6)
    rows, cols = csr_to_coo(indptr, indices)
    dense = np.zeros((6, 6))
    dense[rows.numpy(), cols.numpy()] = 1
    np.testing.assert_array_equal(dense, _dense_binary(EDGES, 6, undirected=False))
    assert len(indices) == 7


def test_graph_csr_adds_reverse_edges():
    indptr, indices = graph_csr(EDGES, 6, to_undirected=True)
    rows, cols = csr_to_coo(indptr, indices)
    dense = np.zeros((6, 6))
    dense[rows.numpy(), cols.numpy()] = 1
    np.testing.assert_array_equal(dense, _dense_binary(EDGES, 6, undirected=True))
    np.testing.assert_array_equal(dense, dense.T)
    assert indptr[-1] == len(indices)
    assert indptr[6] - indptr[5] == 0  # the isolated node


@pytest.mark.parametrize("diag_lambda", [0.0, 1.0, 1e-4, 2.5])
@pytest.mark.parametrize("undirected", [False, True])
def test_diag_enhancement_matches_dense_numpy(diag_lambda, undirected):
    indptr, indices = graph_csr(EDGES, 6, to_undirected=undirected)
    rows, cols = csr_to_coo(indptr, indices)
    adjacency = diag_enhanced_adjacency(rows, cols, 6, diag_lambda)
    expected = _dense_reference(_dense_binary(EDGES, 6, undirected), diag_lambda)
    np.testing.assert_allclose(adjacency.to_dense().numpy(), expected, rtol=1e-6, atol=1e-7)


def test_diag_enhancement_hand_values():
    # Node 3 of the undirected graph has neighbours 2 and 4: row 3 is 1/3 for each, (1 + lambda)/3 on the diagonal.
    indptr, indices = graph_csr(EDGES, 6, to_undirected=True)
    rows, cols = csr_to_coo(indptr, indices)
    dense = diag_enhanced_adjacency(rows, cols, 6, 1.0).to_dense()
    assert dense[3, 2].item() == pytest.approx(1 / 3)
    assert dense[3, 4].item() == pytest.approx(1 / 3)
    assert dense[3, 3].item() == pytest.approx(2 / 3)
    assert dense[5, 5].item() == pytest.approx(2.0)  # isolated: (1 + lambda) / (0 + 1)
    assert dense[5].sum().item() == pytest.approx(2.0)


def test_negative_lambda_is_rejected():
    with pytest.raises(ValueError, match="diag_lambda must be >= 0"):
        diag_enhanced_adjacency(torch.tensor([0]), torch.tensor([1]), 2, -1.0)


def test_binary_adjacency_rectangular():
    matrix = binary_adjacency(torch.tensor([0, 1, 1]), torch.tensor([3, 0, 2]), 2, 4).to_dense()
    assert matrix.tolist() == [[0, 0, 0, 1], [1, 0, 1, 0]]


@pytest.mark.parametrize(("start", "stop"), [(0, 6), (0, 2), (2, 5), (5, 6)])
def test_slice_rows_matches_dense_block(start, stop):
    indptr, indices = graph_csr(EDGES, 6, to_undirected=True)
    rows, cols = csr_to_coo(indptr, indices)
    adjacency = diag_enhanced_adjacency(rows, cols, 6, 1.0)
    block, columns = slice_rows(adjacency, start, stop)
    features = torch.randn(6, 3)
    expected = adjacency.to_dense()[start:stop] @ features
    torch.testing.assert_close(torch.sparse.mm(block, features[columns]), expected)
