"""Synthetic graphs of any size: a planted-partition stochastic block model sampled edge by edge.

A dense generator (such as torch_geometric's ``stochastic_blockmodel_graph``)
draws a Bernoulli variable for every node pair, which needs O(N^2) memory
and time and cannot reach a million nodes. Here the number of edges is fixed
in advance and each edge is drawn directly: with probability
``within_fraction`` both ends come from the same block, otherwise they are
two uniform nodes. Up to the rare repeated draw, which is dropped, this is a
stochastic block model with equal within-block and equal between-block edge
probabilities, generated in O(E) memory and time.
"""

from __future__ import annotations

import numpy as np

from paperzoo.core.data import GraphDataset
from paperzoo.core.files import fingerprint_value


def stochastic_block_model(
    num_nodes: int,
    *,
    num_blocks: int = 50,
    num_classes: int = 10,
    average_degree: float = 10.0,
    within_fraction: float = 0.8,
    num_features: int = 64,
    feature_signal: float = 0.5,
    multilabel: bool = False,
    split: tuple[float, float] = (0.5, 0.25),
    seed: int = 0,
) -> GraphDataset:
    """Sample an undirected planted-partition graph with informative node features.

    Args:
        num_nodes: N.
        num_blocks: communities; node ``i`` belongs to a uniformly drawn block.
        num_classes: labels; block ``b`` has class ``b % num_classes``.
        average_degree: expected neighbours per node (edges ``N * d / 2``).
        within_fraction: share of edges drawn inside a block.
        num_features: F.
        feature_signal: features are ``signal * mean(class) + N(0, 1)`` noise,
            with class means drawn from ``N(0, 1)``.
        multilabel: give each node its class plus each other label with
            probability 0.1, as ``(N, num_classes)`` indicators.
        split: shares of training and validation nodes; the rest is test.
        seed: the only source of randomness.

    Returns:
        A :class:`GraphDataset` with both directions of every edge, no
        self-loops, float32 features and random train/val/test masks.
    """
    if num_nodes < 2 or num_blocks < 1 or num_classes < 2:
        raise ValueError(f"invalid SBM size: {num_nodes} nodes, {num_blocks} blocks, {num_classes} classes")
    if not 0.0 <= within_fraction <= 1.0:
        raise ValueError(f"within_fraction must be in [0, 1], got {within_fraction}")
    rng = np.random.default_rng(seed)
    block = rng.integers(0, num_blocks, num_nodes)
    members = np.argsort(block, kind="stable")
    block_start = np.concatenate([[0], np.cumsum(np.bincount(block, minlength=num_blocks))])
    block_size = np.diff(block_start)

    num_edges = round(num_nodes * average_degree / 2)
    inside = rng.random(num_edges) < within_fraction
    sources = rng.integers(0, num_nodes, num_edges)
    targets = rng.integers(0, num_nodes, num_edges)
    own = block[sources[inside]]
    offsets = (rng.random(int(inside.sum())) * block_size[own]).astype(np.int64)
    targets[inside] = members[block_start[own] + offsets]
    del own, offsets, inside

    keep = sources != targets
    low, high = np.minimum(sources[keep], targets[keep]), np.maximum(sources[keep], targets[keep])
    del sources, targets, keep
    pairs = np.unique(low * num_nodes + high)
    del low, high
    low, high = pairs // num_nodes, pairs % num_nodes
    del pairs
    edge_index = np.empty((2, 2 * len(low)), dtype=np.int64)
    edge_index[0, : len(low)], edge_index[1, : len(low)] = low, high
    edge_index[0, len(low) :], edge_index[1, len(low) :] = high, low
    del low, high

    classes = block % num_classes
    means = rng.normal(size=(num_classes, num_features)).astype(np.float32)
    x = rng.normal(size=(num_nodes, num_features)).astype(np.float32)
    x += feature_signal * means[classes]
    if multilabel:
        labels = (rng.random((num_nodes, num_classes)) < 0.1).astype(np.uint8)
        labels[np.arange(num_nodes), classes] = 1
    else:
        labels = classes.astype(np.int64)

    order = rng.permutation(num_nodes)
    num_train, num_val = int(split[0] * num_nodes), int(split[1] * num_nodes)
    masks = [np.zeros(num_nodes, dtype=bool) for _ in range(3)]
    masks[0][order[:num_train]] = True
    masks[1][order[num_train : num_train + num_val]] = True
    masks[2][order[num_train + num_val :]] = True
    fingerprint = fingerprint_value(
        {"sbm": [num_nodes, num_blocks, num_classes, average_degree, within_fraction, num_features, multilabel, seed]}
    )
    return GraphDataset(
        f"sbm-{num_nodes}",
        "full",
        labels,
        [str(c) for c in range(num_classes)],
        fingerprint,
        x=x,
        edge_index=edge_index,
        train_mask=masks[0],
        val_mask=masks[1],
        test_mask=masks[2],
        multilabel=multilabel,
    )
