"""Pretraining on small images: a short run, the saved encoder, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from paperzoo.core.features import get_encoder
from paperzoo.core.training import make_accelerator, read_metrics
from paperzoo.simclr.config import SimCLRConfig
from paperzoo.simclr.features import extract_features
from paperzoo.simclr.pipeline import save_trained_encoder
from paperzoo.simclr.pretrain import build_augment, plan_steps, pretrain, scaled_lr


def _images(count=64, size=16, channels=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, channels), dtype=np.uint8)


def _config(**overrides):
    values = {
        "width": 8, "head_hidden_dim": 16, "proj_dim": 8, "batch_size": 16, "max_steps": 3,
        "optimizer": "adamw", "lr": 1e-3, "lr_scaling": "none", "warmup_steps": 1, "log_every": 1,
    }  # fmt: skip
    return SimCLRConfig(**{**values, **overrides})


@pytest.mark.parametrize(("optimizer", "channels"), [("lars", 3), ("adamw", 1), ("sgd", 3)])
def test_short_pretraining_runs_and_logs(tmp_path, optimizer, channels):
    model, state = pretrain(
        _images(channels=channels), _config(optimizer=optimizer, lr=0.3 if optimizer != "adamw" else 1e-3),
        seed=0, output_dir=tmp_path, accelerator=make_accelerator(), progress=False,
    )  # fmt: skip
    assert state.step == 3
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) for r in records)
    assert not model.training


def test_pretraining_is_seeded(tmp_path):
    def weights(seed, folder):
        model, _ = pretrain(
            _images(),
            _config(),
            seed=seed,
            output_dir=tmp_path / folder,
            accelerator=make_accelerator(),
            progress=False,
        )
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    first, again, other = weights(0, "a"), weights(0, "b"), weights(1, "c")
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_saved_encoder_loads_through_core_and_matches(tmp_path):
    images = _images(count=40)
    model, _ = pretrain(
        images, _config(), seed=0, output_dir=tmp_path / "run", accelerator=make_accelerator(), progress=False
    )
    save_trained_encoder(tmp_path / "encoder", model, {"trained_by": "test"})
    encoder = get_encoder(str(tmp_path / "encoder"))
    assert encoder.embed_dim == model.feature_dim
    assert encoder.input_size == 16
    from_core = encoder.forward(torch.from_numpy(images).permute(0, 3, 1, 2))
    in_memory = extract_features(model, images)
    np.testing.assert_allclose(from_core.numpy(), in_memory, rtol=1e-4, atol=1e-5)


def test_images_smaller_than_crop_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="crop_size 24 is larger than the 16x16 images"):
        pretrain(_images(), _config(crop_size=24), seed=0, output_dir=tmp_path, accelerator=make_accelerator())


def test_too_few_images_for_one_batch_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="do not fill one batch of 16"):
        pretrain(_images(count=10), _config(), seed=0, output_dir=tmp_path, accelerator=make_accelerator())


def test_non_square_images_are_rejected(tmp_path):
    images = np.zeros((32, 16, 12, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="square images"):
        pretrain(images, _config(), seed=0, output_dir=tmp_path, accelerator=make_accelerator())


def test_lr_scaling_rules():
    assert scaled_lr(SimCLRConfig(lr=0.3, lr_scaling="linear"), 4096) == pytest.approx(4.8)
    assert scaled_lr(SimCLRConfig(lr=0.075, lr_scaling="sqrt"), 4096) == pytest.approx(4.8)
    assert scaled_lr(SimCLRConfig(lr=0.002, lr_scaling="none"), 4096) == pytest.approx(0.002)


def test_plan_steps_from_epochs_and_warmup():
    assert plan_steps(SimCLRConfig(epochs=2, warmup_epochs=0.5), 1000, 100) == (20, 5)
    assert plan_steps(SimCLRConfig(max_steps=7, warmup_steps=10), 1000, 100) == (7, 7)


def test_cifar_recipe_has_no_blur_and_half_strength():
    augment = build_augment(SimCLRConfig(), 32)
    assert augment.blur_prob == 0.0
    assert augment.strength == 0.5
