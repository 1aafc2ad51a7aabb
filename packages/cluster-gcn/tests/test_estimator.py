from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from paperzoo.cluster_gcn import ClusterGCN, ClusterGCNConfig
from paperzoo.cluster_gcn.estimator import training_graph
from paperzoo.cluster_gcn.synthetic import stochastic_block_model

FAST = ClusterGCNConfig(
    num_parts=8, parts_per_batch=2, layers=2, hidden=16, dropout=0.1, epochs=6, lr=0.02, feature_norm="standard"
)


@pytest.fixture(scope="module")
def graph():
    return stochastic_block_model(
        400, num_blocks=8, num_classes=4, num_features=16, average_degree=8, feature_signal=0.6, seed=0
    )


def test_cluster_gcn_learns_planted_classes(graph):
    fitted = ClusterGCN(FAST).fit(graph, seed=0, progress=False)
    scores = fitted.score(graph, "test")
    assert scores["acc"] > 0.6  # chance is 0.25
    assert fitted.partition_.num_parts == 8
    assert fitted.steps_per_epoch_ == 4
    assert fitted.predict(graph).shape == (graph.num_nodes,)


def test_full_batch_takes_one_step_per_epoch(graph):
    fitted = ClusterGCN(FAST).fit(graph, seed=0, full_batch=True, progress=False)
    assert fitted.steps_per_epoch_ == 1
    assert fitted.train_state_.step == FAST.epochs
    assert fitted.partition_.backend == "trivial"
    assert fitted.score(graph, "test")["acc"] > 0.5


def test_best_validation_epoch_is_kept(graph):
    fitted = ClusterGCN(FAST).fit(graph, seed=1, progress=False)
    history = {record["epoch"]: record["val_acc"] for record in fitted.history_}
    assert sorted(history) == list(range(1, FAST.epochs + 1))
    assert history[fitted.best_epoch_] == max(history.values())
    assert fitted.score(graph, "val")["acc"] == pytest.approx(max(history.values()))


def test_timing_and_memory_are_recorded(graph):
    fitted = ClusterGCN(FAST).fit(graph, seed=0, progress=False)
    assert fitted.epoch_seconds_ > 0
    assert fitted.memory_["peak_mb"] >= fitted.memory_["start_mb"]
    assert fitted.summary()["partition"]["parts"] == 8


def test_multilabel_uses_sigmoid_outputs():
    multi = stochastic_block_model(
        300, num_blocks=6, num_classes=5, num_features=12, multilabel=True, feature_signal=0.8, seed=3
    )
    fitted = ClusterGCN(FAST).fit(multi, seed=0, progress=False)
    assert fitted.model_.multilabel
    predictions = fitted.predict(multi)
    assert predictions.shape == (300, 5)
    assert set(np.unique(predictions)) <= {0, 1}
    assert "val_micro_f1" in fitted.history_[0]
    assert fitted.score(multi, "test")["micro_f1"] > 0.4


def test_inductive_partitions_training_nodes_only(graph):
    inductive = dataclasses.replace(FAST, setting="inductive")
    nodes, indptr, _ = training_graph(graph, "inductive", True)
    assert np.array_equal(nodes, graph.split_nodes("train"))
    assert len(indptr) == len(nodes) + 1
    fitted = ClusterGCN(inductive).fit(graph, seed=0, progress=False)
    assert fitted.partition_.num_nodes == int(graph.train_mask.sum())
    assert fitted.predict(graph).shape == (graph.num_nodes,)


def test_resume_reaches_identical_weights(graph, tmp_path):
    uninterrupted = ClusterGCN(FAST).fit(graph, seed=2, output_dir=tmp_path / "a", progress=False)
    first = ClusterGCN(dataclasses.replace(FAST, epochs=3)).fit(
        graph, seed=2, output_dir=tmp_path / "b", progress=False
    )
    assert first.train_state_.step == 12
    resumed = ClusterGCN(FAST).fit(graph, seed=2, output_dir=tmp_path / "b", progress=False)
    assert resumed.train_state_.step == 24
    for (name, a), (_, b) in zip(uninterrupted.model_.state_dict().items(), resumed.model_.state_dict().items()):
        assert torch.equal(a, b), name
    assert resumed.history_ == uninterrupted.history_


def test_graph_without_labels_is_rejected(graph):
    unlabelled = dataclasses.replace(graph, labels=None)
    with pytest.raises(ValueError, match="has no node labels"):
        ClusterGCN(FAST).fit(unlabelled, progress=False)


def test_graph_without_splits_is_rejected(graph):
    unsplit = dataclasses.replace(graph, val_mask=None)
    with pytest.raises(ValueError, match="complete_node_splits"):
        ClusterGCN(FAST).fit(unsplit, progress=False)


def test_more_parts_than_training_nodes(graph):
    too_many = dataclasses.replace(FAST, num_parts=300, setting="inductive")
    with pytest.raises(ValueError, match=r"num_parts=300 exceeds the 200 nodes of the inductive training graph"):
        ClusterGCN(too_many).fit(graph, progress=False)


def test_config_checks():
    with pytest.raises(ValueError, match="parts_per_batch=9 exceeds num_parts=8"):
        ClusterGCNConfig(num_parts=8, parts_per_batch=9)
    with pytest.raises(ValueError, match="num_parts must be at least 1"):
        ClusterGCNConfig(num_parts=0)
    with pytest.raises(ValueError, match="reference' only"):
        ClusterGCNConfig(layer_type="sage", precompute_first_layer=True)


@pytest.mark.parametrize("layer_type", ["reference", "gcn", "sage"])
def test_bf16_mixed_precision_trains(graph, layer_type):
    config = dataclasses.replace(FAST, layer_type=layer_type, mixed_precision="bf16")
    fitted = ClusterGCN(config).fit(graph, seed=0, progress=False)
    assert fitted.score(graph, "test")["acc"] > 0.5
