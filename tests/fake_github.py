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
class FakeGitHub:
    comments: list[dict[str, object]] = field(default_factory=list)
    artifacts: dict[str, dict[str, bytes]] = field(default_factory=dict)
    """head sha -> {artifact name: zip bytes}."""
    read_only: bool = False
    calls: list[str] = field(default_factory=list)

    def add_artifact(self, head_sha: str, name: str, files: dict[str, bytes]) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for filename, content in files.items():
                archive.writestr(filename, content)
        self.artifacts.setdefault(head_sha, {})[name] = buffer.getvalue()

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

        async def runs(request: Request) -> Response:
            sha = request.query_params.get("head_sha", "")
            found = [{"id": index + 1, "head_sha": sha} for index in range(1) if sha in self.artifacts]
            return JSONResponse({"total_count": len(found), "workflow_runs": found})

        async def run_artifacts(request: Request) -> Response:
            sha = next(iter(self.artifacts)) if self.artifacts else ""
            names = self.artifacts.get(sha, {})
            listed = [{"id": index + 1, "name": name, "expired": False} for index, name in enumerate(names)]
            return JSONResponse({"total_count": len(listed), "artifacts": listed})

        async def download(request: Request) -> Response:
            archives = [zip_bytes for names in self.artifacts.values() for zip_bytes in names.values()]
            return Response(archives[int(request.path_params["id"]) - 1], media_type="application/zip")

        prefix = "/repos/{owner}/{repo}"
        return Starlette(
            routes=[
                Route(prefix + "/issues/{number:int}/comments", list_comments, methods=["GET"]),
                Route(prefix + "/issues/{number:int}/comments", create_comment, methods=["POST"]),
                Route(prefix + "/issues/comments/{id:int}", update_comment, methods=["PATCH"]),
                Route(prefix + "/actions/runs", runs),
                Route(prefix + "/actions/runs/{id:int}/artifacts", run_artifacts),
                Route(prefix + "/actions/artifacts/{id:int}/zip", download),
            ]
        )
