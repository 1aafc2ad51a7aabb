"""Configs and presets: invalid values raise clear errors, every preset builds."""

from __future__ import annotations

import pytest

from paperzoo.core.config import build_config
from paperzoo.simclr.config import PRESETS, EvalConfig, PretrainConfig, SimCLRConfig


@pytest.mark.parametrize("temperature", [0.0, -0.5])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        SimCLRConfig(temperature=temperature)


def test_batch_size_one_is_rejected():
    with pytest.raises(ValueError, match="batch_size must be at least 2"):
        SimCLRConfig(batch_size=1)


def test_unknown_protocol_is_rejected():
    with pytest.raises(ValueError, match="unknown protocol"):
        EvalConfig(protocol=["linear", "finetune"])


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds(name):
    config = build_config(PretrainConfig, {"preset": name}, PRESETS)
    assert config.preset == name
    assert config.temperature > 0


def test_presets_include_paper_recipes_and_cpu_small():
    assert {"paper-imagenet", "paper-cifar10", "cpu-small"} <= set(PRESETS)
    imagenet = build_config(PretrainConfig, {"preset": "paper-imagenet"}, PRESETS)
    assert (imagenet.arch, imagenet.batch_size, imagenet.optimizer, imagenet.epochs) == ("resnet50", 4096, "lars", 100)
    assert imagenet.lr * imagenet.batch_size / 256 == pytest.approx(4.8)


def test_flags_override_preset():
    config = build_config(PretrainConfig, {"preset": "cpu-small", "temperature": 0.7}, PRESETS)
    assert config.temperature == 0.7


def test_pretrain_help_shows_preset_defaults(capsys):
    from paperzoo.core.cli import main

    with pytest.raises(SystemExit):
        main(["simclr", "pretrain", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 16, from preset cpu-small)" in text
    assert "(default: adamw, from preset cpu-small)" in text
    assert "recipe (the SimCLR pretraining settings):" in text
    assert "evaluation (kNN and linear probe):" in text
    assert "Config options" not in text


def test_evaluate_help_has_readable_groups(capsys):
    from paperzoo.core.cli import main

    with pytest.raises(SystemExit):
        main(["simclr", "evaluate", "--help"])
    text = capsys.readouterr().out
    assert "model and run:" in text
    assert "data:" in text
    assert "Config options" not in text
