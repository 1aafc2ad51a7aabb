from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from paperzoo.core.config import add_config_arguments, build_config, option


@dataclass
class ToyConfig:
    lr: float = option(0.1, "learning rate")
    epochs: int = option(10, "passes")
    clip: float | None = option(None, "clip norm")
    standardize: bool = option(False, "standardise")
    layers: list[int] = option([64, 64], "widths")
    mode: str = option("a", "mode", choices=("a", "b"))
    precision: str = option("no", "mixed precision", choices=("no", "bf16"))
    preset: str | None = option(None, "preset", cli=False)


def parse(argv, presets=None):
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, ToyConfig, presets)
    return build_config(ToyConfig, parser.parse_args(argv), presets)


def test_defaults_when_nothing_given():
    assert parse([]) == ToyConfig()


def test_precedence_preset_then_file_then_flags(tmp_path):
    preset = tmp_path / "small.yaml"
    preset.write_text("lr: 0.5\nepochs: 3\nmode: b\n")
    user = tmp_path / "mine.yaml"
    user.write_text("epochs: 4\n")
    config = parse(["--preset", "small", "--config", str(user), "--lr", "0.01"], {"small": preset})
    assert config.lr == 0.01
    assert config.epochs == 4
    assert config.mode == "b"
    assert config.preset == "small"


def test_flag_types():
    config = parse(["--clip", "none", "--standardize", "--layers", "8,16"])
    assert config.clip is None
    assert config.standardize is True
    assert config.layers == [8, 16]
    assert parse(["--clip", "2.5"]).clip == 2.5


def test_unknown_yaml_key_is_rejected(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text("learning_rate: 0.1\n")
    with pytest.raises(ValueError, match="unknown option\\(s\\) learning_rate"):
        parse(["--config", str(user)])


def test_invalid_choice_exits():
    with pytest.raises(SystemExit):
        parse(["--mode", "c"])


def test_unquoted_yaml_no_means_the_word(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text("precision: no\nstandardize: no\n")
    config = parse(["--config", str(user)])
    assert config.precision == "no"
    assert config.standardize is False


def test_yaml_values_are_converted_to_the_field_types(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text('lr: 1e-4\nepochs: 12.0\nclip: null\nstandardize: "no"\nlayers: [32, "16"]\n')
    config = parse(["--config", str(user)])
    assert config.lr == pytest.approx(1e-4)  # PyYAML reads 1e-4 (no dot) as text
    assert config.epochs == 12
    assert isinstance(config.epochs, int)
    assert config.clip is None
    assert config.standardize is False  # the quoted word, not a non-empty (true) string
    assert config.layers == [32, 16]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs: one\n", "option epochs must be an integer, got 'one'"),
        ("epochs: 12.5\n", "option epochs must be an integer, got 12.5"),
        ("standardize: maybe\n", "option standardize must be true or false"),
        ("lr: null\n", "option lr needs a value"),
        ("mode: c\n", "option mode must be one of a, b, got 'c'"),
        ("epochs: [1\n", "is not valid YAML"),
    ],
)
def test_bad_yaml_values_name_the_option(tmp_path, text, message):
    user = tmp_path / "mine.yaml"
    user.write_text(text)
    with pytest.raises(ValueError, match=message.replace("(", "\\(").replace("[", "\\[")):
        parse(["--config", str(user)])
