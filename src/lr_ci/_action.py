"""The logic of lr-ci's composite GitHub Actions, kept in Python so it is tested like the rest.

``python -m lr_ci._action run`` runs one check with the inputs GitHub passes as ``INPUT_*`` environment
variables (never interpolated into a script, so a crafted input cannot inject shell code), writes the
step outputs and always exits 0 so that a SARIF upload step can still run. ``python -m lr_ci._action
verdict`` then fails the step as the check's exit code and the ``fail`` input say.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Checks whose command is not simply their name.
COMMANDS = {"config": ["config", "check"]}
# Inputs of a check's own action that become options: booleans become flags (`history: true` ->
# `--history`), others pass their value (`base-url: https://...` -> `--base-url https://...`).
FLAG_INPUTS = {"secrets": {"HISTORY": "--history", "DEEPEN": "--deepen"}}
VALUE_INPUTS = {
    "smoke": {"BASE_URL": "--base-url", "WAIT_FOR_VERSION": "--wait-for-version"},
    "p95": {"BASELINE": "--baseline", "CANDIDATE": "--candidate", "BASELINE_FILE": "--baseline-file"},
    "bundle": {"BASELINE_FILE": "--baseline", "SAVE_BASELINE": "--save-baseline"},
}
_OUTPUT_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\Z")


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name}", default).strip()


def _write_outputs(values: dict[str, str]) -> None:
    target = os.environ.get("GITHUB_OUTPUT")
    lines = "".join(f"{key}={value}\n" for key, value in values.items() if "\n" not in value)
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


def command_line(check: str, args: str, config: str, report: Path, sarif: Path) -> list[str]:
    words = COMMANDS.get(check, [check])
    options = ["--format", "github", "--output", f"json:{report}", "--output", f"sarif:{sarif}"]
    if config:
        options += ["--config", config]
    flags = [flag for name, flag in FLAG_INPUTS.get(check, {}).items() if _env(name).lower() == "true"]
    for name, option in VALUE_INPUTS.get(check, {}).items():
        if _env(name):
            flags += [option, _env(name)]
    return [sys.executable, "-m", "lr_ci", *words, *options, *flags, *shlex.split(args)]


def run() -> int:
    check = _env("CHECK")
    if not check:
        print("::error title=lr-ci::the action's `check` input is empty")
        _write_outputs({"status": "error", "exit-code": "2"})
        return 0
    reports = Path(os.environ.get("RUNNER_TEMP") or ".") / "lr-ci-reports"
    reports.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_-]", "-", check)
    report, sarif = reports / f"{stem}.json", reports / f"{stem}.sarif"
    for stale in (report, sarif):
        stale.unlink(missing_ok=True)
    try:
        argv = command_line(check, _env("ARGS"), _env("CONFIG"), report, sarif)
    except ValueError as exc:  # unbalanced quotes in `args`
        print(f"::error title=lr-ci::the action's `args` input cannot be split: {exc}")
        _write_outputs({"status": "error", "exit-code": "2"})
        return 0
    code = subprocess.run(argv, check=False).returncode
    outputs = {"exit-code": str(code), "status": {0: "pass", 1: "fail"}.get(code, "error")}
    if report.is_file():
        document = json.loads(report.read_text(encoding="utf-8"))
        outputs["report-path"] = str(report)
        outputs["findings"] = str(len(document.get("findings", [])))
        outputs.update(_metric_outputs(document.get("metrics", {})))
    if sarif.is_file():
        outputs["sarif-path"] = str(sarif)
    _write_outputs(outputs)
    return 0


def verdict() -> int:
    """Exit as the check did: 2 always fails the step, 1 fails it unless the ``fail`` input is false."""
    code = os.environ.get("LR_CI_EXIT_CODE", "")
    if code not in ("0", "1"):
        return 2
    if code == "1" and _env("FAIL", "true").lower() != "false":
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["run"]:
        return run()
    if args == ["verdict"]:
        return verdict()
    print("usage: python -m lr_ci._action run|verdict", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
