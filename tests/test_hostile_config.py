"""Issue 11 against the config loader: endless, special and huge files, deep nesting, loose types.

Each input runs lr-ci in a bounded subprocess (tests/helpers/hostile.py): exit 2, one clear line naming the file
(and line and key where there is one), nothing secret in any format, and the 256 MB peak for the inputs
that used to read or build without bound.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers.hostile import (
    MIB,
    PEAK_RSS_LIMIT,
    Measured,
    all_format_outputs,
    assert_one_clear_line,
    run_measured,
)
from lr_ci._toml_lines import MAX_KEY_PARTS, MAX_NESTING
from lr_ci.config import MAX_CONFIG_BYTES, MAX_CONFIG_VALUES

DEEP = 100_000
SECRET = "s3cr3t-Zq8Rt2Lm5Vx7Bn4Kc9Pw"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    (path / "dist").mkdir(parents=True)
    (path / "dist" / "app.js").write_text("let a = 1;\n")
    return path


def bundle(
    project: Path, tmp_path: Path, config: str, env: dict[str, str] | None = None, check: str = "bundle"
) -> Measured:
    """``lr-ci --config CONFIG CHECK`` with every output format written, bounded in time."""
    return run_measured(
        ["--config", config, check, "--format", "json"],
        cwd=project,
        env={"XDG_CACHE_HOME": str(tmp_path / "cache"), **(env or {})},
        timeout_s=30,
        outputs=all_format_outputs(tmp_path),
    )


def assert_config_error(result: Measured, *mentions: str) -> None:
    assert result.code == 2, (result.code, result.err)
    assert_one_clear_line(result, mentions=mentions)
    assert json.loads(result.out)["status"] == "error"


def test_dev_zero_as_config_is_exit_2_within_the_bound(project: Path, tmp_path: Path) -> None:
    result = bundle(project, tmp_path, "/dev/zero")
    assert_config_error(result, "/dev/zero", "not a regular file")
    assert result.peak_rss <= PEAK_RSS_LIMIT and result.seconds < 10


def test_a_fifo_as_config_does_not_hang(project: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "lr-ci.fifo"
    os.mkfifo(fifo)
    assert_config_error(bundle(project, tmp_path, str(fifo)), "lr-ci.fifo", "FIFO")


def test_a_directory_as_config(project: Path, tmp_path: Path) -> None:
    (tmp_path / "conf.toml").mkdir()
    assert_config_error(bundle(project, tmp_path, str(tmp_path / "conf.toml")), "conf.toml", "directory")


@pytest.mark.parametrize("kind", ["directory", "FIFO", "dangling symlink"])
def test_a_found_lr_ci_toml_that_is_no_file_is_not_skipped(project: Path, tmp_path: Path, kind: str) -> None:
    """Skipping it would run the check on its defaults, silently: it is exit 2 naming it instead."""
    found = project / "lr-ci.toml"
    if kind == "directory":
        found.mkdir()
    elif kind == "FIFO":
        os.mkfifo(found)
    else:
        found.symlink_to(tmp_path / "gone.toml")
    result = run_measured(
        ["bundle", "--format", "json"], cwd=project, env={"XDG_CACHE_HOME": str(tmp_path / "c")}, timeout_s=30
    )
    assert_config_error(result, "lr-ci.toml", "cannot read the config file")


def test_a_config_over_the_size_limit(project: Path, tmp_path: Path) -> None:
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"[bundle]\n" + b"# padding padding padding\n" * (MAX_CONFIG_BYTES // 26 + 10))
    result = bundle(project, tmp_path, str(huge))
    assert_config_error(result, "huge.toml", "larger than 1 MiB")
    assert result.peak_rss <= PEAK_RSS_LIMIT


def test_a_config_just_under_the_size_limit_is_read(project: Path, tmp_path: Path) -> None:
    padded = tmp_path / "padded.toml"
    padding = b"# padding padding padding\n" * ((MAX_CONFIG_BYTES - 100) // 26)
    padded.write_bytes(b"[bundle]\nmax_growth = 0.5\n" + padding)
    assert bundle(project, tmp_path, str(padded)).code == 0


def test_an_unreadable_config(project: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    locked = tmp_path / "locked.toml"
    locked.write_text("[bundle]\n")
    locked.chmod(0)
    assert_config_error(bundle(project, tmp_path, str(locked)), "locked.toml", "Permission denied")


NESTED = f"nested more than {MAX_NESTING} levels deep"
LONG_KEY = f"a key of more than {MAX_KEY_PARTS} parts"


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("array", "a = " + "[" * DEEP + "]" * DEEP, NESTED),
        ("unclosed array", "a = " + "[" * DEEP, NESTED),
        ("inline tables", "a = " + "{b=" * DEEP + "1" + "}" * DEEP, NESTED),
        ("dotted key", "a" + ".a" * DEEP + " = 1", LONG_KEY),
        ("dotted key in an inline table", "a = {" + "b." * DEEP + "c = 1}", LONG_KEY),
        ("table header", "[a" + ".a" * DEEP + "]", LONG_KEY),
        ("array of tables", "[[a" + ".a" * DEEP + "]]", LONG_KEY),
    ],
)
def test_deep_nesting_is_exit_2_at_its_line(
    project: Path, tmp_path: Path, name: str, text: str, problem: str
) -> None:
    config = tmp_path / "deep.toml"
    config.write_text(f"[bundle]\nmax_growth = 0.2\n{text}\n")
    result = bundle(project, tmp_path, str(config))
    assert_config_error(result, "deep.toml:3", problem)
    assert result.peak_rss <= PEAK_RSS_LIMIT and result.seconds < 10, name


@pytest.mark.parametrize(
    ("name", "line"),
    [
        # 1 MiB of keys just under the part limit: tomllib keeps every prefix of every key.
        ("long keys", "k{i}" + ".a" * (MAX_KEY_PARTS - 3) + " = 1"),
        ("long table headers", "[k{i}" + ".a" * (MAX_KEY_PARTS - 2) + "]"),
        # 1 MiB of inline tables just under the nesting limit: hundreds of thousands of tables.
        ("nested tables", "x{i} = " + "{a=" * (MAX_NESTING - 2) + "1" + "}" * (MAX_NESTING - 2)),
        ("many arrays", "x{i} = [" + "[], " * 200 + "]"),
    ],
)
def test_a_megabyte_of_structure_stays_within_the_bound(
    project: Path, tmp_path: Path, name: str, line: str
) -> None:
    config = tmp_path / "wide.toml"
    lines, size, index = ["[bundle]"], 9, 0
    while size < MAX_CONFIG_BYTES - 2000:
        lines.append(line.replace("{i}", str(index)))
        size, index = size + len(lines[-1]) + 1, index + 1
    config.write_text("\n".join(lines) + "\n")
    result = bundle(project, tmp_path, str(config))
    assert result.code == 2, name
    assert_one_clear_line(result, mentions=["wide.toml"])
    print(name, f"{result.peak_rss / MIB:.0f} MiB", f"{result.seconds:.1f} s")
    assert result.peak_rss <= PEAK_RSS_LIMIT and result.seconds < 15, (name, result.peak_rss / MIB)


def test_more_values_than_the_limit(project: Path, tmp_path: Path) -> None:
    config = tmp_path / "values.toml"
    config.write_text("[bundle]\nmax_growth = 0.2\ndirs = [" + "'a', " * MAX_CONFIG_VALUES + "]\n")
    result = bundle(project, tmp_path, str(config))
    assert_config_error(result, "values.toml:1", f"more than {MAX_CONFIG_VALUES} values")


def test_nesting_within_the_limit_is_not_refused(project: Path, tmp_path: Path) -> None:
    """Just under the limit, tomllib parses it; the error is then the unknown key, as for any other."""
    config = tmp_path / "ok.toml"
    depth = MAX_NESTING - 1
    floats = ", ".join(["1.5"] * 500)  # many dots in one array are numbers, not a deep key
    config.write_text(f"[bundle]\nx = {'[' * depth}{']' * depth}\ny = [{floats}]\n")
    assert_config_error(bundle(project, tmp_path, str(config)), "ok.toml:2", "bundle.x: unknown key")


@pytest.mark.parametrize(
    ("table", "line", "key"),
    [
        ("[secrets]\nmax_file_bytes = true", "secrets.max_file_bytes = true", "secrets.max_file_bytes"),
        ("[secrets]\nmax_file_bytes = 1.0", "", "secrets.max_file_bytes"),
        ("[secrets]\nmax_file_bytes = '10'", "", "secrets.max_file_bytes"),
        ("[bundle]\nmax_growth = true", "", "bundle.max_growth"),
        ("[bundle]\nmax_growth = '0.1'", "", "bundle.max_growth"),
        ("[bundle]\nmax_growth = nan", "finite", "bundle.max_growth"),
        ("[bundle]\nmax_growth = inf", "finite", "bundle.max_growth"),
        ("[bundle]\nscan_secrets = 1", "", "bundle.scan_secrets"),
        ("[bundle]\nmin_change = 1000", "", "bundle.min_change"),
        ("[[bundle.budgets]]\nfiles = '*.js'\nper_file = 0", "", "bundle.budgets.0.per_file"),
        ("[[bundle.budgets]]\nfiles = '*.js'\nmax_growth = nan", "finite", "bundle.budgets.0.max_growth"),
    ],
)
def test_loose_types_are_exit_2_at_the_key(
    project: Path, tmp_path: Path, table: str, line: str, key: str
) -> None:
    config = tmp_path / "types.toml"
    config.write_text(f"# strict types\n{table}\n")
    where = f"types.toml:{len(table.splitlines()) + 1}"
    result = bundle(project, tmp_path, str(config), check=key.split(".", maxsplit=1)[0])
    assert_config_error(result, where, key, *([line] if line == "finite" else []))


def test_a_float_field_still_takes_an_integer(project: Path, tmp_path: Path) -> None:
    config = tmp_path / "int.toml"
    config.write_text("[bundle]\nmax_growth = 1\n[[bundle.budgets]]\nfiles = '*.js'\nmax_growth = 0\n")
    assert bundle(project, tmp_path, str(config)).code == 0


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("[smoke]\nbase_url = 'http://127.0.0.1:9'\ntimeout_s = nan", "smoke.timeout_s"),
        ("[smoke]\nbase_url = 'http://127.0.0.1:9'\nconcurrency = 4.0", "smoke.concurrency"),
        ("[p95]\nusers = true", "p95.users"),
        ("[p95]\nround_seconds = inf", "p95.round_seconds"),
    ],
)
def test_every_table_is_strict(project: Path, tmp_path: Path, table: str, key: str) -> None:
    """The strictness is the loader's, not each check's: `config check` finds it in every table."""
    config = tmp_path / "all.toml"
    config.write_text(f"{table}\n")
    result = run_measured(["config", "check", str(config), "--format", "json"], cwd=project, timeout_s=30)
    assert result.code == 1, result.err
    messages = [f["message"] for f in json.loads(result.out)["findings"]]
    assert any(m.startswith(f"{key}: ") for m in messages), messages


def test_a_non_finite_number_in_a_json_body_is_refused(project: Path, tmp_path: Path) -> None:
    """A value typed Any (a request's JSON body) cannot carry nan or inf either."""
    config = tmp_path / "body.toml"
    config.write_text(
        "[smoke]\nbase_url = 'http://127.0.0.1:9'\n[[smoke.flows.pay.steps]]\nname = 'post'\npath = '/'\n"
        "method = 'POST'\njson = {amount = nan}\n"
    )
    result = run_measured(["config", "check", str(config), "--format", "json"], cwd=project, timeout_s=30)
    findings = json.loads(result.out)["findings"]
    assert any("not a finite number" in f["message"] for f in findings), findings


def test_a_credential_in_a_wrongly_typed_field_is_not_printed(project: Path, tmp_path: Path) -> None:
    config = tmp_path / "cred.toml"
    config.write_text(
        "[bundle]\nmax_growth = '${LR_CI_TEST_SECRET}'\nhash_pattern = '${LR_CI_TEST_SECRET}('\n"
    )
    result = bundle(project, tmp_path, str(config), env={"LR_CI_TEST_SECRET": SECRET})
    assert result.code == 2
    assert_one_clear_line(result, mentions=["cred.toml:2", "bundle.max_growth"])
    assert SECRET not in result.everything


def test_peak_of_a_normal_config_run(project: Path, tmp_path: Path) -> None:
    """The baseline the bounds above are compared with: an ordinary run is far below them."""
    config = tmp_path / "plain.toml"
    config.write_text("[bundle]\nmax_growth = 0.2\n")
    result = bundle(project, tmp_path, str(config))
    assert result.code == 0 and result.peak_rss < PEAK_RSS_LIMIT / 2, result.peak_rss / MIB


def test_interpolated_values_past_the_limit_are_exit_2_within_the_bound(
    project: Path, tmp_path: Path
) -> None:
    """20,000 references to a 120 kB variable took 3 GB and 70 s; the values a table brings in are capped."""
    from lr_ci.config import MAX_INTERPOLATED_BYTES

    value = "v" * 4096
    references = MAX_INTERPOLATED_BYTES // len(value) + 1
    lines = "".join(f'h{i} = "${{BIG}}"\n' for i in range(references))
    (project / "lr-ci.toml").write_text(f'[smoke]\nbase_url = "http://127.0.0.1:9"\n[smoke.headers]\n{lines}')
    result = run_measured(
        ["smoke", "--format", "json"],
        cwd=project,
        env={"BIG": value},
        timeout_s=30,
        outputs=all_format_outputs(tmp_path),
    )
    assert_config_error(result, f"lr-ci.toml:{3 + references}", "more than 4 MiB")
    assert result.peak_rss <= PEAK_RSS_LIMIT
    assert value not in result.everything


def test_a_byte_order_mark_is_named(project: Path, tmp_path: Path) -> None:
    (project / "lr-ci.toml").write_bytes(b"\xef\xbb\xbf[bundle]\nmax_growth = 0.2\n")
    result = bundle(project, tmp_path, "lr-ci.toml")
    assert_config_error(result, "lr-ci.toml:1", "byte order mark")


def test_config_check_lists_at_most_its_limit_of_problems(project: Path, tmp_path: Path) -> None:
    """49,000 unknown keys made 49,000 findings: 60 MB of reports, an 18 s run and a 370 MB peak."""
    from lr_ci.commands.config import MAX_LISTED_PROBLEMS

    keys = MAX_LISTED_PROBLEMS * 10
    (project / "lr-ci.toml").write_text("[bundle]\n" + "".join(f"k{i} = 1\n" for i in range(keys)))
    result = run_measured(
        ["config", "check", "--format", "json"],
        cwd=project,
        timeout_s=30,
        outputs=all_format_outputs(tmp_path),
    )
    assert result.code == 1, result.err
    findings = json.loads(result.out)["findings"]
    assert len(findings) == MAX_LISTED_PROBLEMS + 1
    assert f"{keys - MAX_LISTED_PROBLEMS} more problems are not listed" in findings[-1]["message"]
    assert result.peak_rss <= PEAK_RSS_LIMIT
