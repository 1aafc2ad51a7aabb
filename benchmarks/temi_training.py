"""TEMI training throughput: the core's accelerate loop against a plain PyTorch loop.

Both train the same heads with the same loss, optimiser, schedule and EMA
teacher on the same neighbour pairs. Only the loop differs:
``TEMI.fit`` (core ``Trainer``: accelerate, metrics, checkpoints, progress)
against a bare ``for batch in loader`` loop. Runs alternate (core, plain,
core, plain, ...) in one process so that a change in machine load hits both.
Pairs/s counts anchor-neighbour pairs in the steady state (the first
``--skip`` steps are excluded).

Usage: uv run python benchmarks/temi_training.py [--features X.npy] [--steps 300] [--rounds 3]
Without --features, random 45,000 x 1280 vectors stand in for CIFAR-10
embeddings; the speed does not depend on the values.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from paperzoo.core.training import EMA, build_lr_scheduler
from paperzoo.temi import TEMI, TEMIConfig, TEMIHeads, TEMILoss
from paperzoo.temi.estimator import NeighbourPairs, _identity_collate


def core_loop(features: np.ndarray, neighbours: np.ndarray, config: TEMIConfig, skip: int) -> float:
    """Pairs/s of ``TEMI.fit``, from the elapsed times in its metrics log (one record every 50 steps)."""
    with tempfile.TemporaryDirectory() as folder:
        metrics = Path(folder) / "metrics.jsonl"
        TEMI(config).fit(
            features, neighbours, num_clusters=10, seed=0, output_dir=folder, metrics_path=metrics, progress=False
        )
        records = [json.loads(line) for line in metrics.read_text().splitlines()]
    first = next(r for r in records if r["step"] >= skip)
    last = records[-1]
    return (last["step"] - first["step"]) * config.batch_size / (last["elapsed_s"] - first["elapsed_s"])


def plain_loop(features: np.ndarray, neighbours: np.ndarray, config: TEMIConfig, skip: int, steps: int) -> float:
    """Pairs/s of a bare PyTorch loop doing the same work per step."""
    torch.manual_seed(0)
    x = torch.from_numpy(np.array(features, dtype=np.float32))
    student = TEMIHeads(x.shape[1], 10, config.num_heads, config.hidden_dim, config.bottleneck_dim)
    student.set_standardization(x.mean(dim=0), x.std(dim=0))
    teacher = copy.deepcopy(student)
    loss = TEMILoss(config.num_heads, 10, beta=config.beta, prior_momentum=config.prior_momentum)
    decay = [p for name, p in student.named_parameters() if name not in ("b1", "b2")]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": [student.b1, student.b2]}], lr=config.lr
    )
    scheduler = build_lr_scheduler(optimizer, total_steps=steps, warmup_steps=steps // 10, kind="cosine")
    ema = EMA(teacher, student, config.teacher_momentum)

    pairs = NeighbourPairs(x, neighbours, seed=0)
    loader = DataLoader(pairs, batch_size=config.batch_size, shuffle=True, drop_last=True, collate_fn=_identity_collate)

    step, started = 0, None
    while step < steps:
        for first, second in loader:
            both = torch.cat([first, second])
            student_logits = student(both)
            with torch.no_grad():
                teacher_logits = teacher(both)
            size = first.shape[0]
            value, _ = loss(
                student_logits[:, :size], student_logits[:, size:], teacher_logits[:, :size], teacher_logits[:, size:]
            )
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            scheduler.step()
            ema.update(step)
            float(value.detach())  # the core loop reads the loss every step for its metrics; so does this one
            step += 1
            if step == skip:
                started = time.perf_counter()
            if step >= steps:
                break
    return (steps - skip) * config.batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", help="a .npy embedding matrix (default: random 45,000 x 1280)")
    parser.add_argument("--steps", type=int, default=300, help="optimiser steps per run")
    parser.add_argument("--skip", type=int, default=50, help="warm-up steps left out of the timing")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each loop")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    features = (
        np.load(args.features, mmap_mode="r")
        if args.features
        else rng.standard_normal((45_000, 1280), dtype=np.float32)
    )
    neighbours = rng.integers(0, len(features), size=(len(features), 10))
    per_epoch = len(features) // args.batch_size
    config = TEMIConfig(
        num_heads=4, batch_size=args.batch_size, epochs=args.steps / per_epoch, lr=2e-4, warmup_epochs=0.1,
        schedule="cosine", teacher_momentum=0.9, knn_k=10, standardize=True, checkpoint_every_epochs=1000,
    )  # fmt: skip

    speeds: dict[str, list[float]] = {"core": [], "plain": []}
    for _ in range(args.rounds):
        speeds["core"].append(core_loop(features, neighbours, config, args.skip))
        speeds["plain"].append(plain_loop(features, neighbours, config, args.skip, args.steps))
    machine = platform.processor() or platform.machine()
    print(f"date {dt.date.today()}, {machine}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{len(features)} x {features.shape[1]} features, 4 heads, batch {args.batch_size}, {args.steps} steps/run")
    for name, values in speeds.items():
        runs = ", ".join(f"{value:.0f}" for value in values)
        print(f"{name:6s} median {statistics.median(values):8.0f} pairs/s  runs: {runs}")
    ratio = statistics.median(speeds["core"]) / statistics.median(speeds["plain"])
    print(f"core / plain = {ratio:.3f}")


if __name__ == "__main__":
    main()
