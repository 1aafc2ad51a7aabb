"""Paired significance tests between two systems scored on the same items (queries, seeds, examples)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _paired(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> np.ndarray:
    first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if first.shape != second.shape or first.ndim != 1:
        raise ValueError(f"paired tests need two 1-d arrays of equal length, got {first.shape} and {second.shape}")
    if len(first) < 2:
        raise ValueError(f"paired tests need at least 2 paired values, got {len(first)}")
    return second - first


def paired_t_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Two-sided paired t-test of ``mean(b - a) = 0``.

    Returns:
        ``{"mean_difference", "t", "p_value"}``; when every difference is
        equal the test is undefined, and ``t`` is 0 or infinite with
        ``p_value`` 1 or 0.
    """
    from scipy import stats

    differences = _paired(a, b)
    mean = float(differences.mean())
    if np.allclose(differences, differences[0]):
        return {
            "mean_difference": mean,
            "t": 0.0 if mean == 0 else float(np.sign(mean) * np.inf),
            "p_value": float(mean == 0),
        }
    result = stats.ttest_1samp(differences, 0.0)
    return {"mean_difference": mean, "t": float(result.statistic), "p_value": float(result.pvalue)}


def paired_randomization_test(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *, trials: int = 10_000, seed: int = 0
) -> dict[str, float]:
    """Two-sided paired randomisation (sign-flip permutation) test of the mean difference ``b - a``.

    Under the null hypothesis each item's two scores are exchangeable, so each
    difference keeps or flips its sign with probability 1/2. The p-value is
    ``(1 + #{trials with |mean| >= |observed mean|}) / (1 + trials)``.

    Returns:
        ``{"mean_difference", "p_value", "trials"}``.
    """
    if trials < 1:
        raise ValueError(f"trials must be at least 1, got {trials}")
    differences = _paired(a, b)
    observed = abs(differences.mean())
    rng = np.random.default_rng(seed)
    extreme = 0
    # Blocks of sign matrices bound the memory for many items and trials.
    block = max(1, min(trials, 2_000_000 // len(differences)))
    done = 0
    while done < trials:
        size = min(block, trials - done)
        signs = rng.integers(0, 2, size=(size, len(differences)), dtype=np.int8) * 2 - 1
        means = np.abs(signs @ differences) / len(differences)
        extreme += int((means >= observed - 1e-12).sum())
        done += size
    return {"mean_difference": float(differences.mean()), "p_value": (1 + extreme) / (1 + trials), "trials": trials}
