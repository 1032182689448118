"""Every example script's ``--help``: each option explained, each default stated once."""

from __future__ import annotations

import argparse
import importlib

import pytest

# (module, argv that selects the parser): translate.py has a second parser for --weights.
SCRIPTS = [
    ("aggan.train", []),
    ("aggan.evaluate", []),
    ("aggan.translate", []),
    ("aggan.translate", ["--weights", "w.pth"]),
    ("aggan.curves", []),
    ("aggan.summarize", []),
    ("stargan_aggan.train", []),
    ("stargan_aggan.evaluate", []),
    ("stargan_aggan.translate", []),
    ("stargan_aggan.translate", ["--weights", "w.pth"]),
    ("stargan_aggan.summarize", []),
]


class _Parsed(Exception):
    """Carries the parser a script built out of its ``main``."""


def _parser_of(module: str, argv: list[str], monkeypatch: pytest.MonkeyPatch):
    def capture(self, *args, **kwargs):
        raise _Parsed(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    main = importlib.import_module(module).main
    with pytest.raises(_Parsed) as caught:
        main(argv)
    return caught.value.args[0]


def _problems(parser: argparse.ArgumentParser) -> list[str]:
    formatter = parser._get_formatter()
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = action.option_strings[-1] if action.option_strings else action.dest
        text = formatter._expand_help(action) if action.help else ""
        stated = text.count("(default")
        flag_only = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
        if not text:
            found.append(f"{name}: no help")
        if stated > 1:
            found.append(f"{name}: default stated {stated} times: {text!r}")
        if "(default: None)" in text:
            found.append(f"{name}: says 'default: None' instead of what happens: {text!r}")
        meaningful = action.default not in (None, argparse.SUPPRESS) and not flag_only
        if meaningful and stated == 0:
            found.append(f"{name}: default {action.default!r} not stated: {text!r}")
        if meaningful and stated == 1 and f"(default: {action.default})" not in text:
            found.append(f"{name}: help states another default than {action.default!r}: {text!r}")
    return found


@pytest.mark.parametrize(("module", "argv"), SCRIPTS, ids=[" ".join([m, *a]) for m, a in SCRIPTS])
def test_every_option_has_help_and_states_its_default_once(module, argv, monkeypatch):
    assert _problems(_parser_of(module, argv, monkeypatch)) == []


def test_the_check_finds_each_kind_of_slip():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bare", default=3)
    parser.add_argument("--twice", default=1, help="n (default: 1) (default: %(default)s)")
    parser.add_argument("--none", help="a path (default: None)")
    parser.add_argument("--fine", default=2, help="m (default: %(default)s)")
    parser.add_argument("--stale", default=128, help="side (default: 256)")
    assert [p.split(":")[0] for p in _problems(parser)] == [
        "--bare",
        "--bare",
        "--twice",
        "--none",
        "--stale",
    ]


@pytest.mark.parametrize("module", ["aggan.train", "stargan_aggan.train"])
def test_training_options_are_grouped_by_topic(module):
    parser = importlib.import_module(module).build_parser()
    titles = [g.title for g in parser._action_groups]
    for title in ("data", "model", "objective", "optimisation", "speed and devices"):
        assert title in titles
    grouped = {a.dest for g in parser._action_groups[2:] for a in g._group_actions}
    assert {"data_root", "lr", "out", "seed"} <= grouped
