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
    parser: argparse.ArgumentParser,
    config_cls: type,
    presets: Mapping[str, Path] | None = None,
    default_preset: str | None = None,
) -> None:
    """Add one ``--flag`` per field of ``config_cls``, plus ``--config`` and ``--preset``.

    Flags default to "not given", so only explicit options override a preset
    or a YAML file. The help text shows the effective default: the value of
    ``default_preset`` when it sets the field, else the dataclass default.
    """
    hints = typing.get_type_hints(config_cls)
    groups = _field_groups(parser, config_cls)
    preset_values = read_yaml(presets[default_preset]) if presets and default_preset else {}
    if presets:
        suffix = f" (default: {default_preset})" if default_preset else ""
        parser.add_argument(
            "--preset",
            choices=sorted(presets),
            default=argparse.SUPPRESS,
            help=f"start from a shipped recipe; options given here still override it{suffix}",
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
        if field.name in preset_values:
            value = preset_values[field.name]
            shown = ",".join(map(str, value)) if isinstance(value, list) else value
            help_text = f"{help_text} (default: {shown}, from preset {default_preset})"
        elif default is not None and "default" not in help_text:
            shown = ",".join(map(str, default)) if isinstance(default, list) else default
            help_text = f"{help_text} (default: {shown})"
        target = groups.get(field.name, parser)
        if annotation is bool:
            target.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
            continue
        target.add_argument(
            flag,
            dest=field.name,
            type=_parser_for(annotation, optional),
            choices=field.metadata.get("choices"),
            default=argparse.SUPPRESS,
            help=help_text,
            metavar=field.name.upper() if field.metadata.get("choices") is None else None,
        )


def _field_groups(parser: argparse.ArgumentParser, config_cls: type) -> dict[str, Any]:
    """Put each field in an argument group named after the class that declares it.

    A class sets the title with a ``CLI_GROUP`` attribute; the most derived
    class's group comes first in ``--help``.
    """
    owners: dict[str, type] = {}
    for cls in reversed(config_cls.__mro__):
        for name in getattr(cls, "__annotations__", {}):
            if name in {f.name for f in dataclasses.fields(config_cls)}:
                owners.setdefault(name, cls)
    titles: dict[type, Any] = {}
    for cls in config_cls.__mro__:
        if cls in owners.values() and cls not in titles:
            titles[cls] = parser.add_argument_group(getattr(cls, "CLI_GROUP", None) or f"{cls.__name__} options")
    return {name: titles[cls] for name, cls in owners.items()}


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is an empty mapping."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"config file {path} is not valid YAML: {' '.join(str(error).split())}") from error
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
    hints = typing.get_type_hints(config_cls)
    choices = {f.name: f.metadata.get("choices") for f in dataclasses.fields(config_cls)}
    checked = {}
    for name, value in values.items():
        checked[name] = _coerce(value, hints[name], f"{source}: option {name}")
        if choices[name] and checked[name] is not None and checked[name] not in choices[name]:
            raise ValueError(
                f"{source}: option {name} must be one of {', '.join(map(str, choices[name]))}, got {value!r}"
            )
    return checked


TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Return a YAML value converted to a field's type, or raise ValueError naming the field."""
    base, optional = _unwrap_optional(annotation)
    if value is None:
        if optional:
            return None
        raise ValueError(f"{where} needs a value, got null")
    if typing.get_origin(base) is list:
        (item,) = typing.get_args(base) or (Any,)
        items = value if isinstance(value, list) else [part.strip() for part in str(value).split(",") if part.strip()]
        return [_coerce(element, item, where) for element in items]
    expected = {bool: "true or false", int: "an integer", float: "a number", str: "text"}.get(base)
    if expected is None:  # dicts, Any and other types are passed through to the dataclass
        return value
    if base is str:
        # YAML 1.1 reads an unquoted no/yes/off/on as a boolean; a text option such as
        # mixed_precision: no means the word.
        if isinstance(value, bool):
            return "no" if value is False else "yes"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, str):
            return value
    elif base is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in TRUE_WORDS | FALSE_WORDS:
            return value.lower() in TRUE_WORDS
    elif not isinstance(value, bool | list | dict):
        try:
            number = float(value)  # also reads strings such as 1e-4, which YAML 1.1 leaves as text
        except (TypeError, ValueError):
            number = None
        if number is not None and base is float:
            return number
        if number is not None and number.is_integer():
            return int(number)
    raise ValueError(f"{where} must be {expected}, got {value!r}")


def config_to_dict(config: Any) -> dict[str, Any]:
    """Return a dataclass config as a plain dict (paths as strings)."""
    return {key: str(value) if isinstance(value, Path) else value for key, value in dataclasses.asdict(config).items()}


def presets_in(folder: Path) -> dict[str, Path]:
    """Return ``{name: path}`` for every ``<name>.yaml`` in a package's preset folder."""
    return {path.stem: path for path in sorted(Path(folder).glob("*.yaml"))}
