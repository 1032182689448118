"""Every docstring example of the library runs and shows what it claims."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest
import torch
from torch import nn

import attnguide

# Private modules too: a package such as attnguide.losses defines its public names in
# private modules (doctest finds an object's examples only in the module defining it).
MODULES = sorted(
    info.name for info in pkgutil.walk_packages(attnguide.__path__, prefix="attnguide.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(
        module,
        extraglobs={"torch": torch, "nn": nn, "Path": Path},
        optionflags=doctest.NORMALIZE_WHITESPACE,
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_every_public_function_and_class_has_an_example() -> None:
    lacking = []
    for name in attnguide.__all__:
        obj = getattr(attnguide, name)
        if isinstance(obj, type) and ">>>" not in (obj.__doc__ or ""):
            lacking.append(name)
    for module_name in ("ops", "losses", "metrics", "training", "data", "nets", "surgery"):
        module = importlib.import_module(f"attnguide.{module_name}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if (callable(obj) or isinstance(obj, type)) and ">>>" not in (obj.__doc__ or ""):
                lacking.append(f"{module_name}.{name}")
    assert not lacking, f"public names without a docstring example: {lacking}"
