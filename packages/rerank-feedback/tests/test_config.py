from __future__ import annotations

import shutil

import pytest

from paperzoo.core.cli import main
from paperzoo.rerank_feedback.config import EvaluateConfig, TrainRerankerConfig
from paperzoo.rerank_feedback.evaluate import load_collections, retrieval_dataset_info


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rrf_k": -5.0}, "rrf_k must be positive, got -5.0"),
        ({"rrf_k": 0.0}, "rrf_k must be positive, got 0.0"),
        ({"reranker": "ltr", "fusion_weight": 2.0}, r"fusion_weight must be in \[0, 1\]"),
        ({"refit_lambda_scale": 0.0}, "refit_lambda_scale must be positive"),
        ({"reranker_batch_size": 0}, "reranker_batch_size must be at least 1"),
        ({"reranker_max_length": -1}, "reranker_max_length must be at least 1"),
        ({"max_queries": 0}, "max_queries must be at least 1 or none"),
        ({"corpus_sample": 0}, "corpus_sample must be at least 1 or none"),
        ({"embed_batch_size": 0}, "embed_batch_size must be at least 1 or none"),
        ({"nprobe": 0}, "nprobe must be at least 1"),
        ({"bm25_b": 1.5}, r"bm25_b must be in \[0, 1\]"),
        ({"bm25_k1": -0.1}, "bm25_k1 must be >= 0"),
    ],
)
def test_evaluate_config_rejects(values, message):
    with pytest.raises(ValueError, match=message):
        EvaluateConfig(**values)


def test_train_reranker_config_checks_shared_options():
    with pytest.raises(ValueError, match="embed_batch_size must be at least 1 or none"):
        TrainRerankerConfig(embed_batch_size=-5)
    with pytest.raises(ValueError, match="corpus_sample must be at least 1 or none"):
        TrainRerankerConfig(corpus_sample=0)


def test_cli_rejects_negative_rrf_k(tmp_path, capsys):
    status = main(
        ["rerank-feedback", "evaluate", "--reranker", "rrf", "--rrf-k", "-5", "--output-dir", str(tmp_path / "run")]
    )
    assert status == 2
    assert "rrf_k must be positive, got -5.0" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_train_reranker_has_no_max_queries_option(capsys):
    with pytest.raises(SystemExit):
        main(["rerank-feedback", "train-reranker", "--max-queries", "5"])
    assert "unrecognized arguments: --max-queries" in capsys.readouterr().err


def test_help_groups_have_readable_titles(capsys):
    with pytest.raises(SystemExit):
        main(["rerank-feedback", "evaluate", "--help"])
    text = capsys.readouterr().out
    assert "re-ranking, ReFIT and evaluation:" in text
    assert "first-stage retrieval (BM25 and dense):" in text
    assert "Options options" not in text


def test_unknown_dataset_lists_retrieval_datasets_only():
    with pytest.raises(KeyError) as raised:
        retrieval_dataset_info("scifcat")
    message = raised.value.args[0]
    assert "scifact" in message
    assert "cranfield" in message
    assert "digits" not in message


def test_corpus_sample_does_not_depend_on_reranker(toy_beir, tmp_path):
    folder = shutil.copytree(toy_beir, tmp_path / "toy")
    # Test queries judge the cat documents only, so the training split's judgements add the other topics.
    test_qrels = folder / "qrels" / "test.tsv"
    lines = test_qrels.read_text().splitlines()
    test_qrels.write_text("\n".join([lines[0], *(line for line in lines[1:] if line.startswith("cats"))]) + "\n")
    sampled = {}
    for reranker in ("ltr", "fusion", "rrf"):
        config = EvaluateConfig(dataset="beir", data_dir=str(folder), reranker=reranker, corpus_sample=5)
        evaluation, training = load_collections(config)
        sampled[reranker] = evaluation.doc_ids
        assert (training is not None) == (reranker == "ltr")
    assert sampled["fusion"] == sampled["ltr"]
    assert sampled["rrf"] == sampled["ltr"]
    assert len(sampled["ltr"]) == 19  # every document: each topic is judged by a training query


def test_full_corpus_is_kept_without_sample(toy_beir):
    evaluation, training = load_collections(EvaluateConfig(dataset="beir", data_dir=str(toy_beir), reranker="fusion"))
    assert evaluation.num_docs == 19
    assert training is None
