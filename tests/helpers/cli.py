"""Running lr-ci from the tests: in-process through the ``cli`` fixture, or as the environment's script."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent.parent
"""The root of this checkout."""


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli(Protocol):
    """The ``cli`` fixture: run ``lr-ci`` in-process with these arguments."""

    def __call__(self, *argv: str) -> Result: ...


def lr_ci_executable() -> str:
    """The ``lr-ci`` script of the environment running the tests."""
    return str(Path(sys.executable).with_name("lr-ci"))
