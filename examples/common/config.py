"""A configuration dataclass, its command line, its checks and its JSON file.

Each field is declared with :func:`option`: a default, a help text and the rules its
value must respect (``minimum``, ``maximum``, ``below``, ``positive``, ``choices``) and
whether a resumed run may change it (``resumable``: how a run runs, not what it
computes). The command line is built from the fields by type introspection
(``typing.get_type_hints``), so ``int``, ``float``, ``bool``, ``str`` and ``str | None``
fields need nothing else.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import types
from collections.abc import Mapping
from dataclasses import field, fields
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

__all__ = [
    "ConfigError",
    "add_arguments",
    "add_run_options",
    "check_fields",
    "choose_config",
    "config_diff",
    "explicit_overrides",
    "load_config",
    "option",
    "resume_config",
    "save_config",
    "whole_number",
]

C = TypeVar("C")


class ConfigError(ValueError):
    """A configuration, data set or run folder that an example cannot use as given."""


def option(default: Any, help: str, **rules: Any) -> Any:
    """A field with its help text and rules: minimum, maximum, below, positive, choices,
    resumable."""
    return field(default=default, metadata={"help": help, **rules})


def _kind(tp: Any) -> tuple[type, bool]:
    """(base type, may be None) of a field's annotation: int, float, bool or str."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported config annotation {tp}")
        return args[0], True
    return tp, False


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def whole_number(minimum: int) -> Any:
    """An argparse ``type`` for a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its messages
    return parse


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Adds one option per field of the dataclass ``cls`` to ``parser``.

    Defaults are suppressed, so the parsed namespace holds only what the user typed;
    :func:`explicit_overrides` reads it back. Booleans get ``--name``/``--no-name``.
    Each help states its default once: appended, unless the field's help already says
    it (as a field defaulting to None must). A class attribute ``OPTION_GROUPS``
    (first field of a group -> its title) shows the options under those headings.
    """
    hints = get_type_hints(cls)
    starts: dict[str, str] = getattr(cls, "OPTION_GROUPS", {})
    target: Any = parser
    for f in fields(cls):
        if f.name in starts:
            target = parser.add_argument_group(starts[f.name])
        base, _ = _kind(hints[f.name])
        help_text = f.metadata["help"]
        if f.default is None or "(default" in help_text:
            stated = help_text
        elif base is bool:
            stated = f"{help_text} (default: {'on' if f.default else 'off'})"
        else:
            stated = f"{help_text} (default: {f.default})"
        if base is bool:
            target.add_argument(
                _flag(f.name),
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=stated,
            )
            continue
        choices = f.metadata.get("choices")
        target.add_argument(
            _flag(f.name),
            dest=f.name,
            type=_finite_float if base is float else base,
            choices=choices,
            default=argparse.SUPPRESS,
            metavar=None if choices else f.name.upper(),
            help=stated,
        )


def explicit_overrides(namespace: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` the user set on the command line."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in vars(namespace).items() if k in names}


def _check_type(hints: dict[str, Any], name: str, value: Any) -> None:
    base, optional = _kind(hints[name])
    if value is None and optional:
        return
    ok = isinstance(value, base) and not (base is int and isinstance(value, bool))
    if base is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        kind = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[base]
        kind += " or null" if optional else ""
        raise ConfigError(f"{_flag(name)} must be {kind}, got {value!r} ({type(value).__name__})")


def _check_rules(f: dataclasses.Field, value: Any) -> None:
    flag, rules = _flag(f.name), f.metadata
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{flag} must be a finite number, got {value}")
    if "choices" in rules and value not in rules["choices"]:
        raise ConfigError(f"{flag} must be one of {rules['choices']}, got {value!r}")
    lo, hi, below = rules.get("minimum"), rules.get("maximum"), rules.get("below")
    if rules.get("positive") and not value > 0:
        raise ConfigError(f"{flag} must be positive, got {value}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        if lo is not None and hi is not None:
            bounds = f"in [{lo}, {hi}]"
        else:
            bounds = f"at least {lo}" if lo is not None else f"at most {hi}"
        raise ConfigError(f"{flag} must be {bounds}, got {value}")
    if below is not None and not value < below:
        raise ConfigError(f"{flag} must be below {below}, got {value}")


def check_fields(cfg: Any) -> None:
    """Checks every field of the dataclass instance ``cfg``: its type, then its rules.

    Raises:
        ConfigError: naming the option, the value received and what would work.
    """
    hints = get_type_hints(type(cfg))
    for f in fields(cfg):
        _check_type(hints, f.name, getattr(cfg, f.name))
        _check_rules(f, getattr(cfg, f.name))


def save_config(cfg: Any, path: str | Path) -> None:
    """Writes ``cfg`` as indented JSON (a run folder's ``config.json``)."""
    Path(path).write_text(json.dumps(dataclasses.asdict(cfg), indent=2) + "\n")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a configuration can hold")


def load_config(cls: type[C], path: str | Path, renamed: Mapping[str, str] | None = None) -> C:
    """Reads a ``config.json`` into ``cls``; unknown keys are an error, missing keys
    take defaults, and a key named in ``renamed`` (old name -> field) is read as its
    field, so the run folders of earlier versions still resume.

    Raises:
        ConfigError: the file is missing, not JSON, names options that do not exist
            (or an option under its old and its new name), or holds a value of the
            wrong type.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(), parse_constant=_no_constant)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ConfigError(f"config file {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a JSON object, got {type(data).__name__}")
    for before, now in (renamed or {}).items():
        if before in data:
            if now in data:
                raise ConfigError(f"config file {path} holds both {before} and {now}, its new name")
            data[now] = data.pop(before)
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise ConfigError(f"config file {path} has unknown options: {', '.join(unknown)}")
    hints = get_type_hints(cls)
    for name, value in data.items():
        _check_type(hints, name, value)
    return cls(**data)


def config_diff(a: Any, b: Any) -> dict[str, tuple[Any, Any]]:
    """Fields whose values differ: name -> (value in ``a``, value in ``b``)."""
    return {
        f.name: (getattr(a, f.name), getattr(b, f.name))
        for f in fields(a)
        if getattr(a, f.name) != getattr(b, f.name)
    }


def resume_config(saved: C, overrides: dict[str, Any], where: Path) -> C:
    """``saved`` with ``overrides`` applied, refusing any that would change the run.

    Raises:
        ConfigError: an override of a field that is not ``resumable``.
    """
    rules = {f.name: f.metadata for f in fields(saved)}
    changed = {
        k: (getattr(saved, k), v)
        for k, v in overrides.items()
        if not rules[k].get("resumable") and getattr(saved, k) != v
    }
    if changed:
        raise ConfigError(
            f"--resume {where}: these options would change the run and cannot differ from "
            "the saved configuration: "
            + ", ".join(f"{k} (run: {a!r}, given: {b!r})" for k, (a, b) in sorted(changed.items()))
        )
    return dataclasses.replace(saved, **{**overrides, "out": str(where)})


def add_run_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """``--config``, ``--resume``, ``--overwrite`` and one option per field of ``cls``
    (the presets a script has, such as ``--baseline``, it adds itself)."""
    parser.add_argument("--config", type=Path, help="start from a saved config.json")
    parser.add_argument(
        "--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start the run in an --out folder that holds other files: the run's own "
        "files (config.json, checkpoint/, losses.jsonl, ...) replace any of the same names; "
        "nothing else is touched, and a folder holding a run is still refused",
    )
    add_arguments(parser, cls)


def choose_config(
    args: argparse.Namespace, cls: type[C], presets: dict[str, dict[str, Any] | None]
) -> tuple[C, Path | None]:
    """The configuration a command line asks for, and the run to resume (or None).

    Explicit options win over ``--config``, which wins over the ``presets`` given
    (flag -> the values it sets, or None where the flag is not given), which win over
    the defaults. With ``--resume`` the run's own configuration is the base.

    Raises:
        ConfigError: ``--resume`` with a preset or ``--config``, or without a run folder.
    """
    overrides = explicit_overrides(args, cls)
    if args.resume is not None:
        if args.config or any(v is not None for v in presets.values()):
            flags = ", ".join(presets) + (" and --config" if presets else "--config")
            raise ConfigError(f"--resume continues a run with its own configuration; drop {flags}")
        if not (args.resume / "config.json").is_file():
            raise ConfigError(f"--resume {args.resume}: no config.json there; give a run folder")
        saved = load_config(cls, args.resume / "config.json")
        return resume_config(saved, overrides, args.resume), args.resume
    base = cls()
    for values in presets.values():
        if values is not None:
            base = dataclasses.replace(base, **values)
    if args.config is not None:
        base = load_config(cls, args.config)
    return dataclasses.replace(base, **overrides), None
