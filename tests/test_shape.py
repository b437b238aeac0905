"""The shape every check shares (issue 15): dependencies, exit codes, the registry and what derives from it."""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import click
import pytest

from helpers.cli import ROOT, Cli

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


# --- exit codes through one path ---------------------------------------------------------------------


def test_an_internal_error_is_exit_3_in_one_line(repo: Path, cli: Cli, sample_check: None) -> None:
    result = cli("sample", "--crash", "--format", "json")
    assert result.code == 3
    assert result.json()["status"] == "error"
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert "a bug in lr-ci" in result.err and "--verbose shows the traceback" in result.err
    verbose = cli("sample", "--crash", "--verbose")
    assert verbose.code == 3 and "Traceback" in verbose.err


def test_bad_input_stays_exit_2_with_status_error(repo: Path, cli: Cli, sample_check: None) -> None:
    result = cli("sample", "--refuse", "--format", "json")
    assert result.code == 2
    assert result.json()["status"] == "error" and result.json()["error"] == "the input is wrong"
    assert result.err == "lr-ci sample: error: the input is wrong\n"


def test_lr_ci_error_exit_code_is_honoured(
    repo: Path, cli: Cli, sample_check: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lr_ci.errors import LrCiError

    monkeypatch.setattr(LrCiError, "exit_code", 4)
    assert cli("sample", "--refuse").code == 4


def test_a_bug_outside_a_check_run_is_exit_3(repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`config schema` runs no check: a bug there leaves through the same path."""

    def broken() -> None:
        raise KeyError("boom")

    monkeypatch.setattr("lr_ci.config.json_schema", broken)
    result = cli("config", "schema")
    assert result.code == 3
    assert result.err == (
        "lr-ci config: error: internal error, a bug in lr-ci: KeyError: 'boom' (--verbose shows the traceback)\n"
    )
    assert "Traceback" in cli("--verbose", "config", "schema").err


def test_ctrl_c_is_exit_130_without_a_traceback(tmp_path: Path) -> None:

    script = (
        "import sys\nsys.path.insert(0, sys.argv[1])\n"
        "from lr_ci import _registry, cli\n"
        "from lr_ci._registry import CheckSpec\n"
        "spec = CheckSpec(name='sample', summary='s', command='helpers.sample_check:command')\n"
        "_registry.CHECKS['sample'] = spec\n"
        "sys.exit(cli.main(['sample', '--hang']))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(ROOT / "tests")],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    try:
        assert process.stderr is not None
        assert process.stderr.readline() == "ready\n"
        process.send_signal(signal.SIGINT)
        err = process.stderr.read()
        assert process.wait(timeout=30) == 130
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in err and "aborted" in err


# --- the registry: checks and commands -----------------------------------------------------------------


def test_help_lists_checks_and_commands_apart(cli: Cli) -> None:
    from lr_ci._registry import CHECKS, names

    out = cli("--help").out
    checks, commands = out.index("\nChecks:\n"), out.index("\nCommands:\n")
    assert checks < commands
    for name in names("check"):
        assert checks < out.index(f"\n  {name} ") < commands
    for name in names("command"):
        assert out.index(f"\n  {name} ") > commands
    assert set(names("check")) | set(names("command")) == set(CHECKS)
    assert {"init", "demo", "config"} == set(names("command"))


def test_commands_live_apart_from_checks() -> None:
    from lr_ci._registry import CHECKS

    for spec in CHECKS.values():
        package = "lr_ci.checks." if spec.kind == "check" else "lr_ci.commands."
        assert spec.command.startswith(package + spec.name), spec


def test_help_imports_no_check_or_command_module() -> None:

    code = (
        "import sys\nfrom lr_ci.cli import main\nmain(['--help'])\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith(('lr_ci.checks.', 'lr_ci.commands.'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip().endswith("LOADED []")


def test_a_registry_entry_that_is_not_a_command_is_a_clear_internal_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lr_ci import _registry
    from lr_ci._registry import CheckSpec

    checks = {**_registry.CHECKS, "broken": CheckSpec("broken", "s", "lr_ci.report:Report")}
    monkeypatch.setattr(_registry, "CHECKS", checks)
    monkeypatch.setattr("lr_ci.cli.CHECKS", checks)
    result = cli("broken")
    assert result.code == 3
    assert result.err.count("\n") == 1
    assert (
        "a bug in lr-ci: TypeError: registry entry 'broken': lr_ci.report:Report is a type, not a click command"
        in result.err
    )


# --- pins: the commit this lr-ci was built from --------------------------------------------------------

ZEROS = "0" * 40


def _head() -> str:

    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_init_workflows_pin_the_commit_lr_ci_was_built_from(repo: Path, cli: Cli) -> None:

    assert cli("init", "--workflows").code == 0
    workflow = (repo / ".github" / "workflows" / "lr-ci.yml").read_text()
    hooks = (repo / ".pre-commit-config.yaml").read_text()
    pins = re.findall(r"lr-ci/lr-ci/actions/\w+@([0-9a-f]+)", workflow)
    assert pins and set(pins) == {_head()}
    assert f"rev: {_head()}  # frozen: v" in hooks
    assert ZEROS not in workflow + hooks


def test_a_build_records_its_commit(tmp_path: Path) -> None:
    """A wheel built from a clone carries lr_ci/_build_commit.py with the clone's HEAD."""

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-local", str(ROOT), str(clone)], check=True)
    if not (clone / "src" / "lr_ci" / "build_info.py").is_file():
        pytest.skip("build_info.py is not committed yet")
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(clone),
        ],
        capture_output=True,
        check=True,
        timeout=300,
    )
    with zipfile.ZipFile(next(wheels.glob("lr_ci-*.whl"))) as wheel:
        recorded = wheel.read("lr_ci/_build_commit.py").decode()
    assert f'COMMIT = "{_head()}"' in recorded


def test_example_workflows_pin_a_real_lr_ci_commit() -> None:
    """Each example's lr-ci action is pinned to a commit of this repository that has that action."""

    for path in sorted((ROOT / "examples" / "workflows").glob("*.yml")):
        for action, commit in re.findall(r"uses: lr-ci/lr-ci/(actions/\w+)@(\S+)", path.read_text()):
            assert commit != ZEROS and re.fullmatch(r"[0-9a-f]{40}", commit), (path.name, commit)
            found = subprocess.run(
                ["git", "cat-file", "-e", f"{commit}:{action}/action.yml"], cwd=ROOT, check=False
            )
            assert found.returncode == 0, f"{path.name}: {action}@{commit} is not in this repository"


# --- generated actions and the tables that list the checks ---------------------------------------------


def test_action_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    """Regenerated into a temporary copy, every action file is the same: a hand edit fails this."""
    from lr_ci.github import generate

    generate.write(tmp_path)
    for path, text in generate.generated().items():
        assert (tmp_path / path).read_text() == text
        assert (ROOT / path).read_text(encoding="utf-8") == text, (
            f"{path} differs from the generator's: run `python3 dev.py generate`"
        )
    assert generate.differences(ROOT) == []


def test_a_hand_edit_of_an_action_file_is_found(tmp_path: Path) -> None:
    from lr_ci.github import generate

    generate.write(tmp_path)
    assert generate.main(["--check", str(tmp_path)]) == 0
    edited = tmp_path / "actions" / "secrets" / "action.yml"
    edited.write_text(edited.read_text().replace('default: "false"', 'default: "true"', 1))
    (tmp_path / "actions" / "stray").mkdir()
    (tmp_path / "actions" / "stray" / "action.yml").write_text("name: stray\n")
    assert generate.differences(tmp_path) == [
        Path("actions/secrets/action.yml"),
        Path("actions/stray/action.yml"),
    ]
    assert generate.main(["--check", str(tmp_path)]) == 1


def test_action_inputs_come_from_the_click_options() -> None:
    """Each input that passes an option has that option's kind: a flag is "false" by default."""
    import yaml

    from lr_ci._registry import with_actions
    from lr_ci.github.action import option_inputs

    for spec in with_actions():
        declared = yaml.safe_load((ROOT / "actions" / spec.name / "action.yml").read_text())["inputs"]
        for item in option_inputs(spec):
            expected = "false" if item.is_flag else ""
            assert declared[item.input.input_name].get("default", "") == expected, (spec.name, item)


def test_the_tables_of_checks_list_the_registry() -> None:
    """README's table and the docs index name every registered check and command, and nothing else
    that is available; each has its docs page."""
    from lr_ci._registry import CHECKS

    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([a-z0-9]+)` — .*\| available", readme, re.MULTILINE)
    assert sorted(rows) == sorted(CHECKS)
    index = (ROOT / "docs" / "README.md").read_text().split("\n\n", 2)[1]
    linked = re.findall(r"\[([a-z0-9]+)\]\(([a-z0-9]+)\.md\)", index)
    assert sorted(name for name, _ in linked) == sorted(CHECKS)
    for name, page in linked:
        assert name == page and (ROOT / "docs" / f"{page}.md").is_file()


@pytest.mark.parametrize(
    ("code", "fail", "expected"),
    [
        ("0", "true", 0),
        ("1", "true", 1),
        ("1", "false", 0),
        ("2", "false", 2),
        ("3", "false", 3),
        ("", "true", 2),
    ],
)
def test_the_actions_verdict_keeps_a_bug_apart(
    monkeypatch: pytest.MonkeyPatch, code: str, fail: str, expected: int
) -> None:
    from lr_ci.github.action import verdict

    monkeypatch.setenv("LR_CI_EXIT_CODE", code)
    monkeypatch.setenv("INPUT_FAIL", fail)
    assert verdict() == expected


# --- `lr-ci secrets baseline`: a subcommand, and a folder of that name can still be scanned ------------

GH_TOKEN = "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"


@pytest.fixture
def baseline_folder(repo: Path) -> Path:
    (repo / "baseline").mkdir()
    (repo / "baseline" / "deploy.env").write_text(f"TOKEN={GH_TOKEN}\n")
    return repo


@pytest.mark.parametrize(
    "argv",
    [
        ["secrets", "./baseline"],
        ["secrets", "--", "baseline"],
        ["secrets", "baseline/"],
        ["secrets", "--quiet", "./baseline"],
    ],
)
def test_a_folder_named_baseline_is_scanned(baseline_folder: Path, cli: Cli, argv: list[str]) -> None:
    result = cli("--format", "json", *argv)
    assert result.code == 1, result.err
    assert result.json()["findings"][0]["location"]["path"] == "baseline/deploy.env"
    assert not (baseline_folder / ".lr-ci-secrets.json").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["secrets", "baseline"],
        ["secrets", "--format", "json", "baseline"],
        ["--quiet", "secrets", "baseline", "--format", "json"],
        ["secrets", "--config", "lr-ci.toml", "baseline"],
    ],
)
def test_secrets_baseline_is_a_subcommand(baseline_folder: Path, cli: Cli, argv: list[str]) -> None:
    """The command lines that wrote the baseline before still do (options before or after the word)."""
    (baseline_folder / "lr-ci.toml").write_text("")
    result = cli(*argv)
    assert result.code == 0, result.err
    assert (baseline_folder / ".lr-ci-secrets.json").is_file()
    assert cli("secrets", "--format", "json").code == 0  # the accepted finding is quiet now


def test_secrets_baseline_has_its_own_help(cli: Cli) -> None:
    from lr_ci.checks.secrets.cli import command

    assert isinstance(command, click.Group) and "baseline" in command.commands
    result = cli("secrets", "baseline", "--help")
    assert result.code == 0 and result.out.startswith("Usage: lr-ci secrets baseline [OPTIONS] [PATHS]...")
    assert "--list-rules" not in result.out
    assert cli("secrets", "--help").out.startswith("Usage: lr-ci secrets [OPTIONS] [PATHS]...")


def test_github_variables_are_read_in_one_place() -> None:
    """GITHUB_ACTIONS and GITHUB_EVENT_PATH are read by lr_ci.github only (the demo merely unsets one)."""
    for path in (ROOT / "src" / "lr_ci").rglob("*.py"):
        if path == ROOT / "src" / "lr_ci" / "github" / "__init__.py":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if "environ" in line:
                assert "GITHUB_EVENT_PATH" not in line and '.get("GITHUB_ACTIONS")' not in line, (path, line)


def test_list_rules_has_a_json_form(cli: Cli) -> None:
    text = cli("secrets", "--list-rules").out.splitlines()
    rules = json.loads(cli("secrets", "--list-rules", "--format", "json").out)
    assert len(rules) == len(text) and {"id", "severity", "kind", "description", "verify", "paths"} == set(
        rules[0]
    )
    assert text[0].split()[0] == rules[0]["id"]


def test_a_closed_pipe_is_not_a_bug(tmp_path: Path) -> None:
    """`lr-ci secrets --list-rules | head -1`: the reader left; no traceback, no "internal error"."""
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run(
        [sys.executable, "-m", "lr_ci", "secrets", "--list-rules"],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    os.close(write)
    assert done.returncode == 141 and done.stderr == ""
