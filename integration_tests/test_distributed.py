"""Two CPU processes under torchrun must train as one process on the joined batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("distributed_worker.py")
pytestmark = pytest.mark.distributed


def _run(mode: str, output: Path, batch_size: int, processes: int) -> dict:
    # Each run gets its own cache, so the second run cannot reuse the first one's embeddings.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PAPERZOO_CACHE": str(output / "cache")}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    if processes == 1:
        command = [sys.executable, str(WORKER), mode, str(output), str(batch_size)]
    else:
        command = [
            sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
            str(WORKER), mode, str(output), str(batch_size),
        ]  # fmt: skip
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads((output / "result.json").read_text())


def test_two_processes_equal_one_process_on_joined_batches(tmp_path):
    double = _run("linear", tmp_path / "two", batch_size=4, processes=2)
    single = _run("linear", tmp_path / "one", batch_size=8, processes=1)
    assert double["world_size"] == 2
    assert "MULTI_CPU" in double["distributed_type"]
    # The ranks saw different shards: rank 0 the first half of each joined batch, rank 1 the second.
    assert double["first_batches"] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert single["world_size"] == 1
    np.testing.assert_allclose(double["weight"], single["weight"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(double["bias"], single["bias"], rtol=1e-10, atol=1e-12)
    repeat = _run("linear", tmp_path / "repeat", batch_size=8, processes=1)
    assert repeat["weight"] == single["weight"]


def test_sharded_embedding_equals_single_process(tmp_path):
    double = _run("embed", tmp_path / "two", batch_size=32, processes=2)
    single = _run("embed", tmp_path / "one", batch_size=32, processes=1)
    assert double["world_size"] == 2
    np.testing.assert_allclose(double["embeddings"], single["embeddings"], rtol=1e-5, atol=1e-6)


def test_temi_two_processes_equal_one_process(tmp_path):
    double = _run("temi", tmp_path / "two", batch_size=32, processes=2)
    single = _run("temi", tmp_path / "one", batch_size=64, processes=1)
    assert double["world_size"] == 2
    assert double["steps"] == single["steps"] == 12
    np.testing.assert_allclose(double["prior"], single["prior"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(double["w1"], single["w1"], rtol=1e-4, atol=1e-6)
