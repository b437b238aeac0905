"""What a repository is made of, read from its files (no network, no build): the pure part of ``init``."""

from __future__ import annotations

import json
import os
import re
import stat
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
    return repo
