"""Login pages as Django, Rails and Flask-WTF really serve them: their field names, cookies and CSRF rules.

Each is a tiny Starlette app reproducing the framework's CSRF behaviour, so a smoke flow is tested
against what users deploy, not only against our sample app:
- Django: a ``csrftoken`` cookie and a *masked* ``csrfmiddlewaretoken`` field (different value, same secret);
  403 without them; a ``sessionid`` cookie and a redirect to ``next`` after login.
- Rails (Devise): the token lives in the session cookie; the page carries it in
  ``<meta name="csrf-token">`` and the ``authenticity_token`` field; ``user[email]``/``user[password]``;
  422 on a bad token.
- Flask-WTF (Flask-Login): the token lives in the signed session; ``csrf_token`` field; 400 on a bad token.
"""

from __future__ import annotations

import secrets
import string

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

USER, PASSWORD = "ops@example.com", "Falcon-8Uj!42"
CHARS = string.ascii_letters + string.digits


def _mask(secret: str) -> str:
    salt = "".join(secrets.choice(CHARS) for _ in secret)
    return salt + "".join(
        CHARS[(CHARS.index(s) + CHARS.index(m)) % len(CHARS)] for s, m in zip(secret, salt, strict=True)
    )


def _unmask(token: str) -> str:
    half = len(token) // 2
    salt, cipher = token[:half], token[half:]
    return "".join(
        CHARS[(CHARS.index(c) - CHARS.index(m)) % len(CHARS)] for c, m in zip(cipher, salt, strict=True)
    )


def django_app() -> Starlette:
    sessions: set[str] = set()

    async def login_page(request: Request) -> Response:
        secret = request.cookies.get("csrftoken") or "".join(secrets.choice(CHARS) for _ in range(32))
        page = f"""<!DOCTYPE html><html><body><form method="post">
<input type="hidden" name="csrfmiddlewaretoken" value="{_mask(secret)}">
<p><label for="id_username">Username:</label> <input type="text" name="username" autofocus required id="id_username"></p>
<p><label for="id_password">Password:</label> <input type="password" name="password" required id="id_password"></p>
<input type="submit" value="login"><input type="hidden" name="next" value="{request.query_params.get("next", "")}">
</form></body></html>"""
        response = HTMLResponse(page)
        response.set_cookie("csrftoken", secret, samesite="lax", max_age=31449600)
        return response

    async def login(request: Request) -> Response:
        form = await request.form()
        cookie, field = request.cookies.get("csrftoken", ""), str(form.get("csrfmiddlewaretoken", ""))
        if not cookie or len(field) != 64 or _unmask(field) != cookie:
            return HTMLResponse("<h1>Forbidden <span>(403)</span></h1><p>CSRF verification failed.</p>", 403)
        if form.get("username") != USER or form.get("password") != PASSWORD:
            return await login_page(request)
        session = secrets.token_hex(16)
        sessions.add(session)
        response = RedirectResponse(str(form.get("next") or "/accounts/profile/"), status_code=302)
        response.set_cookie("sessionid", session, httponly=True, samesite="lax")
        return response

    async def profile(request: Request) -> Response:
        if request.cookies.get("sessionid") not in sessions:
            return RedirectResponse("/accounts/login/?next=/accounts/profile/", status_code=302)
        return HTMLResponse("<h1>Welcome back</h1>")

    return Starlette(
        routes=[
            Route("/accounts/login/", login_page, methods=["GET"]),
            Route("/accounts/login/", login, methods=["POST"]),
            Route("/accounts/profile/", profile),
        ]
    )


def rails_app() -> Starlette:
    sessions: dict[str, dict[str, str]] = {}

    def session_of(request: Request) -> tuple[str, dict[str, str]]:
        key = request.cookies.get("_ops_session", "")
        if key not in sessions:
            key = secrets.token_hex(16)
            sessions[key] = {"csrf": secrets.token_urlsafe(32)}
        return key, sessions[key]

    async def sign_in_page(request: Request) -> Response:
        key, session = session_of(request)
        token = session["csrf"]
        page = f"""<!DOCTYPE html><html><head><meta name="csrf-param" content="authenticity_token" />
<meta name="csrf-token" content="{token}" /></head><body>
<form class="new_user" id="new_user" action="/users/sign_in" accept-charset="UTF-8" method="post">
<input type="hidden" name="authenticity_token" value="{token}" autocomplete="off" />
<input autofocus="autofocus" autocomplete="email" type="email" value="" name="user[email]" id="user_email" />
<input autocomplete="current-password" type="password" name="user[password]" id="user_password" />
<input name="user[remember_me]" type="hidden" value="0" autocomplete="off" />
<input type="checkbox" value="1" name="user[remember_me]" id="user_remember_me" />
<input type="submit" name="commit" value="Log in" data-disable-with="Log in" />
</form></body></html>"""
        response = HTMLResponse(page)
        response.set_cookie("_ops_session", key, httponly=True, samesite="lax")
        return response

    async def sign_in(request: Request) -> Response:
        key, session = session_of(request)
        form = await request.form()
        if not secrets.compare_digest(str(form.get("authenticity_token", "")), session["csrf"]):
            return PlainTextResponse("ActionController::InvalidAuthenticityToken", 422)
        if form.get("user[email]") != USER or form.get("user[password]") != PASSWORD:
            return HTMLResponse("Invalid Email or password.", 422)
        session["user"] = USER
        response = RedirectResponse("/", status_code=302)
        response.set_cookie("_ops_session", key, httponly=True, samesite="lax")
        return response

    async def root(request: Request) -> Response:
        _, session = session_of(request)
        if "user" not in session:
            return RedirectResponse("/users/sign_in", status_code=302)
        return HTMLResponse(f"<p>Signed in as {session['user']}</p>")

    return Starlette(
        routes=[
            Route("/users/sign_in", sign_in_page, methods=["GET"]),
            Route("/users/sign_in", sign_in, methods=["POST"]),
            Route("/", root),
        ]
    )


def flask_app() -> Starlette:
    sessions: dict[str, dict[str, str]] = {}

    async def login_page(request: Request) -> Response:
        key = request.cookies.get("session") or secrets.token_urlsafe(24)
        session = sessions.setdefault(key, {})
        session.setdefault("csrf_token", secrets.token_hex(20))
        page = f"""<html><body><form action="" method="post" novalidate>
<input id="csrf_token" name="csrf_token" type="hidden" value="{session["csrf_token"]}">
<p><label for="email">Email</label><br><input id="email" name="email" required size="32" type="text" value=""></p>
<p><label for="password">Password</label><br><input id="password" name="password" required size="32" type="password" value=""></p>
<p><input id="remember_me" name="remember_me" type="checkbox" value="y"> <label for="remember_me">Remember Me</label></p>
<p><input id="submit" name="submit" type="submit" value="Sign In"></p>
</form></body></html>"""
        response = HTMLResponse(page)
        response.set_cookie("session", key, httponly=True)
        return response

    async def login(request: Request) -> Response:
        session = sessions.get(request.cookies.get("session", ""), {})
        form = await request.form()
        if not session or form.get("csrf_token") != session.get("csrf_token"):
            return HTMLResponse("<h1>Bad Request</h1><p>The CSRF token is missing.</p>", 400)
        if form.get("email") != USER or form.get("password") != PASSWORD:
            return await login_page(request)
        session["user"] = USER
        return RedirectResponse(request.query_params.get("next", "/index"), status_code=302)

    async def index(request: Request) -> Response:
        session = sessions.get(request.cookies.get("session", ""), {})
        if "user" not in session:
            return RedirectResponse("/login?next=%2Findex", status_code=302)
        return HTMLResponse(f"<h1>Hi, {session['user']}!</h1>")

    return Starlette(
        routes=[
            Route("/login", login_page, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/index", index),
        ]
    )
