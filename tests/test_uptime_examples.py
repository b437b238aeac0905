"""The uptime examples people copy: the scheduled workflow (a concurrency group, the state file carried in the
Actions cache, actions pinned by SHA), the lr-ci.toml with the four monitors issue 16 names (every rule
one that can fire, every credential from the environment), the systemd unit and the container."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from lr_ci.checks.uptime.rule import validate_rule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "uptime"
WORKFLOW = ROOT / "examples" / "workflows" / "uptime.yml"
CREDENTIALS = {
    "OPS_USER": "uptime-probe",
    "OPS_PASSWORD": "example-pa55word-never-shown",
    "OPS_HEALTH_TOKEN": "health-token-0123456789",
    "SMTP_USER": "uptime@example.com",
    "SMTP_PASSWORD": "smtp-pa55word-never-shown",
    "SLACK_TOKEN_A": "T1JJ3T3L2",
    "SLACK_TOKEN_B": "A1BRTD4JD",
    "SLACK_TOKEN_C": "TIiajkdnlazkcOXrIdevi7FQ",
    "UPTIME_WEBHOOK_SECRET": "webhook-secret-0123456789",
}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def _seconds(value: object) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", str(value))
    assert match, value
    return float(match.group(1)) * _UNITS[match.group(2)]


def _workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_workflow_runs_on_a_schedule_one_run_at_a_time_with_issue_permissions() -> None:
    workflow = _workflow()
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["schedule"] == [{"cron": "*/5 * * * *"}] and "workflow_dispatch" in triggers
    assert workflow["concurrency"] == {"group": "lr-ci-uptime", "cancel-in-progress": False}
    assert workflow["permissions"] == {}
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    [run] = [step for step in job["steps"] if str(step.get("uses", "")).startswith("lr-ci/lr-ci")]
    assert str(run["uses"]).startswith("lr-ci/lr-ci/actions/uptime@")  # `lr-ci uptime check --once`
    assert run["with"] == {"state": ".lr-ci/uptime.sqlite", "github-issues": True}
    assert run["env"]["GITHUB_TOKEN"] == "${{ github.token }}"


def test_the_workflow_carries_the_state_file_in_the_cache_under_a_key_per_run() -> None:
    [job] = _workflow()["jobs"].values()
    steps = job["steps"]
    uses = [str(step.get("uses", "")).split("@")[0] for step in steps]
    restore, run, save = (
        uses.index("actions/cache/restore"),
        uses.index("lr-ci/lr-ci/actions/uptime"),
        uses.index("actions/cache/save"),
    )
    assert restore < run < save
    key = steps[restore]["with"]["key"]
    assert "${{ github.run_id }}" in key and steps[save]["with"]["key"] == key
    assert key.startswith(steps[restore]["with"]["restore-keys"])
    assert steps[restore]["with"]["path"] == steps[save]["with"]["path"] == ".lr-ci"
    assert steps[run]["with"]["state"] == ".lr-ci/uptime.sqlite"
    assert steps[save]["if"] == "always()"  # an open incident fails the round; its state must be kept


def test_every_action_of_the_workflow_is_pinned_by_commit_sha() -> None:
    [job] = _workflow()["jobs"].values()
    pinned = [str(step["uses"]) for step in job["steps"] if "uses" in step]
    assert len(pinned) == 4
    for uses in pinned:
        assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", uses), uses
    text = WORKFLOW.read_text()
    assert all(re.search(rf"{re.escape(uses)} # v\d", text) for uses in pinned)  # the version, for Dependabot


def test_the_example_config_has_the_four_monitors_and_rules_that_can_fire() -> None:
    config = tomllib.loads((EXAMPLES / "lr-ci.toml").read_text())
    uptime = config["uptime"]
    monitors = {monitor["name"]: monitor for monitor in uptime["monitors"]}
    assert {"homepage", "login works", "API health", "outgoing mail"} <= set(monitors)
    assert monitors["login works"]["flow"] in config["smoke"]["flows"]
    assert monitors["API health"]["json"] == ['$.checks.database == "ok"', '$.checks.queue == "ok"']
    assert "smtp" in monitors["outgoing mail"] and "url" in monitors["homepage"]
    for name, monitor in monitors.items():
        kinds = [kind for kind in ("url", "flow", "smtp", "tls") if kind in monitor]
        assert len(kinds) == 1, name
        problem = validate_rule(
            _seconds(monitor.get("interval", uptime["interval"])),
            _seconds(monitor.get("timeout", uptime["timeout"])),
            int(monitor.get("failures", uptime["failures"])),
            _seconds(monitor.get("window", uptime["window"])),
            recover_after=int(monitor.get("recover_after", uptime["recover_after"])),
            renotify=_seconds(uptime["renotify"]),
        )
        assert problem is None, f"{name}: {problem}"


def test_the_example_config_takes_every_credential_from_the_environment() -> None:
    text = (EXAMPLES / "lr-ci.toml").read_text()
    config = tomllib.loads(text)
    values = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    named = set(re.findall(r"\$\{([A-Z0-9_]+)\}", values))
    assert named == set(CREDENTIALS)
    for monitor in config["uptime"]["monitors"]:
        for key in ("username", "password"):
            assert re.fullmatch(r"\$\{[A-Z0-9_]+\}", monitor.get(key, "${X}")), (monitor["name"], key)
        for value in monitor.get("headers", {}).values():
            assert "${" in value
    for target in config["uptime"]["notify"]:
        assert "${" in target.get("secret", "${X}") and "${" in target.get("url", "${X}")
    workflow_env = set(next(s for s in _workflow()["jobs"]["uptime"]["steps"] if "env" in s)["env"]) - {
        "GITHUB_TOKEN"
    }
    assert workflow_env == set(CREDENTIALS)  # the workflow passes exactly what the config reads


def test_the_example_config_passes_lr_ci_config_check(tmp_path: Path) -> None:
    import os

    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("lr-ci")),
            "--config",
            str(EXAMPLES / "lr-ci.toml"),
            "config",
            "check",
        ],
        cwd=tmp_path,
        env={**os.environ, **CREDENTIALS, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for value in CREDENTIALS.values():
        if len(value) > 12:
            assert value not in done.stdout + done.stderr


def test_the_service_and_the_container_run_the_monitor_with_a_kept_state_file() -> None:
    unit = (EXAMPLES / "lr-ci-uptime.service").read_text()
    sections: dict[str, dict[str, str]] = {}
    current = ""
    for line in unit.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections[current] = {}
        elif "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            sections[current][key] = value
    service = sections["Service"]
    assert " uptime run " in service["ExecStart"] and service["Restart"] == "always"
    assert service["StateDirectory"] == "lr-ci-uptime"
    assert "/var/lib/lr-ci-uptime/" in service["ExecStart"]  # the state file in the StateDirectory
    assert service["EnvironmentFile"].startswith("/etc/")
    assert sections["Install"]["WantedBy"] == "multi-user.target"

    dockerfile = (EXAMPLES / "Dockerfile").read_text()
    assert re.search(r'^VOLUME \["/state"\]$', dockerfile, re.M)
    assert '"uptime"' in dockerfile and 'CMD ["run", "--state", "/state/uptime.sqlite"]' in dockerfile
    assert re.search(r"^USER ", dockerfile, re.M)  # not root
    for copied in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for path in copied.split():
            assert (ROOT / path).exists(), path  # what the image builds from is in the repository
    compose = yaml.safe_load((EXAMPLES / "compose.yaml").read_text())
    assert compose["services"]["uptime"]["build"]["dockerfile"] == "examples/uptime/Dockerfile"
    assert "state:/state" in compose["services"]["uptime"]["volumes"]
