"""A loopback stand-in for the parts of GitHub's REST API lr-ci uses: PR comments and artifacts (the
actions), issues with labels, comments, closing and pagination (uptime's issue per incident)."""

from __future__ import annotations

import datetime
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "ghs_test-token-from-the-runner"


@dataclass
class FakeRun:
    """A successful workflow run and the artifacts it uploaded (name -> zip bytes)."""

    id: int
    head_sha: str
    workflow: str
    """The workflow's file name, as the API's ``workflow_id`` accepts it (``bundle.yml``)."""
    event: str
    branch: str
    head_repository: str
    artifacts: dict[str, bytes]

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "head_sha": self.head_sha,
            "head_branch": self.branch,
            "event": self.event,
            "status": "completed",
            "conclusion": "success",
            "path": f".github/workflows/{self.workflow}",
            "head_repository": {"full_name": self.head_repository},
        }


def _stamp(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeIssue:
    """An issue (or, with ``pull_request``, a pull request: GitHub lists both as issues)."""

    number: int
    title: str
    body: str
    labels: list[str]
    created_at: datetime.datetime
    updated_at: datetime.datetime
    state: str = "open"
    state_reason: str | None = None
    comments: list[dict[str, Any]] = field(default_factory=list)
    pull_request: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "number": self.number,
            "title": self.title,
            "body": self.body,
            "state": self.state,
            "state_reason": self.state_reason,
            "labels": [{"name": name} for name in self.labels],
            "comments": len(self.comments),
            "created_at": _stamp(self.created_at),
            "updated_at": _stamp(self.updated_at),
        }
        if self.pull_request:
            out["pull_request"] = {"url": f"https://api.github.invalid/pulls/{self.number}"}
        return out


@dataclass
class FakeGitHub:
    comments: list[dict[str, object]] = field(default_factory=list)
    runs: list[FakeRun] = field(default_factory=list)
    read_only: bool = False
    ignore_run_filters: bool = False
    """Answer the workflow runs query with every run, as if the API ignored its filters."""
    calls: list[str] = field(default_factory=list)
    issues: list[FakeIssue] = field(default_factory=list)
    drop_labels: bool = False
    """Create issues without their labels, as GitHub does silently for a token without push access."""
    fail_next: list[int] = field(default_factory=list)
    """Statuses the next API calls answer with (one consumed per call) instead of doing anything."""
    fail_after_create: int | None = None
    """Create the next issue, then answer with this status (the answer lost after the write), once."""
    has_issues: bool = True
    refuse_new_labels: bool = False
    """Answer 403 to an issue created with labels, as GitHub does when they do not exist yet and the token
    may not create labels."""

    def open_issues(self) -> list[FakeIssue]:
        return [issue for issue in self.issues if issue.state == "open" and not issue.pull_request]

    def add_issue(
        self, title: str, body: str = "", *, pull_request: bool = False, age_days: float = 0
    ) -> None:
        """An issue (or a pull request) opened ``age_days`` ago by someone else."""
        when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=age_days)
        number = len(self.issues) + 1
        self.issues.append(FakeIssue(number, title, body, [], when, when, pull_request=pull_request))

    def add_artifact(
        self,
        head_sha: str,
        name: str,
        files: dict[str, bytes],
        *,
        workflow: str = "bundle.yml",
        event: str = "push",
        branch: str = "main",
        head_repository: str = "acme/ops",
    ) -> None:
        """A successful run of ``workflow`` for ``event`` on ``branch`` at ``head_sha`` that uploaded
        the artifact ``name`` holding ``files``."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for filename, content in files.items():
                archive.writestr(filename, content)
        run = FakeRun(len(self.runs) + 1, head_sha, workflow, event, branch, head_repository, {})
        run.artifacts[name] = buffer.getvalue()
        self.runs.append(run)

    def _artifact_ids(self) -> list[tuple[FakeRun, str]]:
        return [(run, name) for run in self.runs for name in run.artifacts]

    def app(self) -> Starlette:
        def authorized(request: Request) -> bool:
            self.calls.append(f"{request.method} {request.url.path}")
            return request.headers.get("authorization") == f"Bearer {TOKEN}"

        def refused(request: Request, *, write: bool = False) -> Response | None:
            """The answer when this call is not served: bad token, injected failure, read-only token."""
            if not authorized(request):
                return JSONResponse({"message": "Bad credentials"}, 401)
            if self.fail_next:
                status = self.fail_next.pop(0)
                return JSONResponse({"message": f"injected {status}"}, status)
            if write and self.read_only:
                return JSONResponse({"message": "Resource not accessible by integration"}, 403)
            return None

        def issue(request: Request) -> FakeIssue | None:
            number = int(request.path_params["number"])
            return next((i for i in self.issues if i.number == number), None)

        def paged(request: Request, items: list[Any]) -> list[Any]:
            per_page = min(100, int(request.query_params.get("per_page", "30")))
            page = int(request.query_params.get("page", "1"))
            return items[(page - 1) * per_page : page * per_page]

        async def list_comments(request: Request) -> Response:
            if (answer := refused(request)) is not None:
                return answer
            found = issue(request)
            if found is not None:
                return JSONResponse(paged(request, found.comments))
            page = int(request.query_params.get("page", "1"))
            return JSONResponse(self.comments if page == 1 else [])

        async def create_comment(request: Request) -> Response:
            if (answer := refused(request, write=True)) is not None:
                return answer
            body = (await request.json())["body"]
            found = issue(request)
            if found is not None:
                comment_id = 1000 + sum(len(i.comments) for i in self.issues)
                found.comments.append({"id": comment_id, "body": body})
                found.updated_at = datetime.datetime.now(datetime.timezone.utc)
                return JSONResponse(found.comments[-1], 201)
            self.comments.append({"id": len(self.comments) + 1, "body": body})
            return JSONResponse(self.comments[-1], 201)

        async def repository(request: Request) -> Response:
            if (answer := refused(request)) is not None:
                return answer
            name = f"{request.path_params['owner']}/{request.path_params['repo']}"
            return JSONResponse({"full_name": name, "has_issues": self.has_issues})

        async def list_issues(request: Request) -> Response:
            """state (open|closed|all), labels (all of them), since (updated at or after), sort=created,
            direction, per_page, page: as GitHub's ``GET /repos/{owner}/{repo}/issues``."""
            if (answer := refused(request)) is not None:
                return answer
            query = request.query_params
            state = query.get("state", "open")
            labels = [name for name in query.get("labels", "").split(",") if name]
            since = query.get("since")
            after = datetime.datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
            found = [
                i
                for i in self.issues
                if state in ("all", i.state)
                and all(name in i.labels for name in labels)
                and (after is None or i.updated_at >= after)
            ]
            found.sort(
                key=lambda i: (i.created_at, i.number), reverse=query.get("direction", "desc") == "desc"
            )
            return JSONResponse([i.as_json() for i in paged(request, found)])

        async def create_issue(request: Request) -> Response:
            if (answer := refused(request, write=True)) is not None:
                return answer
            if not self.has_issues:
                return JSONResponse({"message": "Issues are disabled for this repo"}, 410)
            payload = await request.json()
            if self.refuse_new_labels and payload.get("labels"):
                return JSONResponse({"message": "You do not have permission to create labels"}, 403)
            now = datetime.datetime.now(datetime.timezone.utc)
            labels = [] if self.drop_labels else list(payload.get("labels", []))
            created = FakeIssue(
                len(self.issues) + 1, payload["title"], payload.get("body", ""), labels, now, now
            )
            self.issues.append(created)
            if self.fail_after_create is not None:
                status, self.fail_after_create = self.fail_after_create, None
                return JSONResponse({"message": f"injected {status} after the write"}, status)
            return JSONResponse(created.as_json(), 201)

        async def update_issue(request: Request) -> Response:
            if (answer := refused(request, write=True)) is not None:
                return answer
            found = issue(request)
            if found is None:
                return JSONResponse({"message": "Not Found"}, 404)
            payload = await request.json()
            found.state = payload.get("state", found.state)
            found.state_reason = payload.get("state_reason", found.state_reason)
            found.updated_at = datetime.datetime.now(datetime.timezone.utc)
            return JSONResponse(found.as_json())

        async def update_comment(request: Request) -> Response:
            if not authorized(request) or self.read_only:
                return JSONResponse({"message": "Resource not accessible by integration"}, 403)
            comment = next(c for c in self.comments if c["id"] == int(request.path_params["id"]))
            comment["body"] = (await request.json())["body"]
            return JSONResponse(comment)

        async def workflow_runs(request: Request) -> Response:
            """GET .../actions/workflows/{workflow}/runs?head_sha=&branch=&event=&status=success"""
            authorized(request)
            query = request.query_params
            found = [
                run.as_json()
                for run in reversed(self.runs)  # newest first, as GitHub lists them
                if self.ignore_run_filters
                or (
                    run.workflow == request.path_params["workflow"]
                    and all(
                        query.get(name) in (None, value)
                        for name, value in (
                            ("head_sha", run.head_sha),
                            ("branch", run.branch),
                            ("event", run.event),
                            ("status", "success"),
                        )
                    )
                )
            ]
            return JSONResponse({"total_count": len(found), "workflow_runs": found})

        async def run_artifacts(request: Request) -> Response:
            run_id = int(request.path_params["id"])
            listed = [
                {"id": index + 1, "name": name, "expired": False}
                for index, (run, name) in enumerate(self._artifact_ids())
                if run.id == run_id
            ]
            return JSONResponse({"total_count": len(listed), "artifacts": listed})

        async def download(request: Request) -> Response:
            run, name = self._artifact_ids()[int(request.path_params["id"]) - 1]
            return Response(run.artifacts[name], media_type="application/zip")

        prefix = "/repos/{owner}/{repo}"
        return Starlette(
            routes=[
                Route(prefix, repository, methods=["GET"]),
                Route(prefix + "/issues", list_issues, methods=["GET"]),
                Route(prefix + "/issues", create_issue, methods=["POST"]),
                Route(prefix + "/issues/{number:int}", update_issue, methods=["PATCH"]),
                Route(prefix + "/issues/{number:int}/comments", list_comments, methods=["GET"]),
                Route(prefix + "/issues/{number:int}/comments", create_comment, methods=["POST"]),
                Route(prefix + "/issues/comments/{id:int}", update_comment, methods=["PATCH"]),
                Route(prefix + "/actions/workflows/{workflow}/runs", workflow_runs),
                Route(prefix + "/actions/runs/{id:int}/artifacts", run_artifacts),
                Route(prefix + "/actions/artifacts/{id:int}/zip", download),
            ]
        )
