"""The Starlette application."""

from __future__ import annotations

import asyncio
import html
import random
import secrets
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
from opsapp.knobs import Knobs

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
    """Adds the configured latency (with jitter) before every response: a slow deploy, on purpose."""

    def __init__(self, app: ASGIApp, knobs: Knobs, rng: random.Random) -> None:
        self.app = app
        self.knobs = knobs
        self.rng = rng

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (self.knobs.latency_ms or self.knobs.jitter_ms):
            jitter = self.rng.uniform(-self.knobs.jitter_ms, self.knobs.jitter_ms)
            await asyncio.sleep(max(0.0, self.knobs.latency_ms + jitter) / 1000)
        await self.app(scope, receive, send)


class OpsApp:
    def __init__(self, knobs: Knobs, database_path: Path | None = None) -> None:
        self.knobs = knobs
        self.rng = random.Random(knobs.seed)
        self._tmp = None if database_path else tempfile.TemporaryDirectory(prefix="opsapp-")
        path = database_path or Path(self._tmp.name) / "ops.db"  # type: ignore[union-attr]
        self.db = Database(path, down=knobs.db_down)
        self.sessions: dict[str, str] = {}
        self.tokens: dict[str, str] = {knobs.api_token: knobs.username}

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
        return JSONResponse(
            {"id": report_id, "status": "running"},
            status_code=202,
            headers={"Location": f"/api/reports/{report_id}"},
        )

    async def get_report(self, request: Request) -> Response:
        if refused := self.api_guard(request):
            return refused
        rows = self.db.query(
            "SELECT id, started_at FROM reports WHERE id = ?", int(request.path_params["report_id"])
        )
        if not rows:
            return JSONResponse({"error": "not found"}, status_code=404)
        done = time.time() - rows[0]["started_at"] >= self.knobs.report_seconds
        if not done:
            return JSONResponse({"id": rows[0]["id"], "status": "running"})
        count = self.db.query("SELECT COUNT(*) AS n FROM invoices")[0]["n"]
        return JSONResponse({"id": rows[0]["id"], "status": "done", "rows": count})

    async def healthz(self, request: Request) -> Response:
        try:
            self.db.ping()
        except DatabaseDown:
            return JSONResponse(
                {"status": "unavailable", "database": "down", "version": self.knobs.version}, status_code=503
            )
        return JSONResponse({"status": "ok", "database": "ok", "version": self.knobs.version})

    # -- assembly --------------------------------------------------------------------------------------

    def asgi(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            if self.knobs.slow_start_s:
                await asyncio.sleep(self.knobs.slow_start_s)
            yield
            if self._tmp is not None:
                self._tmp.cleanup()

        routes = [
            Route("/", self.homepage),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/dashboard", self.dashboard),
            Route("/healthz", self.healthz),
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
        return LatencyMiddleware(app, self.knobs, self.rng)  # type: ignore[return-value]


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
