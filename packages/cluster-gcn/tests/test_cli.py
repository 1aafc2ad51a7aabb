from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from paperzoo.cluster_gcn.config import PRESETS, TrainCommandConfig
from paperzoo.cluster_gcn.synthetic import stochastic_block_model
from paperzoo.core.cli import build_parser, main
from paperzoo.core.config import build_config


def _save_graph(path, labels: bool = True, num_nodes: int = 120):
    graph = stochastic_block_model(num_nodes, num_blocks=4, num_classes=3, num_features=8, seed=0)
    data = {
        "x": torch.from_numpy(graph.x),
        "edge_index": torch.from_numpy(graph.edge_index),
        "train_mask": torch.from_numpy(graph.train_mask),
        "val_mask": torch.from_numpy(graph.val_mask),
        "test_mask": torch.from_numpy(graph.test_mask),
    }
    if labels:
        data["y"] = torch.from_numpy(graph.labels)
    torch.save(data, path)
    return path


def test_help_lists_the_method():
    text = build_parser().format_help()
    assert "cluster-gcn" in text


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_builds(preset):
    config = build_config(TrainCommandConfig, {"preset": preset}, PRESETS)
    assert config.preset == preset
    assert config.parts_per_batch <= config.num_parts


def test_paper_preset_follows_the_reference():
    config = build_config(TrainCommandConfig, {"preset": "paper"}, PRESETS)
    assert (config.dataset, config.num_parts, config.parts_per_batch) == ("ppi", 50, 1)
    assert (config.layers, config.hidden, config.diag_lambda) == (5, 2048, 1.0)
    assert config.setting == "inductive"
    reddit = build_config(TrainCommandConfig, {"preset": "paper-reddit"}, PRESETS)
    assert (reddit.num_parts, reddit.parts_per_batch, reddit.lr, reddit.diag_lambda) == (1500, 20, 0.005, 1e-4)


def test_train_on_graph_file(tmp_path, capsys):
    graph_path = _save_graph(tmp_path / "toy.pt")
    status = main([
        "-q", "cluster-gcn", "train", "--dataset", str(graph_path), "--num-parts", "6", "--parts-per-batch", "2",
        "--epochs", "3", "--hidden", "8", "--seeds", "2", "--output-dir", str(tmp_path / "run"),
    ])  # fmt: skip
    assert status == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    for system in ("cluster_gcn", "full_batch"):
        assert len(results["metrics"][system]["test_acc"]["per_seed"]) == 2
        assert 0.0 <= results["metrics"][system]["test_acc"]["mean"] <= 1.0
        assert results["metrics"][system]["epoch_seconds"]["mean"] > 0
        assert results["metrics"][system]["peak_memory_mb"]["mean"] > 0
    assert "test_micro_f1" not in results["metrics"]["cluster_gcn"]
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert (saved["preset"], saved["layer_type"]) == ("cpu-small", "gcn")  # the defaults --help shows
    assert (tmp_path / "run" / "validation.png").stat().st_size > 0
    assert "cluster_gcn" in capsys.readouterr().out


def test_train_writes_micro_f1_for_multilabel(tmp_path):
    graph = stochastic_block_model(100, num_blocks=4, num_classes=4, num_features=6, multilabel=True, seed=1)
    torch.save(graph.to_pyg(), tmp_path / "multi.pt")
    status = main([
        "-q", "cluster-gcn", "train", "--dataset", str(tmp_path / "multi.pt"), "--num-parts", "4",
        "--parts-per-batch", "2", "--epochs", "2", "--hidden", "8", "--systems", "cluster_gcn",
        "--output-dir", str(tmp_path / "run"),
    ])  # fmt: skip
    assert status == 0
    metrics = json.loads((tmp_path / "run" / "results.json").read_text())["metrics"]
    assert list(metrics) == ["cluster_gcn"]
    assert 0.0 <= metrics["cluster_gcn"]["test_micro_f1"]["mean"] <= 1.0


def test_rerun_resumes_finished_seeds(tmp_path):
    graph_path = _save_graph(tmp_path / "toy.pt")
    arguments = [
        "-q", "cluster-gcn", "train", "--dataset", str(graph_path), "--num-parts", "4", "--epochs", "2",
        "--hidden", "8", "--output-dir", str(tmp_path / "run"),
    ]  # fmt: skip
    assert main(arguments) == 0
    first = json.loads((tmp_path / "run" / "results.json").read_text())
    assert main(arguments) == 0
    again = json.loads((tmp_path / "run" / "results.json").read_text())
    assert again["metrics"]["cluster_gcn"]["test_acc"] == first["metrics"]["cluster_gcn"]["test_acc"]


def test_changed_recipe_in_same_directory(tmp_path, capsys):
    graph_path = _save_graph(tmp_path / "toy.pt")
    common = ["-q", "cluster-gcn", "train", "--dataset", str(graph_path), "--epochs", "1", "--hidden", "8"]
    assert main([*common, "--num-parts", "4", "--output-dir", str(tmp_path / "run")]) == 0
    assert main([*common, "--num-parts", "5", "--output-dir", str(tmp_path / "run")]) == 2
    assert "config differs" in capsys.readouterr().err


def test_predict_on_run_directory(tmp_path, capsys):
    graph_path = _save_graph(tmp_path / "toy.pt")
    assert main([
        "-q", "cluster-gcn", "train", "--dataset", str(graph_path), "--num-parts", "4", "--epochs", "2",
        "--hidden", "8", "--seeds", "2", "--output-dir", str(tmp_path / "run"),
    ]) == 0  # fmt: skip
    capsys.readouterr()
    output = tmp_path / "predictions.csv"
    status = main([
        "cluster-gcn", "predict", "--model", str(tmp_path / "run"), "--dataset", str(graph_path),
        "--output", str(output),
    ])  # fmt: skip
    assert status == 0
    captured = capsys.readouterr()
    assert status == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["nodes"] == 120
    assert 0.0 <= summary["test_scores"]["acc"] <= 1.0
    lines = output.read_text().splitlines()
    assert lines[0] == "node,prediction"
    assert len(lines) == 121


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--dataset", "cora2"], "unknown dataset 'cora2'"),
        (["--dataset", "digits"], "contains image data; Cluster-GCN needs a graph"),
        (["--num-parts", "0"], "num_parts must be at least 1"),
        (["--num-parts", "4", "--parts-per-batch", "5"], "parts_per_batch=5 exceeds num_parts=4"),
    ],
)
def test_bad_options_give_one_clear_error(arguments, message, capsys, tmp_path):
    status = main(["cluster-gcn", "train", *arguments, "--output-dir", str(tmp_path / "run")])
    assert status == 2
    assert message in capsys.readouterr().err


def test_more_parts_than_nodes(tmp_path, capsys):
    graph_path = _save_graph(tmp_path / "toy.pt", num_nodes=40)
    status = main([
        "cluster-gcn", "train", "--dataset", str(graph_path), "--num-parts", "50",
        "--output-dir", str(tmp_path / "run"),
    ])  # fmt: skip
    assert status == 2
    assert "num_parts=50 exceeds the 40 nodes" in capsys.readouterr().err


def test_graph_without_labels(tmp_path, capsys):
    graph_path = _save_graph(tmp_path / "unlabelled.pt", labels=False)
    status = main(["cluster-gcn", "train", "--dataset", str(graph_path), "--output-dir", str(tmp_path / "run")])
    assert status == 2
    assert "has no node labels" in capsys.readouterr().err


def test_missing_raw_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PAPERZOO_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("PAPERZOO_OFFLINE", "1")
    status = main(["cluster-gcn", "train", "--dataset", "citeseer", "--output-dir", str(tmp_path / "run")])
    assert status == 2
    error = capsys.readouterr().err
    assert "ind.citeseer.x" in error
    assert "offline" in error


def test_split_is_saved_with_the_run(tmp_path):
    graph_path = _save_graph(tmp_path / "toy.pt")
    main([
        "-q", "cluster-gcn", "train", "--dataset", str(graph_path), "--num-parts", "4", "--epochs", "1",
        "--hidden", "8", "--systems", "full_batch", "--output-dir", str(tmp_path / "run"),
    ])  # fmt: skip
    with np.load(tmp_path / "run" / "splits.npz") as splits:
        assert set(splits.files) == {"train", "val", "test"}
        assert len(splits["train"]) + len(splits["val"]) + len(splits["test"]) == 120


def test_each_fit_gets_a_fresh_accelerator(tmp_path, monkeypatch):
    from paperzoo.cluster_gcn.estimator import ClusterGCN

    seen = []
    original = ClusterGCN.fit

    def recording_fit(self, graph, **kwargs):
        seen.append(kwargs["accelerator"])
        return original(self, graph, **kwargs)

    monkeypatch.setattr(ClusterGCN, "fit", recording_fit)
    graph_path = _save_graph(tmp_path / "toy.pt")
    assert main([
        "-q", "cluster-gcn", "train", "--dataset", str(graph_path), "--num-parts", "4", "--epochs", "1",
        "--hidden", "8", "--seeds", "2", "--output-dir", str(tmp_path / "run"),
    ]) == 0  # fmt: skip
    assert len(seen) == 4
    assert len({id(accelerator) for accelerator in seen}) == 4
    assert all(len(accelerator._custom_objects) == 2 for accelerator in seen)


def test_train_help_shows_preset_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["cluster-gcn", "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 32, from preset cpu-small)" in text
    assert "(default: gcn, from preset cpu-small)" in text
    assert "recipe (shared by Cluster-GCN and the full-batch baseline):" in text
    assert "data, systems and run:" in text
    assert "Config options" not in text


def test_unknown_dataset_lists_graph_datasets(tmp_path, capsys):
    status = main(["cluster-gcn", "train", "--dataset", "corra", "--output-dir", str(tmp_path / "run")])
    assert status == 2
    message = capsys.readouterr().err
    assert "unknown dataset 'corra'; graph datasets: citeseer, cora" in message
    assert "digits" not in message
    assert "graph_file" not in message


def test_table_shows_macro_f1_for_single_label():
    from paperzoo.cluster_gcn.pipeline import format_results

    score = {"mean": 0.5, "std": 0.0}
    values = {"test_acc": {"mean": 0.8, "std": 0.0}, "test_macro_f1": score, "epoch_seconds": {"mean": 0.1}}
    data = {"dataset": "cora", "setting": "transductive", "nodes": 10, "test_nodes": 5, "multilabel": False}
    text = format_results({"metrics": {"cluster_gcn": values}, "seeds": [0], "data": data})
    assert "test macro-F1" in text
    assert "micro" not in text
    assert "0.5000 ± 0.0000" in text
