#!/usr/bin/env python3
"""Developer entry point; needs only Python 3.10+ and git.

python3 dev.py run    install lr-ci into .venv and run it on this repository (no config needed)
python3 dev.py test   install lr-ci with its dev tools into .venv; run ruff, mypy --strict and pytest
python3 dev.py bench  run the benchmarks in benchmarks/ (prints ratios against same-run baselines)
python3 dev.py generate  rewrite the generated files: action.yml and actions/<check>/action.yml (from the
                         registry), lr_ci/secret_rules/_rules_data.py (from secret_rules/rules/*.toml)
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
LINTED = ("src", "tests", "benchmarks", "examples", "dev.py", "setup.py")


def step(*argv: str | Path) -> None:
    print("+", " ".join(str(a) for a in argv), flush=True)
    code = subprocess.run([str(a) for a in argv], cwd=ROOT, check=False).returncode
    if code != 0:
        sys.exit(code)


def ensure_venv(extra: str | None) -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 - dev.py runs on whatever python3 the machine has
        sys.exit(f"lr-ci needs Python 3.10 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print(f"+ creating {VENV.name}", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            sys.exit(f"cannot create {VENV}: {exc} (on Debian/Ubuntu: apt-get install python3-venv)")
    target = f".[{extra}]" if extra else "."
    step(BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", target)


def run() -> None:
    ensure_venv("demo")
    step(BIN / "lr-ci", "--help")
    # lr-ci on this very repository, with its own lr-ci.toml...
    step(BIN / "lr-ci", "config", "check")
    step(BIN / "lr-ci", "secrets", "--history")
    # ...and every check against the bundled sample ops app, with a summary of what blocks a launch.
    step(BIN / "lr-ci", "demo")


def test() -> None:
    ensure_venv("dev")
    step(BIN / "ruff", "check", *LINTED)
    step(BIN / "ruff", "format", "--check", *LINTED)
    step(BIN / "mypy", "--strict", "src", "tests", "benchmarks")
    step(BIN / "pytest", "-n", "2", "--dist", "loadfile", "-q")


def bench() -> None:
    ensure_venv("dev")
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        step(BIN / "python", script)


def generate() -> None:
    ensure_venv(None)
    step(BIN / "python", "-m", "lr_ci.github.generate", ROOT)
    step(BIN / "python", "-m", "lr_ci.secret_rules.generate")


COMMANDS = {"run": run, "test": test, "bench": bench, "generate": generate}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]]()
