"""Everything lr-ci does for GitHub: the actions' runtime (``action``), their generated files
(``generate``) and the REST calls they make (``api``). Workflow commands and step summaries are an output
format and stay in ``lr_ci.output``.

The two variables that say lr-ci runs in a GitHub Actions job, and which event started it, are read here
and nowhere else (this module imports nothing, so the start-up path can ask it).
"""

from __future__ import annotations

import os
from pathlib import Path


def in_actions() -> bool:
    """Whether lr-ci runs in a GitHub Actions job (``GITHUB_ACTIONS=true``)."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def event_path() -> Path | None:
    """The file of the event payload that started the job (``GITHUB_EVENT_PATH``), if one is named."""
    path = os.environ.get("GITHUB_EVENT_PATH", "")
    return Path(path) if path else None
