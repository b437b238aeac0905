"""The composite actions, run step by step with the environment GitHub gives them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.actions_runner import ActionRun, run_action
from helpers.cli import ROOT
from helpers.git import git
from lr_ci._registry import CHECKS, with_actions

pytestmark = pytest.mark.slow

ACTION_FILES = [ROOT / "action.yml", *sorted((ROOT / "actions").glob("*/action.yml"))]
WORKFLOWS = sorted((ROOT / "examples" / "workflows").glob("*.yml"))


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One RUNNER_TEMP for the module: the first action installs lr-ci, the others reuse it."""
    return tmp_path_factory.mktemp("runner-temp")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    git(path, "init", "-q")
    return path


def run(
    action: str,
    inputs: dict[str, str],
    workspace: Path,
    runner_temp: Path,
    env: dict[str, str] | None = None,
    event: dict[str, Any] | None = None,
) -> ActionRun:
    result = run_action(ROOT / action, inputs, workspace, runner_temp, env=env, event=event)
    install = result.step("Install lr-ci")
    assert install.code == 0, install.stdout + install.stderr
    return result


def test_root_action_reports_a_failing_check(workspace: Path, runner_temp: Path) -> None:
    (workspace / "lr-ci.toml").write_text("[nope]\nx = 1\n")
    result = run(".", {"check": "config"}, workspace, runner_temp)
    assert result.outputs["status"] == "fail"
    assert result.outputs["exit-code"] == "1"
    assert result.outputs["findings"] == "1"
    report = json.loads(Path(result.outputs["report-path"]).read_text())
    assert report["status"] == "fail" and report["check"] == "config"
    sarif = json.loads(Path(result.outputs["sarif-path"]).read_text())
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert (
        "::error file=lr-ci.toml,line=1,title=lr-ci config%3A config-invalid::nope: unknown table"
        in result.stdout
    )
    assert "### ❌ lr-ci config: fail" in result.summary
    assert result.step("Upload SARIF").ran is False
    verdict = result.step("Verdict")
    assert verdict.ran and verdict.code == 1
    assert result.failed


def test_fail_false_keeps_the_step_green_and_sarif_upload_is_conditional(
    workspace: Path, runner_temp: Path
) -> None:
    (workspace / "lr-ci.toml").write_text("[nope]\n")
    result = run(".", {"check": "config", "fail": "false", "upload-sarif": "true"}, workspace, runner_temp)
    assert result.outputs["status"] == "fail"
    assert not result.failed
    upload = result.step("Upload SARIF")
    assert upload.uses is not None and upload.uses.startswith("github/codeql-action/upload-sarif@")
    # The runner would run it: its condition holds (the harness does not run `uses:` steps).
    definition = yaml.safe_load((ROOT / "action.yml").read_text())
    assert "steps.run.outputs.sarif-path != ''" in definition["runs"]["steps"][2]["if"]


def test_check_action_passes_and_exposes_its_numbers(workspace: Path, runner_temp: Path) -> None:
    (workspace / "ops").mkdir()
    (workspace / "ops" / "lr-ci.toml").write_text("# no tables: defaults\n")
    result = run("actions/config", {"files": "ops/lr-ci.toml"}, workspace, runner_temp)
    assert result.outputs["status"] == "pass"
    assert result.outputs["files-checked"] == "1"
    assert not result.failed
    assert "### ✅ lr-ci config: pass" in result.summary


def test_a_check_that_cannot_run_fails_the_step_even_with_fail_false(
    workspace: Path, runner_temp: Path
) -> None:
    result = run(".", {"check": "config", "args": "missing.toml", "fail": "false"}, workspace, runner_temp)
    assert result.outputs["status"] == "error"
    assert result.outputs["exit-code"] == "2"
    assert result.step("Verdict").code == 2
    assert "lr-ci config: error: missing.toml: no such file" in result.step("Run lr-ci").stderr


def test_inputs_cannot_inject_shell(workspace: Path, runner_temp: Path) -> None:
    result = run(
        ".",
        {"check": "config", "args": "$(touch pwned) `touch pwned2`; touch pwned3"},
        workspace,
        runner_temp,
    )
    assert not any((workspace / name).exists() for name in ("pwned", "pwned2", "pwned3"))
    assert result.outputs["status"] == "error"


@pytest.mark.parametrize("path", ACTION_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_action_scripts_take_inputs_only_through_env(path: Path) -> None:
    definition = yaml.safe_load(path.read_text())
    for step in definition["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]
    outputs = definition["outputs"]
    assert {"status", "report-path"} <= set(outputs)
    declared = {name.upper().replace("-", "_") for name in definition.get("inputs", {})}
    run_step = next(step for step in definition["runs"]["steps"] if step.get("id") == "run")
    passed = {name.removeprefix("INPUT_") for name in run_step["env"] if name.startswith("INPUT_")}
    assert passed - {"CHECK", "ARGS"} <= declared, "the run step passes an input the action does not declare"


def test_every_check_has_its_action() -> None:
    """Every check, and every command the registry gives an action (``config``), has its action file."""
    for spec in CHECKS.values():
        assert spec.kind == "command" or spec.action is not None, f"the check {spec.name} has no action"
    for spec in with_actions():
        assert (ROOT / "actions" / spec.name / "action.yml").is_file(), (
            f"actions/{spec.name}/action.yml is missing"
        )


def test_constraints_pin_every_runtime_dependency() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "actions" / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    for requirement in project["dependencies"]:
        if "python_version < '3.11'" in requirement:
            continue
        name = requirement.split(">")[0].split("=")[0].split("[")[0].strip().lower()
        assert name in pinned, f"{name} is not pinned in actions/constraints.txt"


def _tool(name: str) -> str:
    import sys

    return str(Path(sys.executable).with_name(name))


@pytest.mark.parametrize(
    ("schema", "files"),
    [("vendor.github-actions", ACTION_FILES), ("vendor.github-workflows", WORKFLOWS)],
    ids=["actions", "workflows"],
)
def test_files_validate_against_the_github_schemas(schema: str, files: list[Path]) -> None:
    done = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing() -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        [
            _tool("zizmor"),
            "--offline",
            "--persona",
            "auditor",
            "--no-progress",
            *map(str, ACTION_FILES),
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_workflows_pin_actions_by_sha_and_declare_permissions() -> None:
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {}, path.name
        for job in workflow["jobs"].values():
            assert "permissions" in job
            for step in job["steps"]:
                if "uses" in step:
                    ref = step["uses"].rsplit("@", 1)[1]
                    assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), step["uses"]


TOKEN = "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"


def test_secrets_action_scans_the_pull_request(workspace: Path, runner_temp: Path) -> None:
    (workspace / "README.md").write_text("ops\n")
    git(workspace, "add", "README.md")
    git(workspace, "commit", "-q", "-m", "base")
    base = git(workspace, "rev-parse", "HEAD").strip()
    (workspace / "deploy.env").write_text(f"GITHUB_TOKEN={TOKEN}\n")
    git(workspace, "add", "deploy.env")
    git(workspace, "commit", "-q", "-m", "add deploy env")
    head = git(workspace, "rev-parse", "HEAD").strip()
    event = {"pull_request": {"base": {"sha": base}, "head": {"sha": head}}}
    result = run("actions/secrets", {}, workspace, runner_temp, event=event)
    assert result.outputs["status"] == "fail"
    assert result.outputs["findings"] == "1"
    assert result.outputs["commits-scanned"] == "1"
    assert "::error file=deploy.env,line=1,col=14,title=lr-ci secrets%3A github-token::" in result.stdout
    assert TOKEN not in result.stdout + result.summary
    assert result.step("Verdict").code == 1

    history = run(
        "actions/secrets", {"history": "true", "fail": "false"}, workspace, runner_temp, event=event
    )
    assert history.outputs["commits-scanned"] == "2" and not history.failed


def test_smoke_action_after_a_deploy(workspace: Path, runner_temp: Path, opsapp_url: str) -> None:
    shutil.copy(ROOT / "examples" / "opsapp" / "lr-ci.toml", workspace / "lr-ci.toml")
    env = {"OPS_USER": "ops", "OPS_PASSWORD": "ops-demo-password"}
    result = run("actions/smoke", {"base-url": opsapp_url}, workspace, runner_temp, env=env)
    assert result.outputs["status"] == "pass", result.stdout
    assert result.outputs["flows-passed"] == "3" and result.outputs["flows-failed"] == "0"
    assert "::add-mask::ops-demo-password" in result.stdout
    assert "| login › submit | pass |" in result.summary
    stale = run(
        "actions/smoke",
        {"base-url": opsapp_url, "wait-for-version": "0.0.1", "args": "--wait-timeout 1"},
        workspace,
        runner_temp,
        env=env,
    )
    assert stale.outputs["status"] == "fail" and stale.step("Verdict").code == 1


def test_bundle_action(workspace: Path, runner_temp: Path) -> None:
    shutil.copytree(ROOT / "examples" / "opsapp" / "dist", workspace / "dist")
    first = run("actions/bundle", {"save-baseline": "sizes.json"}, workspace, runner_temp)
    assert first.outputs["status"] == "pass" and first.outputs["files"] == "3"
    assert (workspace / "sizes.json").is_file()
    (workspace / "dist" / "assets" / "index-BxQ2_9kd.js").write_text(
        os.urandom(20_000).hex()
    )  # incompressible growth
    second = run("actions/bundle", {"baseline-file": "sizes.json"}, workspace, runner_temp)
    assert second.outputs["status"] == "fail"
    assert "| js | gzip |" in second.summary


def test_bundle_action_on_a_pull_request(workspace: Path, runner_temp: Path, tmp_path: Path) -> None:
    from helpers.asgi_server import serve
    from helpers.fake_github import FakeGitHub

    shutil.copytree(ROOT / "examples" / "opsapp" / "dist", workspace / "dist")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "base")
    base = git(workspace, "rev-parse", "HEAD").strip()
    saved = tmp_path / "sizes.json"
    subprocess.run(
        [str(Path(sys.executable).with_name("lr-ci")), "bundle", "--save-baseline", str(saved)],
        cwd=workspace,
        check=True,
        capture_output=True,
    )
    (workspace / "dist" / "assets" / "index-BxQ2_9kd.js").write_text(os.urandom(20_000).hex())
    git(workspace, "commit", "-q", "-am", "a heavier chart library")
    github = FakeGitHub()
    github.add_artifact(base, "bundle-sizes", {"sizes.json": saved.read_bytes()})
    event = {"pull_request": {"number": 5, "base": {"sha": base, "ref": "main"}}}
    with serve(github.app()) as api:
        env = {
            "GITHUB_API_URL": api,
            "GITHUB_REPOSITORY": "acme/ops",
            "GITHUB_WORKFLOW_REF": "acme/ops/.github/workflows/bundle.yml@refs/pull/5/merge",
        }
        first = run(
            "actions/bundle",
            {"baseline-artifact": "bundle-sizes"},
            workspace,
            runner_temp,
            env=env,
            event=event,
        )
        assert first.outputs["status"] == "fail", "\n".join(
            f"{s.name} {s.ran} {s.code} {s.stdout[-300:]} {s.stderr[-300:]}" for s in first.steps[1:]
        )
        assert "lr-ci: baseline from the merge base" in first.stdout
        assert len(github.comments) == 1 and str(github.comments[0]["body"]).startswith(
            "<!-- lr-ci:bundle -->"
        )
        assert "| js | gzip |" in str(github.comments[0]["body"])
        second = run(
            "actions/bundle",
            {"baseline-artifact": "bundle-sizes"},
            workspace,
            runner_temp,
            env=env,
            event=event,
        )
        assert "pull request comment updated" in second.stdout and len(github.comments) == 1

        github.read_only = True  # a fork's pull request: the token cannot comment
        forked = run(
            "actions/bundle",
            {"baseline-artifact": "bundle-sizes", "fail": "false"},
            workspace,
            runner_temp,
            env=env,
            event=event,
        )
        assert "cannot comment" in forked.stdout and not forked.failed
        assert "### ❌ lr-ci bundle: fail" in forked.summary

        no_artifact = {"pull_request": {"number": 5, "base": {"sha": "0" * 40, "ref": "main"}}}
        absolute = run(
            "actions/bundle",
            {"baseline-artifact": "bundle-sizes"},
            workspace,
            runner_temp,
            env=env,
            event=no_artifact,
        )
        assert "checking absolute limits only" in absolute.stdout
        assert absolute.outputs["status"] == "pass"
    assert "ghs_test-token-from-the-runner" not in first.stdout + first.summary


def fetch_baseline(workspace: Path, tmp_path: Path, api: str, event: Mapping[str, object], **env: str) -> str:
    """``python -m lr_ci.github.action fetch-baseline`` as the bundle action runs it; its stdout and what it
    put in GITHUB_ENV."""
    event_path, github_env = tmp_path / "event.json", tmp_path / "github_env"
    event_path.write_text(json.dumps(event))
    github_env.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "lr_ci.github.action", "fetch-baseline"],
        cwd=workspace,
        env={
            **os.environ,
            "GITHUB_API_URL": api,
            "GITHUB_REPOSITORY": "acme/ops",
            "GITHUB_WORKFLOW_REF": "acme/ops/.github/workflows/bundle.yml@refs/pull/5/merge",
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_ENV": str(github_env),
            "RUNNER_TEMP": str(tmp_path),
            "LR_CI_GITHUB_TOKEN": "ghs_test-token-from-the-runner",
            "INPUT_BASELINE_ARTIFACT": "bundle-sizes",
            "INPUT_BASELINE_NAME": "sizes.json",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + github_env.read_text()


UNTRUSTED_RUNS = [
    ("release.yml", "push", "main", "acme/ops"),  # another workflow of the repository
    ("bundle.yml", "pull_request", "main", "acme/ops"),  # this workflow, running a pull request's code
    ("bundle.yml", "pull_request_target", "main", "acme/ops"),
    ("bundle.yml", "workflow_dispatch", "main", "acme/ops"),
    ("bundle.yml", "push", "feature", "acme/ops"),  # a push to another branch at the same commit
    ("bundle.yml", "push", "main", "mallory/ops"),  # a fork's run
]


@pytest.mark.parametrize("api_ignores_filters", [False, True])
def test_fetch_baseline_trusts_only_this_workflows_push_to_the_base_branch(
    workspace: Path, tmp_path: Path, api_ignores_filters: bool
) -> None:
    """Every other run at the merge base uploaded a planted baseline; none is used, also when the API
    returns them all (the runs are checked again on this side)."""
    from helpers.asgi_server import serve
    from helpers.fake_github import FakeGitHub

    (workspace / "a.txt").write_text("a\n")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "base")
    base = git(workspace, "rev-parse", "HEAD").strip()
    planted = b'{"schema": "lr-ci.bundle-sizes/1", "files": {}}'
    github = FakeGitHub(ignore_run_filters=api_ignores_filters)
    for workflow, event_name, branch, head_repository in UNTRUSTED_RUNS:
        github.add_artifact(
            base,
            "bundle-sizes",
            {"sizes.json": planted},
            workflow=workflow,
            event=event_name,
            branch=branch,
            head_repository=head_repository,
        )
    event = {"pull_request": {"number": 5, "base": {"sha": base, "ref": "main"}}}
    with serve(github.app()) as api:
        untrusted = fetch_baseline(workspace, tmp_path, api, event)
        assert "LR_CI_FETCHED_BASELINE" not in untrusted and "checking absolute limits only" in untrusted
        assert "push run of bundle.yml on main" in untrusted

        github.add_artifact(base, "bundle-sizes", {"sizes.json": b'{"trusted": 1}'})
        github.add_artifact(base, "bundle-sizes", {"sizes.json": planted}, event="pull_request")  # newer
        trusted = fetch_baseline(workspace, tmp_path, api, event)
    assert "LR_CI_FETCHED_BASELINE=" in trusted, trusted
    assert (tmp_path / "lr-ci-baseline" / "sizes.json").read_bytes() == b'{"trusted": 1}'
    if not api_ignores_filters:
        assert any("/actions/workflows/bundle.yml/runs" in call for call in github.calls)


def test_fetch_baseline_without_a_workflow_ref_or_base_branch_trusts_nothing(
    workspace: Path, tmp_path: Path
) -> None:
    from helpers.asgi_server import serve
    from helpers.fake_github import FakeGitHub

    (workspace / "a.txt").write_text("a\n")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "base")
    base = git(workspace, "rev-parse", "HEAD").strip()
    github = FakeGitHub()
    github.add_artifact(base, "bundle-sizes", {"sizes.json": b"{}"})
    with serve(github.app()) as api:
        no_ref = fetch_baseline(
            workspace,
            tmp_path,
            api,
            {"pull_request": {"number": 5, "base": {"sha": base, "ref": "main"}}},
            GITHUB_WORKFLOW_REF="",
        )
        no_branch = fetch_baseline(workspace, tmp_path, api, {"pull_request": {"base": {"sha": base}}})
        other = fetch_baseline(
            workspace,
            tmp_path,
            api,
            {"pull_request": {"number": 5, "base": {"sha": base, "ref": "main"}}},
            GITHUB_WORKFLOW_REF="",
            INPUT_BASELINE_WORKFLOW="bundle.yml",
        )
    for output in (no_ref, no_branch):
        assert "cannot tell which workflow" in output and "LR_CI_FETCHED_BASELINE" not in output
    assert "LR_CI_FETCHED_BASELINE=" in other  # the baseline-workflow input names it
    assert github.calls.count("GET /repos/acme/ops/actions/workflows/bundle.yml/runs") == 1


def _action_run(workspace: Path, tmp_path: Path, **inputs: str) -> tuple[dict[str, str], str]:
    """``python -m lr_ci.github.action run`` as the action's "Run lr-ci" step runs it: outputs and stdout."""
    github_output = tmp_path / "github_output"
    github_output.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "lr_ci.github.action", "run"],
        cwd=workspace,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("INPUT_")},
            "GITHUB_OUTPUT": str(github_output),
            "RUNNER_TEMP": str(tmp_path),
            **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outputs = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
    return outputs, result.stdout


@pytest.mark.parametrize(
    "inputs",
    [
        {"check": "--version"},
        {"check": "--help"},
        {"check": "secrets --history"},
        {"check": ""},
        {"check": "config", "args": "--help"},
        {"check": "secrets", "args": "--version"},
    ],
    ids=[
        "check --version",
        "check --help",
        "check with spaces",
        "empty check",
        "args --help",
        "args --version",
    ],
)
def test_a_run_that_checks_nothing_is_never_a_pass(
    workspace: Path, tmp_path: Path, inputs: dict[str, str]
) -> None:
    """lr-ci prints its help or version and exits 0: the step passed although nothing was checked."""
    outputs, stdout = _action_run(workspace, tmp_path, **inputs)
    assert outputs["status"] == "error" and outputs["exit-code"] == "2", (outputs, stdout)
    assert "report-path" not in outputs


@pytest.mark.parametrize(
    "name", ["../../escaped.json", "/tmp/abs.json", "sizes.json\nNODE_OPTIONS=-r /x", ".."]
)
def test_fetch_baseline_refuses_a_name_that_is_not_a_plain_file_name(
    workspace: Path, tmp_path: Path, name: str
) -> None:
    event_path, github_env = tmp_path / "event.json", tmp_path / "github_env"
    event_path.write_text(
        json.dumps({"pull_request": {"number": 5, "base": {"sha": "0" * 40, "ref": "main"}}})
    )
    github_env.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "lr_ci.github.action", "fetch-baseline"],
        cwd=workspace,
        env={
            **os.environ,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_ENV": str(github_env),
            "RUNNER_TEMP": str(tmp_path / "runner"),
            "INPUT_BASELINE_ARTIFACT": "bundle-sizes",
            "INPUT_BASELINE_NAME": name,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "plain file name" in result.stdout
    assert github_env.read_text() == ""
    assert not (tmp_path / "escaped.json").exists() and not (tmp_path / "runner").exists()


def _hostile_api(kind: str) -> object:
    """An API that answers every call with HTML, JSON of the wrong shape, a broken zip, or without end."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        path = str(scope["path"])
        runs = {
            "workflow_runs": [
                {
                    "id": 1,
                    "path": ".github/workflows/bundle.yml",
                    "head_sha": "0" * 40,
                    "head_branch": "main",
                    "event": "push",
                    "conclusion": "success",
                    "head_repository": {"full_name": "acme/ops"},
                    "repository": {"full_name": "acme/ops"},
                }
            ]
        }
        artifacts = {"artifacts": [{"id": 7, "name": "bundle-sizes", "expired": False}]}
        body: bytes
        kind_here = kind
        if kind == "wrong shape" or kind == "html":
            body = b"<html>oops</html>" if kind == "html" else b'["not", "an", "object"]'
        elif path.endswith("/runs"):
            body, kind_here = json.dumps(runs).encode(), "json"
        elif path.endswith("/artifacts"):
            body, kind_here = json.dumps(artifacts).encode(), "json"
        else:
            body = b"PK\x03\x04 not really a zip"
        content_type = b"text/html" if kind_here == "html" else b"application/json"
        if path.endswith("/zip"):
            content_type = b"application/zip"
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]}
        )
        if kind == "endless" and path.endswith("/zip"):
            chunk = b"\0" * (1 << 20)
            for _ in range(200):  # 200 MiB at most: the cap must stop it long before
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.parametrize("kind", ["html", "wrong shape", "broken zip", "endless"])
def test_fetch_baseline_survives_a_hostile_api(workspace: Path, tmp_path: Path, kind: str) -> None:
    """A proxy's HTML page, JSON of another shape, a broken zip or an endless answer: a notice and the
    absolute limits, never a traceback or all of memory."""
    from helpers.asgi_server import serve

    event = {"pull_request": {"number": 5, "base": {"sha": "0" * 40, "ref": "main"}}}
    with serve(_hostile_api(kind)) as api:
        output = fetch_baseline(workspace, tmp_path, api, event)
    assert "LR_CI_FETCHED_BASELINE" not in output
    assert "checking absolute limits only" in output
    if kind in ("broken zip", "endless"):  # the trusted run was found, its artifact could not be read
        assert "cannot read the base branch's artifacts" in output, output


def test_install_error_is_one_line_whatever_the_python_input(tmp_path: Path) -> None:
    """A newline in the `python` input must not start a workflow command of its own in the log."""
    result = subprocess.run(
        ["bash", str(ROOT / "actions" / "install.sh")],
        env={
            **os.environ,
            "LR_CI_SOURCE": str(ROOT),
            "RUNNER_TEMP": str(tmp_path),
            "GITHUB_ENV": str(tmp_path / "github_env"),
            "LR_CI_PYTHON": "no-such-python\n::warning::forged",
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).splitlines()
    assert not any(line.startswith("::warning") for line in lines), lines
    assert any(line.startswith("::error title=lr-ci::lr-ci needs Python 3.10") for line in lines)
