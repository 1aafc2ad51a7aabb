"""The ``paperzoo rerank-feedback`` commands on real SciFact and Cranfield files with tiny budgets."""

from __future__ import annotations

import json
import subprocess
import sys

from paperzoo.core.testing import requires_data

SCIFACT = ("beir/scifact/corpus.jsonl", "beir/scifact/queries.jsonl", "beir/scifact/qrels/test.tsv")
TINY = [
    "--max-queries", "20", "--corpus-sample", "200", "--max-length", "64", "--k", "20", "--depth", "100",
    "--refit-steps", "20", "--significance-trials", "500", "--save-run-depth", "10",
]  # fmt: skip


def paperzoo(*args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        [sys.executable, "-m", "paperzoo.core.cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check:
        assert completed.returncode == 0, completed.stderr[-4000:]
    return completed


def test_evaluate_help_lists_refit_options():
    assert "--refit-steps" in paperzoo("rerank-feedback", "evaluate", "--help").stdout


@requires_data(*SCIFACT, "beir/scifact/qrels/train.tsv")
def test_evaluate_on_scifact(tmp_path):
    run = tmp_path / "scifact"
    completed = paperzoo(
        "rerank-feedback", "evaluate", "--dataset", "scifact", "--retriever", "minilm", "--reranker", "ltr",
        "--output-dir", str(run), *TINY,
    )  # fmt: skip
    for system in ("bm25", "dense", "dense+rerank", "refit", "refit+rerank"):
        assert system in completed.stdout
    assert "refit+rerank" not in completed.stderr  # the table goes to stdout only
    assert f"table.txt, per_query.csv and TREC runs to {run}" in completed.stderr
    results = json.loads((run / "results.json").read_text())
    for system in ("bm25", "dense", "dense+rerank", "refit", "refit+rerank"):
        for measure in ("ndcg@10", "recall@100", "recall@1000", "mrr@10"):
            assert 0.0 <= results["metrics"][system][measure] <= 1.0
    assert results["data"]["queries"] == 20
    assert results["data"]["corpus_sampled"] is True
    assert results["reranker"]["score_type"] == "logit"
    assert results["refit"]["mean_final_kl"] < results["refit"]["mean_initial_kl"]
    assert set(results["ms_per_query"]) >= {"bm25", "dense_encode", "rerank", "refit_update", "refit_search"}
    assert "refit vs dense: recall@100" in results["significance"]
    assert (run / "per_query.csv").is_file()
    assert len((run / "runs" / "refit.trec").read_text().splitlines()) == 20 * 10
    assert sorted(path.name for path in (run / "runs").iterdir()) == [
        "bm25.trec", "dense.trec", "dense_rerank.trec", "refit.trec", "refit_rerank.trec",
    ]  # fmt: skip


@requires_data("cranfield/cran.all.1400", "cranfield/cran.qry", "cranfield/cranqrel")
def test_cranfield_needs_an_unsupervised_reranker(tmp_path):
    refused = paperzoo("rerank-feedback", "evaluate", "--dataset", "cranfield", "--output-dir", str(tmp_path / "a"),
                       *TINY, check=False)  # fmt: skip
    assert refused.returncode == 2
    assert "choose --reranker fusion, rrf or cross-encoder" in refused.stderr
    run = tmp_path / "cranfield"
    paperzoo("rerank-feedback", "evaluate", "--dataset", "cranfield", "--reranker", "fusion", "--output-dir", str(run),
             *TINY)  # fmt: skip
    results = json.loads((run / "results.json").read_text())
    assert results["reranker"]["score_type"] == "fused"
    assert results["data"]["dropped_input_lines"] == {"qrels_unmapped_grade": 225}


@requires_data(*SCIFACT, "beir/scifact/qrels/train.tsv")
def test_train_reranker_then_evaluate_with_it(tmp_path):
    trained = tmp_path / "trained"
    completed = paperzoo(
        "rerank-feedback", "train-reranker", "--dataset", "scifact", "--max-train-queries", "12",
        "--corpus-sample", "150", "--max-length", "64", "--max-steps", "3", "--batch-size", "2", "--negatives", "3",
        "--negative-depth", "10", "--pair-max-length", "64", "--eval-k", "10", "--val-fraction", "0.25",
        "--output-dir", str(trained),
    )  # fmt: skip
    assert "re-ranked by the cross-encoder" in completed.stdout
    results = json.loads((trained / "results.json").read_text())
    assert results["training"]["steps"] == 3
    assert (trained / "model" / "config.json").is_file()
    assert not (trained / "checkpoints").exists()

    run = tmp_path / "with-cross-encoder"
    paperzoo(
        "rerank-feedback", "evaluate", "--dataset", "scifact", "--reranker", "cross-encoder",
        "--reranker-model", str(trained / "model"), "--reranker-max-length", "64", "--output-dir", str(run),
        *[a if a != "20" else "5" for a in TINY[:2]], *TINY[2:],
    )  # fmt: skip
    evaluated = json.loads((run / "results.json").read_text())
    assert evaluated["reranker"]["model"] == str(trained / "model")
    assert evaluated["data"]["queries"] == 5


def test_invalid_depth_is_reported(tmp_path):
    completed = paperzoo("rerank-feedback", "evaluate", "--k", "0", "--output-dir", str(tmp_path / "x"), check=False)
    assert completed.returncode == 2
    assert "k must be at least 1, got 0" in completed.stderr


def test_negative_rrf_k_is_reported(tmp_path):
    completed = paperzoo("rerank-feedback", "evaluate", "--reranker", "rrf", "--rrf-k", "-5",
                         "--output-dir", str(tmp_path / "x"), check=False)  # fmt: skip
    assert completed.returncode == 2
    assert "rrf_k must be positive, got -5.0" in completed.stderr
