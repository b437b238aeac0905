"""One shape for every check's command line (issue 15): ``cli.py`` parses arguments into a typed, frozen
request built with keywords; the options are merged over the ``[table]`` settings in one place
(``RunContext.settings(Model, overrides=...)``); lifecycles are context managers; p95 has real types."""

from __future__ import annotations

import ast
import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.cli import ROOT, Cli
from lr_ci._progress import Progress
from lr_ci._run import GlobalOptions, RunContext
from lr_ci.checks.bundle.settings import BundleSettings

CHECKS = ROOT / "src" / "lr_ci" / "checks"
CHECKS_WITH_A_COMMAND = sorted(path.parent.name for path in CHECKS.glob("*/cli.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _shape_files() -> Iterator[Path]:
    for name in CHECKS_WITH_A_COMMAND:
        yield CHECKS / name / "cli.py"
        yield CHECKS / name / "check.py"


# --- the merge, in one place -------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunContext:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "lr-ci.toml"
    config.write_text('[bundle]\ndirs = ["from-table"]\nmax_growth = 0.2\n')
    return RunContext("bundle", GlobalOptions(config=config))


def test_an_option_given_replaces_the_tables_value_and_none_keeps_it(run: RunContext) -> None:
    table = run.settings(BundleSettings)
    merged = run.settings(BundleSettings, overrides={"dirs": ["from-option"], "min_change": None})
    assert table.dirs == ["from-table"] and merged.dirs == ["from-option"]
    assert merged.max_growth == 0.2, "a value the options do not name stays as the table says"
    assert merged.min_change == BundleSettings().min_change, "None: the option was not given"
    assert run.settings(BundleSettings, overrides={"dirs": None}) == table


def test_merged_settings_are_still_checked_by_the_model(run: RunContext) -> None:
    """The merge builds the settings again, so a model's own checks (``__post_init__``) hold for it too."""
    from lr_ci.errors import FieldError

    with pytest.raises(FieldError):
        run.settings(BundleSettings, overrides={"min_change": "a lot"})


def test_an_override_that_names_no_setting_is_a_bug(run: RunContext) -> None:
    with pytest.raises(TypeError):
        run.settings(BundleSettings, overrides={"dir": ["typo"]})


def test_no_check_merges_options_itself() -> None:
    """No ``effective()`` / ``plan()`` and no ``request.x or settings.x``: the options reach the settings
    only through ``run.settings(Model, overrides=...)``, called from the command's ``cli.py``."""
    for path in _shape_files():
        tree = _tree(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                assert node.name not in ("effective", "plan"), f"{path}: {node.name}()"
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
                bases = {
                    value.value.id
                    for value in node.values
                    if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name)
                }
                assert not {"request", "settings"} <= bases, f"{path}:{node.lineno}: request.x or settings.x"
        if path.name == "check.py":
            assert "run.settings(" not in path.read_text(), f"{path}: settings are read by the command"


# --- requests: typed, frozen, built with keywords ----------------------------------------------------


def test_every_check_has_a_frozen_request_built_from_keywords() -> None:
    from importlib import import_module

    for name in CHECKS_WITH_A_COMMAND:
        request = import_module(f"lr_ci.checks.{name}.check").Request
        if dataclasses.is_dataclass(request):
            params = vars(request)["__dataclass_params__"]
            assert params.frozen, f"{name}: Request is not frozen"
            assert all(f.kw_only for f in dataclasses.fields(request)), f"{name}: positional fields"
        else:
            assert issubclass(request, tuple) and hasattr(request, "_fields"), f"{name}: not a NamedTuple"
            assert hasattr(request, "_replace")
        cli = _tree(CHECKS / name / "cli.py")
        for node in ast.walk(cli):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Request":
                assert not node.args, f"{name}/cli.py:{node.lineno}: Request built with positional arguments"


def test_no_request_is_passed_as_object_and_recovered_with_an_assert() -> None:
    for path in _shape_files():
        tree = _tree(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert) and isinstance(node.test, ast.Call):
                func = node.test.func
                assert not (isinstance(func, ast.Name) and func.id == "isinstance"), (
                    f"{path}:{node.lineno}: assert isinstance"
                )
            if isinstance(node, ast.FunctionDef):
                for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
                    annotation = arg.annotation
                    typed_object = isinstance(annotation, ast.Name) and annotation.id == "object"
                    assert not typed_object, f"{path}:{node.lineno}: {arg.arg}: object"


def test_p95_has_real_types() -> None:
    """``Any`` was the type of the plan, the targets, the measurement and the driver; load.py imports
    locust only inside its functions, so p95's check imports it at the top."""
    for name in ("check.py", "cli.py"):
        tree = _tree(CHECKS / "p95" / name)
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert "Any" not in names, f"p95/{name} still uses Any"


def test_importing_the_p95_check_does_not_import_locust() -> None:
    import subprocess
    import sys

    code = "import sys, lr_ci.checks.p95.check; print('locust' in sys.modules, 'gevent' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# --- lifecycles as context managers ------------------------------------------------------------------


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_line_is_cleared_when_the_operation_fails() -> None:
    stream = _TTY()
    with pytest.raises(RuntimeError), Progress("reading files", 3, stream=stream) as progress:
        progress(1)
        raise RuntimeError("mid-way")
    assert stream.getvalue().endswith("\r\x1b[K"), "the line is cleared"
    assert "reading files 1/3" in stream.getvalue()


def test_a_started_scan_stops_git_when_the_scan_fails() -> None:
    from lr_ci.checks.secrets.check import Request, Started

    closed: list[bool] = []

    class Patches:
        def close(self) -> None:
            closed.append(True)

    started = Started(Request(staged=True), Path("."), Patches())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError), started:
        raise RuntimeError("the scan failed")
    assert closed == [True]


def test_the_secrets_commands_end_their_lifecycles_with_with() -> None:
    """No try/finally with close() left in the commands: Started and Progress close themselves."""
    for name in CHECKS_WITH_A_COMMAND:
        text = (CHECKS / name / "cli.py").read_text()
        assert ".close()" not in text, f"{name}/cli.py closes something by hand"


# --- the command line still means what it meant ------------------------------------------------------


def test_bundle_dirs_on_the_command_line_replace_the_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lr-ci.toml").write_text('[bundle]\ndirs = ["not-built"]\nscan_secrets = false\n')
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "app.js").write_text("console.log(1)\n" * 50)
    from_table = cli("bundle", "--format", "json")
    assert from_table.code == 2 and "not-built" in from_table.err
    from_option = cli("bundle", "out", "--format", "json")
    assert from_option.code == 0, from_option.err
    assert from_option.json()["metrics"]["files"] == 1


def test_smoke_options_replace_the_tables_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    """--base-url over base_url, --timeout over timeout_s: the run says which one it used."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lr-ci.toml").write_text('[smoke]\nbase_url = "http://127.0.0.1:9/table"\ntimeout_s = 30\n')
    result = cli("smoke", "--base-url", "http://127.0.0.1:9/option", "--timeout", "0.5", "--format", "json")
    report = result.json()
    assert result.code == 1
    message = report["findings"][0]["message"]
    assert "/option" in report["findings"][0]["location"]["url"] and "/table" not in message


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["smoke", "--base-url", "http://127.0.0.1:9/", "--timeout", "-1"], "--timeout -1.0"),
        (["smoke", "--base-url", "ftp://example.com/"], "--base-url 'ftp://example.com/'"),
        (["p95", "--rate", "0"], "--rate 0.0"),
    ],
)
def test_a_bad_option_value_is_said_before_the_config_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, argv: list[str], said: str
) -> None:
    """Like click's own checks of an option's type: the command line first, then lr-ci.toml."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lr-ci.toml").write_text("[smoke]\nnot_a_key = 1\n[p95]\nnot_a_key = 1\n")
    result = cli(*argv)
    assert result.code == 2
    assert said in result.err and "not_a_key" not in result.err


def test_the_sample_check_shows_the_shape(repo: Path, cli: Cli, sample_check: None) -> None:
    """The core's toy check is written as every check is: a frozen request, an option over its table."""
    (repo / "lr-ci.toml").write_text("[sample]\ncount = 4\n")
    assert cli("sample", "--format", "json").json()["metrics"]["count"] == 4
    assert cli("sample", "--count", "7", "--format", "json").json()["metrics"]["count"] == 7


def test_a_setting_found_unusable_in_the_run_is_a_config_error_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    """Checks raise ``SettingError(key, problem)``; the run harness alone turns it into file:line (no
    command maps errors to the config itself)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lr-ci.toml").write_text(
        '[smoke]\nbase_url = "http://127.0.0.1:9/"\n\n[smoke.flows.empty]\nsteps = []\n'
    )
    result = cli("smoke")
    assert result.code == 2
    assert result.err == (
        "lr-ci smoke: error: lr-ci.toml:4: smoke.flows.empty: flow 'empty' has no steps "
        "(nor does any flow it uses)\n"
    )
    for name in CHECKS_WITH_A_COMMAND:
        assert "config.error(" not in (CHECKS / name / "cli.py").read_text(), name
