"""Choose the Cora recipe of paperzoo-cluster-gcn on validation nodes only.

Trains Cluster-GCN (32 parts, 4 per batch, 2 layers of 128) and the
full-batch baseline for a few layer and normalisation choices, and prints
the mean validation accuracy over seeds. Test nodes are never scored here.

    flock /tmp/paperzoo-heavy.lock uv run python benchmarks/cluster_gcn_cora_search.py --output /tmp/cora-search.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
import warnings

import numpy as np
import torch

from paperzoo.cluster_gcn import ClusterGCN, ClusterGCNConfig
from paperzoo.core.data import load_dataset

BASE = ClusterGCNConfig(
    num_parts=32,
    parts_per_batch=4,
    layers=2,
    hidden=128,
    dropout=0.5,
    lr=0.01,
    weight_decay=5e-4,
    epochs=200,
    selection="best_val",
)

CANDIDATES = {
    "gcn-row-lambda0": {"layer_type": "gcn", "feature_norm": "row", "diag_lambda": 0.0, "layer_norm": False},
    "gcn-row-lambda1": {"layer_type": "gcn", "feature_norm": "row", "diag_lambda": 1.0, "layer_norm": False},
    "reference-row-lambda0": {
        "layer_type": "reference",
        "feature_norm": "row",
        "diag_lambda": 0.0,
        "layer_norm": False,
    },
    "reference-row-lambda1-ln": {
        "layer_type": "reference",
        "feature_norm": "row",
        "diag_lambda": 1.0,
        "layer_norm": True,
    },
    "reference-standard-lambda1-ln": {
        "layer_type": "reference",
        "feature_norm": "standard",
        "diag_lambda": 1.0,
        "layer_norm": True,
    },
    "sage-row": {"layer_type": "sage", "feature_norm": "row", "diag_lambda": 0.0, "layer_norm": False},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per candidate (0, 1, ...)")
    parser.add_argument("--only", nargs="*", default=None, help="candidate names to run (default: all)")
    parser.add_argument("--output", required=True, help="JSON file for the validation scores")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)

    cora = load_dataset("cora")
    results = {}
    for name, overrides in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        config = dataclasses.replace(BASE, **overrides)
        for system in ("cluster_gcn", "full_batch"):
            scores, epochs, started = [], [], time.perf_counter()
            for seed in range(args.seeds):
                fitted = ClusterGCN(config).fit(cora, seed=seed, full_batch=system == "full_batch", progress=False)
                scores.append(max(record["val_acc"] for record in fitted.history_))
                epochs.append(fitted.best_epoch_)
            results[f"{name}/{system}"] = {"val_acc": scores, "best_epoch": epochs, "overrides": overrides}
            print(
                f"{name:32s} {system:12s} val acc {np.mean(scores):.4f} ± {np.std(scores, ddof=1):.4f} "
                f"best epochs {epochs} ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    with open(args.output, "w") as handle:
        json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
