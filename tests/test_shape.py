"""The shape every check shares (issue 15): dependencies, exit codes, the registry and what derives from it."""

from __future__ import annotations

import ast
import sys

from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

UNUSED = {"gitpython": "git", "detect-secrets": "detect_secrets"}


def _imported_modules() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_no_runtime_dependency_that_nothing_imports() -> None:
    """gitpython and detect-secrets were installed in every hook environment and action, used by nothing:
    lr-ci runs git itself and reads a detect-secrets `.secrets.baseline` with its own code."""
    imported = _imported_modules()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {
        r.split(">")[0].split("=")[0].split("[")[0].split(";")[0].strip().lower()
        for r in project["dependencies"]
    }
    constraints = (ROOT / "actions" / "constraints.txt").read_text().lower()
    for package, module in UNUSED.items():
        assert module not in imported, f"src/ imports {module}"
        assert package not in runtime, f"{package} is still a runtime dependency"
        assert f"\n{package}==" not in constraints, f"actions/constraints.txt still pins {package}"
