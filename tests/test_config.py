from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jsonschema
import pytest
from pydantic import Field

from helpers.cli import Cli
from helpers.git import git
from helpers.sample_check import SampleSettings
from lr_ci.config import SETTINGS_CONFIG, find_config_file, load_config, load_section
from lr_ci.errors import ConfigError
from lr_ci.redact import Redactor
from lr_ci.report import Severity

pytestmark = pytest.mark.usefixtures("sample_check")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_defaults(repo: Path) -> None:
    config = load_config()
    assert config.path is None
    settings = load_section(config, "sample", SampleSettings, Redactor())
    assert settings.count == 3 and settings.routes == []


def test_found_by_walking_up_to_the_repository_root(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(repo / "lr-ci.toml", "[sample]\ncount = 5\n")
    deep = repo / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_config_file(deep) == (repo / "lr-ci.toml").resolve()
    settings = load_section(load_config(), "sample", SampleSettings, Redactor())
    assert settings.count == 5


def test_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    write(tmp_path / "lr-ci.toml", "[sample]\ncount = 5\n")
    inner = tmp_path / "inner"
    inner.mkdir()
    git(inner, "init", "-q")
    assert find_config_file(inner) is None


def test_outside_a_repository_only_the_start_directory_counts(tmp_path: Path) -> None:
    write(tmp_path / "lr-ci.toml", "")
    (tmp_path / "sub").mkdir()
    assert find_config_file(tmp_path / "sub") is None
    assert find_config_file(tmp_path) == (tmp_path / "lr-ci.toml").resolve()


def test_explicit_config_overrides_search(repo: Path, cli: Cli) -> None:
    write(repo / "lr-ci.toml", "[sample]\ncount = 5\n")
    other = write(repo / "other.toml", "[sample]\ncount = 9\n")
    assert cli("sample", "--format", "json").json()["metrics"]["count"] == 5
    assert cli("--config", str(other), "sample", "--format", "json").json()["metrics"]["count"] == 9
    assert cli("sample", "--config", str(other), "--format", "json").json()["metrics"]["count"] == 9


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[sample]\ncount = 1\n\n[sampel]\nx = 1\n",
            "lr-ci.toml:4: sampel: unknown table (did you mean 'sample'?)",
        ),
        (
            "[sample]\ncount = 1\ncuont = 2\n",
            "lr-ci.toml:3: sample.cuont: unknown key (did you mean 'count'?)",
        ),
        ("[sample]\ncount = 'many'\n", "lr-ci.toml:2: sample.count: Input should be a valid integer"),
        (
            "[sample.nested]\nlevel = 2\nlabl = 'a'\n",
            "lr-ci.toml:3: sample.nested.labl: unknown key (did you mean 'label'?)",
        ),
        (
            "[sample]\n\n[[sample.routes]]\npath = '/'\n[[sample.routes]]\nbudget_ms = 5\n",
            "lr-ci.toml:5: sample.routes.1.path: required key is missing",
        ),
        (
            "[[sample.routes]]\npath = '/'\n[[sample.routes]]\npath = '/b'\nbuget_ms = 1\n",
            "lr-ci.toml:5: sample.routes.1.buget_ms: unknown key (did you mean 'budget_ms'?)",
        ),
        (
            "[sample]\nroutes = [\n  {path = '/', zzz = 1},\n]\n",
            "lr-ci.toml:2: sample.routes.0.zzz: unknown key",
        ),
        ("[sample]\ncount = \n", "lr-ci.toml:2: invalid TOML: Invalid value"),
        ("sample = 3\n", "lr-ci.toml:1: sample: must be a table ([sample]), not a int"),
        ("[sample]\nfail_on = 'severe'\n", "lr-ci.toml:2: sample.fail_on: Input should be 'critical'"),
    ],
)
def test_errors_name_file_line_and_key(repo: Path, cli: Cli, text: str, expected: str) -> None:
    write(repo / "lr-ci.toml", text)
    result = cli("sample")
    assert result.code == 2
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"lr-ci sample: error: {expected}"), lines[0]
    assert "Traceback" not in result.err


def test_several_errors_are_counted(repo: Path, cli: Cli) -> None:
    write(repo / "lr-ci.toml", "[sample]\ncount = 'a'\nzz = 1\n")
    result = cli("sample")
    assert result.code == 2
    assert "(and 1 more: run `lr-ci config check`)" in result.err


def test_non_utf8_config_names_the_line(repo: Path, cli: Cli) -> None:
    (repo / "lr-ci.toml").write_bytes(b"[sample]\n# caf\xe9\ncount = 1\n")
    result = cli("sample")
    assert result.code == 2
    assert "lr-ci.toml:2: the file is not valid UTF-8" in result.err


def test_unreadable_config_is_exit_2(repo: Path, cli: Cli) -> None:
    (repo / "lr-ci.toml").mkdir()
    result = cli("--config", "lr-ci.toml", "sample")
    assert result.code == 2
    assert "lr-ci.toml: cannot read the config file" in result.err


def test_missing_explicit_config_is_exit_2(repo: Path, cli: Cli) -> None:
    result = cli("--config", "nope.toml", "sample")
    assert result.code == 2
    assert "nope.toml" in result.err


def test_env_interpolation(repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_TOKEN", "tok-3f9a2c1bd00d")
    write(
        repo / "lr-ci.toml",
        "[sample]\ntoken = 'Bearer ${SAMPLE_TOKEN}'\n[sample.nested]\nlabel = '$${LITERAL}'\n",
    )
    config = load_config()
    redactor = Redactor()
    settings = load_section(config, "sample", SampleSettings, redactor)
    assert settings.token == "Bearer tok-3f9a2c1bd00d"
    assert settings.nested.label == "${LITERAL}"
    assert redactor.credentials == ("tok-3f9a2c1bd00d",)


def test_missing_env_variable_is_named(repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    write(repo / "lr-ci.toml", "[sample]\ncount = 1\n\ntoken = '${NOT_SET_ANYWHERE}'\n")
    result = cli("sample")
    assert result.code == 2
    assert result.err.strip() == (
        "lr-ci sample: error: lr-ci.toml:4: sample.token: environment variable NOT_SET_ANYWHERE is not set"
    )


def test_invalid_env_reference(repo: Path, cli: Cli) -> None:
    write(repo / "lr-ci.toml", "[sample]\ntoken = '${not valid}'\n")
    result = cli("sample")
    assert result.code == 2
    assert (
        "lr-ci.toml:2: sample.token: '${not valid}' is not a valid environment variable reference"
        in result.err
    )


def test_config_check_reports_every_problem_as_a_finding(repo: Path, cli: Cli) -> None:
    write(repo / "lr-ci.toml", "[sample]\ncount = 'a'\nzz = 1\n[nope]\n")
    result = cli("config", "check", "--format", "json")
    assert result.code == 1
    report = result.json()
    assert report["status"] == "fail"
    located = [(f["location"]["path"], f["location"]["line"], f["message"]) for f in report["findings"]]
    assert located == [
        (
            "lr-ci.toml",
            2,
            "sample.count: Input should be a valid integer",
        ),
        ("lr-ci.toml", 3, "sample.zz: unknown key"),
        ("lr-ci.toml", 4, "nope: unknown table"),
    ]


def test_config_check_passes_a_valid_file_and_several_files(repo: Path, cli: Cli) -> None:
    write(repo / "lr-ci.toml", "[sample]\ncount = 4\n")
    bad = write(repo / "bad.toml", "[sample\n")
    assert cli("config", "check").code == 0
    result = cli("config", "check", "lr-ci.toml", str(bad), "--format", "json")
    assert result.code == 1
    assert [f["location"]["path"] for f in result.json()["findings"]] == ["bad.toml"]
    assert result.json()["metrics"]["files_checked"] == 2


def test_config_check_without_any_file_passes(repo: Path, cli: Cli) -> None:
    result = cli("config", "check", "--format", "json")
    assert result.code == 0
    assert result.json()["findings"][0]["rule"] == "config-defaults"


def test_config_check_missing_file_is_exit_2(repo: Path, cli: Cli) -> None:
    result = cli("config", "check", "missing.toml")
    assert result.code == 2
    assert result.err.strip() == "lr-ci config: error: missing.toml: no such file"


def test_schema_is_valid_json_schema_and_describes_tables(repo: Path, cli: Cli) -> None:
    result = cli("config", "schema")
    assert result.code == 0
    schema = json.loads(result.out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"sample": {"count": 2, "routes": [{"path": "/"}]}})
    assert not validator.is_valid({"sample": {"cuont": 2}})
    assert not validator.is_valid({"sampel": {}})


def test_config_check_warns_about_unset_variables(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNSET_FOR_CHECK", raising=False)
    write(repo / "lr-ci.toml", "[sample]\ntoken = '${UNSET_FOR_CHECK}'\ncount = 'x'\n")
    result = cli("config", "check", "--format", "json")
    assert result.code == 1
    rules = [(f["rule"], f["severity"], f["location"]["line"]) for f in result.json()["findings"]]
    assert rules == [("config-env-unset", "low", 2), ("config-invalid", "high", 3)]
    write(repo / "lr-ci.toml", "[sample]\ntoken = '${UNSET_FOR_CHECK}'\n")
    assert cli("config", "check").code == 0


def test_config_check_paths_are_relative_to_the_repository_root(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(repo / "lr-ci.toml", "[nope]\n")
    (repo / "ops").mkdir()
    write(repo / "ops" / "lr-ci.toml", "[nope]\n")
    deep = repo / "web" / "src"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    result = cli("config", "check", "--format", "json")
    assert [f["location"]["path"] for f in result.json()["findings"]] == ["lr-ci.toml"]
    result = cli("config", "check", "../../ops/lr-ci.toml", "--format", "json")
    assert [f["location"]["path"] for f in result.json()["findings"]] == ["ops/lr-ci.toml"]


@dataclass(frozen=True, kw_only=True)
class _Shapes:
    """Every kind of field the strictness must get right (see config._settings_validator)."""

    __pydantic_config__ = SETTINGS_CONFIG
    size: int = 1
    ratio: float = 0.5
    flag: bool = False
    pair: tuple[int, int] = (1, 2)
    severity: Severity = Severity.LOW
    loose: Annotated[int, Field(strict=False)] = 0
    unbounded: Annotated[float, Field(allow_inf_nan=True)] = 0.0
    body: Any = None


def _load_shapes(tmp_path: Path, body: str) -> _Shapes:
    config = tmp_path / "lr-ci.toml"
    config.write_text(f"[sample]\n{body}\n")
    return load_section(load_config(config), "sample", _Shapes, Redactor())


def test_strictness_keeps_what_toml_cannot_say_otherwise(tmp_path: Path) -> None:
    """A TOML array still fills a tuple, a string an Enum, an integer a float; opted-out fields are lax."""
    shapes = _load_shapes(
        tmp_path,
        'pair = [3, 4]\nseverity = "high"\nratio = 2\nloose = "7"\nunbounded = inf\nbody = {a = [1, 2.5]}',
    )
    assert shapes.pair == (3, 4) and shapes.severity is Severity.HIGH and shapes.ratio == 2.0
    assert shapes.loose == 7 and shapes.unbounded == float("inf") and shapes.body == {"a": [1, 2.5]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("size = true", "sample.size: Input should be a valid integer"),
        ("size = 2.0", "sample.size: Input should be a valid integer"),
        ('size = "2"', "sample.size: Input should be a valid integer"),
        ("ratio = true", "sample.ratio: Input should be a valid number"),
        ("ratio = nan", "sample.ratio: Input should be a finite number"),
        ("flag = 1", "sample.flag: Input should be a valid boolean"),
        ('flag = "true"', "sample.flag: Input should be a valid boolean"),
        ("pair = [1, true]", "sample.pair.1: Input should be a valid integer"),
        ("body = {a = [1, -inf]}", "sample.body: Value error, -inf is not a finite number"),
    ],
)
def test_strict_scalars_and_finite_numbers(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _load_shapes(tmp_path, body)
    assert raised.value.message.endswith(f"lr-ci.toml:2: {message}"), raised.value.message
