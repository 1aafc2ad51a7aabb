from __future__ import annotations

import json

import numpy as np
import pytest

from paperzoo.core.data import read_beir
from paperzoo.core.training import read_metrics
from paperzoo.rerank_feedback.config import TrainRerankerConfig
from paperzoo.rerank_feedback.rerankers import Candidates, CrossEncoderReranker
from paperzoo.rerank_feedback.train_reranker import build_groups, run_train_reranker


def test_groups_hold_a_positive_and_hard_negatives(toy_beir):
    data = read_beir(toy_beir, "train")
    rows = np.tile(np.arange(data.num_docs), (len(data), 1))
    groups = build_groups(data, rows, negatives=3, seed=0)
    assert len(groups) == sum(1 for grades in data.qrels.values() for g in grades.values() if g >= 1)
    documents = data.document_texts()
    for query, texts in groups:
        q = data.queries.index(query)
        relevant = {documents[data.doc_index()[d]] for d in data.qrels[data.query_ids[q]]}
        assert texts[0] in relevant
        assert len(texts) == 4
        assert not relevant & set(texts[1:])


@pytest.mark.slow
def test_cross_encoder_fine_tunes_from_minilm_on_cpu(toy_beir, tmp_path):
    config = TrainRerankerConfig(
        dataset="beir", data_dir=str(toy_beir), negatives=3, negative_depth=10, batch_size=4, max_steps=12,
        lr=1e-4, warmup_fraction=0.0, val_fraction=0.34, pair_max_length=48, eval_k=10, checkpoint_every=6,
        output_dir=str(tmp_path / "run"),
    )  # fmt: skip
    results = run_train_reranker(config)
    assert results["training"]["steps"] == 12
    losses = [record["loss"] for record in read_metrics(tmp_path / "run" / "metrics.jsonl")]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert 0.0 <= results["metrics"]["dense+cross-encoder"]["ndcg@10"] <= 1.0

    reranker = CrossEncoderReranker(results["model"], max_length=48)
    assert reranker.model.config.num_labels == 1
    rows = np.array([[0, 1, -1]])
    scores = reranker.score(Candidates(["why do cats purr"], rows, np.zeros((1, 3)), np.zeros((1, 3))),
                            read_beir(toy_beir, "test").document_texts())  # fmt: skip
    assert np.isfinite(scores[0, :2]).all()
    assert np.isneginf(scores[0, 2])
    assert run_train_reranker(config) == json.loads((tmp_path / "run" / "results.json").read_text())
