"""What a repository is made of, read from its files (no network, no build): the pure part of ``init``."""

from __future__ import annotations

import json
import re
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


def _package_json(root: Path) -> dict[str, object]:
    try:
        data = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _python_requirements(root: Path) -> str:
    texts = []
    for name in ("requirements.txt", "pyproject.toml", "Pipfile", "setup.cfg", "setup.py"):
        path = root / name
        if path.is_file():
            texts.append(path.read_text(encoding="utf-8", errors="replace").lower())
    return "\n".join(texts)


def detect(root: Path) -> Repository:
    repo = Repository(root)
    package = _package_json(root)
    dependencies: dict[str, object] = {}
    for key in ("dependencies", "devDependencies"):
        value = package.get(key)
        if isinstance(value, dict):
            dependencies.update(value)
    for bundler, build_dir in BUILD_DIRS.items():
        if bundler in dependencies:
            repo.bundler, repo.build_dir = bundler, build_dir
            break
    requirements = _python_requirements(root)
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
