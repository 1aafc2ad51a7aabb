"""Memory and time of Cluster-GCN against full-batch GCN training as the graph grows.

For each size, a planted-partition stochastic block model (sampled edge by
edge, see ``paperzoo.cluster_gcn.synthetic``) is generated once and saved.
Each system then trains for two epochs in a fresh subprocess, because a
process's peak RSS never goes down. Each child records:

- ``loaded_mb``: RSS after loading the graph and features;
- ``peak_mb``: peak RSS during the first training epoch (the peak counter
  is reset before it through ``/proc/self/clear_refs``);
- ``training_mb``: ``peak_mb - loaded_mb``, the memory training needs on top
  of the data (CSR structure, partition, model, optimiser, activations);
- ``epoch_seconds``: wall time of the second epoch (the first one also
  builds caches), and ``partition_seconds`` for METIS.

Both systems run the same model (reference layers with layer norm, 3 x 256),
the same loss and Adam steps. Cluster-GCN keeps the batch fixed: clusters of
about ``--cluster-size`` nodes, ``--parts-per-batch`` of them per step.
Every child's address space is capped (``RLIMIT_AS``) at ``--cap-gb`` above
what it had mapped after loading; a run that hits the cap is reported as not
fitting, with the training memory it would need extrapolated linearly from
the sizes that fit.

    flock /tmp/paperzoo-heavy.lock uv run python benchmarks/cluster_gcn_memory.py --output /tmp/gcn-memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def graph_file(cache: Path, num_nodes: int, args: argparse.Namespace) -> Path:
    """Generate (once) and save the synthetic graph of ``num_nodes`` nodes."""
    from paperzoo.cluster_gcn.synthetic import stochastic_block_model

    path = cache / f"sbm-{num_nodes}-d{args.degree}-f{args.features}.npz"
    if path.exists():
        return path
    started = time.perf_counter()
    graph = stochastic_block_model(
        num_nodes,
        num_blocks=max(10, num_nodes // 2000),
        num_classes=args.classes,
        average_degree=args.degree,
        num_features=args.features,
        seed=0,
    )
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, x=graph.x, edge_index=graph.edge_index, labels=graph.labels, train_mask=graph.train_mask)
    partial.rename(path)
    print(
        f"generated {num_nodes:,} nodes, {graph.num_edges:,} directed edges in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return path


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def child(args: argparse.Namespace, record: dict) -> dict:
    """Train one system for two epochs, filling ``record`` as it goes (runs in a fresh process)."""
    import pymetis  # noqa: F401 - imported before loading, so library memory is part of loaded_mb
    import torch
    import torch_geometric.typing  # noqa: F401

    from paperzoo.cluster_gcn.batching import ClusterCollate, InducedSubgraphs, cluster_loader
    from paperzoo.cluster_gcn.estimator import _masked_loss
    from paperzoo.cluster_gcn.model import ClusterGCNModel
    from paperzoo.cluster_gcn.normalize import csr_to_coo, graph_csr
    from paperzoo.cluster_gcn.partition import Partition, partition_graph
    from paperzoo.core.memory import MIB, current_rss_bytes, peak_rss_bytes, release_free_memory, reset_peak_rss

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    record["threads"] = torch.get_num_threads()

    with np.load(args.graph) as arrays:
        x = torch.from_numpy(arrays["x"])
        labels = torch.from_numpy(arrays["labels"])
        train_mask = torch.from_numpy(arrays["train_mask"])
        edge_index = arrays["edge_index"]
    num_nodes = x.shape[0]
    release_free_memory()
    record["loaded_mb"] = current_rss_bytes() / MIB

    indptr, indices = graph_csr(edge_index, num_nodes)
    del edge_index
    started = time.perf_counter()
    if args.system == "cluster_gcn":
        num_parts = max(1, num_nodes // args.cluster_size)
        rows, cols = csr_to_coo(indptr, indices)
        partition = partition_graph(torch.stack([cols, rows]).numpy(), num_nodes, num_parts, seed=0)
        del rows, cols
        parts_per_batch = min(args.parts_per_batch, partition.num_parts)
    else:
        partition = Partition.from_assignment(np.zeros(num_nodes, np.int64), backend="trivial")
        parts_per_batch = 1
    record["partition_seconds"] = partition.seconds if args.system == "cluster_gcn" else time.perf_counter() - started
    record["parts"] = partition.num_parts
    record["parts_per_batch"] = parts_per_batch

    model = ClusterGCNModel(
        x.shape[1], args.hidden, int(labels.max()) + 1, args.layers, "reference", 0.2, True, feature_norm="none"
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    collate = ClusterCollate(
        partition, InducedSubgraphs(indptr, indices), x, labels, train_mask, model.adjacency_kind, 1.0
    )
    loader = cluster_loader(collate, parts_per_batch, seed=0)
    record["batches_per_epoch"] = len(loader)
    release_free_memory()
    record["prepared_mb"] = current_rss_bytes() / MIB

    # Cap what the child may map from here on, so full-batch fails cleanly instead of swapping or being killed.
    cap_bytes = int(args.cap_gb * 1024**3)
    mapped = _status_kib("VmSize") * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mapped + cap_bytes, mapped + cap_bytes))
    record["cap_mb"] = cap_bytes / MIB

    reset_peak_rss()
    epoch_seconds, batch_nodes = [], []
    model.train()
    for epoch in range(2):
        started = time.perf_counter()
        for batch in loader:
            batch_nodes.append(batch.num_nodes)
            loss = _masked_loss(model(batch.x, batch.adjacency), batch.y, batch.loss_mask, multilabel=False)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        epoch_seconds.append(time.perf_counter() - started)
        if epoch == 0:
            record["peak_mb"] = peak_rss_bytes() / MIB
    record["training_mb"] = record["peak_mb"] - record["loaded_mb"]
    record["epoch_seconds"] = epoch_seconds[1]
    record["first_epoch_seconds"] = epoch_seconds[0]
    record["mean_batch_nodes"] = float(np.mean(batch_nodes))
    record["status"] = "ok"
    return record


def run_child(system: str, path: Path, args: argparse.Namespace) -> dict:
    command = [
        sys.executable, str(HERE), "--child", "--system", system, "--graph", str(path),
        "--cap-gb", str(args.cap_gb), "--cluster-size", str(args.cluster_size),
        "--parts-per-batch", str(args.parts_per_batch), "--layers", str(args.layers), "--hidden", str(args.hidden),
        "--threads", str(args.threads),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if lines:
        return json.loads(lines[-1])
    return {
        "system": system,
        "status": "crashed",
        "returncode": completed.returncode,
        "stderr": completed.stderr[-2000:],
    }


def extrapolate(points: list[tuple[int, float]], num_nodes: int) -> float | None:
    """Return a least-squares line through ``(nodes, MiB)`` evaluated at ``num_nodes``."""
    if len(points) < 2:
        return None
    sizes, values = np.array([p[0] for p in points], float), np.array([p[1] for p in points], float)
    slope, intercept = np.polyfit(sizes, values, 1)
    return float(slope * num_nodes + intercept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 300_000, 1_000_000])
    parser.add_argument("--degree", type=float, default=10.0, help="average degree of the synthetic graphs")
    parser.add_argument("--features", type=int, default=128, help="node feature width")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--cluster-size", type=int, default=500, help="nodes per METIS cluster (p = N / this)")
    parser.add_argument("--parts-per-batch", type=int, default=10, help="clusters per Cluster-GCN batch (q)")
    parser.add_argument("--cap-gb", type=float, default=12.0, help="address space each child may add after loading")
    parser.add_argument("--threads", type=int, default=2, help="torch threads in each child")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("PAPERZOO_CACHE", "/tmp")) / "bench-graphs")
    parser.add_argument("--output", type=Path, help="JSON file for all measurements")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--system", choices=("cluster_gcn", "full_batch"), help=argparse.SUPPRESS)
    parser.add_argument("--graph", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        record: dict = {"system": args.system}
        try:
            child(args, record)
        except (MemoryError, RuntimeError) as error:
            text = f"{type(error).__name__}: {error}"
            if isinstance(error, RuntimeError) and "alloc" not in text.lower() and "memory" not in text.lower():
                traceback.print_exc()
                raise
            record.update(status="does_not_fit", error=text[:300])
            record["peak_mb_at_failure"] = _status_kib("VmHWM") / 1024
        print(json.dumps(record), flush=True)
        return

    results = []
    for num_nodes in args.sizes:
        path = graph_file(args.cache, num_nodes, args)
        for system in ("cluster_gcn", "full_batch"):
            record = {"nodes": num_nodes, **run_child(system, path, args)}
            results.append(record)
            print(json.dumps(record), flush=True)

    for system in ("cluster_gcn", "full_batch"):
        fitted = [(r["nodes"], r["training_mb"]) for r in results if r["system"] == system and r["status"] == "ok"]
        for record in results:
            if record["system"] == system and record["status"] != "ok":
                record["training_mb_extrapolated"] = extrapolate(fitted, record["nodes"])
    if args.output:
        args.output.write_text(
            json.dumps(
                {"settings": vars(args) | {"cache": str(args.cache), "output": str(args.output)}, "results": results},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
