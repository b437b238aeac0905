"""Ship the sample ops app (examples/opsapp) inside the wheel, so `lr-ci demo` works from a pip install.

The app stays where the project keeps it (examples/opsapp, what the tests start); building copies it to
``lr_ci/_sample_app``. An editable install reads it in place instead. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SAMPLE_APP = Path(__file__).resolve().parent / "examples" / "opsapp"


class BuildWithSampleApp(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or not SAMPLE_APP.is_dir():
            return
        target = Path(self.build_lib) / "lr_ci" / "_sample_app"
        shutil.copytree(
            SAMPLE_APP, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True
        )


setup(cmdclass={"build_py": BuildWithSampleApp})
