"""The ``paperzoo cluster-gcn train`` workflow.

Load a graph and make sure it has labels and a node split. For each seed,
train Cluster-GCN and the full-batch baseline with the same recipe and
evaluate both with full-graph layer-wise inference. The run directory gets
``config.yaml``, ``splits.npz``, ``metrics.jsonl``, per-seed results and
models, ``results.json`` and ``validation.png``.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from paperzoo.cluster_gcn.config import RESUME_IGNORED, TrainCommandConfig
from paperzoo.cluster_gcn.estimator import ClusterGCN, node_scores, selection_metric
from paperzoo.core.config import config_to_dict
from paperzoo.core.data import GraphDataset, complete_node_splits, get_dataset_info, list_datasets, load_dataset
from paperzoo.core.data.graphs import GRAPH_FILE_SUFFIXES
from paperzoo.core.files import atomic_directory, atomic_open, atomic_write_json
from paperzoo.core.metrics import summarize
from paperzoo.core.runs import default_run_dir, prepare_run_dir, provenance, write_results
from paperzoo.core.training import make_accelerator

log = logging.getLogger(__name__)

# Numbers summarised per system in results.json (fractions, then seconds and MiB).
SCORE_NAMES = ("test_acc", "test_micro_f1", "test_macro_f1", "val_acc", "val_micro_f1")
COST_NAMES = ("epoch_seconds", "peak_memory_mb", "train_memory_mb", "partition_seconds", "best_epoch")


def load_graph(config: TrainCommandConfig) -> GraphDataset:
    """Load the configured graph and complete its node split.

    ``dataset`` is a registry name, or a path to a ``.pt``/``.npz`` file.

    Raises:
        KeyError: unknown data set name.
        ValueError: a data set that is not a graph, or one without labels.
        DataNotFoundError: missing files.
    """
    name, data_dir = config.dataset, config.data_dir
    if Path(name).suffix in GRAPH_FILE_SUFFIXES:
        name, data_dir = "graph_file", name
    graphs = ", ".join(name for name in list_datasets("graph") if name != "graph_file")
    if name not in list_datasets():
        raise KeyError(f"unknown dataset {name!r}; graph datasets: {graphs}, or a path to a .pt or .npz file")
    info = get_dataset_info(name)
    if info.modality != "graph":
        raise ValueError(
            f"dataset {config.dataset!r} contains {info.modality} data; Cluster-GCN needs a graph "
            f"({graphs}, or a .pt/.npz file)"
        )
    graph = load_dataset(name, data_dir=data_dir)
    if graph.labels is None:
        raise ValueError(
            f"dataset {config.dataset!r} has no node labels; Cluster-GCN trains a node classifier, "
            "so the graph needs labels ('y' in a .pt file, 'labels' in an .npz file)"
        )
    return complete_node_splits(graph, seed=config.split_seed)


def _save_splits(path: Path, graph: GraphDataset) -> None:
    splits = {name: graph.split_nodes(name) for name in ("train", "val", "test")}
    if path.exists():
        with np.load(path) as saved:
            if any(not np.array_equal(saved[name], nodes) for name, nodes in splits.items()):
                raise RuntimeError(f"{path} records another node split; the data changed since the run started")
        return
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **splits)


def fit_system(
    config: TrainCommandConfig, graph: GraphDataset, system: str, seed: int, run_dir: Path
) -> dict[str, Any]:
    """Train one system for one seed; returns (and saves) its result, or reads it when already done."""
    system_dir = run_dir / "seeds" / f"seed-{seed}" / system
    result_path = system_dir / "result.json"
    if result_path.exists():
        log.info("%s, seed %d already finished; reading %s", system, seed, result_path)
        return json.loads(result_path.read_text())

    # A fresh accelerator per fit, because accelerate keeps every prepared model and loader and every object
    # registered for checkpointing. A shared one would hold earlier fits in memory and save their state in this
    # fit's checkpoints, and a resumed run in a new process could not load them back in the same order.
    accelerator = make_accelerator(mixed_precision=config.mixed_precision)

    log.info("training %s, seed %d", system, seed)
    fitted = ClusterGCN(config.recipe()).fit(
        graph,
        seed=seed,
        full_batch=system == "full_batch",
        output_dir=system_dir,
        accelerator=accelerator,
        metrics_path=run_dir / "metrics.jsonl",
        metrics_tags={"seed": seed, "system": system},
        progress=config.progress,
    )
    logits = fitted.predict_logits(graph)
    test, val = (
        node_scores(logits, graph, graph.split_nodes("test")),
        node_scores(logits, graph, graph.split_nodes("val")),
    )
    summary = fitted.summary()
    memory = summary["memory"] or {}
    result = {
        "seed": seed,
        "system": system,
        "metrics": {
            "test_acc": test["acc"],
            "test_micro_f1": test["micro_f1"],
            "test_macro_f1": test["macro_f1"],
            "val_acc": val["acc"],
            "val_micro_f1": val["micro_f1"],
            "epoch_seconds": summary["epoch_seconds"],
            "peak_memory_mb": memory.get("peak_mb"),
            "train_memory_mb": memory.get("above_start_mb"),
            "partition_seconds": summary["partition"]["seconds"],
            "best_epoch": summary["best_epoch"],
        },
        "partition": summary["partition"],
        "steps_per_epoch": summary["steps_per_epoch"],
        "memory": memory,
        "history": fitted.history_,
    }
    if accelerator.is_main_process:
        with atomic_directory(system_dir / "model") as folder:
            fitted.model_.save_pretrained(folder)
        atomic_write_json(result_path, result)
        shutil.rmtree(system_dir / "checkpoints", ignore_errors=True)
    accelerator.wait_for_everyone()
    return result


def describe(graph: GraphDataset, config: TrainCommandConfig) -> dict[str, Any]:
    """Return the ``data`` section of ``results.json``."""
    return {
        "dataset": config.dataset,
        "nodes": graph.num_nodes,
        "edges": graph.num_edges,
        "features": graph.num_features,
        "classes": graph.num_classes,
        "multilabel": graph.multilabel,
        "train_nodes": int(graph.train_mask.sum()),
        "val_nodes": int(graph.val_mask.sum()),
        "test_nodes": int(graph.test_mask.sum()),
        "setting": config.setting,
        "selection": f"{config.selection} on val_{selection_metric(graph.multilabel)}",
    }


def run_train(config: TrainCommandConfig) -> dict[str, Any]:
    """Run the whole ``train`` workflow; returns the content of ``results.json``."""
    accelerator = make_accelerator(mixed_precision=config.mixed_precision)
    run_dir = (
        Path(config.output_dir) if config.output_dir else default_run_dir("cluster-gcn", Path(config.dataset).stem)
    )
    if accelerator.is_main_process:
        resuming = prepare_run_dir(run_dir, config_to_dict(config), ignore=RESUME_IGNORED)
        log.info("%s run directory %s", "resuming the" if resuming else "new", run_dir)
    accelerator.wait_for_everyone()

    graph = load_graph(config)
    if accelerator.is_main_process:
        _save_splits(run_dir / "splits.npz", graph)
    log.info(
        "%s: %d nodes, %d edges, %d features, %d %s; train %d / val %d / test %d nodes",
        config.dataset, graph.num_nodes, graph.num_edges, graph.num_features, graph.num_classes,
        "labels" if graph.multilabel else "classes",
        graph.train_mask.sum(), graph.val_mask.sum(), graph.test_mask.sum(),
    )  # fmt: skip

    seeds = list(range(config.first_seed, config.first_seed + config.seeds))
    per_seed = [fit_system(config, graph, system, seed, run_dir) for seed in seeds for system in config.systems]
    metrics = {}
    for system in config.systems:
        runs = [r["metrics"] for r in per_seed if r["system"] == system]
        names = [n for n in (*SCORE_NAMES, *COST_NAMES) if not (n == "test_micro_f1" and not graph.multilabel)]
        # Memory is missing for a seed resumed after its first epoch, so it is summarised over the seeds that have it.
        values = {name: [run[name] for run in runs if run[name] is not None] for name in names}
        metrics[system] = {name: summarize(found) for name, found in values.items() if found}

    results = {"data": describe(graph, config), "seeds": seeds, "per_seed": per_seed}
    if accelerator.is_main_process:
        plot_validation(per_seed, run_dir / "validation.png", metric=selection_metric(graph.multilabel))
        write_results(
            run_dir,
            metrics,
            provenance_record=provenance(
                data={config.dataset: graph.fingerprint},
                device=str(accelerator.device),
                precision=config.mixed_precision,
            ),
            **results,
        )
    accelerator.wait_for_everyone()
    return json.loads((run_dir / "results.json").read_text())


def plot_validation(per_seed: list[dict[str, Any]], path: Path, metric: str) -> None:
    """Plot the validation score per epoch of each system (first seed) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first_seed = per_seed[0]["seed"]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for result in per_seed:
        if result["seed"] != first_seed or not result["history"]:
            continue
        epochs = [record["epoch"] for record in result["history"]]
        scores = [record[f"val_{metric}"] for record in result["history"]]
        axis.plot(epochs, scores, label=result["system"].replace("_", "-"))
    axis.set_xlabel("epoch")
    axis.set_ylabel(f"validation {metric}")
    axis.set_title(f"seed {first_seed}")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=120)
    plt.close(figure)


def format_results(results: dict[str, Any]) -> str:
    """Return the table printed at the end of ``train``."""
    metrics = results["metrics"]
    seeds = len(results["seeds"])
    data = results["data"]
    # results.json has test_micro_f1 for multi-label data only, so single-label data shows its macro-F1.
    f1_name = "test_micro_f1" if data["multilabel"] else "test_macro_f1"
    f1_title = "test micro-F1" if data["multilabel"] else "test macro-F1"
    lines = [
        f"{data['dataset']} ({data['setting']}): {data['nodes']:,} nodes, test on {data['test_nodes']:,} nodes; "
        f"mean ± std over {seeds} seed(s)",
        f"{'system':12s} {'test acc':>16s} {f1_title:>16s} {'epoch s':>14s} {'peak MiB':>12s} {'train MiB':>12s}",
    ]
    for system, values in metrics.items():
        f1 = values[f1_name]
        cells = [
            f"{values['test_acc']['mean']:.4f} ± {values['test_acc']['std']:.4f}",
            f"{f1['mean']:.4f} ± {f1['std']:.4f}",
            f"{values['epoch_seconds']['mean']:.3f}",
            _mean_text(values, "peak_memory_mb"),
            _mean_text(values, "train_memory_mb"),
        ]
        lines.append(f"{system:12s} {cells[0]:>16s} {cells[1]:>16s} {cells[2]:>14s} {cells[3]:>12s} {cells[4]:>12s}")
    return "\n".join(lines)


def _mean_text(values: dict[str, Any], name: str) -> str:
    return f"{values[name]['mean']:.0f}" if name in values else "n/a"
