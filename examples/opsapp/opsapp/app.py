"""The Starlette application."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import ipaddress
import random
import secrets
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from opsapp.db import Database, DatabaseDown
from opsapp.knobs import RUNTIME, Knobs

DIST = Path(__file__).resolve().parent.parent / "dist"
SESSION_COOKIE = "opsapp_session"
CSRF_COOKIE = "opsapp_csrf"
CSRF_FIELD = "csrf_token"

LOGIN_PAGE = """<!doctype html>
<html><head><title>Sign in · Ops Console</title></head>
<body>
<h1>Sign in</h1>
{error}
<form method="post" action="/login{next_query}">
  <input type="hidden" name="{csrf_field}" value="{csrf}">
  <label>User <input type="text" name="username" autocomplete="username"></label>
  <label>Password <input type="password" name="password" autocomplete="current-password"></label>
  <button type="submit">Sign in</button>
</form>
</body></html>
"""

DASHBOARD_PAGE = """<!doctype html>
<html><head><title>Dashboard · Ops Console</title></head>
<body><h1>Dashboard</h1><p>Signed in as <strong id="user">{user}</strong>.</p>
<p><a href="/api/invoices">Invoices</a></p>
<form method="post" action="/logout"><button>Sign out</button></form></body></html>
"""


class LatencyMiddleware:
    """Adds the configured latency (with jitter) before every response: a slow deploy, on purpose.

    Reads the app's knobs on every request, so ``/admin/knobs`` slows a running app down (and back)."""

    def __init__(self, app: ASGIApp, ops: OpsApp) -> None:
        self.app = app
        self.ops = ops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        knobs = self.ops.knobs
        if scope["type"] == "http" and (knobs.latency_ms or knobs.jitter_ms):
            jitter = self.ops.rng.uniform(-knobs.jitter_ms, knobs.jitter_ms)
            await asyncio.sleep(max(0.0, knobs.latency_ms + jitter) / 1000)
        await self.app(scope, receive, send)


QUEUE_POLL_S = 0.05
"""How often a paused report worker (``queue_down``) looks whether it may work again."""


class OpsApp:
    def __init__(self, knobs: Knobs, database_path: Path | None = None) -> None:
        self.knobs = knobs
        self.rng = random.Random(knobs.seed)
        if database_path is None and knobs.database:
            database_path = Path(knobs.database)
        self._tmp = None if database_path else tempfile.TemporaryDirectory(prefix="opsapp-")
        path = database_path or Path(self._tmp.name) / "ops.db"  # type: ignore[union-attr]
        self.db = Database(path, down=knobs.db_down)
        self.sessions: dict[str, str] = {}
        self.tokens: dict[str, str] = {knobs.api_token: knobs.username}
        self.jobs: asyncio.Queue[int] | None = None
        self.worker: asyncio.Task[None] | None = None

    def set_knobs(self, knobs: Knobs) -> None:
        """Swap the knobs of the running app (every handler reads ``self.knobs`` per request)."""
        self.knobs = knobs
        self.db.down = knobs.db_down

    # -- helpers ---------------------------------------------------------------------------------------

    def cookie_secure(self, request: Request) -> bool:
        return self.knobs.secure_cookies or request.url.scheme == "https"

    def user(self, request: Request) -> str | None:
        session = request.cookies.get(SESSION_COOKIE)
        if session and session in self.sessions:
            return self.sessions[session]
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return self.tokens.get(header[7:].strip())
        return None

    def chaos(self) -> Response | None:
        if self.knobs.error_rate and self.rng.random() < self.knobs.error_rate:
            return JSONResponse({"error": "internal error"}, status_code=500)
        return None

    def api_guard(self, request: Request) -> Response | None:
        if self.user(request) is None:
            return JSONResponse(
                {"error": "authentication required"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return self.chaos()

    # -- pages -----------------------------------------------------------------------------------------

    async def homepage(self, request: Request) -> Response:
        return HTMLResponse((DIST / "index.html").read_text(encoding="utf-8"))

    async def login_form(self, request: Request, error: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        next_url = request.query_params.get("next", "")
        page = LOGIN_PAGE.format(
            error=f'<p class="error">{html.escape(error)}</p>' if error else "",
            next_query=f"?next={html.escape(next_url, quote=True)}" if next_url else "",
            csrf_field=CSRF_FIELD,
            csrf=token,
        )
        response = HTMLResponse(page, status_code=status)
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=False,
            samesite="strict",
            secure=self.cookie_secure(request),
            path="/",
        )
        return response

    async def login(self, request: Request) -> Response:
        form = await request.form()
        sent, expected = str(form.get(CSRF_FIELD, "")), request.cookies.get(CSRF_COOKIE, "")
        if not sent or not expected or not secrets.compare_digest(sent, expected):
            return HTMLResponse(
                "<h1>403 Forbidden</h1><p>CSRF token missing or incorrect.</p>", status_code=403
            )
        if self.knobs.broken_login:
            return HTMLResponse("<h1>500 Internal Server Error</h1>", status_code=500)
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        valid = secrets.compare_digest(username, self.knobs.username) and secrets.compare_digest(
            password, self.knobs.password
        )
        if not valid:
            return await self.login_form(request, error="Wrong user or password.", status=401)
        session = secrets.token_urlsafe(32)
        self.sessions[session] = username
        next_url = request.query_params.get("next", "/dashboard")
        if not next_url.startswith("/") or next_url.startswith("//"):
            next_url = "/dashboard"  # never redirect off-site
        response = RedirectResponse(next_url, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session,
            httponly=True,
            samesite="lax",
            secure=self.cookie_secure(request),
            path="/",
            max_age=8 * 3600,
        )
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    async def logout(self, request: Request) -> Response:
        self.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def dashboard(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=302)
        return HTMLResponse(DASHBOARD_PAGE.format(user=html.escape(user)))

    # -- API -------------------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        body = await _json(request)
        if body.get("username") != self.knobs.username or body.get("password") != self.knobs.password:
            return JSONResponse({"error": "invalid credentials"}, status_code=401)
        token = secrets.token_urlsafe(32)
        self.tokens[token] = self.knobs.username
        return JSONResponse({"token": token, "token_type": "Bearer"})

    async def list_invoices(self, request: Request) -> Response:
        if refused := self.api_guard(request):
            return refused
        if self.knobs.slow_route_ms:
            await asyncio.sleep(self.knobs.slow_route_ms / 1000)
        status = request.query_params.get("status")
        sql = "SELECT id, customer, amount_cents, status FROM invoices"
        rows = (
            self.db.query(sql + " WHERE status = ? ORDER BY id", status)
            if status
            else self.db.query(sql + " ORDER BY id")
        )
        return JSONResponse({"invoices": rows, "count": len(rows)})

    async def create_invoice(self, request: Request) -> Response:
        if refused := self.api_guard(request):
            return refused
        body = await _json(request)
        customer, amount = body.get("customer"), body.get("amount_cents")
        if not isinstance(customer, str) or not customer or not isinstance(amount, int) or amount <= 0:
            return JSONResponse(
                {"error": "customer (text) and amount_cents (> 0) are required"}, status_code=422
            )
        created = self.db.query(
            "INSERT INTO invoices (customer, amount_cents, created_at) VALUES (?, ?, ?)",
            customer,
            amount,
            time.time(),
        )
        invoice = {"id": created[0]["id"], "customer": customer, "amount_cents": amount, "status": "pending"}
        return JSONResponse(invoice, status_code=201, headers={"Location": f"/api/invoices/{invoice['id']}"})

    def _invoice(self, invoice_id: int) -> dict[str, Any] | None:
        rows = self.db.query(
            "SELECT id, customer, amount_cents, status FROM invoices WHERE id = ?", invoice_id
        )
        return rows[0] if rows else None

    async def get_invoice(self, request: Request) -> Response:
        if refused := self.api_guard(request):
            return refused
        invoice = self._invoice(int(request.path_params["invoice_id"]))
        return JSONResponse(invoice) if invoice else JSONResponse({"error": "not found"}, status_code=404)

    async def approve_invoice(self, request: Request) -> Response:
        if refused := self.api_guard(request):
            return refused
        invoice_id = int(request.path_params["invoice_id"])
        invoice = self._invoice(invoice_id)
        if invoice is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        if invoice["status"] != "pending":
            return JSONResponse({"error": f"invoice is {invoice['status']}"}, status_code=409)
        self.db.query("UPDATE invoices SET status = 'approved' WHERE id = ?", invoice_id)
        return JSONResponse({**invoice, "status": "approved", "approved_by": self.user(request)})

    async def delete_invoice(self, request: Request) -> Response:
        if refused := self.api_guard(request):
            return refused
        self.db.query("DELETE FROM invoices WHERE id = ?", int(request.path_params["invoice_id"]))
        return Response(status_code=204)

    async def start_report(self, request: Request) -> Response:
        if refused := self.api_guard(request):
            return refused
        created = self.db.query(
            "INSERT INTO reports (kind, started_at) VALUES (?, ?)", "invoices", time.time()
        )
        report_id = created[0]["id"]
        if self.jobs is not None:
            self.jobs.put_nowait(report_id)
        return JSONResponse(
            {"id": report_id, "status": "running"},
            status_code=202,
            headers={"Location": f"/api/reports/{report_id}"},
        )

    async def get_report(self, request: Request) -> Response:
        if refused := self.api_guard(request):
            return refused
        rows = self.db.query(
            "SELECT id, done_at FROM reports WHERE id = ?", int(request.path_params["report_id"])
        )
        if not rows:
            return JSONResponse({"error": "not found"}, status_code=404)
        if rows[0]["done_at"] is None:
            return JSONResponse({"id": rows[0]["id"], "status": "running"})
        count = self.db.query("SELECT COUNT(*) AS n FROM invoices")[0]["n"]
        return JSONResponse({"id": rows[0]["id"], "status": "done", "rows": count})

    async def healthz(self, request: Request) -> Response:
        """Each dependency, probed for real: the SQLite database answers a query, the report worker is
        alive and taking jobs. 503 when one is down, so a monitor needs no JSON rule to see it (and can
        still name which one with ``$.checks.database == "ok"``)."""
        checks = {"database": "ok", "queue": "ok" if self.queue_ok() else "down"}
        try:
            self.db.ping()
        except (DatabaseDown, sqlite3.Error):
            checks["database"] = "down"
        healthy = all(state == "ok" for state in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "checks": checks, "version": self.knobs.version},
            status_code=200 if healthy else 503,
        )

    def queue_ok(self) -> bool:
        return self.worker is not None and not self.worker.done() and not self.knobs.queue_down

    async def work_reports(self) -> None:
        """The report worker: takes each job in turn and marks it done ``report_seconds`` after it was
        started. While ``queue_down`` is set it takes nothing (jobs wait in the queue, as behind a stuck
        broker) and resumes where it stopped when the knob is cleared."""
        assert self.jobs is not None
        while True:
            report_id = await self.jobs.get()
            while self.knobs.queue_down:  # holds the job it took: it is done once the queue is back
                await asyncio.sleep(QUEUE_POLL_S)
            while True:
                try:
                    rows = self.db.query("SELECT started_at FROM reports WHERE id = ?", report_id)
                    if rows:
                        due = rows[0]["started_at"] + self.knobs.report_seconds
                        await asyncio.sleep(max(0.0, due - time.time()))
                        self.db.query("UPDATE reports SET done_at = ? WHERE id = ?", time.time(), report_id)
                    break
                except DatabaseDown:  # retried once the database is back: a job is never lost
                    await asyncio.sleep(QUEUE_POLL_S)

    # -- admin -----------------------------------------------------------------------------------------

    async def admin_knobs(self, request: Request) -> Response:
        """``GET`` the runtime knobs, or ``POST`` a JSON object of them to change the running app.

        Why an endpoint and not a control file: a change applies before the response returns (no polling
        delay to wait out in a test or the demo), it needs no shared folder, and it answers with the state
        it set. It exists only when ``OPSAPP_ADMIN_TOKEN`` is set, answers loopback clients only, and
        compares the bearer token in constant time; the token is never echoed.
        """
        if not self.knobs.admin_token:
            return JSONResponse({"error": "not found"}, status_code=404)
        if not _loopback(request):
            return JSONResponse({"error": "admin is for loopback clients only"}, status_code=403)
        header = request.headers.get("authorization", "")
        sent = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not secrets.compare_digest(sent.encode(), self.knobs.admin_token.encode()):
            return JSONResponse({"error": "admin token required"}, status_code=401)
        if request.method == "POST":
            body = await _json(request)
            changes: dict[str, Any] = {}
            for name, value in body.items():
                kind = RUNTIME.get(name)
                valid = kind is not None and (
                    isinstance(value, bool)
                    if kind is bool
                    else isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
                )
                if not valid:
                    what = f"a {kind.__name__} >= 0" if kind is float else "true or false"
                    error = f"{name}: not a runtime knob" if kind is None else f"{name}: must be {what}"
                    return JSONResponse({"error": error, "knobs": list(RUNTIME)}, status_code=422)
                changes[name] = kind(value) if kind is not None else value
            self.set_knobs(dataclasses.replace(self.knobs, **changes))
        return JSONResponse({name: getattr(self.knobs, name) for name in RUNTIME})

    # -- assembly --------------------------------------------------------------------------------------

    def asgi(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            if self.knobs.slow_start_s:
                await asyncio.sleep(self.knobs.slow_start_s)
            self.jobs = asyncio.Queue()
            self.worker = asyncio.create_task(self.work_reports())
            with contextlib.suppress(DatabaseDown):  # jobs left by a previous run on the same database
                for row in self.db.query("SELECT id FROM reports WHERE done_at IS NULL ORDER BY id"):
                    self.jobs.put_nowait(row["id"])
            yield
            self.worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.worker
            if self._tmp is not None:
                self._tmp.cleanup()

        routes = [
            Route("/", self.homepage),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/dashboard", self.dashboard),
            Route("/healthz", self.healthz),
            Route("/admin/knobs", self.admin_knobs, methods=["GET", "POST"]),
            Route("/api/token", self.token, methods=["POST"]),
            Route("/api/invoices", self.list_invoices, methods=["GET"]),
            Route("/api/invoices", self.create_invoice, methods=["POST"]),
            Route("/api/invoices/{invoice_id:int}", self.get_invoice, methods=["GET"]),
            Route("/api/invoices/{invoice_id:int}", self.delete_invoice, methods=["DELETE"]),
            Route("/api/invoices/{invoice_id:int}/approve", self.approve_invoice, methods=["POST"]),
            Route("/api/reports", self.start_report, methods=["POST"]),
            Route("/api/reports/{report_id:int}", self.get_report, methods=["GET"]),
            Mount("/assets", app=StaticFiles(directory=DIST / "assets"), name="assets"),
        ]
        app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={DatabaseDown: _database_down})
        return LatencyMiddleware(app, self)  # type: ignore[return-value]


def _loopback(request: Request) -> bool:
    try:
        return request.client is not None and ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


async def _database_down(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "database unavailable"}, status_code=503)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def create_app(knobs: Knobs | None = None) -> Starlette:
    return OpsApp(knobs or Knobs.from_environment()).asgi()
