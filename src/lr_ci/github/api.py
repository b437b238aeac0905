"""The GitHub REST calls lr-ci makes: a PR comment updated in place, a base branch's artifact (the actions),
and an issue per uptime incident found again by a hidden marker, commented and closed (``uptime``).

Through the one HTTP client wrapper; the token comes from the environment and is never printed. Every
loop over pages or runs is bounded.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from lr_ci import _http

MAX_PAGES = 10
MAX_RUNS = 20
MAX_ARTIFACT_FILE_BYTES = 64 << 20
"""A baseline in an artifact larger than this is not one lr-ci saved (and could be a zip bomb)."""
MAX_RESPONSE_BYTES = MAX_ARTIFACT_FILE_BYTES + (8 << 20)
"""The most of one API answer that is read (the largest is an artifact's zip)."""


DEFAULT_API_URL = "https://api.github.com"


def api_url_from_environment() -> str:
    """The REST API's base URL: ``GITHUB_API_URL`` as Actions sets it (GitHub Enterprise Server has its
    own), else github.com's."""
    return (os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")


def _shaped(value: Any, kind: type[Any], what: str) -> Any:
    """``value`` when it is a ``kind`` (a dict or list from the API), else a :class:`GitHubError`."""
    if not isinstance(value, kind):
        raise GitHubError(0, f"{what}: the answer is not a JSON {kind.__name__}")
    return value


class GitHubError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GitHub:
    api: str
    repository: str
    token: str = field(repr=False)
    timeout_s: float = 30.0
    """Each connect, read or write of a call (a caller bounds a whole sequence with ``_http.deadline``)."""

    @classmethod
    def from_environment(cls) -> GitHub | None:
        token = os.environ.get("LR_CI_GITHUB_TOKEN") or os.environ.get("GITHUB_TOKEN", "")
        repository = os.environ.get("GITHUB_REPOSITORY", "")
        if not token or not repository:
            return None
        return cls(api_url_from_environment(), repository, token)

    def _client(self) -> httpx.Client:
        return _http.client(
            _http.ClientOptions(timeout_s=self.timeout_s, follow_redirects=True),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )

    def _call(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
        """One API call: its JSON (or bytes, for an archive). Read in chunks up to
        :data:`MAX_RESPONSE_BYTES`, so an endless or huge answer is an error, not all of memory; a body
        that is not the JSON it claims to be is an error too, never a traceback in the action's step."""
        import json

        try:
            with client.stream(method, f"{self.api}{path}", **kwargs) as response:
                if response.status_code >= 400:
                    raise GitHubError(response.status_code, f"{method} {path}: {response.status_code}")
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise GitHubError(
                            0, f"{method} {path}: the answer is larger than {MAX_RESPONSE_BYTES >> 20} MiB"
                        )
                    chunks.append(chunk)
                content_type = response.headers.get("content-type", "")
        except httpx.HTTPError as exc:
            raise GitHubError(0, _http.describe_error(exc)) from None
        content = b"".join(chunks)
        if not content or "json" not in content_type:
            return content
        try:
            return json.loads(content)
        except (ValueError, RecursionError):
            raise GitHubError(0, f"{method} {path}: the answer is not valid JSON") from None

    def upsert_comment(self, issue: int, marker: str, body: str) -> str:
        """Create the PR comment carrying ``marker``, or update it in place; returns "created"/"updated"."""
        text = f"{marker}\n{body}"
        with self._client() as client:
            for comment in self._comments(client, issue):
                if "id" in comment and marker in str(comment.get("body") or ""):
                    self._call(
                        client,
                        "PATCH",
                        f"/repos/{self.repository}/issues/comments/{comment['id']}",
                        json={"body": text},
                    )
                    return "updated"
            self._call(
                client, "POST", f"/repos/{self.repository}/issues/{issue}/comments", json={"body": text}
            )
            return "created"

    # -- issues (uptime: one issue per incident) ----------------------------------------------------------

    def repository_info(self) -> dict[str, Any]:
        """``GET /repos/{repository}``: proves the token can read the repository (``uptime test-alert``)."""
        with self._client() as client:
            info = _shaped(self._call(client, "GET", f"/repos/{self.repository}"), dict, "repository")
        return dict(info)

    def find_issue(self, marker: str, *, since: str | None = None) -> dict[str, Any] | None:
        """The newest issue, open or closed, whose body holds ``marker``, or None; pull requests (which the
        issues list includes) are skipped. ``since`` (ISO 8601) asks only for issues updated after it, which
        keeps the bounded listing (:data:`MAX_PAGES` pages of 100) to the recent ones.

        Not filtered by label: GitHub silently drops the labels of an issue created by a token without
        push access, and a label filter would then never find the issue again (and open a second one)."""
        params: dict[str, str | int] = {
            "state": "all",
            "sort": "created",
            "direction": "desc",
            "per_page": 100,
        }
        if since is not None:
            params["since"] = since
        with self._client() as client:
            for page in range(1, MAX_PAGES + 1):
                issues = _shaped(
                    self._call(
                        client, "GET", f"/repos/{self.repository}/issues", params={**params, "page": page}
                    ),
                    list,
                    "issues",
                )
                for issue in issues:
                    if (
                        isinstance(issue, dict)
                        and isinstance(issue.get("number"), int)
                        and "pull_request" not in issue
                        and marker in str(issue.get("body") or "")
                    ):
                        return issue
                if len(issues) < 100:
                    break
        return None

    def create_issue(self, title: str, body: str, labels: tuple[str, ...] = ()) -> dict[str, Any]:
        payload: dict[str, Any] = {"title": title, "body": body}
        if labels:
            payload["labels"] = list(labels)
        with self._client() as client:
            issue = _shaped(
                self._call(client, "POST", f"/repos/{self.repository}/issues", json=payload), dict, "issue"
            )
        return dict(issue)

    def has_comment(self, issue: int, marker: str) -> bool:
        """Whether a comment of ``issue`` holds ``marker`` (at most :data:`MAX_PAGES` pages of 100)."""
        with self._client() as client:
            return any(marker in str(c.get("body") or "") for c in self._comments(client, issue))

    def _comments(self, client: httpx.Client, issue: int) -> Iterator[dict[str, Any]]:
        """The comments of ``issue``, a page of 100 at a time, at most :data:`MAX_PAGES` pages."""
        for page in range(1, MAX_PAGES + 1):
            comments = _shaped(
                self._call(
                    client,
                    "GET",
                    f"/repos/{self.repository}/issues/{issue}/comments",
                    params={"per_page": 100, "page": page},
                ),
                list,
                "comments",
            )
            yield from (comment for comment in comments if isinstance(comment, dict))
            if len(comments) < 100:
                return

    def comment(self, issue: int, body: str) -> None:
        with self._client() as client:
            self._call(
                client, "POST", f"/repos/{self.repository}/issues/{issue}/comments", json={"body": body}
            )

    def close_issue(self, issue: int) -> None:
        """Close ``issue`` as completed (closing a closed issue again is harmless)."""
        with self._client() as client:
            self._call(
                client,
                "PATCH",
                f"/repos/{self.repository}/issues/{issue}",
                json={"state": "closed", "state_reason": "completed"},
            )

    def artifact_file(
        self, head_sha: str, artifact: str, filename: str, *, workflow: str, branch: str, event: str = "push"
    ) -> bytes | None:
        """``filename`` from the ``artifact`` of the newest successful run of ``workflow`` (its file name
        or id) triggered by ``event`` on ``branch`` at ``head_sha``, if any.

        Only that workflow's runs are trusted: a run of another workflow, or of this one for a pull request
        (which runs the pull request's code), could have uploaded anything under the artifact's name. The
        filters are asked of the API and checked again on each run it returns.
        """
        from urllib.parse import quote

        with self._client() as client:
            runs = _shaped(
                self._call(
                    client,
                    "GET",
                    f"/repos/{self.repository}/actions/workflows/{quote(workflow, safe='')}/runs",
                    params={
                        "head_sha": head_sha,
                        "branch": branch,
                        "event": event,
                        "status": "success",
                        "per_page": MAX_RUNS,
                    },
                ),
                dict,
                "workflow runs",
            )
            found = runs.get("workflow_runs")
            for run in (found if isinstance(found, list) else [])[:MAX_RUNS]:
                if not _trusted_run(run, self.repository, workflow, head_sha, branch, event):
                    continue
                listed = _shaped(
                    self._call(
                        client,
                        "GET",
                        f"/repos/{self.repository}/actions/runs/{run['id']}/artifacts",
                        params={"name": artifact},
                    ),
                    dict,
                    "artifacts",
                )
                items = listed.get("artifacts")
                for item in items if isinstance(items, list) else []:
                    if not isinstance(item, dict) or item.get("name") != artifact or item.get("expired"):
                        continue
                    archive = self._call(
                        client, "GET", f"/repos/{self.repository}/actions/artifacts/{item.get('id')}/zip"
                    )
                    if not isinstance(archive, bytes):
                        raise GitHubError(0, f"{artifact}: the artifact is not a zip archive")
                    return _read_member(archive, artifact, filename)
        return None


def _read_member(archive: bytes, artifact: str, filename: str) -> bytes | None:
    """``filename`` from the zip ``archive``; a broken, encrypted or oversized one is a GitHubError."""
    import zlib

    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            if filename not in bundle.namelist():
                return None
            if bundle.getinfo(filename).file_size > MAX_ARTIFACT_FILE_BYTES:
                raise GitHubError(0, f"{artifact}/{filename} is larger than 64 MiB")
            return bundle.read(filename)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, ValueError) as exc:
        raise GitHubError(0, f"{artifact}: the artifact cannot be read ({exc})") from None


def _trusted_run(run: Any, repository: str, workflow: str, head_sha: str, branch: str, event: str) -> bool:
    """The run is what was asked for: of ``workflow`` (file name or id) in this repository, for
    ``event`` on ``branch`` at ``head_sha``."""
    if not isinstance(run, dict):
        return False
    head_repository = run.get("head_repository")
    same_workflow = (
        str(run.get("workflow_id")) == workflow
        if workflow.isdigit()
        else str(run.get("path", "")).partition("@")[0] == f".github/workflows/{workflow}"
    )
    return (
        same_workflow
        and run.get("head_sha") == head_sha
        and run.get("head_branch") == branch
        and run.get("event") == event
        and run.get("conclusion", "success") == "success"
        and (not isinstance(head_repository, dict) or head_repository.get("full_name") == repository)
    )
