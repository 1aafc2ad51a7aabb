from __future__ import annotations

import math

import numpy as np
import pytest

from paperzoo.core.metrics import evaluate_run, paired_randomization_test, paired_t_test, rank_documents
from paperzoo.core.metrics.retrieval import parse_measure, run_from_arrays


def naive_scores(qrels, run, k):
    """Slow metrics written from their definitions, over the run sorted as trec_eval sorts it."""
    out = {}
    for query_id, grades in qrels.items():
        ranked = [d for d, _ in sorted(run.get(query_id, {}).items(), key=lambda item: (-item[1], _desc(item[0])))]
        relevant = [d for d, g in grades.items() if g >= 1]
        if not relevant:
            continue
        hits = [1 if d in relevant else 0 for d in ranked]
        dcg = sum(max(grades.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
        ideal = sorted((max(g, 0) for g in grades.values()), reverse=True)[:k]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        first = next((i for i, h in enumerate(hits[:k]) if h), None)
        precisions = [sum(hits[: i + 1]) / (i + 1) for i, h in enumerate(hits) if h]
        out[query_id] = {
            f"ndcg@{k}": dcg / idcg,
            f"recall@{k}": sum(hits[:k]) / len(relevant),
            f"mrr@{k}": 0.0 if first is None else 1.0 / (first + 1),
            "map": sum(precisions) / len(relevant),
        }
    return out


def _desc(doc_id):
    """Sort key giving descending string order inside an ascending sort."""
    return [-ord(c) for c in doc_id] + [1]


def test_hand_computed_values():
    qrels = {"q": {"a": 2, "b": 1, "c": 0, "z": 1}}
    run = {"q": {"x": 3.0, "a": 2.0, "c": 1.5, "b": 1.0}}
    scores = evaluate_run(qrels, run, ["ndcg@3", "recall@3", "mrr@10", "map", "precision@2"]).per_query["q"]
    dcg = 2 / math.log2(3) + 0 / math.log2(4)
    idcg = 2 + 1 / math.log2(3) + 1 / math.log2(4)
    assert scores["ndcg@3"] == pytest.approx(dcg / idcg)
    assert scores["recall@3"] == pytest.approx(1 / 3)
    assert scores["mrr@10"] == pytest.approx(1 / 2)
    assert scores["map"] == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert scores["precision@2"] == pytest.approx(1 / 2)


@pytest.mark.parametrize("seed", range(4))
def test_metrics_match_naive_reference(seed):
    rng = np.random.default_rng(seed)
    docs = [f"d{i:02d}" for i in range(50)]
    qrels = {f"q{q}": {d: int(g) for d, g in zip(rng.choice(docs, 6, replace=False), rng.integers(1, 4, 6))}
             for q in range(15)}  # fmt: skip
    run = {q: {d: float(s) for d, s in zip(rng.choice(docs, 30, replace=False), np.round(rng.random(30), 1))}
           for q in qrels}  # fmt: skip
    ours = evaluate_run(qrels, run, ["ndcg@10", "recall@10", "mrr@10", "map"]).per_query
    expected = naive_scores(qrels, run, 10)
    for query_id, values in expected.items():
        for measure, value in values.items():
            assert ours[query_id][measure] == pytest.approx(value, abs=1e-12)


def test_ties_are_broken_by_document_id_descending():
    assert rank_documents({"a": 1.0, "c": 1.0, "b": 2.0, "d": 1.0}) == ["b", "d", "c", "a"]


def test_queries_missing_from_the_run_score_zero():
    result = evaluate_run({"q1": {"a": 1}, "q2": {"b": 1}}, {"q1": {"a": 1.0}}, ["recall@10"])
    assert result.missing_from_run == ["q2"]
    assert result.mean["recall@10"] == 0.5
    assert result.values("recall@10").tolist() == [1.0, 0.0]


def test_queries_without_relevant_documents_are_not_averaged():
    result = evaluate_run({"q1": {"a": 1}, "q2": {"b": 0}}, {"q1": {"a": 1.0}, "q2": {"b": 1.0}}, ["ndcg@10"])
    assert result.query_ids == ["q1"]
    assert result.mean["ndcg@10"] == 1.0


def test_invalid_measures_are_rejected():
    with pytest.raises(ValueError, match="unknown measure 'ndgc@10'"):
        parse_measure("ndgc@10")
    with pytest.raises(ValueError, match="needs a cutoff"):
        parse_measure("recall")
    with pytest.raises(ValueError, match="takes no cutoff"):
        parse_measure("map@10")


def test_run_from_arrays_skips_padding():
    run = run_from_arrays(["q"], ["a", "b", "c"], np.array([[2, 0, -1]]), np.array([[0.9, 0.5, -np.inf]]))
    assert run == {"q": {"c": 0.9, "a": 0.5}}


def test_paired_t_test_matches_scipy_and_hand_case():
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = rng.random(40), rng.random(40) + 0.1
    result = paired_t_test(a, b)
    expected = stats.ttest_rel(b, a)
    assert result["t"] == pytest.approx(expected.statistic)
    assert result["p_value"] == pytest.approx(expected.pvalue)
    same = paired_t_test([1.0, 2.0], [1.0, 2.0])
    assert same["p_value"] == 1.0


def test_randomization_test_matches_exhaustive_enumeration():
    differences = np.array([0.3, -0.1, 0.2, 0.4, 0.05])
    signs = np.array(np.meshgrid(*[[-1, 1]] * 5)).reshape(5, -1).T
    exact = np.mean(np.abs(signs @ differences) / 5 >= abs(differences.mean()) - 1e-12)
    result = paired_randomization_test(np.zeros(5), differences, trials=20000, seed=1)
    assert result["p_value"] == pytest.approx(exact, abs=0.01)
    assert result["mean_difference"] == pytest.approx(differences.mean())


def test_paired_tests_need_equal_lengths():
    with pytest.raises(ValueError, match="equal length"):
        paired_t_test([1.0, 2.0], [1.0])
