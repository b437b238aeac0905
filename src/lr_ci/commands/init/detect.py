"""What a repository is made of, read from its files (no network, no build): the pure part of ``init``."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Bundler -> where its production build lands.
BUILD_DIRS = {
    "next": ".next/static",
    "react-scripts": "build",
    "vite": "dist",
    "@angular/cli": "dist",
    "parcel": "dist",
    "webpack": "dist",
    "@sveltejs/kit": "build",
    "astro": "dist",
}


@dataclass
class Repository:
    root: Path
    bundler: str | None = None
    build_dir: str | None = None
    python_framework: str | None = None
    has_secrets_baseline: bool = False
    has_workflows: bool = False
    has_pre_commit: bool = False
    health_path: str | None = None
    """A health endpoint's path found in the source (``/healthz``), for an uptime monitor."""
    health_source: str | None = None
    """The file it was found in, relative to the root (said in the comment of the monitor)."""
    notes: list[str] = field(default_factory=list)


MAX_MANIFEST_BYTES = 1 << 20
"""The most of a manifest (package.json, requirements.txt, pyproject.toml, ...) that is read: real ones
are a few kB; a larger one, a FIFO, a device or a link to ``/dev/zero`` is left unread with a note."""


def read_manifest(path: Path, notes: list[str]) -> str | None:
    """The text of a regular file of at most :data:`MAX_MANIFEST_BYTES`, or None (with a note why).

    Opened non-blocking and checked to be a regular file before reading, so a FIFO without a writer or a
    device cannot hang ``init`` or fill memory; detection is best effort, so this never stops it.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        notes.append(f"{path.name}: not read ({exc.strerror or exc})")
        return None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            if not stat.S_ISDIR(os.fstat(descriptor).st_mode):
                notes.append(f"{path.name}: not read (not a regular file)")
            return None
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        notes.append(f"{path.name}: not read ({exc.strerror or exc})")
        return None
    finally:
        os.close(descriptor)
    if len(data) > MAX_MANIFEST_BYTES:
        notes.append(f"{path.name}: not read (larger than {MAX_MANIFEST_BYTES >> 20} MiB)")
        return None
    return data.decode("utf-8", errors="replace")


def _package_json(root: Path, notes: list[str]) -> dict[str, object]:
    text = read_manifest(root / "package.json", notes)
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # invalid, or nested too deep to parse
        notes.append("package.json: not valid JSON, no bundler detected from it")
        return {}
    return data if isinstance(data, dict) else {}


def _python_requirements(root: Path, notes: list[str]) -> str:
    texts = []
    for name in ("requirements.txt", "pyproject.toml", "Pipfile", "setup.cfg", "setup.py"):
        text = read_manifest(root / name, notes)
        if text is not None:
            texts.append(text.lower())
    return "\n".join(texts)


def detect(root: Path) -> Repository:
    repo = Repository(root)
    package = _package_json(root, repo.notes)
    dependencies: dict[str, object] = {}
    for key in ("dependencies", "devDependencies"):
        value = package.get(key)
        if isinstance(value, dict):
            dependencies.update(value)
    for bundler, build_dir in BUILD_DIRS.items():
        if bundler in dependencies:
            repo.bundler, repo.build_dir = bundler, build_dir
            break
    requirements = _python_requirements(root, repo.notes)
    if (root / "manage.py").is_file() or re.search(r"\bdjango\b", requirements):
        repo.python_framework = "django"
    elif re.search(r"\bfastapi\b", requirements):
        repo.python_framework = "fastapi"
    elif re.search(r"\bflask\b", requirements):
        repo.python_framework = "flask"
    repo.has_secrets_baseline = (root / ".secrets.baseline").is_file()
    repo.has_workflows = (root / ".github" / "workflows").is_dir()
    repo.has_pre_commit = (root / ".pre-commit-config.yaml").is_file()
    health = detect_health_route(root)
    if health is not None:
        repo.health_path, repo.health_source = health
    return repo


HEALTH_ROUTE = re.compile(
    r"""["']/?((?:api/(?:v\d+/)?)?(?:healthz|health|healthcheck|health-check|_health|livez|readyz))/?["']"""
)
"""A route string naming a health endpoint, as frameworks write them: ``"/healthz"`` (Starlette, FastAPI,
Flask, Express), ``'health/'`` (Django's ``path``), ``"/api/v1/health"``. Quotes only: a path in a
docstring's backticks or in prose is not a route."""
SOURCE_SUFFIXES = frozenset({".py", ".js", ".mjs", ".cjs", ".ts", ".jsx", ".tsx", ".rb", ".go", ".php"})
SKIPPED_DIRS = frozenset(
    ".git node_modules .venv venv env __pycache__ dist build .next vendor".split()
    + "tests test spec fixtures examples docs".split()  # not the app itself: its tests, samples and docs
)
MAX_SOURCE_FILES = 2000
"""The most source files read while looking for a health route: detection stays quick in a monorepo, and a
repository cannot make it walk forever."""
MAX_SOURCE_DEPTH = 8
MAX_WALKED_ENTRIES = 50_000


def _source_files(root: Path) -> Iterator[Path]:
    """Source files under ``root`` in a stable order (sorted), never following a link, skipping
    dependencies, builds and tests: at most :data:`MAX_SOURCE_FILES` of them, out of at most
    :data:`MAX_WALKED_ENTRIES` names looked at."""
    read = walked = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and depth < MAX_SOURCE_DEPTH)
        walked += len(dirs) + len(files)
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix in SOURCE_SUFFIXES and not path.is_symlink():
                yield path
                read += 1
                if read >= MAX_SOURCE_FILES:
                    return
        if walked >= MAX_WALKED_ENTRIES:
            return


def detect_health_route(root: Path) -> tuple[str, str] | None:
    """The path of a health endpoint the app defines (``/healthz``) and the file that defines it, or None.

    Best effort and bounded like every read of ``init``: regular files of at most 1 MiB (through
    :func:`read_manifest`; a file it leaves unread is skipped quietly, it is not a manifest), at most
    :data:`MAX_SOURCE_FILES` of them.
    """
    for path in _source_files(root):
        text = read_manifest(path, [])
        if text is None:
            continue
        found = HEALTH_ROUTE.search(text)
        if found:
            return "/" + found.group(1), path.relative_to(root).as_posix()
    return None
