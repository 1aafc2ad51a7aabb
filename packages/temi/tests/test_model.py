from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from paperzoo.core.testing.conformance import check_save_load_roundtrip, check_seeded_determinism, check_train_step
from paperzoo.temi import TEMIHeads, TEMILoss


def reference_head(heads: TEMIHeads, h: int) -> nn.Module:
    """One head built from standard layers with the same weights (Linear, GELU, Linear, weight norm)."""
    hidden, bottleneck = heads.hidden_dim, heads.bottleneck_dim
    first = nn.Linear(heads.in_dim, hidden)
    first.weight.data = heads.w1[:, h * hidden : (h + 1) * hidden].T.clone()
    first.bias.data = heads.b1[h * hidden : (h + 1) * hidden].clone()
    second = nn.Linear(hidden, bottleneck)
    second.weight.data = heads.w2[h].T.clone()
    second.bias.data = heads.b2[h, 0].clone()
    last = nn.utils.parametrizations.weight_norm(nn.Linear(bottleneck, heads.num_clusters, bias=False))
    last.parametrizations.weight.original0.data = heads.last_gain[h].unsqueeze(1).clone()
    last.parametrizations.weight.original1.data = heads.last_direction[h].clone()

    class Head(nn.Module):
        def forward(self, x):
            return last(F.normalize(second(F.gelu(first(x))), dim=-1))

    return Head()


def test_batched_heads_equal_standard_layers():
    torch.manual_seed(0)
    heads = TEMIHeads(12, 5, num_heads=3, hidden_dim=8, bottleneck_dim=6)
    with torch.no_grad():
        heads.last_gain.mul_(torch.rand_like(heads.last_gain) + 0.5)
    x = torch.randn(7, 12)
    logits = heads(x)
    assert logits.shape == (3, 7, 5)
    for h in range(3):
        torch.testing.assert_close(logits[h], reference_head(heads, h)(x), rtol=1e-5, atol=1e-6)


def test_gain_starts_at_one_so_logits_are_cosines():
    heads = TEMIHeads(8, 4, num_heads=2)
    assert torch.equal(heads.last_gain, torch.ones(2, 4))
    assert heads(torch.randn(10, 8)).abs().max() <= 1.0 + 1e-6


def test_standardization_is_applied():
    heads = TEMIHeads(4, 3, num_heads=1)
    x = torch.randn(5, 4)
    before = heads(x)
    heads.set_standardization(torch.full((4,), 2.0), torch.full((4,), 3.0))
    torch.testing.assert_close(heads((x * 3.0) + 2.0), before)


def test_conformance_train_step_save_load_and_seeding():
    torch.manual_seed(0)
    heads = TEMIHeads(16, 4, num_heads=2, hidden_dim=32, bottleneck_dim=8, encoder="efficientnet_lite0")
    loss = TEMILoss(2, 4)
    x, neighbour = torch.randn(32, 16), torch.randn(32, 16)

    def loss_of(model, batch):
        a, b = batch
        logits = model(torch.cat([a, b]))
        return loss(logits[:, :32], logits[:, 32:], logits[:, :32].detach(), logits[:, 32:].detach())[0]

    check_train_step(heads, (x, neighbour), loss_of)
    heads.selected_head.fill_(1)
    check_save_load_roundtrip(heads, x)

    def build(seed):
        torch.manual_seed(seed)
        return TEMIHeads(16, 4, num_heads=2)(x)

    check_seeded_determinism(build)


def test_saved_model_keeps_encoder_and_head(tmp_path):
    heads = TEMIHeads(8, 3, num_heads=2, encoder="minilm", encoder_precision="fp32")
    heads.selected_head.fill_(1)
    heads.save_pretrained(tmp_path)
    restored = TEMIHeads.from_pretrained(tmp_path)
    assert restored.encoder == "minilm"
    assert restored.encoder_precision == "fp32"
    assert int(restored.selected_head) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"num_clusters": 1}, "num_clusters"), ({"num_heads": 0}, "num_heads")]
)
def test_invalid_shapes_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TEMIHeads(**{"in_dim": 4, "num_clusters": 3, **kwargs})
