"""Full-graph, layer-wise inference with bounded memory.

Evaluation runs the whole graph as one part, as Chiang et al. (KDD 2019) test, but layer
by layer and in blocks of rows: for each block of target nodes only their
rows of the adjacency and the features of their neighbours are touched, and
no autograd graph is kept. Peak memory is two ``(N, width)`` activation
matrices plus one block, instead of the ``O(N * width * layers)`` a plain
full-graph forward pass with gradients needs.
"""

from __future__ import annotations

import numpy as np
import torch

from paperzoo.cluster_gcn.model import ClusterGCNModel
from paperzoo.cluster_gcn.normalize import adjacency_for, binary_adjacency, csr_to_coo, graph_csr, slice_rows
from paperzoo.core.data import GraphDataset


def precompute_first_layer_features(x: torch.Tensor, indptr: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Return ``[A X, X]`` with the binary adjacency ``A`` of the graph, as the reference code precomputes it.

    Args:
        x: ``(N, F)`` prepared node features.
        indptr, indices: the graph's CSR structure (see
            :func:`~paperzoo.cluster_gcn.normalize.graph_csr`).

    Returns:
        ``(N, 2F)`` features.
    """
    rows, cols = csr_to_coo(indptr, indices)
    adjacency = binary_adjacency(rows, cols, len(indptr) - 1)
    return torch.cat([torch.sparse.mm(adjacency, x), x], dim=1)


def model_features(
    model: ClusterGCNModel, x_raw: torch.Tensor, indptr: torch.Tensor, indices: torch.Tensor
) -> torch.Tensor:
    """Return the ``(N, F)`` (or ``(N, 2F)`` with a precomputed first layer) inputs of ``model`` on the CPU.

    Args:
        model: supplies the feature preprocessing.
        x_raw: ``(N, F)`` raw node features.
        indptr, indices: the graph's CSR structure, used by the precomputed first layer.
    """
    with torch.no_grad():
        x = model.prepare_features(x_raw.to(model.feature_mean.device)).cpu()
        if model.precompute_first_layer:
            x = precompute_first_layer_features(x, indptr, indices)
    return x


def model_adjacency(
    model: ClusterGCNModel, indptr: torch.Tensor, indices: torch.Tensor, diag_lambda: float
) -> torch.Tensor:
    """Return the ``(N, N)`` sparse CSR adjacency of the kind ``model`` consumes."""
    rows, cols = csr_to_coo(indptr, indices)
    return adjacency_for(model.adjacency_kind, rows, cols, len(indptr) - 1, diag_lambda)


@torch.no_grad()
def layerwise_inference(
    model: ClusterGCNModel,
    x: torch.Tensor,
    adjacency: torch.Tensor,
    *,
    chunk_size: int | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Return ``(N, out_dim)`` logits of every node of a graph, computed layer by layer.

    Args:
        model: the trained model (switched to eval mode here).
        x: ``(N, F)`` model inputs from :func:`model_features`, on the CPU.
        adjacency: ``(N, N)`` sparse CSR adjacency from :func:`model_adjacency`.
        chunk_size: target rows per block; ``None`` runs each layer on all
            rows at once (still without autograd).
        device: where each block is computed; activations stay on the CPU.
    """
    model.eval()
    num_nodes = x.shape[0]
    step = num_nodes if chunk_size is None else max(1, int(chunk_size))
    h = x
    for layer in model.layers:
        out: torch.Tensor | None = None
        for start in range(0, num_nodes, step):
            stop = min(num_nodes, start + step)
            block, columns = slice_rows(adjacency, start, stop)
            h_dst = h[start:stop].to(device)
            h_src = h_dst if stop - start == num_nodes and len(columns) == num_nodes else h[columns].to(device)
            result = layer(block.to(device), h_src, h_dst).float().cpu()
            if out is None:
                out = torch.empty(num_nodes, result.shape[1], dtype=result.dtype)
            out[start:stop] = result
        h = out
    return h


def predict_logits(
    model: ClusterGCNModel,
    graph: GraphDataset,
    *,
    chunk_size: int | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Return ``(N, out_dim)`` logits for every node of ``graph`` with a trained model.

    The graph is prepared as in training: reverse edges added when the model
    was trained with them, and the adjacency normalised with its ``diag_lambda``.

    Args:
        model: a trained :class:`ClusterGCNModel`.
        graph: any graph with ``model.in_dim`` node features.
        chunk_size, device: see :func:`layerwise_inference`.
    """
    if graph.num_features != model.in_dim:
        raise ValueError(
            f"graph {graph.name!r} has {graph.num_features} node features but the model expects {model.in_dim}"
        )
    indptr, indices = graph_csr(graph.edge_index, graph.num_nodes, to_undirected=model.to_undirected)
    x = model_features(model, torch.from_numpy(np.asarray(graph.x)), indptr, indices)
    adjacency = model_adjacency(model, indptr, indices, model.diag_lambda)
    return layerwise_inference(model, x, adjacency, chunk_size=chunk_size, device=device)
