from __future__ import annotations

import numpy as np
import pytest
import torch

from paperzoo.core.metrics import cluster_accuracy
from paperzoo.temi import TEMI, NeighbourPairs, TEMIConfig, TEMIHeads, TEMILoss, head_losses


def blobs(n=600, clusters=4, dim=32, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) * 3
    labels = rng.integers(0, clusters, n)
    return (centres[labels] + rng.normal(size=(n, dim))).astype(np.float32), labels


SMALL = TEMIConfig(
    num_heads=2,
    batch_size=64,
    epochs=15,
    lr=1e-3,
    warmup_epochs=1,
    teacher_momentum=0.9,
    knn_k=10,
    hidden_dim=64,
    bottleneck_dim=32,
    standardize=True,
)


def test_pairs_are_neighbours_and_reproducible():
    x = torch.arange(20, dtype=torch.float32).view(10, 2)
    neighbours = np.stack([(np.arange(10) + 1) % 10, (np.arange(10) + 2) % 10], axis=1)
    pairs = NeighbourPairs(x, neighbours, seed=3)
    pairs.set_epoch(1)
    first = pairs.partner.clone()
    for i in range(10):
        assert int(first[i]) in neighbours[i]
    pairs.set_epoch(2)
    pairs.set_epoch(1)
    assert torch.equal(pairs.partner, first)
    anchors, partners = pairs.__getitems__([0, 3])
    assert torch.equal(anchors, x[[0, 3]])
    assert torch.equal(partners, x[first[[0, 3]]])


def test_fit_recovers_separated_clusters():
    x, labels = blobs()
    model = TEMI(SMALL).fit(x, num_clusters=4, seed=0, progress=False)
    assert cluster_accuracy(labels, model.labels_) > 0.95
    assert model.head_losses_.shape == (2,)
    assert model.selected_head_ == int(np.argmin(model.head_losses_))
    assert int(model.model_.selected_head) == model.selected_head_
    x_new, labels_new = blobs(n=1000, seed=0)
    x_new, labels_new = x_new[600:], labels_new[600:]
    assert cluster_accuracy(labels_new, model.predict(x_new)) > 0.95


def test_last_layer_frozen_during_first_epoch():
    x, _ = blobs(n=256)
    config = TEMIConfig(**{**SMALL.__dict__, "epochs": 1, "freeze_last_layer_epochs": 1})
    torch.manual_seed(0)
    initial = TEMIHeads(32, 4, num_heads=2, hidden_dim=64, bottleneck_dim=32)
    model = TEMI(config).fit(x, num_clusters=4, seed=0, progress=False)
    # The teacher is an EMA of an unchanged student, so only rounding may differ.
    torch.testing.assert_close(model.model_.last_direction, initial.last_direction, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(model.model_.last_gain, initial.last_gain, rtol=1e-6, atol=1e-7)
    assert (model.model_.w1 - initial.w1).abs().max() > 1e-4


def test_min_steps_stretches_the_epoch_based_schedule():
    x, _ = blobs(n=256)  # 4 steps per epoch at batch 64
    config = TEMIConfig(**{**SMALL.__dict__, "epochs": 2, "warmup_epochs": 1, "min_steps": 20})
    model = TEMI(config)
    assert model._steps(len(x), 1) == (10.0, 20)  # each of the 2 epochs now lasts 10 steps
    model.fit(x, num_clusters=4, seed=0, progress=False)
    assert model.train_state_.step == 20
    # Without the stretch, min_steps below the epoch budget changes nothing.
    config = TEMIConfig(**{**SMALL.__dict__, "epochs": 2, "min_steps": 5})
    assert TEMI(config)._steps(len(x), 1) == (4.0, 8)
    with pytest.raises(ValueError, match="min_steps"):
        TEMIConfig(min_steps=-1)


def test_head_losses_pick_the_trained_head():
    x, _ = blobs(n=300)
    model = TEMI(SMALL).fit(x, num_clusters=4, seed=1, progress=False)
    trained = model.model_
    untrained = TEMIHeads(32, 4, num_heads=2, hidden_dim=64, bottleneck_dim=32)
    untrained.set_standardization(trained.input_mean, trained.input_std)
    mixed = TEMIHeads(32, 4, num_heads=2, hidden_dim=64, bottleneck_dim=32)
    state = untrained.state_dict()
    hidden = 64
    for name in ("w1", "b1"):
        state[name][..., hidden:] = (
            trained.state_dict()[name][..., hidden:] if name == "w1" else trained.state_dict()[name][hidden:]
        )
    for name in ("w2", "b2", "last_direction", "last_gain"):
        state[name][1] = trained.state_dict()[name][1]
    mixed.load_state_dict(state)
    loss = TEMILoss(2, 4)
    loss.prior.copy_(torch.from_numpy(model.prior_))
    losses = head_losses(mixed, torch.from_numpy(x), model.neighbours_, loss)
    assert int(np.argmin(losses)) == 1


def test_interrupted_fit_resumes_identically(tmp_path):
    x, _ = blobs(n=320)
    config = TEMIConfig(**{**SMALL.__dict__, "epochs": 6, "checkpoint_every_epochs": 1})
    straight = TEMI(config).fit(x, num_clusters=4, seed=0, output_dir=tmp_path / "a", progress=False)

    class SimulatedInterruptError(Exception):
        pass

    calls = {"n": 0}
    original = NeighbourPairs.__getitems__

    def failing(self, indices):
        calls["n"] += 1
        if calls["n"] == 17:
            raise SimulatedInterruptError
        return original(self, indices)

    NeighbourPairs.__getitems__ = failing
    try:
        with pytest.raises(SimulatedInterruptError):
            TEMI(config).fit(x, num_clusters=4, seed=0, output_dir=tmp_path / "b", progress=False)
    finally:
        NeighbourPairs.__getitems__ = original
    assert any((tmp_path / "b" / "checkpoints").iterdir())
    resumed = TEMI(config).fit(x, num_clusters=4, seed=0, output_dir=tmp_path / "b", progress=False)
    for name, value in straight.model_.state_dict().items():
        torch.testing.assert_close(resumed.model_.state_dict()[name], value, rtol=0, atol=0)


def test_bad_inputs_are_rejected():
    x, _ = blobs(n=100)
    with pytest.raises(ValueError, match="num_clusters must be at least 2"):
        TEMIConfig(num_clusters=1)
    bad = x.copy()
    bad[5, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        TEMI(SMALL).fit(bad, num_clusters=4, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        TEMI(TEMIConfig(**{**SMALL.__dict__, "batch_size": 512})).fit(x, num_clusters=4, progress=False)
    with pytest.raises(ValueError, match="num_clusters is not set"):
        TEMI(SMALL).fit(x, progress=False)
