"""The GitHub REST calls the actions make: a PR comment updated in place, and a base branch's artifact.

Through the one HTTP client wrapper; the token comes from the environment and is never printed. Every
loop over pages or runs is bounded.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from typing import Any

import httpx

from lr_ci import _http

MAX_PAGES = 10
MAX_RUNS = 20


class GitHubError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GitHub:
    api: str
    repository: str
    token: str

    @classmethod
    def from_environment(cls) -> GitHub | None:
        token = os.environ.get("LR_CI_GITHUB_TOKEN") or os.environ.get("GITHUB_TOKEN", "")
        repository = os.environ.get("GITHUB_REPOSITORY", "")
        if not token or not repository:
            return None
        return cls(os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"), repository, token)

    def _client(self) -> httpx.Client:
        return _http.client(
            _http.ClientOptions(timeout_s=30, follow_redirects=True),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )

    def _call(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = client.request(method, f"{self.api}{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise GitHubError(0, _http.describe_error(exc)) from None
        if response.status_code >= 400:
            raise GitHubError(response.status_code, f"{method} {path}: {response.status_code}")
        return (
            response.json()
            if response.content and "json" in response.headers.get("content-type", "")
            else (response.content)
        )

    def upsert_comment(self, issue: int, marker: str, body: str) -> str:
        """Create the PR comment carrying ``marker``, or update it in place; returns "created"/"updated"."""
        text = f"{marker}\n{body}"
        with self._client() as client:
            for page in range(1, MAX_PAGES + 1):
                comments = self._call(
                    client,
                    "GET",
                    f"/repos/{self.repository}/issues/{issue}/comments",
                    params={"per_page": 100, "page": page},
                )
                for comment in comments:
                    if marker in (comment.get("body") or ""):
                        self._call(
                            client,
                            "PATCH",
                            f"/repos/{self.repository}/issues/comments/{comment['id']}",
                            json={"body": text},
                        )
                        return "updated"
                if len(comments) < 100:
                    break
            self._call(
                client, "POST", f"/repos/{self.repository}/issues/{issue}/comments", json={"body": text}
            )
            return "created"

    def artifact_file(self, head_sha: str, artifact: str, filename: str) -> bytes | None:
        """``filename`` from the ``artifact`` of the newest successful run for ``head_sha``, if any."""
        with self._client() as client:
            runs = self._call(
                client,
                "GET",
                f"/repos/{self.repository}/actions/runs",
                params={"head_sha": head_sha, "status": "success", "per_page": MAX_RUNS},
            )
            for run in runs.get("workflow_runs", [])[:MAX_RUNS]:
                listed = self._call(
                    client,
                    "GET",
                    f"/repos/{self.repository}/actions/runs/{run['id']}/artifacts",
                    params={"name": artifact},
                )
                for item in listed.get("artifacts", []):
                    if item.get("name") != artifact or item.get("expired"):
                        continue
                    archive = self._call(
                        client, "GET", f"/repos/{self.repository}/actions/artifacts/{item['id']}/zip"
                    )
                    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
                        if filename in bundle.namelist():
                            return bundle.read(filename)
        return None
