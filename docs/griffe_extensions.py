"""Griffe extension used by the docs build (see mkdocs.yml).

attnguide's docstrings are Google style with two habits Griffe's Google parser does not
read as intended:

- the doctest section is headed ``Example:`` (the Google style guide's spelling), while
  Griffe only knows ``Examples:`` and would render the ``>>>`` lines as plain text;
- cross-references use Sphinx roles (``:func:`curriculum_rate```), which Markdown
  would print verbatim.

This rewrites both before the docstrings are parsed. A role becomes an optional
cross-reference: a link where the name is documented on the site, plain code otherwise.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_SINGULAR_HEADER = re.compile(r"^Example:[ \t]*$", re.MULTILINE)
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|data|obj|exc):`(~?)([\w.]+)`")


def _cross_reference(obj: griffe.Object, match: re.Match[str]) -> str:
    short, name = match[1] == "~", match[2]
    text = name.rsplit(".", 1)[-1] if short else name
    if name.startswith("attnguide."):
        identifier = name
    elif name.split(".", 1)[0] in ("torch", "typing", "collections", "dataclasses"):
        return f"`{text}`"  # no external inventories: nothing to link to
    else:
        identifier = f"{obj.module.path}.{name}"
    return (
        f'<autoref optional identifier="{html.escape(identifier)}">'
        f"<code>{html.escape(text)}</code></autoref>"
    )


class DocstringDialect(griffe.Extension):
    """Reads ``Example:`` as ``Examples:`` and Sphinx roles as cross-references."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is None:
            return
        value = _SINGULAR_HEADER.sub("Examples:", obj.docstring.value)
        obj.docstring.value = _ROLE.sub(lambda m: _cross_reference(obj, m), value)
