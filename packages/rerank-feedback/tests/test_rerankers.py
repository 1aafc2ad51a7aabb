from __future__ import annotations

import numpy as np
import pytest

from paperzoo.rerank_feedback.rerankers import (
    FEATURE_NAMES,
    Candidates,
    FusionReranker,
    LTRReranker,
    candidate_features,
    relevance_labels,
)


def make_candidates(seed=0, num_queries=40, k=10):
    rng = np.random.default_rng(seed)
    rows = np.tile(np.arange(k), (num_queries, 1))
    relevant = rng.random((num_queries, k)) < 0.2
    bm25 = rng.normal(size=(num_queries, k)) + 2.0 * relevant
    dense = rng.normal(size=(num_queries, k)) * 0.1 + 0.3 * relevant
    return Candidates([f"q{i}" for i in range(num_queries)], rows, bm25, dense), relevant.astype(np.int8)


def test_features_hand_computed():
    candidates = Candidates(["q"], np.array([[4, 7, 9]]), np.array([[3.0, 1.0, 2.0]]), np.array([[0.2, 0.6, 0.4]]))
    features = candidate_features(candidates)[0]
    assert features.shape == (3, len(FEATURE_NAMES))
    np.testing.assert_allclose(features[:, 0], [3.0, 1.0, 2.0])
    np.testing.assert_allclose(features[:, 2], [1.0, 0.0, 0.5])
    np.testing.assert_allclose(features[:, 3], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(features[:, 4], np.log2(1 + np.array([1, 3, 2])))
    np.testing.assert_allclose(features[:, 5], np.log2(1 + np.array([3, 1, 2])))


def test_padding_gets_minus_infinity():
    candidates = Candidates(["q"], np.array([[1, 2, -1]]), np.array([[1.0, 2.0, 0.0]]), np.array([[0.1, 0.2, 0.0]]))
    for reranker in (FusionReranker("minmax"), FusionReranker("rrf")):
        scores = reranker.score(candidates)
        assert np.isneginf(scores[0, 2])
        assert np.isfinite(scores[0, :2]).all()


def test_minmax_fusion_and_rrf_hand_computed():
    candidates = Candidates(["q"], np.array([[0, 1]]), np.array([[10.0, 0.0]]), np.array([[0.0, 1.0]]))
    np.testing.assert_allclose(FusionReranker("minmax", weight=0.25).score(candidates), [[0.75, 0.25]])
    expected = [1 / 61 + 1 / 62, 1 / 62 + 1 / 61]
    np.testing.assert_allclose(FusionReranker("rrf").score(candidates), [expected], rtol=1e-6)


def test_ltr_learns_to_put_relevant_documents_first():
    train, train_labels = make_candidates(seed=0)
    test, test_labels = make_candidates(seed=1)
    model = LTRReranker(c=1.0).fit(train, train_labels)
    scores = model.score(test)
    assert model.score_type == "logit"
    assert scores[test_labels == 1].mean() > scores[test_labels == 0].mean() + 1.0
    assert set(model.coefficients()) == {*FEATURE_NAMES, "intercept"}


def test_ltr_needs_both_classes():
    candidates, labels = make_candidates()
    with pytest.raises(ValueError, match="only one class"):
        LTRReranker().fit(candidates, np.zeros_like(labels))


def test_relevance_labels_follow_qrels():
    rows = np.array([[0, 1, 2], [2, -1, 0]])
    labels = relevance_labels(["a", "b"], rows, ["d0", "d1", "d2"], {"a": {"d1": 2, "d2": 0}, "b": {"d0": 1}})
    assert labels.tolist() == [[0, 1, 0], [0, 0, 1]]


def test_candidates_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="bm25 scores have shape"):
        Candidates(["q"], np.zeros((1, 3), dtype=np.int64), np.zeros((1, 2)), np.zeros((1, 3)))


def test_cross_encoder_offline_error_names_the_fix(tmp_path):
    from paperzoo.core.features import EncoderLoadError
    from paperzoo.rerank_feedback.rerankers import CrossEncoderReranker

    with pytest.raises(EncoderLoadError, match=r"could not be loaded.*pass a local folder"):
        CrossEncoderReranker(str(tmp_path / "no-such-model"))
