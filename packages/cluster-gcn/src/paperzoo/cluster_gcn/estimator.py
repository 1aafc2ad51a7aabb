"""Train a node classifier with Cluster-GCN or full-batch gradient descent: the Python API.

>>> from paperzoo.core.data import load_dataset
>>> from paperzoo.cluster_gcn import ClusterGCN, ClusterGCNConfig
>>> cora = load_dataset("cora")
>>> fitted = ClusterGCN(ClusterGCNConfig(num_parts=32, parts_per_batch=4)).fit(cora, seed=0)
>>> fitted.score(cora, "test")["acc"]

Both systems run the same model, loss, optimiser and training loop (the
core :class:`~paperzoo.core.training.Trainer`, with checkpoints and resume).
The only difference is the batches: Cluster-GCN draws unions of
``parts_per_batch`` METIS clusters, full-batch uses the whole training graph
as one batch, one step per epoch.
"""

from __future__ import annotations

import copy
import logging
import math
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from paperzoo.cluster_gcn.batching import ClusterCollate, InducedSubgraphs, cluster_loader
from paperzoo.cluster_gcn.config import ClusterGCNConfig
from paperzoo.cluster_gcn.inference import layerwise_inference, model_adjacency, model_features, predict_logits
from paperzoo.cluster_gcn.model import ClusterGCNModel
from paperzoo.cluster_gcn.normalize import csr_to_coo, graph_csr
from paperzoo.cluster_gcn.partition import Partition, partition_graph
from paperzoo.core.data import GraphDataset
from paperzoo.core.memory import MemoryMeter
from paperzoo.core.metrics.classification import classification_scores
from paperzoo.core.training import TrainConfig, Trainer, make_accelerator, seed_everything

log = logging.getLogger(__name__)


def predictions_from_logits(logits: torch.Tensor, multilabel: bool) -> np.ndarray:
    """Return class ids (argmax) or 0/1 indicators (logit > 0, i.e. sigmoid > 0.5)."""
    if multilabel:
        return (logits > 0).to(torch.uint8).numpy()
    return logits.argmax(dim=1).numpy()


def node_scores(logits: torch.Tensor, graph: GraphDataset, nodes: np.ndarray) -> dict[str, float]:
    """Return accuracy, micro- and macro-F1 of ``logits`` on ``nodes`` of ``graph``."""
    predictions = predictions_from_logits(logits[torch.from_numpy(nodes)], graph.multilabel)
    labels = graph.labels[nodes]
    return classification_scores(labels, predictions, None if graph.multilabel else graph.num_classes)


def selection_metric(multilabel: bool) -> str:
    """Return the validation metric that picks the epoch: micro-F1 for multi-label data, else accuracy."""
    return "micro_f1" if multilabel else "acc"


class SelectionState:
    """Validation history, the best weights so far, training time and memory (saved in checkpoints)."""

    def __init__(self) -> None:
        self.best_score = -math.inf
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, float]] = []
        self.train_seconds = 0.0
        self.memory: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "best_state": self.best_state,
            "history": self.history,
            "train_seconds": self.train_seconds,
            "memory": self.memory,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def training_graph(
    graph: GraphDataset, setting: str, to_undirected: bool
) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """Return ``(nodes, indptr, indices)``: the node ids and CSR structure of the graph the model trains on.

    Transductive: the whole graph. Inductive: the subgraph induced by the
    training nodes, so validation and test nodes and their edges stay unseen.
    """
    if setting == "transductive":
        indptr, indices = graph_csr(graph.edge_index, graph.num_nodes, to_undirected=to_undirected)
        return np.arange(graph.num_nodes), indptr, indices
    nodes = graph.split_nodes("train")
    position = np.full(graph.num_nodes, -1, dtype=np.int64)
    position[nodes] = np.arange(len(nodes))
    sources, targets = position[graph.edge_index[0]], position[graph.edge_index[1]]
    keep = (sources >= 0) & (targets >= 0)
    indptr, indices = graph_csr(np.stack([sources[keep], targets[keep]]), len(nodes), to_undirected=to_undirected)
    return nodes, indptr, indices


def _targets(graph: GraphDataset, nodes: np.ndarray) -> torch.Tensor:
    labels = torch.from_numpy(np.ascontiguousarray(graph.labels[nodes]))
    return labels.float() if graph.multilabel else labels.long()


def _masked_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, multilabel: bool) -> torch.Tensor:
    if not bool(mask.any()):
        return logits.sum() * 0.0  # a batch without training nodes: no gradient, but a valid graph for backward
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits[mask].float(), targets[mask])
    return F.cross_entropy(logits[mask].float(), targets[mask])


class ClusterGCN:
    """A GCN node classifier trained with Cluster-GCN (or full-batch, for comparison).

    ``__init__`` stores the recipe only; :meth:`fit` sets the learned state:

    Attributes:
        model_: the trained :class:`ClusterGCNModel` (weights of the selected epoch).
        partition_: the METIS clusters of the training graph.
        history_: one record per validated epoch (``epoch``, ``val_<metric>``).
        best_epoch_: the epoch whose weights were kept.
        epoch_seconds_: mean wall time of a training epoch (validation excluded).
        memory_: peak memory of the first training epoch (see
            :class:`~paperzoo.core.memory.MemoryReading`), or ``None`` when a
            resumed run started after it.
        steps_per_epoch_: optimiser steps per epoch.

    Args:
        config: the recipe; keyword overrides replace single fields.
    """

    def __init__(self, config: ClusterGCNConfig | None = None, **overrides: Any):
        self.config = replace(config or ClusterGCNConfig(), **overrides)

    def fit(
        self,
        graph: GraphDataset,
        *,
        seed: int = 0,
        full_batch: bool = False,
        output_dir: str | Path | None = None,
        accelerator: Any | None = None,
        metrics_path: str | Path | None = None,
        metrics_tags: dict[str, Any] | None = None,
        progress: bool = True,
    ) -> ClusterGCN:
        """Train on ``graph``'s training nodes, picking the epoch on its validation nodes.

        Args:
            graph: a labelled graph with train/val/test masks (see
                :func:`paperzoo.core.data.complete_node_splits`).
            seed: seeds initialisation, dropout, METIS and cluster sampling.
            full_batch: train on the whole training graph, one step per epoch.
            output_dir: checkpoints go to ``output_dir/checkpoints``, and a
                rerun resumes from them; ``None`` uses a temporary folder.
            accelerator: from :func:`~paperzoo.core.training.make_accelerator`.
            metrics_path, metrics_tags: where training records go, and the
                fields added to each.
            progress: show a progress bar.

        Raises:
            ValueError: unlabelled graph, missing splits, or ``num_parts``
                larger than the training graph.
        """
        if output_dir is None:
            with tempfile.TemporaryDirectory(prefix="cluster-gcn-") as folder:
                return self.fit(
                    graph, seed=seed, full_batch=full_batch, output_dir=folder, accelerator=accelerator,
                    metrics_path=metrics_path, metrics_tags=metrics_tags, progress=progress,
                )  # fmt: skip
        config = self.config
        _check_graph(graph)
        accelerator = accelerator or make_accelerator(mixed_precision=config.mixed_precision)
        seed_everything(seed)

        nodes, indptr, indices = training_graph(graph, config.setting, config.to_undirected)
        if not full_batch and config.num_parts > len(nodes):
            raise ValueError(
                f"num_parts={config.num_parts} exceeds the {len(nodes):,} nodes of the {config.setting} training "
                f"graph of {graph.name!r}; choose at most {len(nodes)}"
            )
        model = ClusterGCNModel(
            graph.num_features, config.hidden, graph.num_classes, config.layers, config.layer_type, config.dropout,
            config.layer_norm, config.precompute_first_layer, graph.multilabel, config.feature_norm,
            config.diag_lambda, config.to_undirected,
        )  # fmt: skip
        x_raw = torch.from_numpy(graph.x)
        model.fit_feature_norm(x_raw[torch.from_numpy(graph.split_nodes("train"))])
        x_train = model_features(model, x_raw[torch.from_numpy(nodes)], indptr, indices)
        loss_mask = torch.from_numpy(graph.train_mask[nodes])
        self.partition_ = self._partition(indptr, indices, len(nodes), seed, full_batch)
        collate = ClusterCollate(
            self.partition_, InducedSubgraphs(indptr, indices), x_train, _targets(graph, nodes), loss_mask,
            model.adjacency_kind, config.diag_lambda,
        )  # fmt: skip
        parts_per_batch = self.partition_.num_parts if full_batch else config.parts_per_batch
        loader = cluster_loader(collate, parts_per_batch, seed=seed)
        steps_per_epoch = math.ceil(math.ceil(self.partition_.num_parts / parts_per_batch) / accelerator.num_processes)

        eval_indptr, eval_indices = (
            (indptr, indices)
            if config.setting == "transductive"
            else graph_csr(graph.edge_index, graph.num_nodes, to_undirected=config.to_undirected)
        )
        # Evaluation inputs depend only on the graph and the fixed feature preprocessing: built once.
        if config.setting == "transductive":
            x_eval = x_train
        else:
            x_eval = model_features(model, x_raw, eval_indptr, eval_indices)
        eval_adjacency = model_adjacency(model, eval_indptr, eval_indices, config.diag_lambda)
        selection = SelectionState()
        metric = selection_metric(graph.multilabel)
        val_nodes = graph.split_nodes("val")
        meter = MemoryMeter(str(accelerator.device) if accelerator.device.type == "cuda" else "cpu")
        clock = {"mark": 0.0}

        def evaluate_val(unwrapped: ClusterGCNModel) -> float:
            logits = layerwise_inference(
                unwrapped, x_eval, eval_adjacency, chunk_size=config.inference_chunk_size, device=accelerator.device
            )
            unwrapped.train()
            return node_scores(logits, graph, val_nodes)[metric]

        def after_step(state) -> dict[str, float] | None:
            if state.step % steps_per_epoch:
                return None
            now = time.perf_counter()
            selection.train_seconds += now - clock["mark"]
            epoch = state.step // steps_per_epoch
            if epoch == 1 and selection.memory is None:
                selection.memory = meter.stop().as_dict()
            last = epoch == config.epochs
            if epoch % config.eval_every and not last:
                clock["mark"] = time.perf_counter()
                return None
            unwrapped = trainer.unwrapped_model
            score = evaluate_val(unwrapped)
            selection.history.append({"epoch": epoch, f"val_{metric}": score})
            if score > selection.best_score:
                selection.best_score, selection.best_epoch = score, epoch
                selection.best_state = {k: v.detach().cpu().clone() for k, v in unwrapped.state_dict().items()}
            clock["mark"] = time.perf_counter()
            return {f"val_{metric}": score}

        optimizer = torch.optim.Adam(_parameter_groups(model, config), lr=config.lr)
        checkpoint_steps = config.checkpoint_every_epochs * steps_per_epoch
        trainer = Trainer(
            model=model,
            optimizer=optimizer,
            train_loader=loader,
            loss_fn=lambda net, batch, state: _masked_loss(
                net(batch.x, batch.adjacency), batch.y, batch.loss_mask, graph.multilabel
            ),
            config=TrainConfig(
                max_steps=config.epochs * steps_per_epoch,
                log_every=steps_per_epoch,
                checkpoint_every=checkpoint_steps,
                progress=progress,
            ),
            output_dir=output_dir,
            accelerator=accelerator,
            after_step=after_step,
            extra_state=[selection],
            metrics_path=metrics_path,
            metrics_tags=metrics_tags,
        )
        if len(trainer.train_loader) != steps_per_epoch:
            raise RuntimeError(
                f"expected {steps_per_epoch} batches per epoch, the loader yields {len(trainer.train_loader)}"
            )
        meter.start()
        clock["mark"] = time.perf_counter()
        self.train_state_ = trainer.fit()

        model = copy.deepcopy(trainer.unwrapped_model)
        if config.selection == "best_val" and selection.best_state is not None:
            model.load_state_dict(selection.best_state)
        else:
            selection.best_epoch = self.train_state_.step // steps_per_epoch
        self.model_ = model.eval()
        self.history_ = selection.history
        self.best_epoch_ = selection.best_epoch
        self.epoch_seconds_ = selection.train_seconds / max(1, self.train_state_.step // steps_per_epoch)
        self.memory_ = selection.memory
        self.steps_per_epoch_ = steps_per_epoch
        self.device_ = accelerator.device
        return self

    def _partition(
        self, indptr: torch.Tensor, indices: torch.Tensor, num_nodes: int, seed: int, full_batch: bool
    ) -> Partition:
        if full_batch:
            return Partition.from_assignment(np.zeros(num_nodes, np.int64), backend="trivial", requested_parts=1)
        rows, cols = csr_to_coo(indptr, indices)
        edge_index = torch.stack([cols, rows]).numpy()
        return partition_graph(
            edge_index, num_nodes, self.config.num_parts, seed=seed, backend=self.config.partition_backend
        )

    def predict_logits(self, graph: GraphDataset) -> torch.Tensor:
        """Return ``(N, C)`` logits for every node of ``graph`` (full graph, layer-wise)."""
        return predict_logits(
            self.model_, graph, chunk_size=self.config.inference_chunk_size, device=getattr(self, "device_", "cpu")
        )

    def predict(self, graph: GraphDataset) -> np.ndarray:
        """Return class ids ``(N,)``, or ``(N, C)`` 0/1 indicators for multi-label graphs."""
        return predictions_from_logits(self.predict_logits(graph), graph.multilabel)

    def score(self, graph: GraphDataset, split: str = "test") -> dict[str, float]:
        """Return ``{"acc", "micro_f1", "macro_f1"}`` on the ``split`` nodes of ``graph``."""
        return node_scores(self.predict_logits(graph), graph, graph.split_nodes(split))

    def summary(self) -> dict[str, Any]:
        """Return the fitted run's bookkeeping (partition, timing, memory, selected epoch)."""
        return {
            "best_epoch": self.best_epoch_,
            "epoch_seconds": self.epoch_seconds_,
            "steps_per_epoch": self.steps_per_epoch_,
            "memory": self.memory_,
            "partition": {
                "backend": self.partition_.backend,
                "parts": self.partition_.num_parts,
                "requested_parts": self.partition_.requested_parts,
                "seconds": self.partition_.seconds,
                "min_size": int(self.partition_.sizes.min()),
                "max_size": int(self.partition_.sizes.max()),
            },
            "recipe": asdict(self.config),
        }


def _check_graph(graph: GraphDataset) -> None:
    if graph.labels is None:
        raise ValueError(
            f"dataset {graph.name!r} has no node labels; Cluster-GCN trains a node classifier "
            "and needs labels ('y') in the graph"
        )
    if not graph.has_splits:
        raise ValueError(
            f"dataset {graph.name!r} has no train/val/test masks; call paperzoo.core.data.complete_node_splits first"
        )


def _parameter_groups(model: ClusterGCNModel, config: ClusterGCNConfig) -> list[dict[str, Any]]:
    if config.weight_decay_layers == "all":
        return [{"params": list(model.parameters()), "weight_decay": config.weight_decay}]
    first = list(model.layers[0].parameters())
    first_ids = {id(p) for p in first}
    rest = [p for p in model.parameters() if id(p) not in first_ids]
    return [{"params": first, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
