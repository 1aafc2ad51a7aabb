from __future__ import annotations

import numpy as np
import pytest
import torch

from paperzoo.rerank_feedback.refit import (
    kl_gradient,
    kl_per_query,
    refit_one_at_a_time,
    refit_queries,
    score_scale,
)


def problem(num_queries=6, k=20, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    queries = rng.normal(size=(num_queries, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    candidates = rng.normal(size=(num_queries, k, dim)).astype(np.float32)
    candidates /= np.linalg.norm(candidates, axis=2, keepdims=True)
    reranker = (rng.normal(size=(num_queries, k)) * 3).astype(np.float32)
    return queries, candidates, reranker


def naive_kl(reranker_scores, retriever_logits):
    p = np.exp(reranker_scores - reranker_scores.max())
    p /= p.sum()
    log_q = retriever_logits - retriever_logits.max()
    log_q = log_q - np.log(np.exp(log_q).sum())
    return float(np.sum(p * (np.log(p) - log_q)))


def test_loss_decreases_for_every_query():
    queries, candidates, reranker = problem()
    result = refit_queries(queries, candidates, reranker, steps=100, lr=0.005)
    assert (result.final_loss < result.initial_loss).all()
    assert result.loss_curve[-1] < 0.5 * result.loss_curve[0]
    assert np.all(np.diff(result.loss_curve[:10]) < 0)


def test_initial_loss_matches_naive_kl():
    queries, candidates, reranker = problem()
    result = refit_queries(queries, candidates, reranker, steps=1)
    for q in range(len(queries)):
        scores = candidates[q] @ queries[q]
        expected_lambda = 0.5 * np.ptp(reranker[q]) / np.ptp(scores)
        assert result.lambdas[q] == pytest.approx(expected_lambda, rel=1e-5)
        assert result.initial_loss[q] == pytest.approx(naive_kl(reranker[q], expected_lambda * scores), rel=1e-4)


def test_update_moves_the_rerankers_top_document_up():
    queries, candidates, reranker = problem(seed=3)
    for q in range(len(queries)):
        # Make the re-ranker's favourite the retriever's worst candidate.
        worst = int(np.argmin(candidates[q] @ queries[q]))
        reranker[q, worst] = reranker[q].max() + 10.0
    result = refit_queries(queries, candidates, reranker, steps=100, lr=0.005)
    for q in range(len(queries)):
        top = int(np.argmax(reranker[q]))
        before = candidates[q] @ queries[q]
        after = candidates[q] @ result.queries[q]
        rank_before = int((before > before[top]).sum())
        rank_after = int((after > after[top]).sum())
        assert rank_before == candidates.shape[1] - 1
        assert rank_after < rank_before


def test_batched_equals_one_query_at_a_time():
    queries, candidates, reranker = problem(num_queries=9)
    batched = refit_queries(queries, candidates, reranker, steps=30, dtype=torch.float64)
    looped = refit_one_at_a_time(queries, candidates, reranker, steps=30, dtype=torch.float64)
    np.testing.assert_allclose(batched.queries, looped.queries, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(batched.final_loss, looped.final_loss, rtol=1e-6, atol=1e-9)


def test_batch_size_does_not_change_results():
    queries, candidates, reranker = problem(num_queries=10)
    whole = refit_queries(queries, candidates, reranker, steps=20, dtype=torch.float64)
    chunked = refit_queries(queries, candidates, reranker, steps=20, batch_size=3, dtype=torch.float64)
    np.testing.assert_allclose(whole.queries, chunked.queries, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(whole.loss_curve, chunked.loss_curve, rtol=1e-9)


def test_padding_is_ignored():
    queries, candidates, reranker = problem(num_queries=2, k=8)
    padded_scores = reranker.copy()
    padded_scores[0, 5:] = -np.inf
    padded = refit_queries(queries, candidates, padded_scores, steps=10, dtype=torch.float64)
    alone = refit_queries(queries[:1], candidates[:1, :5], reranker[:1, :5], steps=10, dtype=torch.float64)
    np.testing.assert_allclose(padded.queries[0], alone.queries[0], rtol=1e-9, atol=1e-12)


def test_score_scale_hand_computed():
    rerank = torch.tensor([[4.0, 0.0, 2.0], [1.0, 1.0, 1.0]])
    retriever = torch.tensor([[0.9, 0.5, 0.7], [0.3, 0.3, 0.3]])
    valid = torch.ones_like(rerank, dtype=torch.bool)
    lambdas = score_scale(rerank, retriever, valid, 0.5)
    assert lambdas[0].item() == pytest.approx(0.5 * 4.0 / 0.4)
    assert lambdas[1].item() == 1.0


def test_kl_is_zero_for_equal_distributions():
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.log_softmax(logits, dim=1)
    assert kl_per_query(target, logits, torch.ones_like(logits, dtype=torch.bool)).item() == pytest.approx(
        0.0, abs=1e-7
    )


def test_shape_mismatch_is_rejected():
    queries, candidates, reranker = problem()
    with pytest.raises(ValueError, match="shapes disagree"):
        refit_queries(queries[:2], candidates, reranker)


def test_closed_form_gradient_matches_autograd():
    queries, candidates, reranker = problem(num_queries=4, k=12)
    reranker[1, 9:] = -np.inf
    c = torch.as_tensor(candidates, dtype=torch.float64)
    r = torch.as_tensor(reranker, dtype=torch.float64)
    valid = torch.isfinite(r)
    target_log_probs = torch.log_softmax(r, dim=1).masked_fill(~valid, 0.0)
    target = target_log_probs.exp().masked_fill(~valid, 0.0)
    lambdas = torch.tensor([2.0, 5.0, 0.5, 10.0], dtype=torch.float64)
    q = torch.as_tensor(queries, dtype=torch.float64).requires_grad_(True)
    logits = lambdas[:, None] * torch.einsum("qd,qkd->qk", q, c)
    kl_per_query(target_log_probs, logits, valid).sum().backward()
    log_probs = torch.log_softmax(logits.detach().masked_fill(~valid, -torch.inf), dim=1)
    np.testing.assert_allclose(
        kl_gradient(c, lambdas, log_probs, target).numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12
    )


def test_matches_torch_adam_on_autograd_loss():
    queries, candidates, reranker = problem(num_queries=3, k=10)
    result = refit_queries(queries, candidates, reranker, steps=15, lr=0.01, dtype=torch.float64)
    c = torch.as_tensor(candidates, dtype=torch.float64)
    r = torch.as_tensor(reranker, dtype=torch.float64)
    valid = torch.ones_like(r, dtype=torch.bool)
    target_log_probs = torch.log_softmax(r, dim=1)
    q = torch.as_tensor(queries, dtype=torch.float64).clone().requires_grad_(True)
    lambdas = torch.as_tensor(result.lambdas, dtype=torch.float64)
    optimizer = torch.optim.Adam([q], lr=0.01)
    for _ in range(15):
        optimizer.zero_grad()
        kl_per_query(target_log_probs, lambdas[:, None] * torch.einsum("qd,qkd->qk", q, c), valid).sum().backward()
        optimizer.step()
    np.testing.assert_allclose(result.queries, q.detach().numpy(), rtol=1e-5, atol=1e-6)
