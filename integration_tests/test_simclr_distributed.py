"""NT-Xent with negatives gathered from 2 CPU processes equals one process on the joined batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("simclr_distributed_worker.py")
pytestmark = pytest.mark.distributed


def _run(output: Path, processes: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    if processes == 1:
        command = [sys.executable, str(WORKER), str(output)]
    else:
        command = [
            sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
            str(WORKER), str(output),
        ]  # fmt: skip
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads((output / "result.json").read_text())


def test_gathered_nt_xent_equals_single_process(tmp_path):
    double = _run(tmp_path / "two", processes=2)
    single = _run(tmp_path / "one", processes=1)
    assert double["world_size"] == 2
    assert single["world_size"] == 1
    assert double["loss"] == pytest.approx(single["loss"], rel=1e-10)
    # Data-parallel averaging of the projection's gradient gives the joined batch's gradient.
    np.testing.assert_allclose(double["weight_grad"], single["weight_grad"], rtol=1e-9, atol=1e-12)
    # Each process's input rows receive the gradient of every process's loss (summed), which is
    # world_size times their gradient under the joined batch's mean loss.
    np.testing.assert_allclose(np.array(double["input_grads"]) / 2, single["input_grads"], rtol=1e-9, atol=1e-12)
