"""What a build adds that pyproject.toml cannot say: the sample app, the commit being built, a C reader.

- The sample ops app (examples/opsapp) ships inside the wheel, so `lr-ci demo` works from a pip install.
  The app stays where the project keeps it (what the tests start); building copies it to
  ``lr_ci/_sample_app``. An editable install reads it in place instead.
- ``lr_ci/_build_commit.py`` records the git commit the wheel or sdist is built from: `lr-ci init
  --workflows` pins lr-ci's actions and hooks to it (``lr_ci.build_info``). An sdist carries the file, so a
  wheel built from it (no git there) records the same commit. An editable install asks git at run time.
- The compiled reader of git's patches (``lr_ci.checks.secrets._sections``), optional: see ``SECTIONS``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
SAMPLE_APP = ROOT / "examples" / "opsapp"
BUILD_COMMIT = Path("lr_ci") / "_build_commit.py"


def _commit() -> str | None:
    """HEAD of the checkout being built, or None outside git (an sdist: its own file is used then)."""
    if not (ROOT / ".git").exists():
        return None
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "-q", "HEAD^{commit}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _write_commit(package_root: Path) -> None:
    commit = _commit()
    if commit is not None:
        target = package_root / BUILD_COMMIT
        target.write_text(
            f'"""Written by setup.py at build time."""\n\nCOMMIT = "{commit}"\n', encoding="utf-8"
        )


class BuildWithSampleApp(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        _write_commit(Path(self.build_lib))
        if SAMPLE_APP.is_dir():
            target = Path(self.build_lib) / "lr_ci" / "_sample_app"
            shutil.copytree(
                SAMPLE_APP, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True
            )


class SdistWithCommit(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        _write_commit(Path(base_dir) / "src")


# The compiled reader of git's patches (a history scan's CPU: see its file). Optional: without a C compiler
# the build goes on, and lr-ci reads patches with the same reader in Python (git.python_sections).
SECTIONS = Extension(
    "lr_ci.checks.secrets._sections", ["src/lr_ci/checks/secrets/_sections.c"], optional=True
)

setup(
    cmdclass={"build_py": BuildWithSampleApp, "sdist": SdistWithCommit},
    ext_modules=[SECTIONS],
)
