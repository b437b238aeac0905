"""The logic of lr-ci's composite GitHub Actions, kept in Python so it is tested like the rest.

``python -m lr_ci.github.action run`` runs one check with the inputs GitHub passes as ``INPUT_*``
environment variables (never interpolated into a script, so a crafted input cannot inject shell code),
writes the step outputs and always exits 0 so that a SARIF upload step can still run. ``python -m
lr_ci.github.action verdict`` then fails the step as the check's exit code and the ``fail`` input say.
Which input is which option comes from the registry's :class:`~lr_ci.github.spec.ActionSpec` and the
check's click command, the same data ``lr_ci.github.generate`` writes the action files from.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lr_ci._registry import CheckSpec
from lr_ci.github import event_path
from lr_ci.github.spec import ActionInput

_OUTPUT_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}\Z")


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name}", default).strip()


def _write_outputs(values: dict[str, str]) -> None:
    """Append ``key=value`` lines to ``$GITHUB_OUTPUT``. A value holding a line break (``\\n`` or ``\\r``)
    is left out: written, it would end the line and set any output (or, in ``$GITHUB_ENV``, any
    variable) that follows it."""
    target = os.environ.get("GITHUB_OUTPUT")
    lines = "".join(
        f"{key}={value}\n"
        for key, value in values.items()
        if _OUTPUT_NAME.match(key) and not any(c in value for c in "\r\n")
    )
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(lines)
    else:
        sys.stdout.write(lines)


def _metric_outputs(metrics: dict[str, Any]) -> dict[str, str]:
    """Numeric metrics as step outputs (``bytes_scanned`` -> ``bytes-scanned``)."""
    outputs = {}
    for key, value in metrics.items():
        name = key.replace("_", "-").lower()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and _OUTPUT_NAME.match(name):
            outputs[name] = str(value)
    return outputs


# Where a value input may also come from an earlier step (a baseline fetched from the base branch's run).
FETCHED = {"INPUT_BASELINE_FILE": "LR_CI_FETCHED_BASELINE"}


def _value(env_name: str) -> str:
    return os.environ.get(env_name, "").strip() or os.environ.get(FETCHED.get(env_name, ""), "").strip()


@dataclass(frozen=True)
class OptionInput:
    """An action input that passes an option of the check's command, with the option's kind from click."""

    input: ActionInput
    option: str
    is_flag: bool


def command_words(spec: CheckSpec) -> list[str]:
    """``lr-ci`` words that run the check (``secrets``; ``config check``)."""
    action = spec.load_action()
    return list(action.command if action and action.command else (spec.name,))


def option_inputs(spec: CheckSpec) -> list[OptionInput]:
    """The action's inputs that become options, each checked against the click command: an input naming
    an option the command does not have is a bug in the registry, found here (and by the generator)."""
    import click

    from lr_ci.cli import main_command

    command: click.Command = main_command(spec.load_command())
    for word in command_words(spec)[1:]:
        if word.startswith("-"):  # a fixed option of the command (`uptime check --once`)
            continue
        assert isinstance(command, click.Group), f"{spec.name}: {word} needs a group"
        sub = command.commands.get(word)
        if sub is None:
            raise LookupError(f"{spec.name}: no subcommand {word!r}")
        command = sub
    params = {opt: param for param in command.params for opt in param.opts}
    found = []
    action = spec.load_action()
    for item in action.inputs if action else ():
        if item.option is None:
            continue
        param = params.get(item.option)
        if not isinstance(param, click.Option):
            raise LookupError(
                f"{spec.name}: the action input {item.input_name} names no option {item.option}"
            )
        found.append(OptionInput(item, item.option, bool(param.is_flag)))
    return found


def command_line(spec: CheckSpec, args: str, config: str, report: Path, sarif: Path) -> list[str]:
    words = command_words(spec)
    markdown = report.with_suffix(".md")
    options = [
        "--format",
        "github",
        "--output",
        f"json:{report}",
        "--output",
        f"sarif:{sarif}",
        "--output",
        f"markdown:{markdown}",
    ]
    if config:
        options += ["--config", config]
    flags = []
    for item in option_inputs(spec):
        value = _value(item.input.env_name)
        if item.is_flag and value.lower() == "true":
            flags.append(item.option)
        elif not item.is_flag and value:
            flags += [item.option, value]
    return [sys.executable, "-m", "lr_ci", *words, *options, *flags, *shlex.split(args)]


def run() -> int:
    from lr_ci._registry import CHECKS

    check = _env("CHECK")
    if check not in CHECKS:
        # Not a check (empty, `--version`, `--help`, `secrets --history`): lr-ci would print something
        # and exit 0 without checking anything, and the step would pass.
        known = ", ".join(sorted(CHECKS))
        print(f"::error title=lr-ci::the action's `check` input is not a check (one of {known})")
        _write_outputs({"status": "error", "exit-code": "2"})
        return 0
    reports = Path(os.environ.get("RUNNER_TEMP") or ".") / "lr-ci-reports"
    reports.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_-]", "-", check)
    report, sarif = reports / f"{stem}.json", reports / f"{stem}.sarif"
    for stale in (report, sarif, report.with_suffix(".md")):
        stale.unlink(missing_ok=True)
    try:
        argv = command_line(CHECKS[check], _env("ARGS"), _env("CONFIG"), report, sarif)
    except ValueError as exc:  # unbalanced quotes in `args`
        print(f"::error title=lr-ci::the action's `args` input cannot be split: {exc}")
        _write_outputs({"status": "error", "exit-code": "2"})
        return 0
    code = subprocess.run(argv, check=False).returncode
    document = _report(report)
    status = {0: "pass", 1: "fail"}.get(code, "error")
    if status != "error" and (document is None or document.get("status") != status):
        # Exit 0 or 1 with no report that agrees (`args: --help` or `--version` printed and exited 0):
        # nothing was checked, and that is never a pass.
        print(f"::error title=lr-ci {check}::lr-ci exited {code} without a report: nothing was checked")
        code, status = 2, "error"
    outputs = {"exit-code": str(code), "status": status}
    if document is not None:
        findings = document.get("findings")
        metrics = document.get("metrics")
        outputs["report-path"] = str(report)
        outputs["findings"] = str(len(findings) if isinstance(findings, list) else 0)
        outputs.update(_metric_outputs(metrics if isinstance(metrics, dict) else {}))
    if sarif.is_file():
        outputs["sarif-path"] = str(sarif)
    if report.with_suffix(".md").is_file():
        outputs["markdown-path"] = str(report.with_suffix(".md"))
    _write_outputs(outputs)
    return 0


def _report(path: Path) -> dict[str, Any] | None:
    """The JSON report lr-ci wrote, or None when there is none (or it is not a report)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def verdict() -> int:
    """Exit as the check did: 2 and 3 (a bug) always fail the step, 1 fails it unless the ``fail`` input
    is false; anything else (no exit code at all) is 2."""
    code = os.environ.get("LR_CI_EXIT_CODE", "")
    if code == "3":
        return 3
    if code not in ("0", "1"):
        return 2
    if code == "1" and _env("FAIL", "true").lower() != "false":
        return 1
    return 0


def _event() -> dict[str, Any]:
    path = event_path()
    try:
        event = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return {}
    return event if isinstance(event, dict) else {}


def comment() -> int:
    """Create or update the check's PR comment (found by a hidden marker); never fails the job.

    Where the token cannot comment (a fork's pull request gets a read-only token), the report is in the
    step summary already, and a notice says so.
    """
    from lr_ci.github.api import GitHub, GitHubError

    check, markdown = _env("CHECK"), os.environ.get("LR_CI_MARKDOWN_PATH", "")
    number = _event().get("pull_request", {}).get("number")
    if (
        _env("COMMENT", "true").lower() != "true"
        or not number
        or not markdown
        or not Path(markdown).is_file()
    ):
        return 0
    github = GitHub.from_environment()
    if github is None:
        print(f"::notice title=lr-ci {check}::no token to comment with: the report is in the step summary")
        return 0
    try:
        done = github.upsert_comment(
            int(number), f"<!-- lr-ci:{check} -->", Path(markdown).read_text("utf-8")
        )
    except GitHubError as exc:
        why = (
            "this token cannot comment (a fork's pull request?)"
            if exc.status in (401, 403, 404)
            else str(exc)
        )
        print(f"::notice title=lr-ci {check}::{why}: the report is in the step summary")
        return 0
    print(f"lr-ci {check}: pull request comment {done}")
    return 0


def workflow_file() -> str:
    """The running workflow's file name (``bundle.yml``), from ``GITHUB_WORKFLOW_REF``
    (``owner/repo/.github/workflows/bundle.yml@refs/pull/5/merge``); empty when it cannot be told."""
    path = os.environ.get("GITHUB_WORKFLOW_REF", "").partition("@")[0]
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    if repository and path.startswith(repository + "/"):
        path = path[len(repository) + 1 :]
    folder, _, name = path.rpartition("/")
    return name if folder == ".github/workflows" and name else ""


def fetch_baseline() -> int:
    """Fetch the base branch's saved baseline from the merge base's successful workflow run.

    Trusted only from a run of the same workflow (this one's file, or the ``baseline-workflow`` input)
    triggered by a push to the pull request's base branch: any other run at that commit (another
    workflow, a pull request's run of its own code, a fork's) could have uploaded an artifact of that
    name with anything in it.
    """
    import subprocess
    import zipfile

    from lr_ci.github.api import GitHub, GitHubError

    artifact, filename = _env("BASELINE_ARTIFACT"), _env("BASELINE_NAME", "sizes.json")
    if not _PLAIN_NAME.match(filename) or filename in (".", ".."):
        # The name becomes a path under RUNNER_TEMP and a line of $GITHUB_ENV: no folder, no line break.
        print("::error title=lr-ci::the baseline file name must be a plain file name (no / or line break)")
        return 2
    base = _event().get("pull_request", {}).get("base", {})
    base_sha, branch = base.get("sha"), base.get("ref")
    if not artifact or not base_sha or _env("BASELINE_FILE"):
        return 0
    workflow = _env("BASELINE_WORKFLOW") or workflow_file()
    if not workflow or not isinstance(branch, str) or not branch:
        print(
            "::notice title=lr-ci::cannot tell which workflow and branch saved the baseline "
            "(GITHUB_WORKFLOW_REF or the pull request's base branch is missing): "
            "checking absolute limits only"
        )
        return 0
    merge_base = (
        subprocess.run(
            ["git", "merge-base", base_sha, "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        or base_sha
    )
    github = GitHub.from_environment()
    found = None
    if github is not None:
        try:
            found = github.artifact_file(merge_base, artifact, filename, workflow=workflow, branch=branch)
        except (GitHubError, zipfile.BadZipFile) as exc:
            print(f"::notice title=lr-ci::cannot read the base branch's artifacts ({exc})")
    if found is None:
        print(
            f"::notice title=lr-ci::no '{artifact}' artifact from a successful push run of {workflow} on "
            f"{branch} at the merge base {merge_base[:12]}: checking absolute limits only"
        )
        return 0
    target = Path(os.environ.get("RUNNER_TEMP") or ".") / "lr-ci-baseline" / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(found)
    with open(os.environ["GITHUB_ENV"], "a", encoding="utf-8") as handle:
        handle.write(f"LR_CI_FETCHED_BASELINE={target}\n")
    print(
        f"lr-ci: baseline from the merge base {merge_base[:12]} ({artifact}/{filename}, "
        f"push run of {workflow} on {branch})"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"run": run, "verdict": verdict, "comment": comment, "fetch-baseline": fetch_baseline}
    if len(args) == 1 and args[0] in commands:
        return commands[args[0]]()
    print(f"usage: python -m lr_ci.github.action {'|'.join(commands)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
