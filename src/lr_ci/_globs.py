"""Gitignore-like globs (``*``, ``**``, a bare name matches in any folder) on ``/``-separated relative
paths, matched in time linear in the path whatever the pattern: ``exclude`` in ``[secrets]``, budgets'
``files`` in ``[bundle]``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache

_ANY_DEPTH = "**"
"""A component that matches any number of folders (zero or more; one or more when it ends the pattern)."""


@cache
def _component_regex(glob: str) -> re.Pattern[str]:
    """One path component's glob (``*`` and ``?``, no ``/``) as a regex that cannot backtrack.

    ``*a*a*a*b`` as a plain regex backtracks polynomially in the name's length (a pattern of 12 stars
    never finished on a 60-character name). As in CPython's ``fnmatch``, each ``*`` between two literal
    parts takes the shortest run that reaches the next part, and a lookahead with a back-reference makes
    that choice final: inside one component a later ``*`` can absorb anything, so the first occurrence
    is always a right one, and matching is linear.
    """
    pieces = re.sub(r"\*+", "*", glob).split("*")

    def literal(piece: str) -> str:
        return "".join("." if char == "?" else re.escape(char) for char in piece)

    if len(pieces) == 1:
        return re.compile(literal(pieces[0]), re.DOTALL)
    out = [literal(pieces[0])]
    for index, piece in enumerate(pieces[1:-1]):
        out.append(f"(?=(?P<g{index}>.*?{literal(piece)}))(?P=g{index})")
    out.append(f".*{literal(pieces[-1])}")
    return re.compile("".join(out), re.DOTALL)


@cache
def glob_components(pattern: str) -> tuple[re.Pattern[str] | str, ...]:
    """A gitignore-like glob as components: ``*`` within a name, ``**`` across folders, no ``/`` means
    any folder, and a match also covers everything under it (``dist`` excludes ``dist/app.js``)."""
    anchored = "/" in pattern.rstrip("/")
    body = pattern.strip("/").split("/")
    components: list[re.Pattern[str] | str] = [] if anchored else [_ANY_DEPTH]
    for index, part in enumerate(body):
        if part == "**" and index == len(body) - 1:  # a final ** is one or more folders
            if components and components[-1] == _ANY_DEPTH:
                components[-1] = "**+"
            else:
                components.append("**+")
        elif part == "**":
            if not (components and components[-1] == _ANY_DEPTH):  # **/**/** is one **
                components.append(_ANY_DEPTH)
        else:
            components.append(_component_regex(part))
    if components[-1] != "**+":
        components.append(_ANY_DEPTH)  # and everything under it
    return tuple(components)


def glob_match(pattern: str, path: str) -> bool:
    """Whether ``path`` (``/``-separated, relative) matches ``pattern``; time linear in the product of
    their component counts, whatever the pattern (see :func:`_component_regex`)."""
    components = glob_components(pattern)
    names = path.split("/")
    # after[j]: whether components[i + 1:] match names[j:]; built from the last component back.
    after = [False] * len(names) + [True]
    for component in reversed(components):
        here = [False] * (len(names) + 1)
        for j in range(len(names), -1, -1):
            if component == _ANY_DEPTH:
                here[j] = after[j] or (j < len(names) and here[j + 1])
            elif component == "**+":
                here[j] = j < len(names) and (after[j + 1] or here[j + 1])
            else:
                assert isinstance(component, re.Pattern)
                here[j] = j < len(names) and after[j + 1] and component.fullmatch(names[j]) is not None
        after = here
    return after[0]


def excluder(patterns: Iterable[str]) -> Callable[[str], bool]:
    """Whether a path matches any of ``patterns``. A pattern's literal names (no ``*`` or ``?``) must
    each be in the path for it to match: a substring test rules most paths out before the matching proper
    (a history scan asks for every path it meets, and the baselines' names are in every run's list)."""
    listed = []
    for pattern in patterns:
        glob_components(pattern)  # parsed once, up front
        names = tuple(
            part for part in pattern.split("/") if part and part != "**" and not _GLOB_CHARS & set(part)
        )
        listed.append((pattern, names))
    return lambda path: any(
        all(name in path for name in names) and glob_match(pattern, path) for pattern, names in listed
    )


_GLOB_CHARS = frozenset("*?")
