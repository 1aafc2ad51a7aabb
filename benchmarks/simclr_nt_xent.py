"""NT-Xent forward + backward time: paperzoo's loss against lightly's NTXentLoss, plus correctness.

Usage: python benchmarks/simclr_nt_xent.py [--repeats R]

For N = 256, 1024 and 4096 image pairs of 128-d projections (float32), the
two losses run alternately in one process, R times each after a warm-up, and
the median wall time of forward + backward is printed with the ratio. Both
values are checked against each other, and on a 48-pair slice against a
slow loop written from the paper's algorithm.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from paperzoo.core.losses import nt_xent_loss


def loop_reference(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float) -> float:
    views = torch.nn.functional.normalize(torch.stack([z_a, z_b], dim=1).reshape(-1, z_a.shape[1]).double(), dim=1)
    total = 0.0
    for i in range(len(views)):
        j = i + 1 if i % 2 == 0 else i - 1
        scores = [math.exp(float(views[i] @ views[k]) / temperature) for k in range(len(views)) if k != i]
        total -= math.log(math.exp(float(views[i] @ views[j]) / temperature) / sum(scores))
    return total / len(views)


def time_once(loss_fn, z_a: torch.Tensor, z_b: torch.Tensor) -> float:
    a, b = z_a.clone().requires_grad_(True), z_b.clone().requires_grad_(True)
    started = time.perf_counter()
    loss_fn(a, b).backward()
    return time.perf_counter() - started


def main() -> None:
    from lightly.loss import NTXentLoss

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    temperature = 0.5
    lightly_loss = NTXentLoss(temperature=temperature)

    def ours(a, b):
        return nt_xent_loss(a, b, temperature)

    generator = torch.Generator().manual_seed(0)
    small_a, small_b = torch.randn(48, 128, generator=generator), torch.randn(48, 128, generator=generator)
    reference = loop_reference(small_a, small_b, temperature)
    print(
        f"48 pairs: loop {reference:.6f}, paperzoo {ours(small_a, small_b).item():.6f}, "
        f"lightly {lightly_loss(small_a, small_b).item():.6f}"
    )

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| N pairs | paperzoo ms | lightly ms | ratio paperzoo / lightly | |loss difference| |")
    print("|---:|---:|---:|---:|---:|")
    for pairs in (256, 1024, 4096):
        z_a, z_b = torch.randn(pairs, 128, generator=generator), torch.randn(pairs, 128, generator=generator)
        difference = abs(ours(z_a, z_b).item() - lightly_loss(z_a, z_b).item())
        for _ in range(2):
            time_once(ours, z_a, z_b)
            time_once(lightly_loss, z_a, z_b)
        repeats = args.repeats if pairs < 4096 else max(3, args.repeats // 3)
        timings: dict[str, list[float]] = {"ours": [], "lightly": []}
        for _ in range(repeats):
            timings["ours"].append(time_once(ours, z_a, z_b))
            timings["lightly"].append(time_once(lightly_loss, z_a, z_b))
        ours_ms = statistics.median(timings["ours"]) * 1000
        lightly_ms = statistics.median(timings["lightly"]) * 1000
        print(f"| {pairs} | {ours_ms:.1f} | {lightly_ms:.1f} | {ours_ms / lightly_ms:.2f} | {difference:.1e} |")


if __name__ == "__main__":
    main()
