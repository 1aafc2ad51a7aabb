"""NT-Xent against a slow loop written from the SimCLR paper's algorithm and closed-form cases."""

from __future__ import annotations

import math

import pytest
import torch

from paperzoo.core.losses import nt_xent_loss


def nt_xent_loop(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's Algorithm 1, one anchor at a time: views 2k and 2k+1 come from image k."""
    views = []
    for a, b in zip(z_a, z_b):
        views += [a, b]
    count = len(views)

    def similarity(i: int, j: int) -> torch.Tensor:
        return torch.dot(views[i], views[j]) / (views[i].norm() * views[j].norm())

    def pair_loss(i: int, j: int) -> torch.Tensor:
        denominator = sum(torch.exp(similarity(i, k) / temperature) for k in range(count) if k != i)
        return -torch.log(torch.exp(similarity(i, j) / temperature) / denominator)

    total = sum(pair_loss(2 * k, 2 * k + 1) + pair_loss(2 * k + 1, 2 * k) for k in range(count // 2))
    return total / count


@pytest.mark.parametrize(("rows", "dim", "temperature"), [(2, 3, 0.5), (5, 8, 0.1), (8, 4, 1.0)])
def test_nt_xent_matches_paper_loop(rows, dim, temperature):
    generator = torch.Generator().manual_seed(rows)
    z_a = torch.randn(rows, dim, generator=generator, dtype=torch.float64)
    z_b = torch.randn(rows, dim, generator=generator, dtype=torch.float64)
    expected = nt_xent_loop(z_a, z_b, temperature)
    got = nt_xent_loss(z_a.float(), z_b.float(), temperature)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_nt_xent_gradient_matches_paper_loop():
    generator = torch.Generator().manual_seed(0)
    z_a = torch.randn(6, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    z_b = torch.randn(6, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    nt_xent_loop(z_a, z_b, 0.3).backward()
    expected = (z_a.grad.clone(), z_b.grad.clone())
    z_a.grad, z_b.grad = None, None
    nt_xent_loss(z_a, z_b, 0.3).backward()
    torch.testing.assert_close(z_a.grad, expected[0], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(z_b.grad, expected[1], rtol=1e-4, atol=1e-6)


def test_nt_xent_identical_views_closed_form():
    # Every view equal: all 2N - 1 candidates score the same, so l = log(2N - 1).
    rows = 4
    z = torch.ones(rows, 3)
    assert nt_xent_loss(z, z, 0.5).item() == pytest.approx(math.log(2 * rows - 1), rel=1e-6)


def test_nt_xent_orthogonal_images_closed_form():
    # Both views of image k equal e_k: the positive scores 1, the 2N - 2 others 0.
    rows, temperature = 3, 0.25
    z = torch.eye(rows)
    expected = math.log(1.0 + (2 * rows - 2) * math.exp(-1.0 / temperature))
    assert nt_xent_loss(z, z * 3.0, temperature).item() == pytest.approx(expected, rel=1e-6)


def test_nt_xent_masks_self_similarity():
    # Without the mask, the self-similarity exp(1/t) would enter every denominator.
    z_a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z_b = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    temperature = 0.5
    # Anchor view 1 of image 0 = e1: positive e2 (score 0), negatives e2 (0) and e1 (1, other image's view 2).
    per_view = -math.log(1.0 / (1.0 + 1.0 + math.exp(1.0 / temperature)))
    assert nt_xent_loss(z_a, z_b, temperature).item() == pytest.approx(per_view, rel=1e-6)


@pytest.mark.parametrize("temperature", [0.0, -0.1])
def test_nt_xent_rejects_non_positive_temperature(temperature):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        nt_xent_loss(torch.randn(4, 3), torch.randn(4, 3), temperature)


def test_nt_xent_rejects_single_image():
    with pytest.raises(ValueError, match="at least 2 images"):
        nt_xent_loss(torch.randn(1, 3), torch.randn(1, 3), 0.5)


def test_nt_xent_rejects_mismatched_views():
    with pytest.raises(ValueError, match="same shape"):
        nt_xent_loss(torch.randn(4, 3), torch.randn(5, 3), 0.5)
