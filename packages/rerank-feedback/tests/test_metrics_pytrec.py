"""The core's ranking metrics agree with pytrec_eval (trec_eval) on hand-made and random runs."""

from __future__ import annotations

import numpy as np
import pytest
import pytrec_eval

from paperzoo.core.metrics import evaluate_run

TREC_NAMES = {
    "ndcg@10": "ndcg_cut_10",
    "ndcg@5": "ndcg_cut_5",
    "recall@5": "recall_5",
    "recall@100": "recall_100",
    "precision@5": "P_5",
    "map": "map",
}


def trec_scores(qrels, run):
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.5,10", "recall.5,100", "P.5", "map", "recip_rank"})
    return evaluator.evaluate(run)


def test_hand_made_run_with_ties_matches_trec_eval():
    qrels = {
        "q1": {"d1": 2, "d2": 1, "d3": 0, "d9": 1},
        "q2": {"d5": 1},
        "q3": {"d1": 3, "d4": 1},
    }
    run = {
        # d1, d2 and d3 tie: trec_eval ranks them d3, d2, d1 (document id descending).
        "q1": {"d1": 1.0, "d2": 1.0, "d3": 1.0, "d4": 2.0, "d5": 0.5},
        "q2": {"d5": 0.1, "d6": 0.1, "d7": 0.3},
        "q3": {"d4": 5.0, "d1": 4.0, "d2": 4.0},
    }
    ours = evaluate_run(qrels, run, [*list(TREC_NAMES), "mrr@1000"])
    theirs = trec_scores(qrels, run)
    for query_id in qrels:
        for measure, trec_name in TREC_NAMES.items():
            assert ours.per_query[query_id][measure] == pytest.approx(theirs[query_id][trec_name], abs=1e-12)
        assert ours.per_query[query_id]["mrr@1000"] == pytest.approx(theirs[query_id]["recip_rank"], abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_random_graded_runs_match_trec_eval(seed):
    rng = np.random.default_rng(seed)
    docs = [f"d{i}" for i in range(60)]
    qrels, run = {}, {}
    for q in range(20):
        judged = rng.choice(docs, size=8, replace=False)
        qrels[f"q{q}"] = {d: int(g) for d, g in zip(judged, rng.integers(0, 4, size=8))}
        retrieved = rng.choice(docs, size=40, replace=False)
        # Rounded scores create many ties, which both sides must break the same way.
        run[f"q{q}"] = {d: float(s) for d, s in zip(retrieved, np.round(rng.random(40), 1))}
    qrels = {q: grades for q, grades in qrels.items() if any(g > 0 for g in grades.values())}
    ours = evaluate_run(qrels, run, TREC_NAMES)
    theirs = trec_scores(qrels, run)
    for query_id in qrels:
        for measure, trec_name in TREC_NAMES.items():
            assert ours.per_query[query_id][measure] == pytest.approx(theirs[query_id][trec_name], abs=1e-12)


def test_mrr_cutoff_matches_trec_eval():
    qrels = {"q": {"b": 1}}
    run = {"q": {"a": 3.0, "b": 2.0, "c": 1.0}}
    ours = evaluate_run(qrels, run, ["mrr@10", "mrr@1"])
    assert ours.per_query["q"]["mrr@10"] == pytest.approx(trec_scores(qrels, run)["q"]["recip_rank"])
    assert ours.per_query["q"]["mrr@1"] == 0.0
