"""docs/architecture.md's "add a check in four steps", followed literally on a toy check in a copy of this tree.

The page's code blocks say where they go (``file=``, ``insert=... before=...``, ``append=``); this test
writes them there in a temporary copy of the checkout, runs step 4 (the generator) and then checks that the
copy has a working CLI command, hook entry, GitHub Action and docs page, by running the command, the hook's
entry, the action's runtime and the repository's own tests of docs, registry tables and actions there.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.cli import ROOT
from helpers.git import copy_of_this_checkout, git

pytestmark = pytest.mark.slow

PAGE = ROOT / "docs" / "architecture.md"
FENCE = re.compile(r"^(`{3,})(\w+) (.+?)\n(.*?)^\1$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    where: str
    """``file``, ``insert`` or ``append``."""
    path: str
    before: str
    text: str


def blocks(page: str) -> list[Block]:
    """The page's code blocks that say where they go, in order."""
    found = []
    for match in FENCE.finditer(page):
        words = dict(word.split("=", 1) for word in shlex.split(match.group(3)))
        (where,) = set(words) & {"file", "insert", "append"}
        before = words.get("before", "").replace("\\n", "\n")
        found.append(Block(where, words[where], before, match.group(4)))
    return found


def follow(page: str, tree: Path) -> None:
    """Steps 1 to 3: every block written where it says."""
    for block in blocks(page):
        path = tree / block.path
        if block.where == "file":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text)
        elif block.where == "append":
            path.write_text(path.read_text().rstrip("\n") + "\n" + block.text)
        else:
            text = path.read_text()
            assert text.count(block.before) == 1, f"{block.path}: {block.before!r} is not there once"
            at = text.index(block.before)
            inserted = block.text if at == 0 or text[at - 1] == "\n" else block.text.rstrip("\n") + " "
            path.write_text(text[:at] + inserted + text[at:])


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of this checkout after the four steps."""
    root = tmp_path_factory.mktemp("toy") / "lr-ci"
    root.mkdir()
    copy_of_this_checkout(root)
    follow(PAGE.read_text(), root)
    # Step 4, `python3 dev.py generate`, without reinstalling the package: the same module it runs.
    done = run_in(root, root, "-m", "lr_ci.github.generate", str(root))
    assert done.returncode == 0, done.stderr
    assert "wrote actions/toy/action.yml" in done.stdout
    yield root


def env_of(tree: Path) -> dict[str, str]:
    """The copy's lr_ci first on the path (ahead of this checkout's editable install)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "LR_CI_"))}
    env["PYTHONPATH"] = str(tree / "src") + os.pathsep + str(tree / "tests")
    env.pop("CI", None)
    return env


def run_in(tree: Path, cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        check=False,
        cwd=cwd,
        env=env_of(tree),
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
    )


def lr_ci(tree: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_in(tree, cwd, "-m", "lr_ci", *args)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository with the word three times, and ``[toy] max = 1``."""
    git(tmp_path, "init", "-q")
    (tmp_path / "notes.md").write_text("TODO: one\nfine\nTODO: two\n")
    (tmp_path / "app.py").write_text("x = 1  # TODO three\n")
    (tmp_path / "lr-ci.toml").write_text("[toy]\nmax = 1\n")
    return tmp_path


def test_the_page_says_where_every_block_goes() -> None:
    found = blocks(PAGE.read_text())
    assert {b.path for b in found if b.where == "file"} >= {
        "src/lr_ci/checks/toy/cli.py",
        "src/lr_ci/checks/toy/settings.py",
        "src/lr_ci/checks/toy/check.py",
        "docs/toy.md",
    }
    assert [b.path for b in found if b.where != "file"] == [
        "src/lr_ci/_registry.py",
        "src/lr_ci/_registry.py",
        "README.md",
        "docs/README.md",
        ".pre-commit-hooks.yaml",
    ]


def test_a_working_cli_command(tree: Path, project: Path) -> None:
    done = lr_ci(tree, project, "--help")
    assert done.returncode == 0 and re.search(r"\n  toy +Fail when a word", done.stdout), done.stdout
    assert done.stdout.index("  toy ") < done.stdout.index("Commands:"), "toy is listed with the checks"

    failing = lr_ci(tree, project, "toy", "--format", "json", "notes.md", "app.py")
    assert failing.returncode == 1, failing.stderr
    report = json.loads(failing.stdout)
    assert report["check"] == "toy" and report["status"] == "fail"
    assert report["metrics"] == {"count": 3, "max": 1}
    assert [(f["location"]["path"], f["location"]["line"]) for f in report["findings"]] == [
        ("notes.md", 1),
        ("notes.md", 3),
        ("app.py", 1),
    ]
    assert lr_ci(tree, project, "toy", "--word", "fine", "notes.md").returncode == 0
    missing = lr_ci(tree, project, "toy", "nowhere.md")
    assert missing.returncode == 2 and "nowhere.md: cannot read it" in missing.stderr
    (project / "lr-ci.toml").write_text("[toy]\nmax = 'many'\n")
    bad = lr_ci(tree, project, "toy", "notes.md")
    assert bad.returncode == 2 and "lr-ci.toml:2" in bad.stderr and "max" in bad.stderr, bad.stderr

    schema = json.loads(lr_ci(tree, project, "config", "schema").stdout)
    assert "toy" in schema["properties"]
    assert schema["properties"]["toy"]


def test_a_working_hook_entry(tree: Path, project: Path) -> None:
    import yaml

    hooks = {hook["id"]: hook for hook in yaml.safe_load((tree / ".pre-commit-hooks.yaml").read_text())}
    entry = shlex.split(hooks["lr-toy"]["entry"])
    assert entry[:2] == ["lr-ci", "toy"] and hooks["lr-toy"]["language"] == "python"
    # pre-commit runs the entry with the staged files as arguments.
    done = lr_ci(tree, project, *entry[1:], "notes.md", "app.py")
    assert done.returncode == 1 and "notes.md:1" in done.stdout, done.stdout
    assert lr_ci(tree, project, *entry[1:], "app.py").returncode == 0
    pre_commit = Path(sys.executable).with_name("pre-commit")
    valid = subprocess.run(
        [str(pre_commit), "validate-manifest", str(tree / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert valid.returncode == 0, valid.stdout + valid.stderr


def test_a_working_generated_action(tree: Path, project: Path, tmp_path: Path) -> None:
    import yaml

    action = yaml.safe_load((tree / "actions" / "toy" / "action.yml").read_text())
    assert (tree / "actions" / "toy" / "action.yml").read_text().startswith("# Generated by")
    assert {"word", "paths", "fail", "working-directory"} <= set(action["inputs"])
    assert action["inputs"]["word"].get("default", "") == ""
    assert {"status", "report-path", "count"} <= set(action["outputs"])
    check = run_in(tree, tree, "-m", "lr_ci.github.generate", "--check", str(tree))
    assert check.returncode == 0, check.stderr

    # The whole action, as the runner runs it (tests/helpers/actions_runner.py), with the copy's lr-ci already
    # "installed": its install step finds a virtualenv of this source (a wrapper around this Python).
    from helpers.actions_runner import run_action

    venv = tmp_path / "runner" / "lr-ci-venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(
        f'#!/bin/sh\nPYTHONPATH={shlex.quote(str(tree / "src"))} exec {shlex.quote(sys.executable)} "$@"\n'
    )
    python.chmod(0o755)
    (venv / ".lr-ci-source").write_text(str(tree.resolve()))
    result = run_action(
        tree / "actions" / "toy",
        {"paths": "notes.md app.py", "working-directory": str(project)},
        project,
        tmp_path / "runner",
    )
    assert result.step("Install lr-ci").code == 0, result.step("Install lr-ci").stderr
    assert result.outputs["status"] == "fail", result.stdout
    assert result.outputs["count"] == "3" and result.outputs["findings"] == "3", result.outputs
    assert result.step("Verdict").code == 1
    assert "toy" in result.summary


def test_the_repositorys_own_tests_accept_the_new_check(tree: Path) -> None:
    """The docs page, the tables of checks, the generated action and the registry, as the suite tests them."""
    done = run_in(
        tree,
        tree,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "tests/test_docs.py",
        "tests/test_shape.py::test_the_tables_of_checks_list_the_registry",
        "tests/test_shape.py::test_action_files_are_what_the_generator_writes",
        "tests/test_shape.py::test_action_inputs_come_from_the_click_options",
        "tests/test_shape.py::test_commands_live_apart_from_checks",
        "tests/test_shape.py::test_help_imports_no_check_or_command_module",
        "tests/test_actions.py::test_every_check_has_its_action",
        "tests/test_actions.py::test_action_scripts_take_inputs_only_through_env",
        "tests/test_hooks.py::test_hooks_file_is_valid_and_ids_are_prefixed",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"\b(1[5-9]|[2-9]\d) passed", done.stdout), done.stdout  # every one of them ran


def test_the_example_is_clean_code(tree: Path) -> None:
    ruff = Path(sys.executable).with_name("ruff")
    toy = tree / "src" / "lr_ci" / "checks" / "toy"
    for args in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [str(ruff), *args, str(toy), str(tree / "src" / "lr_ci" / "_registry.py")],
            cwd=tree,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


# --- the rules of "where each kind of code lives" ---------------------------------------------------------


def _imports(path: Path) -> set[str]:
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_a_check_imports_no_other_checks_code() -> None:
    """Shared code lives outside ``checks/``; a check may read another check's table through its settings."""
    checks = ROOT / "src" / "lr_ci" / "checks"
    for package in sorted(p for p in checks.iterdir() if (p / "__init__.py").is_file()):
        for path in package.rglob("*.py"):
            for name in _imports(path):
                parts = name.split(".")
                if parts[:2] == ["lr_ci", "checks"] and len(parts) > 2 and parts[2] != package.name:
                    assert parts[3:4] == ["settings"], f"{path.relative_to(ROOT)} imports {name}"


def test_the_shared_engines_import_no_check() -> None:
    for engine in ("secret_rules", "flows"):
        for path in (ROOT / "src" / "lr_ci" / engine).rglob("*.py"):
            assert not any(name.startswith("lr_ci.checks") for name in _imports(path)), path


def test_help_loads_no_engine() -> None:
    code = (
        "import sys\nfrom lr_ci.cli import main\nmain(['--help'])\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith(('lr_ci.flows', 'lr_ci.secret_rules'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip().endswith("LOADED []"), done.stdout
