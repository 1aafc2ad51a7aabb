from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import yaml

from paperzoo.core.files import atomic_directory, atomic_open, atomic_write_json, fingerprint_files
from paperzoo.core.runs import RunConflictError, prepare_run_dir, provenance, write_results


def test_atomic_open_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def write_then_fail():
        with atomic_open(target) as handle:
            handle.write("new")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_directory_gives_ordinary_modes(tmp_path):
    old_mask = os.umask(0o022)
    try:
        with atomic_directory(tmp_path / "model") as folder:
            (folder / "weights.bin").write_text("y")
            os.chmod(folder / "weights.bin", 0o600)  # as safetensors writes it
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "model" / "weights.bin").stat().st_mode) == 0o644


def test_atomic_directory_replaces_whole_folder(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "stale.bin").write_text("x")
    with atomic_directory(target) as folder:
        (folder / "weights.bin").write_text("y")
    assert sorted(p.name for p in target.iterdir()) == ["weights.bin"]

    def fill_then_fail():
        with atomic_directory(target) as folder:
            (folder / "half.bin").write_text("z")
            raise ValueError("interrupted")

    with pytest.raises(ValueError):
        fill_then_fail()
    assert sorted(p.name for p in target.iterdir()) == ["weights.bin"]


def test_fingerprint_follows_content(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"one")
    first = fingerprint_files([path])
    path.write_bytes(b"two")
    assert fingerprint_files([path]) != first


def test_run_dir_new_resume_and_conflict(tmp_path):
    run = tmp_path / "run"
    config = {"lr": 0.1, "dataset": "digits", "num_workers": 0}
    assert prepare_run_dir(run, config) is False
    assert yaml.safe_load((run / "config.yaml").read_text()) == config
    assert prepare_run_dir(run, config) is True
    assert prepare_run_dir(run, {**config, "num_workers": 4}, ignore=["num_workers"]) is True
    (run / "metrics.jsonl").write_text("{}\n")  # the run has started training
    with pytest.raises(RunConflictError, match=r"lr: saved 0\.1, now 0\.2"):
        prepare_run_dir(run, {**config, "lr": 0.2})


def test_run_that_stopped_before_training_is_taken_over(tmp_path):
    run = tmp_path / "run"
    prepare_run_dir(run, {"dataset": "cifar100"})  # then the command stopped on the unknown name
    (run / "splits.json").write_text("{}")
    assert prepare_run_dir(run, {"dataset": "usps"}) is False
    assert yaml.safe_load((run / "config.yaml").read_text()) == {"dataset": "usps"}
    assert not (run / "splits.json").exists()


def test_run_dir_file_or_broken_yaml(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(RunConflictError, match="is a file, not a directory"):
        prepare_run_dir(tmp_path / "afile", {"lr": 0.1})
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text("hello: [\n")
    with pytest.raises(RunConflictError, match="not valid YAML"):
        prepare_run_dir(broken, {"lr": 0.1})


def test_run_dir_rejects_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunConflictError, match="not a paperzoo run"):
        prepare_run_dir(tmp_path, {"lr": 0.1})


def test_results_schema(tmp_path):
    record = provenance(data={"digits/train": "abc"}, precision="fp32")
    assert "torch" in record["packages"]
    assert record["torch_threads"] >= 1
    write_results(tmp_path, {"temi": {"acc": {"mean": 0.5}}}, provenance_record=record, chosen={"seed": 0})
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["metrics"]["temi"]["acc"]["mean"] == 0.5
    assert saved["chosen"] == {"seed": 0}
    assert saved["provenance"]["data"] == {"digits/train": "abc"}


def test_atomic_json_handles_numpy(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"a": np.float32(1.5), "b": np.arange(3)})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1.5, "b": [0, 1, 2]}
