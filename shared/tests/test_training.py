from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from paperzoo.core.training import (
    EMA,
    TrainConfig,
    Trainer,
    build_lr_scheduler,
    make_accelerator,
    read_metrics,
    schedule_factor,
)


def test_schedule_values():
    assert schedule_factor(0, total_steps=10, warmup_steps=4) == pytest.approx(0.25)
    assert schedule_factor(3, total_steps=10, warmup_steps=4) == pytest.approx(1.0)
    assert schedule_factor(4, total_steps=10, warmup_steps=4) == pytest.approx(1.0)
    assert schedule_factor(7, total_steps=10, warmup_steps=4, final_factor=0.1) == pytest.approx(
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5))
    )
    assert schedule_factor(10, total_steps=10, warmup_steps=4, final_factor=0.1) == pytest.approx(0.1)
    assert schedule_factor(9, total_steps=10, warmup_steps=2, kind="constant") == 1.0
    with pytest.raises(ValueError, match="invalid schedule"):
        schedule_factor(0, total_steps=10, kind="step")


def test_ema_update_matches_formula():
    student, teacher = nn.Linear(3, 2), nn.Linear(3, 2)
    expected = {k: 0.9 * teacher.state_dict()[k] + 0.1 * v for k, v in student.state_dict().items()}
    EMA(teacher, student, 0.9).update(0)
    for key, value in teacher.state_dict().items():
        torch.testing.assert_close(value, expected[key])


def test_ema_cosine_momentum_reaches_final():
    ema = EMA(nn.Linear(1, 1), nn.Linear(1, 1), 0.99, final_momentum=1.0, total_steps=100)
    assert ema.momentum_at(0) == pytest.approx(0.99)
    assert ema.momentum_at(100) == pytest.approx(1.0)


def _regression_data(n=64):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=generator)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1
    return TensorDataset(x, y.unsqueeze(1))


def _mse(model, batch, state):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def _train(
    tmp_path,
    max_steps,
    *,
    shuffle=True,
    accumulation=1,
    batch_size=8,
    fail_at=None,
    checkpoint_every=0,
    resume=True,
    noisy=False,
):
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = build_lr_scheduler(optimizer, total_steps=max_steps, warmup_steps=3)
    loader = DataLoader(_regression_data(), batch_size=batch_size, shuffle=shuffle)
    accelerator = make_accelerator(gradient_accumulation_steps=accumulation)

    def loss_fn(model, batch, state):
        if fail_at is not None and state.step == fail_at:
            raise KeyboardInterrupt
        if noisy:  # a loss that draws from the global RNG, like dropout or augmentation
            x, y = batch
            return nn.functional.mse_loss(model(x + 0.1 * torch.randn_like(x)), y)
        return _mse(model, batch, state)

    trainer = Trainer(
        model=model,
        optimizer=optimizer,
        train_loader=loader,
        loss_fn=loss_fn,
        config=TrainConfig(
            max_steps=max_steps,
            gradient_accumulation_steps=accumulation,
            log_every=1,
            checkpoint_every=checkpoint_every,
            progress=False,
        ),
        output_dir=tmp_path,
        accelerator=accelerator,
        scheduler=scheduler,
    )
    state = trainer.fit(resume=resume)
    return trainer.unwrapped_model, state


def test_trainer_reduces_loss(tmp_path):
    model, state = _train(tmp_path, 60)
    data = _regression_data()
    assert state.step == 60
    assert state.epoch == 7
    loss = nn.functional.mse_loss(model(data.tensors[0]), data.tensors[1])
    assert loss < 0.1  # from about 14 (the variance of y)
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, 61))
    assert records[-1]["loss"] < records[0]["loss"]


def test_interrupted_run_resumes_to_identical_weights(tmp_path):
    reference, _ = _train(tmp_path / "straight", 30)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "resumed", 30, fail_at=13, checkpoint_every=5)
    checkpoints = sorted(p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir())
    assert checkpoints == ["step-00000005", "step-00000010"]
    resumed, state = _train(tmp_path / "resumed", 30, checkpoint_every=5)
    assert state.step == 30
    for a, b in zip(reference.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    steps = [r["step"] for r in read_metrics(tmp_path / "resumed" / "metrics.jsonl")]
    assert steps == list(range(1, 31))


def test_resume_from_a_checkpoint_at_an_epoch_boundary(tmp_path):
    # 64 examples in batches of 8: the checkpoint at step 16 closes epoch 1 exactly.
    reference, _ = _train(tmp_path / "straight", 24, noisy=True)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "resumed", 24, fail_at=17, checkpoint_every=8, noisy=True)
    resumed, state = _train(tmp_path / "resumed", 24, checkpoint_every=8, noisy=True)
    assert (state.step, state.epoch) == (24, 2)
    for a, b in zip(reference.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_gradient_accumulation_equals_large_batch(tmp_path):
    large, _ = _train(tmp_path / "large", 8, shuffle=False, batch_size=16)
    accumulated, _ = _train(tmp_path / "accumulated", 8, shuffle=False, batch_size=8, accumulation=2)
    for a, b in zip(large.parameters(), accumulated.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_bf16_mixed_precision_trains(tmp_path):
    torch.manual_seed(0)
    accelerator = make_accelerator(mixed_precision="bf16")
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    trainer = Trainer(
        model=model,
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
        train_loader=DataLoader(_regression_data(), batch_size=16, shuffle=True),
        loss_fn=_mse,
        config=TrainConfig(max_steps=40, log_every=10, progress=False),
        output_dir=tmp_path,
        accelerator=accelerator,
    )
    trainer.fit()
    losses = [r["loss"] for r in read_metrics(tmp_path / "metrics.jsonl")]
    assert losses[-1] < losses[0] / 2


def test_nonfinite_loss_stops_with_clear_error(tmp_path):
    accelerator = make_accelerator()
    model = nn.Linear(4, 1)
    trainer = Trainer(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        train_loader=DataLoader(_regression_data(), batch_size=8),
        loss_fn=lambda m, b, s: m(b[0]).sum() * float("nan"),
        config=TrainConfig(max_steps=3, progress=False),
        output_dir=tmp_path,
        accelerator=accelerator,
    )
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        trainer.fit()


def test_fp16_on_cpu_is_rejected():
    with pytest.raises(ValueError, match="bf16"):
        make_accelerator(mixed_precision="fp16", cpu=True)
