"""Typed command configs: one dataclass, set from defaults, a preset, a YAML file and flags.

Precedence, lowest first: the dataclass defaults, ``--preset NAME`` (a YAML
file shipped with the method), ``--config FILE`` (the user's YAML), then
options given on the command line. The resolved config is what a run saves
in its ``config.yaml``.

Field metadata understood here: ``help`` (the option's help text),
``choices`` (allowed values) and ``cli`` (False hides the field from the
command line; it can still be set from YAML).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

ConfigT = TypeVar("ConfigT")


def option(default: Any, help: str, *, choices: tuple | None = None, cli: bool = True) -> Any:  # noqa: A002
    """Declare a config field with its help text (a ``dataclasses.field`` shortcut)."""
    metadata = {"help": help, "choices": choices, "cli": cli}
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _parser_for(annotation: Any, optional: bool):
    origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation) or (str,)

        def parse_list(text: str) -> list:
            return [item(part.strip()) for part in text.split(",") if part.strip()]

        parse_list.__name__ = f"comma-separated {item.__name__} list"
        return parse_list
    base = annotation if annotation in (int, float, str) else str

    def parse(text: str):
        if optional and text.lower() in {"none", "null"}:
            return None
        return base(text)

    parse.__name__ = base.__name__
    return parse


def add_config_arguments(
    parser: argparse.ArgumentParser, config_cls: type, presets: Mapping[str, Path] | None = None
) -> None:
    """Add one ``--flag`` per field of ``config_cls``, plus ``--config`` and ``--preset``.

    Flags default to "not given", so only explicit options override a preset
    or a YAML file; the help text shows the dataclass default.
    """
    hints = typing.get_type_hints(config_cls)
    if presets:
        parser.add_argument(
            "--preset",
            choices=sorted(presets),
            default=argparse.SUPPRESS,
            help="start from a shipped recipe (options given here still override it)",
        )
    parser.add_argument(
        "--config", type=Path, default=argparse.SUPPRESS, metavar="YAML", help="read options from a YAML file"
    )
    for field in dataclasses.fields(config_cls):
        if not field.metadata.get("cli", True):
            continue
        annotation, optional = _unwrap_optional(hints[field.name])
        flag = "--" + field.name.replace("_", "-")
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        help_text = field.metadata.get("help", "")
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        help_text = f"{help_text} (default: {shown})" if help_text else f"(default: {shown})"
        if annotation is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
            continue
        parser.add_argument(
            flag,
            dest=field.name,
            type=_parser_for(annotation, optional),
            choices=field.metadata.get("choices"),
            default=argparse.SUPPRESS,
            help=help_text,
            metavar=field.name.upper() if field.metadata.get("choices") is None else None,
        )


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is an empty mapping."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"config file {path} must hold a mapping of option: value, got {type(loaded).__name__}")
    return {str(key).replace("-", "_"): value for key, value in loaded.items()}


def build_config(
    config_cls: type[ConfigT],
    values: Mapping[str, Any] | argparse.Namespace,
    presets: Mapping[str, Path] | None = None,
) -> ConfigT:
    """Resolve a config from a preset, a YAML file and explicit values.

    Args:
        config_cls: the dataclass.
        values: parsed arguments or a mapping; the keys ``preset`` and
            ``config`` select the preset and YAML file, other keys set fields.
        presets: preset name to YAML path.

    Raises:
        ValueError: unknown preset, unknown keys in a YAML file, or a field
            value the dataclass rejects.
    """
    values = dict(vars(values) if isinstance(values, argparse.Namespace) else values)
    merged: dict[str, Any] = {}
    preset = values.pop("preset", None)
    if preset is not None:
        if not presets or preset not in presets:
            raise ValueError(f"unknown preset {preset!r}; available presets: {', '.join(sorted(presets or {}))}")
        merged.update(_checked(config_cls, read_yaml(presets[preset]), f"preset {preset!r}"))
        merged["preset"] = preset
    config_file = values.pop("config", None)
    if config_file is not None:
        merged.update(_checked(config_cls, read_yaml(config_file), f"config file {config_file}"))
    names = {f.name for f in dataclasses.fields(config_cls)}
    merged.update({key: value for key, value in values.items() if key in names})
    if "preset" in merged and "preset" not in names:
        merged.pop("preset")
    return config_cls(**merged)


def _checked(config_cls: type, values: dict[str, Any], source: str) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(
            f"{source} sets unknown option(s) {', '.join(unknown)}; known options: {', '.join(sorted(names))}"
        )
    return values


def config_to_dict(config: Any) -> dict[str, Any]:
    """Return a dataclass config as a plain dict (paths as strings)."""
    return {key: str(value) if isinstance(value, Path) else value for key, value in dataclasses.asdict(config).items()}


def presets_in(folder: Path) -> dict[str, Path]:
    """Return ``{name: path}`` for every ``<name>.yaml`` in a package's preset folder."""
    return {path.stem: path for path in sorted(Path(folder).glob("*.yaml"))}
