"""The parts of GitHub's event payloads (``GITHUB_EVENT_PATH``) lr-ci reads, as strict shapes.

Only the fields used, for the events used: the payload is validated against these (pydantic, through
``_json_files.read_shaped``), so a broken or hostile file is exit 2 naming the field. They live with the
other GitHub code, and apart from the checks' modules, so that the pre-commit hook (``secrets --staged``)
never pays for ``typing_extensions``.
"""

from __future__ import annotations

from typing_extensions import NotRequired, TypedDict


class _Ref(TypedDict):
    sha: str


class _Pull(TypedDict):
    base: _Ref
    head: _Ref


class PullRequestEvent(TypedDict):
    pull_request: NotRequired[_Pull]


class _Repository(TypedDict):
    default_branch: NotRequired[str | None]


class PushEvent(TypedDict):
    before: NotRequired[str | None]
    after: NotRequired[str]
    forced: NotRequired[bool | None]
    repository: NotRequired[_Repository]
