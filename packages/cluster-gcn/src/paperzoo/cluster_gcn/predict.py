"""The ``paperzoo cluster-gcn predict`` workflow: classify the nodes of a graph with a saved model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from paperzoo.cluster_gcn.estimator import node_scores, predictions_from_logits
from paperzoo.cluster_gcn.inference import predict_logits
from paperzoo.cluster_gcn.model import ClusterGCNModel
from paperzoo.core.data import load_dataset
from paperzoo.core.data.graphs import GRAPH_FILE_SUFFIXES
from paperzoo.core.files import atomic_write_text, fingerprint_value
from paperzoo.core.hub import load_pretrained


def resolve_model_dir(path: str | Path) -> Path:
    """Return the model folder that ``path`` names.

    Accepts a model folder, a folder holding ``model/`` (one seed and
    system), or a run directory, whose Cluster-GCN model of the seed with the
    best validation score is used (a choice made on validation nodes only).

    Raises:
        FileNotFoundError: when no saved model is found.
    """
    path = Path(path)
    if (path / "config.json").is_file():
        return path
    if (path / "model" / "config.json").is_file():
        return path / "model"
    results = path / "results.json"
    if results.is_file():
        per_seed = [r for r in json.loads(results.read_text()).get("per_seed", []) if r["system"] == "cluster_gcn"]
        if per_seed:
            best = max(per_seed, key=lambda r: (r["metrics"]["val_micro_f1"], r["metrics"]["val_acc"]))
            folder = path / "seeds" / f"seed-{best['seed']}" / "cluster_gcn" / "model"
            if (folder / "config.json").is_file():
                return folder
    raise FileNotFoundError(
        f"no Cluster-GCN model found in {path} (expected config.json, model/config.json, or a run directory with "
        "results.json and seeds/seed-N/cluster_gcn/model)"
    )


def run_predict(
    model_path: str | Path, dataset: str, data_dir: str | None = None, output: str | Path | None = None
) -> dict[str, Any]:
    """Classify every node of ``dataset``; returns a summary with scores on the labelled test nodes."""
    folder = resolve_model_dir(model_path)
    model = load_pretrained(ClusterGCNModel, folder)  # stdout stays JSON only
    name = dataset
    if Path(dataset).suffix in GRAPH_FILE_SUFFIXES:
        name, data_dir = "graph_file", dataset
    graph = load_dataset(name, data_dir=data_dir)
    logits = predict_logits(model, graph)
    predictions = predictions_from_logits(logits, model.multilabel)
    summary: dict[str, Any] = {
        "model": str(folder),
        "dataset": dataset,
        "nodes": graph.num_nodes,
        "data_fingerprint": fingerprint_value(graph.fingerprint),
    }
    if graph.labels is not None and graph.test_mask is not None:
        summary["test_scores"] = node_scores(logits, graph, graph.split_nodes("test"))
    if output is not None:
        _write_predictions(Path(output), predictions)
        summary["output"] = str(output)
    return summary


def _write_predictions(path: Path, predictions: np.ndarray) -> None:
    if predictions.ndim == 1:
        rows = [f"{node},{label}" for node, label in enumerate(predictions.tolist())]
        header = "node,prediction"
    else:
        rows = [f"{node},{' '.join(map(str, np.flatnonzero(row)))}" for node, row in enumerate(predictions)]
        header = "node,labels"
    atomic_write_text(path, "\n".join([header, *rows]) + "\n")
