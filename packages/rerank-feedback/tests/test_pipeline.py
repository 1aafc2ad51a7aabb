from __future__ import annotations

import json

import numpy as np
import pytest

from paperzoo.core.data import read_beir
from paperzoo.core.metrics import evaluate_run, run_from_arrays
from paperzoo.rerank_feedback import DenseRetriever, FusionReranker, Ranking, RerankPipeline, rerank_top
from paperzoo.rerank_feedback.config import EvaluateConfig
from paperzoo.rerank_feedback.evaluate import run_evaluate


@pytest.fixture
def collection(toy_beir):
    return toy_beir


def test_rerank_top_keeps_the_tail():
    ranking = Ranking(np.array([[5, 6, 7, 8]]), np.array([[4.0, 3.0, 2.0, 1.0]]))
    reranked = rerank_top(ranking, np.array([[0.1, 0.9, 0.5]]), k=3)
    assert reranked.rows.tolist() == [[6, 7, 5, 8]]
    assert reranked.scores.tolist() == [[4.0, 3.0, 2.0, 1.0]]


def test_rerank_top_keeps_first_stage_order_on_ties():
    ranking = Ranking(np.array([[1, 2, 3]]), np.array([[3.0, 2.0, 1.0]]))
    assert rerank_top(ranking, np.zeros((1, 3)), k=3).rows.tolist() == [[1, 2, 3]]


def test_pipeline_runs_every_system(collection):
    data = read_beir(collection, "test")
    pipeline = RerankPipeline(DenseRetriever("minilm"), FusionReranker(), k=5, depth=10, refit_steps=10)
    output = pipeline.index(data, show_progress=False).run(data.queries)
    assert set(output.rankings) == {"bm25", "dense", "dense+rerank", "refit", "refit+rerank"}
    for ranking in output.rankings.values():
        assert ranking.rows.shape == (len(data), 10)
        assert all(len(set(row)) == 10 for row in ranking.rows.tolist())
    dense = output.rankings["dense"]
    reranked = output.rankings["dense+rerank"]
    assert np.array_equal(np.sort(dense.rows[:, :5], axis=1), np.sort(reranked.rows[:, :5], axis=1))
    assert np.array_equal(dense.rows[:, 5:], reranked.rows[:, 5:])
    assert output.refit.queries.shape == (len(data), 384)
    assert set(output.ms_per_query()) >= {"bm25", "dense_encode", "rerank", "refit_update", "refit_search"}
    run = run_from_arrays(data.query_ids, data.doc_ids, dense.rows, dense.scores)
    assert evaluate_run(data.qrels, run, ["ndcg@10"]).mean["ndcg@10"] > 0.5


def test_evaluate_writes_results_and_resumes(collection, tmp_path):
    config = EvaluateConfig(
        dataset="beir", data_dir=str(collection), reranker="ltr", k=6, depth=12, refit_steps=5,
        ltr_c=[0.1, 1.0], val_fraction=0.5, significance_trials=200, output_dir=str(tmp_path / "run"),
    )  # fmt: skip
    results = run_evaluate(config)
    for system in ("bm25", "dense", "dense+rerank", "refit", "refit+rerank"):
        assert set(results["metrics"][system]) >= {"ndcg@10", "recall@100", "recall@1000", "mrr@10"}
        assert 0.0 <= results["metrics"][system]["ndcg@10"] <= 1.0
    assert results["reranker"]["name"] == "ltr"
    assert results["reranker"]["training"]["chosen_c"] in (0.1, 1.0)
    assert "refit vs dense: recall@100" in results["significance"]
    lines = (tmp_path / "run" / "per_query.csv").read_text().splitlines()
    assert lines[0].startswith("system,query_id,ndcg@10")
    assert len(lines) == 1 + 5 * 6
    assert (tmp_path / "run" / "runs" / "refit.trec").is_file()
    assert (tmp_path / "run" / "recall.png").is_file()
    assert "refit+rerank" in (tmp_path / "run" / "table.txt").read_text()
    again = run_evaluate(config)
    assert again == json.loads((tmp_path / "run" / "results.json").read_text())


def test_ltr_needs_a_training_split(collection, tmp_path):
    config = EvaluateConfig(dataset="beir", data_dir=str(collection), split="test", train_split="test",
                            output_dir=str(tmp_path / "run"))  # fmt: skip
    with pytest.raises(ValueError, match="ltr re-ranker trains on the qrels"):
        run_evaluate(config)


def test_ivf_index_is_cached_and_searches(collection):
    from paperzoo.core.cache import cache_dir

    data = read_beir(collection, "test")
    first = DenseRetriever("minilm", index="ivf", nlist=2, nprobe=2).fit(data.corpus_dataset(), show_progress=False)
    cached = sorted((cache_dir() / "faiss").glob("*.faiss"))
    second = DenseRetriever("minilm", index="ivf", nlist=2, nprobe=2).fit(data.corpus_dataset(), show_progress=False)
    assert sorted((cache_dir() / "faiss").glob("*.faiss")) == cached
    queries = first.encode_queries(data.queries)
    scores, rows = second.search_vectors(queries, 5)
    exact = queries @ first.doc_vectors_.T
    assert rows.shape == (len(data), 5)
    np.testing.assert_allclose(scores[:, 0], exact[np.arange(len(data)), rows[:, 0]], rtol=1e-5)
