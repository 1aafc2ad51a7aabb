"""Speed benchmarks of paperzoo-rerank-feedback: encoding, faiss search, ReFIT and BM25.

Run from the repository root, one heavy job at a time:

    PAPERZOO_DATA=../shared/data PAPERZOO_CACHE=/tmp/pzcache-rerank-feedback \
        flock /tmp/paperzoo-heavy.lock uv run python benchmarks/rerank_feedback_bench.py --output bench.json

Sections (``--only`` runs a subset):

- ``encode``: all-MiniLM-L6-v2 throughput on SciFact documents and queries (no cache);
- ``faiss``: per-query latency of exact (flat) and IVF search at 5k and 1M synthetic
  384-d vectors (a mixture of Gaussians, so IVF cells mean something), and IVF recall@100
  against exact search;
- ``refit``: ReFIT's query update per query, chunked over queries vs one query at a time,
  on SciFact-sized problems (K = 100 candidates, 384-d, 100 Adam steps);
- ``bm25``: indexing and query time of this package's BM25 (bm25s) against ``rank_bm25``
  on the SciFact corpus with the same tokens, and the nDCG@10 each reaches.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time

import numpy as np


def encode(args: argparse.Namespace) -> dict:
    from paperzoo.core.data import load_dataset
    from paperzoo.core.data.base import TextDataset
    from paperzoo.core.features import embed, get_encoder

    data = load_dataset("scifact", split="test")
    encoder = get_encoder("minilm")
    out = {}
    for name, texts in (("documents", data.document_texts()[: args.encode_docs]), ("queries", data.queries)):
        subset = TextDataset(name, "bench", None, [], name, texts=list(texts))
        started = time.perf_counter()
        embed(subset, encoder, use_cache=False, show_progress=False)
        seconds = time.perf_counter() - started
        out[name] = {"texts": len(texts), "seconds": seconds, "texts_per_s": len(texts) / seconds}
    out["max_length"] = encoder.max_length
    return out


def clustered_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 500), dim)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), n)] + 0.5 * rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def faiss_search(args: argparse.Namespace) -> dict:
    from paperzoo.core.features import build_index, search_index

    out = {}
    for n in args.faiss_sizes:
        vectors = clustered_vectors(n, 384, seed=0)
        queries = clustered_vectors(args.faiss_queries, 384, seed=1)
        results = {}
        exact_rows = None
        for kind, nlist in (("flat", None), ("ivf", args.nlist.get(n))):
            started = time.perf_counter()
            index = build_index(vectors, metric="ip", index=kind, nlist=nlist, nprobe=16)
            build = time.perf_counter() - started
            started = time.perf_counter()
            _, rows = search_index(index, queries, 100, metric="ip")
            search = time.perf_counter() - started
            entry = {"build_s": build, "ms_per_query": 1000 * search / len(queries), "nprobe": 16}
            if kind == "flat":
                exact_rows = rows
            else:
                entry["nlist"] = int(index.nlist)
                entry["recall@100_vs_flat"] = float(
                    np.mean([len(set(a) & set(b)) / 100 for a, b in zip(rows.tolist(), exact_rows.tolist())])
                )
            results[kind] = entry
        out[str(n)] = results
        del vectors
    return out


def refit(args: argparse.Namespace) -> dict:
    import torch

    from paperzoo.rerank_feedback.refit import refit_one_at_a_time, refit_queries

    rng = np.random.default_rng(0)
    queries = rng.normal(size=(args.refit_queries, 384)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    candidates = rng.normal(size=(args.refit_queries, 100, 384)).astype(np.float32)
    candidates /= np.linalg.norm(candidates, axis=2, keepdims=True)
    scores = (3 * rng.normal(size=(args.refit_queries, 100))).astype(np.float32)

    out = {"queries": args.refit_queries, "k": 100, "dim": 384, "steps": 100, "torch_threads": torch.get_num_threads()}
    started = time.perf_counter()
    batched = refit_queries(queries, candidates, scores)
    out["chunked_ms_per_query"] = 1000 * (time.perf_counter() - started) / args.refit_queries
    for size in (1_000_000_000,):
        started = time.perf_counter()
        refit_queries(queries, candidates, scores, batch_size=size)
        out["one_chunk_ms_per_query"] = 1000 * (time.perf_counter() - started) / args.refit_queries
    n = args.refit_loop_queries
    started = time.perf_counter()
    looped = refit_one_at_a_time(queries[:n], candidates[:n], scores[:n])
    out["one_at_a_time_ms_per_query"] = 1000 * (time.perf_counter() - started) / n
    out["speedup"] = out["one_at_a_time_ms_per_query"] / out["chunked_ms_per_query"]
    out["max_abs_difference"] = float(np.abs(looped.queries - batched.queries[:n]).max())
    return out


def bm25(args: argparse.Namespace) -> dict:
    from rank_bm25 import BM25Okapi

    from paperzoo.core.data import load_dataset
    from paperzoo.core.metrics import evaluate_run, run_from_arrays
    from paperzoo.rerank_feedback.bm25 import BM25Retriever, Tokenizer, top_k

    data = load_dataset("scifact", split="test")
    documents = data.document_texts()
    tokenizer = Tokenizer()
    tokens = [tokenizer(text) for text in documents]
    query_tokens = [tokenizer(text) for text in data.queries]
    out = {"documents": len(documents), "queries": len(data.queries)}

    started = time.perf_counter()
    ours = BM25Retriever(k1=1.2, b=0.75).fit(documents)
    out["bm25s_index_s"] = time.perf_counter() - started
    started = time.perf_counter()
    scores, rows = ours.search(data.queries, 1000)
    out["bm25s_ms_per_query"] = 1000 * (time.perf_counter() - started) / len(data.queries)
    run = run_from_arrays(data.query_ids, data.doc_ids, rows, scores)
    out["bm25s_ndcg@10"] = evaluate_run(data.qrels, run, ["ndcg@10"]).mean["ndcg@10"]

    started = time.perf_counter()
    reference = BM25Okapi(tokens, k1=1.2, b=0.75)
    out["rank_bm25_index_s"] = time.perf_counter() - started
    started = time.perf_counter()
    all_rows, all_scores = [], []
    for query in query_tokens:
        values = np.asarray(reference.get_scores(query), dtype=np.float32)
        chosen = top_k(values, 1000)
        all_rows.append(chosen)
        all_scores.append(values[chosen])
    out["rank_bm25_ms_per_query"] = 1000 * (time.perf_counter() - started) / len(query_tokens)
    run = run_from_arrays(data.query_ids, data.doc_ids, np.stack(all_rows), np.stack(all_scores))
    out["rank_bm25_ndcg@10"] = evaluate_run(data.qrels, run, ["ndcg@10"]).mean["ndcg@10"]
    out["query_speedup"] = out["rank_bm25_ms_per_query"] / out["bm25s_ms_per_query"]
    out["index_speedup"] = out["rank_bm25_index_s"] / out["bm25s_index_s"]
    return out


SECTIONS = {"encode": encode, "faiss": faiss_search, "refit": refit, "bm25": bm25}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--encode-docs", type=int, default=500, help="SciFact documents embedded for throughput")
    parser.add_argument("--faiss-sizes", type=int, nargs="*", default=[5_000, 1_000_000])
    parser.add_argument("--faiss-queries", type=int, default=200)
    parser.add_argument("--refit-queries", type=int, default=300)
    parser.add_argument("--refit-loop-queries", type=int, default=60)
    parser.add_argument("--output", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    args.nlist = {5_000: 64, 1_000_000: 1024}

    record = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "cpu": platform.processor() or platform.machine(),
        "load_average_at_start": list(np.round(np.array(__import__("os").getloadavg()), 2)),
        "git_commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
    }
    for name in args.only:
        started = time.perf_counter()
        record[name] = SECTIONS[name](args)
        print(f"{name} ({time.perf_counter() - started:.0f} s): {json.dumps(record[name], indent=1)}", flush=True)
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(record, handle, indent=2, default=float)


if __name__ == "__main__":
    main()
