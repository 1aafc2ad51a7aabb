"""Seeded validation splits carved from a training split."""

from __future__ import annotations

import numpy as np


def train_val_split(
    num_examples: int, val_fraction: float = 0.1, seed: int = 0, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(num_examples)`` into sorted train and validation indices.

    Args:
        num_examples: size of the training split to carve from.
        val_fraction: share of examples held out, in (0, 1).
        seed: the split depends only on this seed and the inputs.
        labels: when given, the split is stratified by label so every class
            keeps its share in both parts.

    Raises:
        ValueError: for a fraction outside (0, 1) or a split that would leave
            either part empty.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(num_examples)
        num_val = round(num_examples * val_fraction)
        val = order[:num_val]
    else:
        labels = np.asarray(labels)
        if len(labels) != num_examples:
            raise ValueError(f"labels has {len(labels)} entries but num_examples is {num_examples}")
        parts = []
        for label in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == label))
            parts.append(members[: round(len(members) * val_fraction)])
        val = np.concatenate(parts)
    if len(val) == 0 or len(val) == num_examples:
        raise ValueError(
            f"a validation fraction of {val_fraction} of {num_examples} examples leaves one side empty; "
            "change val_fraction"
        )
    mask = np.zeros(num_examples, dtype=bool)
    mask[val] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)
