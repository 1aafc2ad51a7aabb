"""The ``paperzoo simclr`` commands on real data with tiny budgets, and SimCLR features feeding TEMI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from paperzoo.core.testing import requires_data

TINY = [
    "--max-train-rows", "600", "--max-steps", "3", "--batch-size", "64", "--width", "8",
    "--head-hidden-dim", "32", "--linear-max-iter", "30", "--linear-weight-decays", "0.0001",
    "--mixed-precision", "no", "--knn-k", "20",
]  # fmt: skip


def paperzoo(*args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        [sys.executable, "-m", "paperzoo.core.cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check:
        assert completed.returncode == 0, completed.stderr[-4000:]
    return completed


@pytest.fixture(scope="module")
def usps_run(tmp_path_factory):
    """One tiny pretraining run on USPS, shared by the tests that read it."""
    run = tmp_path_factory.mktemp("simclr") / "usps"
    paperzoo("simclr", "pretrain", "--dataset", "usps", "--crop-size", "14", "--output-dir", str(run), *TINY)
    return run


def test_help_lists_simclr():
    assert "simclr" in paperzoo("--help").stdout
    help_text = paperzoo("simclr", "pretrain", "--help").stdout
    assert "--temperature" in help_text
    assert "paper-imagenet" in help_text


@requires_data("usps/usps.h5")
def test_pretrain_writes_results_and_encoder(usps_run):
    results = json.loads((usps_run / "results.json").read_text())
    for system in ("simclr", "random_init", "pixels"):
        for metric in ("linear_acc", "knn_acc"):
            entry = results["metrics"][system][metric]
            assert 0.0 <= entry["mean"] <= 1.0
            assert entry["per_seed"] == [entry["mean"]]
    assert results["metrics"]["pixels"]["linear_acc"]["mean"] > 0.8
    assert results["data"]["evaluated_on"].startswith("usps/test")
    assert results["per_seed"][0]["steps"] == 3
    assert results["provenance"]["packages"]["paperzoo-simclr"]
    for name in ("config.yaml", "metrics.jsonl", "splits.json", "training.png", "encoder", "model"):
        assert (usps_run / name).exists(), name
    assert not (usps_run / "seeds" / "seed-0" / "checkpoints").exists()
    encoder = json.loads((usps_run / "encoder" / "paperzoo_encoder.json").read_text())
    assert encoder["input_size"] == 16  # views were cut at 14 pixels; the encoder reads whole images
    assert encoder["architecture"]["cifar_stem"] is True


@requires_data("usps/usps.h5")
def test_rerun_reuses_finished_run(usps_run):
    before = (usps_run / "encoder" / "model.safetensors").read_bytes()
    paperzoo("simclr", "pretrain", "--dataset", "usps", "--crop-size", "14", "--output-dir", str(usps_run), *TINY)
    assert (usps_run / "encoder" / "model.safetensors").read_bytes() == before


@requires_data("usps/usps.h5")
def test_rerun_with_other_config_is_rejected(usps_run):
    completed = paperzoo(
        "simclr", "pretrain", "--dataset", "usps", "--crop-size", "12", "--output-dir", str(usps_run), *TINY,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "crop_size" in completed.stderr


@requires_data("usps/usps.h5")
def test_evaluate_command_on_saved_run(usps_run, tmp_path):
    out = tmp_path / "eval"
    completed = paperzoo(
        "simclr", "evaluate", "--model", str(usps_run), "--dataset", "usps", "--protocol", "knn",
        "--baselines", "random_init", "--max-train-rows", "600", "--knn-k", "20", "--output-dir", str(out),
    )  # fmt: skip
    assert "simclr" in completed.stdout
    results = json.loads((out / "results.json").read_text())
    assert set(results["metrics"]) == {"simclr", "random_init"}
    assert set(results["metrics"]["simclr"]) == {"knn_acc"}
    pretrained = json.loads((usps_run / "results.json").read_text())["metrics"]["simclr"]["knn_acc"]["mean"]
    assert results["metrics"]["simclr"]["knn_acc"]["mean"] == pytest.approx(pretrained)


@requires_data("usps/usps.h5")
def test_temi_clusters_simclr_features(usps_run, tmp_path):
    # TEMI loads the encoder folder through the core alone; paperzoo-simclr is not imported for it.
    run = tmp_path / "temi"
    paperzoo(
        "temi", "fit", "--dataset", "usps", "--encoder", str(usps_run / "encoder"), "--epochs", "1", "--min-steps", "0",
        "--num-heads", "2", "--batch-size", "256", "--kmeans-restarts", "1", "--knn-k", "10",
        "--output-dir", str(run),
    )  # fmt: skip
    results = json.loads((run / "results.json").read_text())
    assert results["data"]["encoder"] == str(usps_run / "encoder")
    assert results["data"]["embedding_dim"] == 64
    assert 0.0 <= results["metrics"]["temi"]["acc"]["mean"] <= 1.0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--temperature", "0"], "temperature must be > 0"),
        (["--batch-size", "1"], "batch_size must be at least 2"),
        (["--crop-size", "40"], "larger than the 16x16 images"),
    ],
)
@requires_data("usps/usps.h5")
def test_bad_input_gives_clear_error(tmp_path, flags, message):
    completed = paperzoo(
        "simclr", "pretrain", "--dataset", "usps", "--max-train-rows", "600", "--max-steps", "1", "--width", "8",
        "--output-dir", str(tmp_path / "bad"), *flags, check=False,
    )  # fmt: skip
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert message in completed.stderr
