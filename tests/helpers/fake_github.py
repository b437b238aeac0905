"""A loopback stand-in for the parts of GitHub's REST API the actions use: PR comments and artifacts."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

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


@dataclass
class FakeGitHub:
    comments: list[dict[str, object]] = field(default_factory=list)
    runs: list[FakeRun] = field(default_factory=list)
    read_only: bool = False
    ignore_run_filters: bool = False
    """Answer the workflow runs query with every run, as if the API ignored its filters."""
    calls: list[str] = field(default_factory=list)

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

        async def list_comments(request: Request) -> Response:
            if not authorized(request):
                return JSONResponse({"message": "Bad credentials"}, 401)
            page = int(request.query_params.get("page", "1"))
            return JSONResponse(self.comments if page == 1 else [])

        async def create_comment(request: Request) -> Response:
            if not authorized(request):
                return JSONResponse({"message": "Bad credentials"}, 401)
            if self.read_only:
                return JSONResponse({"message": "Resource not accessible by integration"}, 403)
            body = (await request.json())["body"]
            self.comments.append({"id": len(self.comments) + 1, "body": body})
            return JSONResponse(self.comments[-1], 201)

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
                Route(prefix + "/issues/{number:int}/comments", list_comments, methods=["GET"]),
                Route(prefix + "/issues/{number:int}/comments", create_comment, methods=["POST"]),
                Route(prefix + "/issues/comments/{id:int}", update_comment, methods=["PATCH"]),
                Route(prefix + "/actions/workflows/{workflow}/runs", workflow_runs),
                Route(prefix + "/actions/runs/{id:int}/artifacts", run_artifacts),
                Route(prefix + "/actions/artifacts/{id:int}/zip", download),
            ]
        )
