"""Griffe extension for the API reference: docstrings written for Sphinx and doctest, as Markdown.

The docstrings name other objects the Sphinx way (``:func:`detect_events```,
``:class:`~seasight.store.Store```). Each role becomes an optional autorefs link: a link when
the target is documented on the site, plain code otherwise (so the strict build does not fail
on a reference to a private helper). Doctest examples (``>>>`` lines and their output) become
``pycon`` code blocks, so that their brackets are not read as Markdown links.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|data|attr|exc|obj|const):`(~?)([^`<>]+)`")


def _target(obj: griffe.Object, name: str) -> str:
    """The full path of ``name`` as seen from ``obj`` (itself when it cannot be resolved)."""
    if name.startswith("seasight"):
        return name
    head, _, rest = name.partition(".")
    scope: griffe.Object | None = obj
    while scope is not None:
        try:
            full = scope.resolve(head)
        except (griffe.NameResolutionError, AttributeError, KeyError, ValueError):
            scope = scope.parent
            continue
        return f"{full}.{rest}" if rest else full
    return name


def fence_doctests(text: str) -> str:
    """Put every run of doctest lines (from a ``>>>`` line to the next blank line) in a fence."""
    out: list[str] = []
    in_example = False
    for line in text.split("\n"):
        stripped = line.lstrip()
        if not in_example and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
            in_example = True
        elif in_example and not stripped:
            out.append(f"{indent}```")
            in_example = False
        out.append(line)
    if in_example:
        out.append(f"{indent}```")
    return "\n".join(out)


def convert(obj: griffe.Object, text: str) -> str:
    """Replace the Sphinx roles of ``text``, a docstring of ``obj``; fence its doctests."""
    if "```" not in text:
        text = fence_doctests(text)

    def link(match: re.Match[str]) -> str:
        tilde, name = match.groups()
        name = name.strip().rstrip("()")
        shown = name.rsplit(".", 1)[-1] if tilde else name
        target = _target(obj, name)
        return (f'<autoref identifier="{html.escape(target)}" optional>'
                f"<code>{html.escape(shown)}</code></autoref>")

    return ROLE.sub(link, text)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of a loaded package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Walk the package once it is loaded."""
        self._walk(pkg, set())

    def _walk(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = convert(obj, obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, seen)  # type: ignore[arg-type]
