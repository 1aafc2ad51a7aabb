"""The ``paperzoo cluster-gcn`` command on the real Planetoid graphs with tiny budgets."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
import torch

from paperzoo.core.cli import main
from paperzoo.core.testing import requires_data

CORA = requires_data(
    *(
        f"planetoid/Cora/raw/ind.cora.{suffix}"
        for suffix in ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
    )
)
CITESEER = requires_data("planetoid/CiteSeer/raw/ind.citeseer.x", "planetoid/CiteSeer/raw/ind.citeseer.graph")
TINY = ["--epochs", "4", "--hidden", "32"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Run torch on one thread: these graphs are small, and two threads on a shared 2-core machine are slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def paperzoo(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    # One torch thread: these graphs are small, and two threads on a shared 2-core machine are slower.
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    completed = subprocess.run(
        [sys.executable, "-m", "paperzoo.core.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=environment,
    )
    if check:
        assert completed.returncode == 0, completed.stderr[-4000:]
    return completed


def test_help_lists_cluster_gcn():
    assert "cluster-gcn" in paperzoo("--help").stdout
    help_text = paperzoo("cluster-gcn", "train", "--help").stdout
    for flag in ("--num-parts", "--parts-per-batch", "--layers", "--hidden", "--seeds", "--output-dir"):
        assert flag in help_text


@CORA
def test_cora_both_systems(tmp_path, capsys):
    run = tmp_path / "run"
    completed = paperzoo(
        "cluster-gcn", "train", "--dataset", "cora", "--num-parts", "32", "--parts-per-batch", "4",
        "--layers", "2", "--seeds", "2", "--output-dir", str(run), *TINY,
    )  # fmt: skip
    assert "cluster_gcn" in completed.stdout
    assert "full_batch" in completed.stdout
    results = json.loads((run / "results.json").read_text())
    for system in ("cluster_gcn", "full_batch"):
        metrics = results["metrics"][system]
        assert len(metrics["test_acc"]["per_seed"]) == 2
        assert 0.3 < metrics["test_acc"]["mean"] <= 1.0  # 7 classes: chance is about 0.14
        assert metrics["peak_memory_mb"]["mean"] > 0
        assert metrics["epoch_seconds"]["mean"] > 0
    assert results["data"]["nodes"] == 2708
    assert (results["data"]["train_nodes"], results["data"]["val_nodes"], results["data"]["test_nodes"]) == (
        140,
        500,
        1000,
    )
    partition = results["per_seed"][0]["partition"]
    assert (partition["parts"], partition["backend"]) == (32, "pymetis")
    assert results["provenance"]["packages"]["paperzoo-cluster-gcn"]
    for name in ("config.yaml", "metrics.jsonl", "splits.npz", "validation.png"):
        assert (run / name).exists(), name
    assert (run / "seeds" / "seed-1" / "cluster_gcn" / "model" / "model.safetensors").exists()

    assert main(["cluster-gcn", "predict", "--model", str(run), "--dataset", "cora"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["nodes"] == 2708
    assert summary["test_scores"]["acc"] > 0.3


# The remaining cases run the command in this process: each new process pays seconds of imports.


@CORA
def test_cora_rerun_reuses_finished_seeds(tmp_path, caplog):
    arguments = ["cluster-gcn", "train", "--dataset", "cora", "--num-parts", "16", "--output-dir", str(tmp_path), *TINY]
    assert main(["-q", *arguments]) == 0
    first = json.loads((tmp_path / "results.json").read_text())
    with caplog.at_level(logging.INFO, logger="paperzoo"):
        assert main(arguments) == 0
    assert "already finished" in caplog.text
    assert json.loads((tmp_path / "results.json").read_text())["metrics"] == first["metrics"]


@CITESEER
def test_citeseer_with_isolated_nodes(tmp_path):
    status = main([
        "-q", "cluster-gcn", "train", "--dataset", "citeseer", "--num-parts", "40", "--parts-per-batch", "5",
        "--systems", "cluster_gcn", "--output-dir", str(tmp_path), *TINY,
    ])  # fmt: skip
    assert status == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["data"]["nodes"] == 3327
    assert results["per_seed"][0]["partition"]["parts"] == 40
    assert results["metrics"]["cluster_gcn"]["test_acc"]["mean"] > 0.3


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(
            ["--dataset", "cora", "--num-parts", "5000"], "num_parts=5000 exceeds the 2,708 nodes", marks=CORA
        ),
        pytest.param(
            ["--dataset", "cora", "--setting", "inductive", "--num-parts", "141"],
            "exceeds the 140 nodes of the inductive training graph",
            marks=CORA,
        ),
        (["--dataset", "pubmed"], "unknown dataset 'pubmed'"),
        (["--dataset", "cora", "--num-parts", "0"], "num_parts must be at least 1"),
    ],
)
def test_bad_input_gives_one_error(arguments, message, tmp_path, capsys):
    assert main(["cluster-gcn", "train", *arguments, "--output-dir", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err


def test_missing_raw_file(tmp_path, capsys, monkeypatch):
    raw = tmp_path / "data" / "planetoid" / "Cora" / "raw"
    raw.mkdir(parents=True)
    (raw / "ind.cora.x").write_bytes(b"")
    monkeypatch.setenv("PAPERZOO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("PAPERZOO_OFFLINE", "1")
    assert main(["cluster-gcn", "train", "--dataset", "cora", "--output-dir", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert "ind.cora.graph" in error
    assert "kimiyoung/planetoid" in error


def test_dataset_without_labels(tmp_path, capsys):
    torch.save({"x": torch.ones(10, 3), "edge_index": torch.tensor([[0, 1], [1, 2]])}, tmp_path / "nolabels.pt")
    arguments = [
        "cluster-gcn",
        "train",
        "--dataset",
        str(tmp_path / "nolabels.pt"),
        "--output-dir",
        str(tmp_path / "r"),
    ]
    assert main(arguments) == 2
    assert "has no node labels" in capsys.readouterr().err
