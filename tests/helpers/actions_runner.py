"""Runs a composite action's steps the way the GitHub runner does, for tests.

Only what lr-ci's own actions use is supported: ``${{ inputs.* }}``, ``github.action_path``,
``runner.temp``, ``steps.<id>.outputs.*``, ``a || b``, and ``if:`` conditions made of ``==``/``!=``
comparisons joined by ``&&``. Steps run with ``bash --noprofile --norc -eo pipefail`` (GitHub's
``shell: bash``) and the files GitHub provides: ``GITHUB_OUTPUT``, ``GITHUB_ENV``, ``GITHUB_STEP_SUMMARY``
and ``GITHUB_EVENT_PATH``. ``uses:`` steps are not run; the result says whether their condition held.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class StepResult:
    name: str
    ran: bool
    code: int = 0
    stdout: str = ""
    stderr: str = ""
    uses: str | None = None


@dataclass
class ActionRun:
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    @property
    def failed(self) -> bool:
        return any(step.ran and step.code != 0 for step in self.steps)

    @property
    def stdout(self) -> str:
        return "".join(step.stdout for step in self.steps)

    def step(self, name: str) -> StepResult:
        return next(step for step in self.steps if step.name == name)


class _Context:
    def __init__(self, inputs: dict[str, str], action_path: Path, runner_temp: Path) -> None:
        self.inputs = inputs
        self.action_path = action_path
        self.runner_temp = runner_temp
        self.step_outputs: dict[str, dict[str, str]] = {}
        self.event_name = "pull_request"

    def value(self, expression: str) -> str:
        expression = expression.strip()
        if "||" in expression:
            for part in expression.split("||"):
                if value := self.value(part):
                    return value
            return ""
        if expression[:1] == "'" and expression[-1:] == "'":
            return expression[1:-1]
        parts = expression.split(".")
        if parts[0] == "inputs":
            return self.inputs[parts[1]]
        if expression == "github.action_path":
            return str(self.action_path)
        if expression == "runner.temp":
            return str(self.runner_temp)
        if expression == "github.event_name":
            return self.event_name
        if expression == "github.token":
            return "ghs_test-token-from-the-runner"
        if parts[0] == "steps" and parts[2] == "outputs":
            return self.step_outputs.get(parts[1], {}).get(parts[3], "")
        raise ValueError(f"unsupported expression: {expression}")

    def render(self, text: str) -> str:
        return _EXPRESSION.sub(lambda m: self.value(m.group(1)), str(text))

    def condition(self, text: str | None) -> bool:
        if text is None:
            return True
        return any(self._all(group) for group in _EXPRESSION.sub(lambda m: m.group(1), text).split("||"))

    def _all(self, text: str) -> bool:
        for clause in text.split("&&"):
            match = re.fullmatch(r"\s*(.+?)\s*(==|!=)\s*(.+?)\s*", clause)
            if match is None:
                raise ValueError(f"unsupported condition: {clause}")
            left, op, right = self.value(match.group(1)), match.group(2), self.value(match.group(3))
            if (left == right) != (op == "=="):
                return False
        return True


def _parse_command_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines and ``KEY<<DELIMITER`` blocks, as GitHub reads GITHUB_OUTPUT and GITHUB_ENV."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            values[key] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
        i += 1
    path.write_text("")
    return values


def run_action(
    action_dir: Path,
    inputs: dict[str, str],
    workspace: Path,
    runner_temp: Path,
    env: dict[str, str] | None = None,
    event: dict[str, Any] | None = None,
) -> ActionRun:
    definition = yaml.safe_load((action_dir / "action.yml").read_text())
    declared = definition.get("inputs", {})
    unknown = set(inputs) - set(declared)
    if unknown:
        raise ValueError(f"inputs not declared by the action: {sorted(unknown)}")
    context = _Context({}, action_dir, runner_temp)
    context.inputs = {name: context.render(str(spec.get("default", ""))) for name, spec in declared.items()}
    context.inputs.update(inputs)

    files = runner_temp / "_runner_files"
    files.mkdir(parents=True, exist_ok=True)
    github_output, github_env = files / "output", files / "env"
    summary, event_path = files / "summary.md", files / "event.json"
    summary.write_text("")
    event_path.write_text(json.dumps(event or {}))
    job_env = {
        **os.environ,
        **(env or {}),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_ACTION_PATH": str(action_dir),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_EVENT_NAME": "pull_request",
        "RUNNER_TEMP": str(runner_temp),
    }

    result = ActionRun()
    for index, step in enumerate(definition["runs"]["steps"]):
        name = step.get("name", f"step {index}")
        if result.failed or not context.condition(step.get("if")):
            result.steps.append(StepResult(name=name, ran=False, uses=step.get("uses")))
            continue
        if "uses" in step:
            result.steps.append(StepResult(name=name, ran=False, uses=step["uses"]))
            continue
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], "inputs must reach scripts through env:, never ${{ }} in run:"
        script = files / f"step-{index}.sh"
        script.write_text(step["run"])
        step_env = {**job_env, "GITHUB_OUTPUT": str(github_output), "GITHUB_ENV": str(github_env)}
        step_env.update({key: context.render(value) for key, value in step.get("env", {}).items()})
        cwd = workspace / context.render(step.get("working-directory", "."))
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        result.steps.append(StepResult(name, True, done.returncode, done.stdout, done.stderr))
        job_env.update(_parse_command_file(github_env))
        if "id" in step:
            context.step_outputs[step["id"]] = _parse_command_file(github_output)
        else:
            _parse_command_file(github_output)
    result.outputs = {
        name: context.render(spec["value"]) for name, spec in definition.get("outputs", {}).items()
    }
    result.summary = summary.read_text()
    return result
