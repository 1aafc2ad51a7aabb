"""The core's own commands: datasets, encoders, embed."""

from __future__ import annotations

import subprocess
import sys

import numpy as np


def paperzoo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paperzoo.core.cli", *args], capture_output=True, text=True, timeout=600, check=False
    )


def test_datasets_and_encoders_are_listed():
    datasets = paperzoo("datasets")
    assert datasets.returncode == 0
    for name in ("digits", "cifar10", "multidomain_de_en", "bbc"):
        assert name in datasets.stdout
    encoders = paperzoo("encoders")
    assert "efficientnet_lite0" in encoders.stdout
    assert "timm:<...>" in encoders.stdout


def test_embed_writes_vectors_and_labels(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "sports.txt").write_text("the match ended in a draw\nshe won the final set\n")
    (corpus / "cooking.txt").write_text("simmer the sauce for ten minutes\n")
    output = tmp_path / "vectors.npy"
    completed = paperzoo(
        "embed", "--dataset", "text_lines", "--data-dir", str(corpus), "--encoder", "minilm", "--output", str(output)
    )
    assert completed.returncode == 0, completed.stderr
    assert "3 x 384" in completed.stdout
    vectors = np.load(output)
    assert vectors.shape == (3, 384)
    assert np.load(tmp_path / "vectors-labels.npy").tolist() == [0, 1, 1]


def test_missing_data_is_one_clear_error(tmp_path):
    completed = paperzoo("embed", "--dataset", "usps", "--data-dir", str(tmp_path), "--encoder", "minilm")
    assert completed.returncode == 2
    assert "usps.h5 not found in --data-dir" in completed.stderr
    assert "Traceback" not in completed.stderr
