"""Aggregation of per-seed numbers into the ``results.json`` schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def summarize(per_seed: Sequence[float]) -> dict[str, object]:
    """Return ``{"mean", "std", "per_seed"}`` for one metric over seeds.

    ``std`` is the sample standard deviation (ddof = 1), 0.0 for a single seed.
    """
    values = [float(v) for v in per_seed]
    if not values:
        raise ValueError("summarize needs at least one value")
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(np.mean(values)), "std": std, "per_seed": values}


def summarize_runs(runs: Sequence[Mapping[str, float]]) -> dict[str, dict[str, object]]:
    """Turn a list of per-seed metric dicts into ``{metric: summarize(...)}``."""
    names = list(runs[0]) if runs else []
    return {name: summarize([run[name] for run in runs]) for name in names}
