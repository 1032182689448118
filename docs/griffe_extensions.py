"""Griffe extension used by the docs build (see mkdocs.yml).

attnguide's docstrings head their doctest section ``Example:``, as the Google style
guide does; Griffe's Google parser only knows the plural ``Examples:`` and would render
the ``>>>`` lines as plain text. This renames the header so the examples render as code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SINGULAR_HEADER = re.compile(r"^Example:[ \t]*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Reads a Google-style ``Example:`` section as ``Examples:``."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _SINGULAR_HEADER.sub("Examples:", obj.docstring.value)
