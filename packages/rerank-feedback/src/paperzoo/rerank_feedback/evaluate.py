"""The ``paperzoo rerank-feedback evaluate`` workflow.

Load a collection and index it with BM25 and the dense retriever. Build the
re-ranker: the ``ltr`` one trains on the training split's qrels, with its
regularisation chosen on validation queries carved from that split. Then run the
five systems of :mod:`paperzoo.rerank_feedback.pipeline` on the evaluation
queries, score them, test the differences for significance, and write the run
directory: ``config.yaml``, ``results.json``, ``per_query.csv``, TREC run
files and plots.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from paperzoo.core.config import config_to_dict
from paperzoo.core.data import DatasetInfo, get_dataset_info, list_datasets, load_dataset, train_val_split
from paperzoo.core.data.retrieval import RetrievalDataset
from paperzoo.core.files import atomic_write_text
from paperzoo.core.metrics import evaluate_run, paired_randomization_test, paired_t_test, run_from_arrays
from paperzoo.core.runs import RESULTS_FILE, default_run_dir, prepare_run_dir, provenance, write_results
from paperzoo.rerank_feedback.bm25 import BM25Retriever
from paperzoo.rerank_feedback.config import DEFAULT_CROSS_ENCODER, RESUME_IGNORED, EvaluateConfig
from paperzoo.rerank_feedback.dense import DenseRetriever
from paperzoo.rerank_feedback.pipeline import SYSTEMS, Ranking, RerankPipeline, positional_scores, rerank_top
from paperzoo.rerank_feedback.plots import plot_recall_curves, plot_refit_loss
from paperzoo.rerank_feedback.rerankers import (
    Candidates,
    CrossEncoderReranker,
    FusionReranker,
    LTRReranker,
    Reranker,
    describe,
    relevance_labels,
)

log = logging.getLogger(__name__)

MEASURES = ("ndcg@10", "recall@100", "recall@1000", "mrr@10", "map")
COMPARISONS = (("bm25", "dense"), ("dense", "dense+rerank"), ("dense", "refit"), ("dense+rerank", "refit+rerank"))
TESTED_MEASURES = ("ndcg@10", "recall@100")


def load_collections(config: EvaluateConfig) -> tuple[RetrievalDataset, RetrievalDataset | None]:
    """Return the evaluation split and, when the re-ranker trains, the training split (same corpus).

    ``--corpus-sample`` keeps the judged documents of both splits whatever the
    re-ranker, so the sampled corpus, and with it the bm25 and dense results,
    do not depend on ``--reranker``.
    """
    info = retrieval_dataset_info(config.dataset)
    options = {"corpus": config.corpus} if "corpus" in info.options else {}
    if config.corpus is not None and not options:
        raise ValueError(f"--corpus applies to --dataset beir only, not {config.dataset!r}")
    split = config.split or info.test_split or info.default_split
    evaluation = load_dataset(config.dataset, split=split, data_dir=config.data_dir, **options)
    has_training_split = config.train_split in info.splits and config.train_split != split
    if config.reranker == "ltr" and not has_training_split:
        raise ValueError(
            f"the ltr re-ranker trains on the qrels of split {config.train_split!r}, which dataset "
            f"{config.dataset!r} does not offer apart from the evaluation split {split!r} (splits: "
            f"{', '.join(info.splits)}); choose --reranker fusion, rrf or cross-encoder"
        )
    training = None
    if config.reranker == "ltr" or (config.corpus_sample is not None and has_training_split):
        training = load_dataset(config.dataset, split=config.train_split, data_dir=config.data_dir, **options)
        if training.doc_ids != evaluation.doc_ids:
            raise ValueError(f"splits {config.train_split!r} and {split!r} of {config.dataset!r} differ in corpus")

    if config.max_queries is not None:
        evaluation = evaluation.subset_queries(evaluation.query_ids[: config.max_queries])
        if training is not None:
            training = training.subset_queries(training.query_ids[: config.max_queries])
    if config.corpus_sample is not None:
        rows = _corpus_sample(evaluation, training, config.corpus_sample, config.seed)
        evaluation = evaluation.subset_corpus(rows)
        training = None if training is None else training.subset_corpus(rows)
    return evaluation, training if config.reranker == "ltr" else None


def retrieval_dataset_info(name: str) -> DatasetInfo:
    """Return the registry entry of a retrieval data set. Its errors list only the retrieval data sets."""
    known = list_datasets("retrieval")
    if name not in list_datasets():
        raise KeyError(f"unknown dataset {name!r}; retrieval datasets: {', '.join(known)}")
    info = get_dataset_info(name)
    if info.modality != "retrieval":
        raise ValueError(f"dataset {name!r} contains {info.modality} data; choose one of {', '.join(known)}")
    return info


def _corpus_sample(evaluation: RetrievalDataset, training: RetrievalDataset | None, size: int, seed: int) -> np.ndarray:
    """Return sorted rows: every judged document of both splits, then random others up to ``size``."""
    judged = {
        d for split in (evaluation, training) if split is not None for grades in split.qrels.values() for d in grades
    }
    index = evaluation.doc_index()
    keep = sorted(index[d] for d in judged)
    others = np.setdiff1d(np.arange(evaluation.num_docs), keep)
    extra = max(0, size - len(keep))
    chosen = np.random.default_rng(seed).choice(others, size=min(extra, len(others)), replace=False)
    return np.sort(np.concatenate([np.asarray(keep, dtype=np.int64), chosen.astype(np.int64)]))


def build_reranker(config: EvaluateConfig) -> Reranker | None:
    """Return the configured re-ranker; ``None`` for ``ltr``, which is trained later on the index."""
    if config.reranker == "fusion":
        return FusionReranker("minmax", weight=config.fusion_weight)
    if config.reranker == "rrf":
        return FusionReranker("rrf", rrf_k=config.rrf_k)
    if config.reranker == "cross-encoder":
        return CrossEncoderReranker(
            config.reranker_model or DEFAULT_CROSS_ENCODER,
            max_length=config.reranker_max_length,
            batch_size=config.reranker_batch_size,
        )
    return None


def train_ltr(
    pipeline: RerankPipeline, training: RetrievalDataset, config: EvaluateConfig
) -> tuple[LTRReranker, dict[str, Any]]:
    """Train the ltr re-ranker on the dense top-k of the training queries.

    The regularisation strength is chosen by nDCG@10 of ``dense+rerank`` on
    validation queries carved from the training split, then the model is
    refitted on all training queries.
    """
    started = time.perf_counter()
    query_vectors = pipeline.dense.encode_queries(training.queries)
    _, rows = pipeline.dense.search_vectors(query_vectors, pipeline.k)
    candidates = pipeline.candidates(training.queries, query_vectors, rows)
    labels = relevance_labels(training.query_ids, rows, training.doc_ids, training.qrels)
    fit_rows, val_rows = train_val_split(len(training), config.val_fraction, seed=config.seed)

    def take(selected: np.ndarray):
        subset = Candidates(
            [training.queries[i] for i in selected],
            rows[selected],
            candidates.bm25[selected],
            candidates.dense[selected],
        )
        return subset, labels[selected]

    fit_candidates, fit_labels = take(fit_rows)
    val_candidates, _ = take(val_rows)
    val_ids = [training.query_ids[i] for i in val_rows]
    val_qrels = {q: training.qrels[q] for q in val_ids}
    validation = {}
    for c in config.ltr_c:
        model = LTRReranker(c=c).fit(fit_candidates, fit_labels)
        ranking = rerank_top(
            Ranking(rows[val_rows], candidates.dense[val_rows]), model.score(val_candidates), pipeline.k
        )
        run = run_from_arrays(val_ids, training.doc_ids, ranking.rows, ranking.scores)
        validation[str(c)] = evaluate_run(val_qrels, run, ["ndcg@10"]).mean["ndcg@10"]
    best = max(config.ltr_c, key=lambda c: (validation[str(c)], -c))
    model = LTRReranker(c=best).fit(candidates, labels)
    record = {
        "chosen_c": best,
        "validation_ndcg@10_by_c": validation,
        "train_queries": len(fit_rows),
        "validation_queries": len(val_rows),
        "positives_in_candidates": int(labels.sum()),
        "seconds": time.perf_counter() - started,
    }
    log.info("ltr: chose C=%s by validation nDCG@10 %s (trained in %.1f s)", best, validation, record["seconds"])
    return model, record


def run_evaluate(config: EvaluateConfig) -> dict[str, Any]:
    """Run the whole ``evaluate`` workflow; returns the content of ``results.json``."""
    run_dir = Path(config.output_dir) if config.output_dir else default_run_dir("rerank-feedback", config.dataset)
    resuming = prepare_run_dir(run_dir, config_to_dict(config), ignore=RESUME_IGNORED)
    if resuming and (run_dir / RESULTS_FILE).is_file():
        log.info("%s already contains finished results; delete it or choose another --output-dir to rerun", run_dir)
        return json.loads((run_dir / RESULTS_FILE).read_text())

    evaluation, training = load_collections(config)
    log.info(
        "evaluating on %s/%s: %d queries, %d documents",
        config.dataset,
        evaluation.split,
        len(evaluation),
        evaluation.num_docs,
    )
    dense = DenseRetriever(
        config.retriever,
        encoder_weights=config.encoder_weights,
        max_length=config.max_length,
        index=config.index,
        nlist=config.nlist,
        nprobe=config.nprobe,
        batch_size=config.embed_batch_size,
    )
    pipeline = RerankPipeline(
        dense,
        build_reranker(config),
        BM25Retriever(config.bm25_k1, config.bm25_b),
        k=config.k,
        depth=min(config.depth, evaluation.num_docs),
        refit_steps=config.refit_steps,
        refit_lr=config.refit_lr,
        refit_lambda_scale=config.refit_lambda_scale,
        refit_batch_size=config.refit_batch_size,
    ).index(evaluation)

    training_record = None
    if pipeline.reranker is None:
        pipeline.reranker, training_record = train_ltr(pipeline, training, config)
    if pipeline.reranker.score_type != "logit":
        log.warning(
            "re-ranker %s gives %s scores, not logits: ReFIT's temperature-1 softmax over them is nearly flat, "
            "so the update may move the query little; a learned re-ranker's logits suit ReFIT better",
            pipeline.reranker.name,
            pipeline.reranker.score_type,
        )

    output = pipeline.run(evaluation.queries)
    scores = {}
    for system, ranking in output.rankings.items():
        run = run_from_arrays(evaluation.query_ids, evaluation.doc_ids, ranking.rows, _ordered(ranking))
        scores[system] = evaluate_run(evaluation.qrels, run, MEASURES)

    results: dict[str, Any] = {
        "metrics": {system: scores[system].mean for system in SYSTEMS},
        "significance": _significance(scores, config),
        "ms_per_query": output.ms_per_query(),
        "index_seconds": pipeline.index_seconds_,
        "refit": {
            "mean_initial_kl": float(output.refit.initial_loss.mean()),
            "mean_final_kl": float(output.refit.final_loss.mean()),
            "mean_lambda": float(output.refit.lambdas.mean()),
            "steps": config.refit_steps,
            "lr": config.refit_lr,
        },
        "reranker": describe(pipeline.reranker),
        "data": {
            "dataset": config.dataset,
            "split": evaluation.split,
            "queries": len(evaluation),
            "documents": evaluation.num_docs,
            "dropped_input_lines": evaluation.dropped,
            "corpus_sampled": config.corpus_sample is not None,
        },
    }
    if training_record is not None:
        results["reranker"]["training"] = training_record
    _write_outputs(run_dir, evaluation, output, scores, config)
    write_results(
        run_dir,
        results.pop("metrics"),
        provenance_record=provenance(data={f"{config.dataset}/{evaluation.split}": evaluation.fingerprint}),
        **results,
    )
    final = json.loads((run_dir / RESULTS_FILE).read_text())
    atomic_write_text(run_dir / "table.txt", format_results(final) + "\n")
    log.info("wrote results.json, table.txt, per_query.csv and TREC runs to %s", run_dir)
    return final


def _ordered(ranking: Ranking) -> np.ndarray:
    """Return scores that keep each ranking's own order (first-stage ties included) under trec_eval's sort."""
    return positional_scores(ranking.rows)


def _significance(scores: dict[str, Any], config: EvaluateConfig) -> dict[str, Any]:
    tests = {}
    for first, second in COMPARISONS:
        for measure in TESTED_MEASURES:
            a, b = scores[first].values(measure), scores[second].values(measure)
            tests[f"{second} vs {first}: {measure}"] = {
                "paired_t_test": paired_t_test(a, b),
                "randomization": paired_randomization_test(a, b, trials=config.significance_trials, seed=config.seed),
            }
    return tests


def _write_outputs(run_dir: Path, evaluation: RetrievalDataset, output, scores: dict[str, Any], config) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["system", "query_id", *MEASURES])
    for system, result in scores.items():
        for query_id in result.query_ids:
            writer.writerow([system, query_id, *(f"{result.per_query[query_id][m]:.6f}" for m in MEASURES)])
    atomic_write_text(run_dir / "per_query.csv", buffer.getvalue())

    depth = config.save_run_depth
    for system, ranking in output.rankings.items():
        lines = []
        for q, query_id in enumerate(evaluation.query_ids):
            for position, row in enumerate(ranking.rows[q, :depth].tolist(), start=1):
                if row >= 0:
                    lines.append(f"{query_id} Q0 {evaluation.doc_ids[row]} {position} {depth + 1 - position} {system}")
        atomic_write_text(run_dir / "runs" / f"{system.replace('+', '_')}.trec", "\n".join(lines) + "\n")

    plot_recall_curves(output.rankings, evaluation, run_dir / "recall.png")
    if output.refit is not None and len(output.refit.loss_curve) > 1:
        plot_refit_loss(output.refit.loss_curve, run_dir / "refit_loss.png")


def format_results(results: dict[str, Any]) -> str:
    """Return the table printed at the end of ``evaluate``."""
    metrics = results["metrics"]
    timings = results.get("ms_per_query", {})
    stage_of = {
        "bm25": ["bm25"],
        "dense": ["dense_encode", "dense_search"],
        "dense+rerank": ["dense_encode", "dense_search", "rerank"],
        "refit": ["dense_encode", "dense_search", "rerank", "refit_update", "refit_search"],
        "refit+rerank": ["dense_encode", "dense_search", "rerank", "refit_update", "refit_search", "refit_rerank"],
    }
    data = results["data"]
    lines = [f"{data['dataset']}/{data['split']}: {data['queries']} queries, {data['documents']} documents"]
    lines.append(f"{'system':14s}" + "".join(f"{m:>12s}" for m in MEASURES) + f"{'ms/query':>10s}")
    for system, values in metrics.items():
        total = sum(timings.get(stage, 0.0) for stage in stage_of.get(system, []))
        lines.append(f"{system:14s}" + "".join(f"{values[m]:12.4f}" for m in MEASURES) + f"{total:10.1f}")
    lines.append("stages (ms/query): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    for name, test in results.get("significance", {}).items():
        lines.append(
            f"{name}: difference {test['paired_t_test']['mean_difference']:+.4f}, "
            f"t-test p = {test['paired_t_test']['p_value']:.3g}, "
            f"randomisation p = {test['randomization']['p_value']:.3g}"
        )
    return "\n".join(lines)
