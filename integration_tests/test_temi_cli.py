"""The ``paperzoo temi`` command on real data with tiny budgets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn.datasets import load_digits

TINY = [
    *("--epochs", "2", "--min-steps", "0", "--num-heads", "2", "--batch-size", "128"),
    *("--kmeans-restarts", "2", "--knn-k", "10"),
]


def paperzoo(*args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        [sys.executable, "-m", "paperzoo.core.cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check:
        assert completed.returncode == 0, completed.stderr[-4000:]
    return completed


@pytest.fixture(scope="module")
def digits_features(tmp_path_factory):
    """Raw digit pixels as a feature file: real data without the cost of an encoder."""
    folder = tmp_path_factory.mktemp("features")
    digits = load_digits()
    np.save(folder / "pixels.npy", digits.data.astype(np.float32))
    np.save(folder / "labels.npy", digits.target.astype(np.int64))
    return folder


def test_help_lists_temi():
    assert "temi" in paperzoo("--help").stdout
    assert "--num-clusters" in paperzoo("temi", "fit", "--help").stdout


def test_fit_and_predict_on_digits_with_efficientnet(tmp_path):
    run = tmp_path / "run"
    completed = paperzoo("temi", "fit", "--dataset", "digits", "--seeds", "2", "--output-dir", str(run), *TINY)
    assert "temi" in completed.stdout
    assert "kmeans" in completed.stdout
    results = json.loads((run / "results.json").read_text())
    for system in ("temi", "kmeans"):
        for metric in ("acc", "nmi", "ari"):
            entry = results["metrics"][system][metric]
            assert 0.0 <= entry["mean"] <= 1.0
            assert len(entry["per_seed"]) == 2
    assert results["metrics"]["kmeans"]["acc"]["mean"] > 0.4
    assert results["data"]["evaluated_on"].startswith("digits/train")
    assert results["chosen"]["seed"] in (0, 1)
    assert results["provenance"]["packages"]["paperzoo-temi"]
    for name in (
        "config.yaml",
        "metrics.jsonl",
        "splits.json",
        "clusters.png",
        "model/config.json",
        "model/model.safetensors",
    ):
        assert (run / name).is_file(), name
    assert not (run / "seeds" / "seed-0" / "checkpoints").exists()

    output = tmp_path / "clusters.csv"
    predicted = paperzoo("temi", "predict", "--model", str(run), "--dataset", "digits", "--output", str(output))
    summary = json.loads(predicted.stdout)
    assert summary["rows"] == 1797
    assert sum(summary["cluster_sizes"]) == 1797
    lines = output.read_text().splitlines()
    assert lines[0] == "index,cluster,label"
    assert len(lines) == 1798

    rerun = paperzoo("temi", "fit", "--dataset", "digits", "--seeds", "2", "--output-dir", str(run), *TINY)
    assert "seed 0 already finished" in rerun.stderr


def test_fit_on_feature_files(tmp_path, digits_features):
    run = tmp_path / "run"
    features, labels = str(digits_features / "pixels.npy"), str(digits_features / "labels.npy")
    paperzoo("temi", "fit", "--features", features, "--labels", labels, "--output-dir", str(run), *TINY)
    results = json.loads((run / "results.json").read_text())
    assert results["num_clusters"] == 10
    assert results["data"]["encoder"] is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--dataset", "cifar11"], "unknown dataset 'cifar11'"),
        (["--encoder", "resnet9000"], "unknown encoder 'resnet9000'"),
        (["--num-clusters", "1"], "num_clusters must be at least 2"),
        (["--dataset", "bbc", "--encoder", "efficientnet_lite0"], "embeds image but dataset 'bbc' holds text"),
        (["--side", "de"], "--side applies to multidomain_de_en only"),
        (["--warmup-epochs", "-1"], "warmup_epochs must be 0 or more"),
        (["--checkpoint-every-epochs", "0"], "checkpoint_every_epochs must be positive"),
    ],
)
def test_bad_input_gives_one_clear_error(tmp_path, arguments, message):
    completed = paperzoo("temi", "fit", "--output-dir", str(tmp_path / "run"), *TINY, *arguments, check=False)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_nan_features_are_rejected(tmp_path, digits_features):
    pixels = np.load(digits_features / "pixels.npy")
    pixels[42, 3] = np.nan
    np.save(tmp_path / "bad.npy", pixels)
    completed = paperzoo(
        "temi",
        "fit",
        "--features",
        str(tmp_path / "bad.npy"),
        "--num-clusters",
        "10",
        "--output-dir",
        str(tmp_path / "run"),
        *TINY,
        check=False,
    )
    assert completed.returncode == 2
    assert "NaN or infinite" in completed.stderr
    assert "[42]" in completed.stderr


def test_fractional_labels_rejected_then_rerun(tmp_path, digits_features):
    np.save(tmp_path / "halves.npy", np.load(digits_features / "labels.npy") + 0.5)
    run = tmp_path / "run"
    features = ["--features", str(digits_features / "pixels.npy"), "--output-dir", str(run), *TINY]
    completed = paperzoo("temi", "fit", *features, "--labels", str(tmp_path / "halves.npy"), check=False)
    assert completed.returncode == 2
    assert "--labels must hold integer class ids" in completed.stderr
    # The failed command claimed the directory but trained nothing, so the corrected one may use it.
    completed = paperzoo("temi", "fit", *features, "--labels", str(digits_features / "labels.npy"))
    assert "stopped before training" in completed.stderr
    assert "fitting on pixels/features" in completed.stderr
    assert (run / "results.json").is_file()


def test_output_dir_of_another_run_is_refused(tmp_path, digits_features):
    run = tmp_path / "run"
    common = [
        "--features",
        str(digits_features / "pixels.npy"),
        "--labels",
        str(digits_features / "labels.npy"),
        "--output-dir",
        str(run),
    ]
    paperzoo("temi", "fit", *common, *TINY)
    completed = paperzoo("temi", "fit", *common, *TINY, "--lr", "0.001", check=False)
    assert completed.returncode == 2
    assert "holds another run" in completed.stderr
    assert "lr: saved" in completed.stderr
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    completed = paperzoo("temi", "fit", *common[:4], "--output-dir", str(tmp_path / "other"), *TINY, check=False)
    assert completed.returncode == 2
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep me"


def test_interrupted_fit_resumes(tmp_path, digits_features):
    run = tmp_path / "run"
    arguments = [
        sys.executable, "-m", "paperzoo.core.cli", "temi", "fit",
        "--features", str(digits_features / "pixels.npy"), "--labels", str(digits_features / "labels.npy"),
        "--output-dir", str(run), "--epochs", "150", "--num-heads", "2", "--batch-size", "64", "--knn-k", "10",
        "--kmeans-restarts", "2",
    ]  # fmt: skip
    process = subprocess.Popen(
        arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    checkpoints = run / "seeds" / "seed-0" / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and not (
        checkpoints.is_dir() and any(p.name.startswith("step-") for p in checkpoints.iterdir())
    ):
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.5)
    time.sleep(1.0)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (run / "results.json").exists()
    saved = sorted(p.name for p in checkpoints.iterdir() if p.name.startswith("step-"))
    assert saved

    resumed = subprocess.run(arguments, capture_output=True, text=True, timeout=900, check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr
    assert (run / "results.json").is_file()
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))
