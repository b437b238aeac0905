"""``lr_ci._globs``: gitignore-like globs, and the excluder's shortcut (a literal name must be in the path)
that never changes an answer."""

from __future__ import annotations

import itertools

import pytest

from lr_ci._globs import excluder, glob_match

PATTERNS = [
    ".secrets.baseline",
    ".lr-ci-secrets.json",
    "dist",
    "docs/*.md",
    "**/fixtures/**",
    "tests/data/*.json",
    "*.min.js",
    "vendor/",
    "a?c",
    "/top.txt",
]
PATHS = [
    ".secrets.baseline",
    "sub/.secrets.baseline",
    ".secrets.baseline.bak",
    "x.secrets.baseline",
    "dist/app.js",
    "src/dist/app.js",
    "distribution/app.js",
    "docs/setup.md",
    "docs/deep/setup.md",
    "a/fixtures/b/c.json",
    "fixtures.py",
    "tests/data/one.json",
    "tests/data/sub/one.json",
    "web/app.min.js",
    "vendor/lib.py",
    "abc",
    "x/abc/y",
    "top.txt",
    "sub/top.txt",
]


@pytest.mark.parametrize(("pattern", "path"), list(itertools.product(PATTERNS, PATHS)))
def test_the_excluder_answers_as_glob_match(pattern: str, path: str) -> None:
    assert excluder([pattern])(path) == glob_match(pattern, path)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        (".secrets.baseline", "sub/.secrets.baseline", True),  # a bare name: in any folder
        (".secrets.baseline", "x.secrets.baseline", False),
        ("dist", "src/dist/app.js", True),  # and everything under it
        ("dist", "distribution/app.js", False),
        ("docs/*.md", "docs/deep/setup.md", False),  # a star stays in its folder
        ("/top.txt", "sub/top.txt", False),  # a slash anchors it at the root
    ],
)
def test_glob_match(pattern: str, path: str, matches: bool) -> None:
    assert glob_match(pattern, path) is matches
