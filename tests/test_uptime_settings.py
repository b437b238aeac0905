"""``[uptime]`` in lr-ci.toml: every bad input is exit 2 with one line at file:line, before anything runs;
a good table becomes a plan whose probes, rules and targets are what the file says."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from helpers.cli import Cli
from helpers.uptime_servers import free_port
from lr_ci.checks.uptime.settings import (
    CONTROL_NAME,
    UptimeSettings,
    build_plan,
    parse_duration,
)
from lr_ci.config import load_config, load_section
from lr_ci.redact import Redactor

HOOK = 'webhook = "http://127.0.0.1:9/hook"\nsecret = "${HOOK_SECRET}"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lr-ci.toml"
    path.write_text(text.lstrip())
    return path


def refused(cli: Cli, config: Path, *args: str) -> str:
    """Run ``check --once`` on ``config``: it must exit 2 with exactly one line on stderr; return it."""
    result = cli("--config", str(config), "uptime", "check", "--once", *args)
    assert result.code == 2, (result.out, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    assert not (config.parent / ".lr-ci").exists()  # nothing was started: no state file
    return lines[0]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "hook-secret-value-42")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[[uptime.monitors]]\nname = 'a'\nurl = 'http://127.0.0.1:9/'\ninterval = '60s'\ntimeout = '90s'\n",
            ":1: uptime.monitors.0: monitor 'a': the timeout (90 s) is longer than the interval (60 s)",
        ),
        (
            "[uptime]\nfailures = 3\n\n[[uptime.monitors]]\nname = 'x'\nurl = 'http://127.0.0.1:9/'\n"
            "interval = '5m'\nwindow = '10m'\n",
            ":4: uptime.monitors.0: monitor 'x': this rule can never fire: 3 failures of a probe that runs "
            "every 300 s span at least 600 s",
        ),
    ],
)
def test_an_impossible_rule_is_refused_with_its_reason(
    tmp_path: Path, cli: Cli, text: str, expected: str
) -> None:
    line = refused(cli, write(tmp_path, text))
    assert expected in line, line


def test_two_kinds_in_one_monitor_is_refused_at_its_line(tmp_path: Path, cli: Cli) -> None:
    config = write(
        tmp_path,
        """
[[uptime.monitors]]
name = "ok"
url = "http://127.0.0.1:9/"

[[uptime.monitors]]
name = "both"
url = "http://127.0.0.1:9/"
smtp = "mail.example.com"
""",
    )
    line = refused(cli, config)
    assert "lr-ci.toml:5: uptime.monitors.1" in line, line
    assert "give exactly one of url, flow, smtp, tls (it has url and smtp)" in line


def test_a_monitor_of_no_kind_and_a_key_of_another_kind_are_refused(tmp_path: Path, cli: Cli) -> None:
    line = refused(cli, write(tmp_path, "[[uptime.monitors]]\nname = 'nothing'\n"))
    assert ":1: uptime.monitors.0" in line and "(it has none of them)" in line
    line = refused(
        cli,
        write(tmp_path, "[[uptime.monitors]]\nname = 'web'\nurl = 'http://127.0.0.1:9/'\nstarttls = 'off'\n"),
    )
    assert ":4: uptime.monitors.0.starttls" in line and "applies to SMTP monitors" in line, line


def test_duplicate_names_are_refused_at_the_second(tmp_path: Path, cli: Cli) -> None:
    config = write(
        tmp_path,
        """
[[uptime.monitors]]
name = "api"
url = "http://127.0.0.1:9/a"

[[uptime.monitors]]
name = "api"
url = "http://127.0.0.1:9/b"
""",
    )
    line = refused(cli, config)
    assert ":6: uptime.monitors.1.name: two monitors are named 'api' (also monitor 1)" in line, line


def test_an_empty_name_is_refused(tmp_path: Path, cli: Cli) -> None:
    line = refused(cli, write(tmp_path, "[[uptime.monitors]]\nname = ''\nurl = 'http://127.0.0.1:9/'\n"))
    assert ":2: uptime.monitors.0.name" in line, line


def test_a_literal_password_is_refused(tmp_path: Path, cli: Cli) -> None:
    config = write(
        tmp_path,
        """
[[uptime.monitors]]
name = "mail"
smtp = "127.0.0.1:2525"
username = "probe"
password = "hunter2-literal"
""",
    )
    line = refused(cli, config)
    assert ":5: uptime.monitors.0.password: credentials come from environment variables" in line, line
    assert "hunter2-literal" not in line


def test_a_literal_webhook_secret_is_refused(tmp_path: Path, cli: Cli) -> None:
    config = write(
        tmp_path,
        """
[[uptime.monitors]]
name = "api"
url = "http://127.0.0.1:9/"

[[uptime.notify]]
webhook = "http://127.0.0.1:9/hook"
secret = "written-in-the-file"
""",
    )
    line = refused(cli, config)
    assert ":7: uptime.notify.0.secret: credentials come from environment variables" in line, line
    assert "written-in-the-file" not in line


def test_an_unset_variable_is_named(tmp_path: Path, cli: Cli) -> None:
    config = write(
        tmp_path,
        """
[[uptime.monitors]]
name = "mail"
smtp = "127.0.0.1:2525"
username = "probe"
password = "${SMTP_PASSWORD_UNSET_HERE}"
""",
    )
    line = refused(cli, config)
    assert ":5: uptime.monitors.0.password: environment variable SMTP_PASSWORD_UNSET_HERE is not set" in line


def test_an_unknown_flow_name_is_refused_at_the_monitor(tmp_path: Path, cli: Cli) -> None:
    config = write(
        tmp_path,
        """
[smoke]
base_url = "http://127.0.0.1:9"
[smoke.flows.login]
steps = [{ path = "/login" }]

[[uptime.monitors]]
name = "login works"
flow = "logon"
""",
    )
    line = refused(cli, config)
    assert ":8: uptime.monitors.0.flow: no flow named 'logon' in [smoke] (its flows: login)" in line, line


def test_a_malformed_apprise_url_is_refused_at_start_up(tmp_path: Path, cli: Cli) -> None:
    config = write(
        tmp_path,
        """
[[uptime.monitors]]
name = "api"
url = "http://127.0.0.1:9/"

[[uptime.notify]]
url = "nosuchscheme://token-abcdef123/x"
""",
    )
    line = refused(cli, config)
    assert ":6: uptime.notify.0.url: nosuchscheme://***: not a valid apprise URL" in line, line
    assert "token-abcdef123" not in line


def test_two_targets_with_one_id_are_refused(tmp_path: Path, cli: Cli) -> None:
    config = write(
        tmp_path,
        f"""
[[uptime.monitors]]
name = "api"
url = "http://127.0.0.1:9/"

[[uptime.notify]]
{HOOK}
[[uptime.notify]]
{HOOK}""",
    )
    line = refused(cli, config)
    assert "uptime.notify.1: two notification targets are called 'webhook:127.0.0.1:9'" in line, line


def test_a_bad_duration_is_refused(tmp_path: Path, cli: Cli) -> None:
    line = refused(cli, write(tmp_path, "[uptime]\ninterval = '5 minutes'\n"))
    assert ":2: uptime.interval" in line and "is not a duration" in line, line
    line = refused(cli, write(tmp_path, "[uptime]\nwindow = true\n"))
    assert ":2: uptime.window" in line, line


def test_a_corrupt_state_file_is_named(tmp_path: Path, cli: Cli) -> None:
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    config = write(tmp_path, "[[uptime.monitors]]\nname = 'a'\nurl = 'http://127.0.0.1:9/'\n")
    result = cli("--config", str(config), "uptime", "check", "--once", "--state", str(state))
    assert result.code == 2 and len(result.err.splitlines()) == 1, result.err
    assert str(state) in result.err and "damaged" in result.err, result.err


def test_another_sqlite_database_is_not_taken_for_a_state_file(tmp_path: Path, cli: Cli) -> None:
    state = tmp_path / "app.db"
    with sqlite3.connect(state) as db:
        db.execute("CREATE TABLE users (id INTEGER)")
    config = write(tmp_path, "[[uptime.monitors]]\nname = 'a'\nurl = 'http://127.0.0.1:9/'\n")
    result = cli("--config", str(config), "uptime", "check", "--once", "--state", str(state))
    assert result.code == 2 and "not an lr-ci uptime state file" in result.err, result.err


def test_check_without_once_says_to_use_run(tmp_path: Path, cli: Cli) -> None:
    config = write(tmp_path, "[[uptime.monitors]]\nname = 'a'\nurl = 'http://127.0.0.1:9/'\n")
    result = cli("--config", str(config), "uptime", "check")
    assert result.code == 2 and len(result.err.splitlines()) == 1
    assert "needs --once" in result.err and "lr-ci uptime run" in result.err


def test_no_monitors_is_exit_2(tmp_path: Path, cli: Cli) -> None:
    result = cli("--config", str(write(tmp_path, "[uptime]\n")), "uptime", "check", "--once")
    assert result.code == 2 and "no monitors" in result.err


def test_durations() -> None:
    assert [parse_duration(v) for v in (90, 0.5, "90s", "5m", "1h", "2d", "1.5m")] == [
        90.0,
        0.5,
        90.0,
        300.0,
        3600.0,
        172800.0,
        90.0,
    ]
    for bad in ("5", "m", "-1s", True, 0, "10y"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_the_plan_follows_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defaults and overrides, the control target, the target ids, the state path beside the file, and
    every credential registered with the redactor."""
    monkeypatch.setenv("SMTP_PASSWORD", "smtp-password-xyz")
    monkeypatch.setenv("HEALTH_TOKEN", "health-token-abc")
    port = free_port()
    config_path = write(
        tmp_path,
        f"""
[uptime]
state = "var/uptime.sqlite"
owner = "ops team"
interval = "2m"
renotify = "4h"

[uptime.control]
url = "http://127.0.0.1:{port}/"

[[uptime.monitors]]
name = "api"
url = "http://user:url-pass-123@127.0.0.1:{port}/health"
status = [200, 204]
json = ['$.checks.database == "ok"']
headers = {{ Authorization = "Bearer ${{HEALTH_TOKEN}}" }}
interval = 30
timeout = "5s"
owner = "api team"

[[uptime.monitors]]
name = "mail"
smtp = "127.0.0.1:{port}"
username = "probe"
password = "${{SMTP_PASSWORD}}"
rcpt_to = "sink@example.com"

[[uptime.monitors]]
name = "cert"
tls = "127.0.0.1"
min_days = 20
interval = "1h"

[[uptime.notify]]
{HOOK}
[[uptime.notify]]
name = "json-sink"
url = "json://127.0.0.1:{port}/hook"
""",
    )
    config = load_config(config_path)
    redactor = Redactor()
    settings = load_section(config, "uptime", UptimeSettings, redactor)
    plan = build_plan(settings, config=config, smoke=None, redactor=redactor)
    rules = {m.name: m.rule for m in plan.monitors}
    assert (rules["api"].interval, rules["api"].timeout, rules["api"].renotify) == (30.0, 5.0, 14400.0)
    assert (rules["mail"].interval, rules["mail"].failures, rules["mail"].window) == (120.0, 2, 300.0)
    # An hourly probe with the table's 5 minute window could never fire: its default window is widened.
    assert (rules["cert"].interval, rules["cert"].window) == (3600.0, 7200.0)
    assert {m.name: m.kind for m in plan.monitors} == {"api": "http", "mail": "smtp", "cert": "tls"}
    assert {m.name: m.target for m in plan.monitors} == {
        "api": f"http://***@127.0.0.1:{port}/health",
        "mail": f"smtp://127.0.0.1:{port}",
        "cert": "tls://127.0.0.1:443",
    }
    assert {m.name: m.monitor.owner for m in plan.monitors} == {
        "api": "api team",
        "mail": "ops team",
        "cert": "ops team",
    }
    assert plan.control is not None and plan.control.name == CONTROL_NAME
    assert (plan.control.rule.interval, plan.control.rule.timeout) == (30.0, 5.0)  # the fastest monitor's
    assert plan.targets == ("webhook:127.0.0.1:9", "json-sink")
    assert plan.state_path == tmp_path / "var" / "uptime.sqlite"
    for credential in ("smtp-password-xyz", "health-token-abc", "url-pass-123", "hook-secret-value-42"):
        assert credential in redactor.credentials, credential
    # The probes are bound: nothing listens on the port, so each fails with a masked error.
    result = plan.monitors[0].monitor.probe()
    assert not result.ok and result.error_class == "refused"


def test_config_check_reports_the_table_problems_too(tmp_path: Path, cli: Cli) -> None:
    config = write(tmp_path, "[[uptime.monitors]]\nname = 'both'\nurl = 'http://127.0.0.1:9/'\ntls = 'x'\n")
    result = cli("config", "check", str(config))
    assert result.code == 1 or result.code == 2
    assert "give exactly one of url, flow, smtp, tls" in result.out + result.err


def test_github_issues_targets(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--github-issues`` and ``github_issues = ...`` need a repository and GITHUB_TOKEN (exit 2 naming
    what is missing); the token is a credential. Until notify.GithubIssuesTarget lands they are refused."""

    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    plain = write(tmp_path, "[[uptime.monitors]]\nname = 'a'\nurl = 'http://127.0.0.1:9/'\n")
    line = refused(cli, plain, "--github-issues")
    assert line.endswith("--github-issues: GITHUB_REPOSITORY is not set to owner/repo"), line
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/ops")
    line = refused(cli, plain, "--github-issues")
    assert "GITHUB_TOKEN is not set" in line, line
    configured = write(
        tmp_path,
        "[[uptime.monitors]]\nname = 'a'\nurl = 'http://127.0.0.1:9/'\n\n"
        "[[uptime.notify]]\ngithub_issues = true\nlabels = ['uptime', 'ops']\n",
    )
    line = refused(cli, configured)
    assert ":6: uptime.notify.0.github_issues: GITHUB_TOKEN is not set" in line, line
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_token_value_0123456789")
    config = load_config(configured)
    redactor = Redactor()
    settings = load_section(config, "uptime", UptimeSettings, redactor)
    plan = build_plan(settings, config=config, smoke=None, redactor=redactor, github_issues=True)
    assert plan.targets == ("github:acme/ops",)  # --github-issues for the same repository adds nothing
    assert "ghs_token_value_0123456789" in redactor.credentials


def test_the_documented_table_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/uptime.md's [uptime] example, as written there, becomes a plan (with its variables set)."""
    import re

    from helpers.cli import ROOT
    from lr_ci.checks.smoke.settings import SmokeSettings
    from lr_ci.checks.uptime import notify

    page = (ROOT / "docs" / "uptime.md").read_text()
    table = next(block for block in re.findall(r"```toml\n(.*?)```", page, re.DOTALL) if "[uptime]" in block)
    if not hasattr(notify, "GithubIssuesTarget"):
        table = table.split("[[uptime.notify]]         # GitHub issues")[0]
    smoke = '[smoke]\n[smoke.flows.login]\nsteps = [{ path = "/login" }]\n\n'
    variables = {
        "OPS_HEALTH_TOKEN": "health-token-123",
        "SMTP_USER": "probe",
        "SMTP_PASSWORD": "smtp-password-123",
        "SLACK_TOKEN_A": "T1JJ3T3L2",
        "SLACK_TOKEN_B": "A1BRTD4JD",
        "SLACK_TOKEN_C": "TIiajkdnlazkcOXrIdevi7FQ",
        "UPTIME_WEBHOOK_SECRET": "webhook-secret-123",
        "GITHUB_TOKEN": "ghs_documented_0123456789",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    config = load_config(write(tmp_path, smoke + table))
    redactor = Redactor()
    settings = load_section(config, "uptime", UptimeSettings, redactor)
    flows = load_section(config, "smoke", SmokeSettings, redactor)
    plan = build_plan(settings, config=config, smoke=flows, redactor=redactor)
    assert [m.name for m in plan.monitors] == ["homepage", "login works", "outgoing mail", "certificate"]
    assert plan.targets[:2] == ("slack", "webhook:hooks.example.com")
    assert {m.name: m.rule.window for m in plan.monitors}["certificate"] == 7200.0
    for name, value in variables.items():
        assert value in redactor.credentials or (name == "GITHUB_TOKEN" and "github" not in table), name


def test_without_the_uptime_extra_an_apprise_url_says_how_to_install_it(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """apprise is the ``uptime`` extra: without it an apprise URL is exit 2 saying what to install, and a
    webhook target (lr-ci's own sender) needs nothing more."""
    monkeypatch.setitem(sys.modules, "apprise", None)  # `import apprise` raises ImportError
    monitor = "[[uptime.monitors]]\nname = 'api'\nurl = 'http://127.0.0.1:9/'\n\n"
    config = write(tmp_path, monitor + "[[uptime.notify]]\nurl = 'json://127.0.0.1:9/'\n")
    line = refused(cli, config)
    assert ":6: uptime.notify.0.url: json://***: apprise URLs need apprise" in line, line
    assert "pip install 'lr-ci[uptime]'" in line
    webhook_only = write(tmp_path, monitor + "[[uptime.notify]]\n" + HOOK)
    loaded = load_config(webhook_only)
    redactor = Redactor()
    settings = load_section(loaded, "uptime", UptimeSettings, redactor)
    plan = build_plan(settings, config=loaded, smoke=None, redactor=redactor)
    assert plan.targets == ("webhook:127.0.0.1:9",)


# -- lr-ci config check finds what build_plan refuses (one function judges both: plan_problems) ----------

MONITOR = "[[uptime.monitors]]\nname = 'api'\nurl = 'http://127.0.0.1:9/'\n\n"
FLOWS = "[smoke]\nbase_url = 'http://127.0.0.1:9'\n[smoke.flows.login]\nsteps = [{ path = '/login' }]\n\n"
CROSS_TABLE_PROBLEMS = {
    # name: (lr-ci.toml, what the message says, a problem of the machine or command line (a warning))
    "unknown flow": (
        FLOWS + "[[uptime.monitors]]\nname = 'login works'\nflow = 'logon'\n",
        "uptime.monitors.0.flow: no flow named 'logon' in [smoke] (its flows: login)",
        False,
    ),
    "duplicate monitor name": (
        MONITOR + MONITOR,
        "uptime.monitors.1.name: two monitors are named 'api' (also monitor 1)",
        False,
    ),
    "the control target's name": (
        "[[uptime.monitors]]\nname = '(control)'\nurl = 'http://127.0.0.1:9/'\n",
        "uptime.monitors.0.name: '(control)' is the control target's name",
        False,
    ),
    "literal password": (
        "[[uptime.monitors]]\nname = 'mail'\nsmtp = '127.0.0.1:2525'\nusername = 'probe'\n"
        "password = 'hunter2-literal'\n",
        "uptime.monitors.0.password: credentials come from environment variables",
        False,
    ),
    "a rule the table's defaults make impossible": (
        "[uptime]\nfailures = 3\n\n[[uptime.monitors]]\nname = 'x'\nurl = 'http://127.0.0.1:9/'\n"
        "interval = '5m'\nwindow = '10m'\n",
        "uptime.monitors.0: monitor 'x': this rule can never fire",
        False,
    ),
    "the control target's rule": (
        MONITOR + "[uptime.control]\nurl = 'http://127.0.0.1:9/'\ninterval = '10s'\ntimeout = '20s'\n",
        "uptime.control: the control target: the timeout (20 s) is longer than the interval (10 s)",
        False,
    ),
    "malformed apprise URL": (
        MONITOR + "[[uptime.notify]]\nurl = 'nosuchscheme://token-abcdef123/x'\n",
        "uptime.notify.0.url: nosuchscheme://***: not a valid apprise URL",
        False,
    ),
    "literal webhook secret": (
        MONITOR + "[[uptime.notify]]\nwebhook = 'http://127.0.0.1:9/hook'\nsecret = 'written-in-the-file'\n",
        "uptime.notify.0.secret: credentials come from environment variables",
        False,
    ),
    "two targets of one id": (
        MONITOR + f"[[uptime.notify]]\n{HOOK}\n[[uptime.notify]]\n{HOOK}",
        "uptime.notify.1: two notification targets are called 'webhook:127.0.0.1:9'",
        False,
    ),
    "flow monitor without a base URL": (
        "[smoke.flows.login]\nsteps = [{ path = '/login' }]\n\n"
        "[[uptime.monitors]]\nname = 'login works'\nflow = 'login'\n",
        "uptime.monitors.0.flow: a flow monitor needs a base URL: set [uptime] base_url or [smoke] base_url "
        "(or --base-url)",
        True,
    ),
    "GitHub issues without GITHUB_REPOSITORY": (
        MONITOR + "[[uptime.notify]]\ngithub_issues = true\n",
        "uptime.notify.0.github_issues: GITHUB_REPOSITORY is not set to owner/repo",
        True,
    ),
    "GitHub issues without GITHUB_TOKEN": (
        MONITOR + "[[uptime.notify]]\ngithub_issues = 'acme/ops'\n",
        "uptime.notify.0.github_issues: GITHUB_TOKEN is not set (the issues are opened with it)",
        True,
    ),
    "apprise not installed": (
        MONITOR + "[[uptime.notify]]\nurl = 'json://127.0.0.1:9/'\n",
        "uptime.notify.0.url: json://***: apprise URLs need apprise, which is not installed",
        True,
    ),
}


@pytest.mark.parametrize("name", sorted(CROSS_TABLE_PROBLEMS))
def test_config_check_reports_what_uptime_refuses_in_the_same_words(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Every problem ``build_plan`` finds across tables (or in the table's defaults applied to a monitor)
    is a ``config check`` finding at the same line with the same message as ``lr-ci uptime``'s error: a
    failure (exit 1) when the file is wrong, a low warning (exit 0) when only this machine or command
    line lacks something (a variable, a package, ``--base-url``) the run will need."""
    text, expected, environment = CROSS_TABLE_PROBLEMS[name]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    if name == "apprise not installed":
        monkeypatch.setitem(sys.modules, "apprise", None)  # `import apprise` raises ImportError
    config = write(tmp_path, text)
    error = refused(cli, config).partition(": error: ")[2]
    assert error.startswith("lr-ci.toml:") and expected in error, error
    result = cli("config", "check", "--format", "json")
    assert result.code == (0 if environment else 1), (result.out, result.err)
    findings = result.json()["findings"]
    assert len(findings) == 1, findings
    finding = findings[0]
    where = f"{finding['location']['path']}:{finding['location']['line']}"
    assert (finding["rule"], finding["severity"]) == (
        ("config-run-environment", "low") if environment else ("config-invalid", "high")
    )
    if environment:
        assert finding["message"].endswith(" (here; the check's run will need it)")
        assert f"{where}: {finding['message']}".startswith(error), (finding, error)
    else:
        assert f"{where}: {finding['message']}" == error
    for literal in ("hunter2-literal", "written-in-the-file", "token-abcdef123"):
        assert literal not in result.out + result.err


def test_config_check_passes_a_valid_uptime_table_with_flows_and_targets(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_token_value_0123456789")
    write(
        tmp_path,
        FLOWS
        + MONITOR
        + "[[uptime.monitors]]\nname = 'login works'\nflow = 'login'\n\n"
        + "[uptime.control]\nurl = 'http://127.0.0.1:9/'\n\n"
        + f"[[uptime.notify]]\n{HOOK}\n[[uptime.notify]]\ngithub_issues = 'acme/ops'\n",
    )
    result = cli("config", "check", "--format", "json")
    assert result.code == 0 and result.json()["findings"] == [], result.out


def test_config_check_lists_every_cross_table_problem_and_judges_no_flow_of_an_invalid_smoke(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run stops at the first problem; config check lists them all. A ``[smoke]`` with errors of its own
    has unknown flows: its error is reported, a flow monitor's name is not judged against it."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, MONITOR + MONITOR + "[[uptime.monitors]]\nname = 'f'\nflow = 'nosuch'\n")
    result = cli("config", "check", "--format", "json")
    assert result.code == 1
    messages = [f["message"] for f in result.json()["findings"]]
    assert messages == [
        "uptime.monitors.1.name: two monitors are named 'api' (also monitor 1)",
        "uptime.monitors.2.flow: no flow named 'nosuch' in [smoke] (its flows: none)",
    ]
    write(
        tmp_path,
        "[smoke]\nbase_url = 'http://127.0.0.1:9'\ntimeuot = 5\n\n"
        + "[[uptime.monitors]]\nname = 'f'\nflow = 'nosuch'\n",
    )
    result = cli("config", "check", "--format", "json")
    assert result.code == 1
    messages = [f["message"] for f in result.json()["findings"]]
    assert len(messages) == 1 and messages[0].startswith("smoke.timeuot: unknown key"), messages


def test_config_check_does_not_judge_a_value_whose_variable_is_unset_here(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``slack://${A}/${B}/${C}/#ops`` is no apprise URL until the run sets A, B and C: on a laptop
    without them, config check warns about the variables and does not fail on the URL; a problem of
    another monitor or target is still reported (exit 1)."""
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_UNSET_A", "SLACK_UNSET_B", "SLACK_UNSET_C", "FLOW_UNSET"):
        monkeypatch.delenv(name, raising=False)
    text = (
        FLOWS
        + "[[uptime.monitors]]\nname = 'f'\nflow = '${FLOW_UNSET}'\n\n"
        + "[[uptime.notify]]\nurl = 'slack://${SLACK_UNSET_A}/${SLACK_UNSET_B}/${SLACK_UNSET_C}/#ops'\n"
    )
    write(tmp_path, text)
    result = cli("config", "check", "--format", "json")
    assert result.code == 0, result.out
    assert {f["rule"] for f in result.json()["findings"]} == {"config-env-unset"}
    write(tmp_path, text + "\n[[uptime.notify]]\nurl = 'nosuchscheme://x/y'\n")
    result = cli("config", "check", "--format", "json")
    assert result.code == 1
    invalid = [f["message"] for f in result.json()["findings"] if f["rule"] == "config-invalid"]
    assert len(invalid) == 1 and invalid[0].startswith("uptime.notify.1.url: nosuchscheme://***: not a valid")
