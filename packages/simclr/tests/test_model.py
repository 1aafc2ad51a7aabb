"""The SimCLR network: shapes, heads, training on a fixed batch, save/load."""

from __future__ import annotations

import pytest
import torch

from paperzoo.core.losses import nt_xent_loss
from paperzoo.core.testing.conformance import check_save_load_roundtrip, check_train_step
from paperzoo.simclr.model import SimCLRModel, backbone_architecture, projection_head


@pytest.mark.parametrize("layers", [2, 3])
def test_forward_shapes_for_both_heads(layers):
    model = SimCLRModel(width=8, head_layers=layers, head_hidden_dim=32, proj_dim=16)
    features, projections = model(torch.randn(4, 3, 32, 32))
    assert features.shape == (4, 64)  # 8 x width of the last stage
    assert projections.shape == (4, 16)
    linear_layers = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert len(linear_layers) == layers


def test_cifar_stem_keeps_resolution_until_first_stage():
    model = SimCLRModel(width=8, cifar_stem=True)
    assert model.encoder.conv1.kernel_size == (3, 3)
    assert model.encoder.conv1.stride == (1, 1)
    assert isinstance(model.encoder.maxpool, torch.nn.Identity)


def test_standard_resnet50_width_has_2048_features():
    assert SimCLRModel(arch="resnet50", cifar_stem=False).feature_dim == 2048


def test_model_trains_on_fixed_batch_with_nt_xent():
    model = SimCLRModel(width=8, head_hidden_dim=32, proj_dim=16)
    batch = torch.randn(8, 3, 16, 16)

    def loss_of(model, batch):
        noisy = batch + 0.1 * torch.randn_like(batch)
        _, z = model(torch.cat([batch, noisy]))
        return nt_xent_loss(*z.chunk(2), temperature=0.5)

    torch.manual_seed(0)
    check_train_step(model, batch, loss_of, steps=15, lr=1e-3)


def test_save_load_roundtrip_is_exact():
    model = SimCLRModel(width=8, head_layers=3, head_hidden_dim=16, proj_dim=8, mean=[0.1, 0.2, 0.3])
    check_save_load_roundtrip(model, torch.randn(2, 3, 16, 16))


def test_backbone_architecture_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown architecture"):
        backbone_architecture("vgg11")


def test_projection_head_needs_a_layer():
    with pytest.raises(ValueError, match="at least 1 layer"):
        projection_head(8, 8, 4, 0)
