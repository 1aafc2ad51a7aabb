"""kNN mining time: the core's faiss search against a plain torch matmul + topk, same process.

Both find the k nearest neighbours by cosine similarity of every row of an
N x D matrix among all the others (the row itself excluded), the step TEMI
runs once per data set. The torch version normalises the rows, multiplies
blocks of queries by the whole matrix, masks the diagonal and takes topk.
The script reports both times and how many neighbour lists agree.

Usage: uv run python benchmarks/knn_mining.py [--features X.npy] [--rows 50000] [--k 50]
Without --features, random 50,000 x 1280 vectors are used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time

import numpy as np
import torch

from paperzoo.core.features import knn


def torch_knn(x: np.ndarray, k: int, block: int = 4096) -> np.ndarray:
    """Return the indices of the k most cosine-similar other rows, by blocked matmul and topk."""
    unit = torch.nn.functional.normalize(torch.from_numpy(x), dim=1)
    out = np.empty((len(x), k), dtype=np.int64)
    for start in range(0, len(x), block):
        similarity = unit[start : start + block] @ unit.T
        rows = torch.arange(similarity.shape[0])
        similarity[rows, rows + start] = -float("inf")
        out[start : start + block] = similarity.topk(k, dim=1).indices.numpy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", help="a .npy embedding matrix (default: random 50,000 x 1280)")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--k", type=int, default=50)
    args = parser.parse_args()

    if args.features:
        x = np.array(np.load(args.features, mmap_mode="r")[: args.rows], dtype=np.float32)
    else:
        x = np.random.default_rng(0).standard_normal((args.rows, 1280), dtype=np.float32)

    started = time.perf_counter()
    _, faiss_indices = knn(x, args.k, metric="cosine")
    faiss_seconds = time.perf_counter() - started
    started = time.perf_counter()
    torch_indices = torch_knn(x, args.k)
    torch_seconds = time.perf_counter() - started

    same_sets = np.mean([len(np.intersect1d(a, b)) / args.k for a, b in zip(faiss_indices, torch_indices)])
    machine = platform.processor() or platform.machine()
    print(f"date {dt.date.today()}, {machine}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    source = f"features from {args.features}" if args.features else "random vectors"
    print(f"{len(x)} x {x.shape[1]} {source}, k {args.k}")
    print(f"faiss exact (core)  {faiss_seconds:7.1f} s")
    print(f"torch matmul+topk   {torch_seconds:7.1f} s")
    print(f"torch / faiss time = {torch_seconds / faiss_seconds:.2f}; neighbour overlap {same_sets:.4f}")


if __name__ == "__main__":
    main()
