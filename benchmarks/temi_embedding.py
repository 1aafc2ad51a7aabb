"""Embedding throughput and the bf16 check for EfficientNet-Lite0 (the TEMI default encoder).

Measures, in one process and on the same CIFAR-10 test images at 224 px:
images/s in float32, float32 with channels-last memory, and bfloat16
autocast with channels-last; then checks that bf16 features agree with
float32 ones (per-row cosine similarity, and k-means accuracy on both);
then sentences/s of MiniLM on five-domain sentences in float32 and bf16.

Usage: PAPERZOO_DATA=... uv run python benchmarks/temi_embedding.py [--images 512] [--batch-size 64|256]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time

import numpy as np
import torch

from paperzoo.core.data import load_dataset
from paperzoo.core.features import embed, get_encoder, kmeans
from paperzoo.core.metrics import cluster_accuracy


def throughput(encoder, dataset, batch_size: int) -> float:
    """Images per second of ``encoder`` over ``dataset`` (one warm-up batch excluded)."""
    encoder.forward(encoder.prepare(dataset, np.arange(batch_size)))
    started = time.perf_counter()
    embed(dataset, encoder, batch_size=batch_size, use_cache=False, show_progress=False)
    return len(dataset) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=512, help="images timed per setting")
    parser.add_argument("--cluster-images", type=int, default=2000, help="images embedded for the agreement check")
    parser.add_argument("--sentences", type=int, default=2048, help="sentences timed per MiniLM setting")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    test = load_dataset("cifar10", split="test")
    # The parquet files are sorted by label, so samples are drawn at random.
    order = np.random.default_rng(0).permutation(len(test))
    timed = test.subset(order[: args.images])
    settings = {
        "fp32": get_encoder("efficientnet_lite0", precision="fp32"),
        "fp32 + channels-last": get_encoder("efficientnet_lite0", precision="fp32"),
        "bf16 + channels-last": get_encoder("efficientnet_lite0", precision="bf16"),
    }
    plain = settings["fp32"]
    plain.channels_last = False
    plain.module = plain.module.to(memory_format=torch.contiguous_format)

    speeds = {name: throughput(encoder, timed, args.batch_size) for name, encoder in settings.items()}
    machine = platform.processor() or platform.machine()
    print(f"date {dt.date.today()}, {machine}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{args.images} CIFAR-10 images at 224 px, batch {args.batch_size}")
    for name, speed in speeds.items():
        print(f"{name:24s} {speed:7.1f} images/s  ({speed / speeds['fp32']:.2f}x fp32)")

    sample = test.subset(order[: args.cluster_images])
    full = embed(
        sample, settings["fp32 + channels-last"], batch_size=args.batch_size, use_cache=False, show_progress=False
    )
    half = embed(
        sample, settings["bf16 + channels-last"], batch_size=args.batch_size, use_cache=False, show_progress=False
    )
    cosine = (full * half).sum(1) / (np.linalg.norm(full, axis=1) * np.linalg.norm(half, axis=1))
    print(f"bf16 vs fp32 features on {len(sample)} images: cosine mean {cosine.mean():.5f}, min {cosine.min():.5f}")
    for name, features in (("fp32", full), ("bf16", half)):
        accuracies = [
            cluster_accuracy(sample.labels, kmeans(features, 10, restarts=5, seed=seed).predict(features))
            for seed in range(3)
        ]
        print(
            f"k-means ACC on {name} features: {np.mean(accuracies):.4f} +- {np.std(accuracies, ddof=1):.4f} (3 seeds)"
        )

    text = load_dataset("multidomain_de_en", split="dev")
    sentences = text.subset(np.random.default_rng(0).permutation(len(text))[: args.sentences])
    for precision in ("fp32", "bf16"):
        encoder = get_encoder("minilm", precision=precision)
        speed = throughput(encoder, sentences, args.batch_size)
        print(f"minilm {precision}: {speed:7.1f} sentences/s ({len(sentences)} five-domain sentences, English side)")


if __name__ == "__main__":
    main()
