"""The sample ops app behaves like the internal tool it stands for, and its knobs misbehave on purpose."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx

from helpers.opsapp_server import RunningApp

API = {"Authorization": "Bearer opsapp-demo-token"}


def login(client: httpx.Client) -> httpx.Response:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    return client.post(
        "/login", data={"csrf_token": token.group(1), "username": "ops", "password": "ops-demo-password"}
    )


def test_homepage_and_hashed_assets(opsapp_url: str) -> None:
    with httpx.Client(base_url=opsapp_url) as client:
        home = client.get("/")
        assert home.status_code == 200 and "Ops Console" in home.text
        asset = re.search(r'src="(/assets/index-[A-Za-z0-9_]{8}\.js)"', home.text)
        assert asset and client.get(asset.group(1)).status_code == 200


def test_login_with_csrf_sets_a_session_cookie(opsapp_url: str) -> None:
    with httpx.Client(base_url=opsapp_url) as client:
        assert client.get("/dashboard").headers["location"] == "/login?next=/dashboard"
        response = login(client)
        assert response.status_code == 303 and response.headers["location"] == "/dashboard"
        cookie = response.headers["set-cookie"]
        assert "opsapp_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Signed in as" in client.get("/dashboard").text


def test_csrf_is_enforced(opsapp_url: str) -> None:
    with httpx.Client(base_url=opsapp_url) as client:
        client.get("/login")
        response = client.post("/login", data={"username": "ops", "password": "ops-demo-password"})
        assert response.status_code == 403 and "CSRF" in response.text


def test_wrong_password(opsapp_url: str) -> None:
    with httpx.Client(base_url=opsapp_url) as client:
        form = client.get("/login")
        token = re.search(r'value="([^"]+)"', form.text)
        assert token
        response = client.post(
            "/login", data={"csrf_token": token.group(1), "username": "ops", "password": "no"}
        )
        assert response.status_code == 401


def test_invoice_workflow_and_report_job(opsapp_url: str) -> None:
    with httpx.Client(base_url=opsapp_url, headers=API) as client:
        assert client.get("/api/invoices", headers={"Authorization": "Bearer wrong"}).status_code == 401
        created = client.post("/api/invoices", json={"customer": "ACME", "amount_cents": 12_500})
        assert created.status_code == 201
        invoice_id = created.json()["id"]
        approved = client.post(f"/api/invoices/{invoice_id}/approve")
        assert approved.json()["status"] == "approved"
        assert client.post(f"/api/invoices/{invoice_id}/approve").status_code == 409
        listed = client.get("/api/invoices", params={"status": "approved"}).json()
        assert invoice_id in [i["id"] for i in listed["invoices"]]
        report = client.post("/api/reports")
        assert report.status_code == 202 and report.json()["status"] == "running"
        for _ in range(50):
            status = client.get(f"/api/reports/{report.json()['id']}").json()
            if status["status"] == "done":
                break
            time.sleep(0.05)
        assert status["status"] == "done"
        assert client.delete(f"/api/invoices/{invoice_id}").status_code == 204
        assert client.get(f"/api/invoices/{invoice_id}").status_code == 404


def test_token_endpoint(opsapp_url: str) -> None:
    with httpx.Client(base_url=opsapp_url) as client:
        token = client.post("/api/token", json={"username": "ops", "password": "ops-demo-password"}).json()[
            "token"
        ]
        assert client.get("/api/invoices", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_healthz_reports_the_version(opsapp: Callable[..., RunningApp]) -> None:
    app = opsapp(version="2.0.0")
    assert httpx.get(f"{app.url}/healthz").json() == {"status": "ok", "database": "ok", "version": "2.0.0"}


def test_knobs(opsapp: Callable[..., RunningApp]) -> None:
    down = opsapp(db_down=1)
    assert httpx.get(f"{down.url}/healthz").status_code == 503
    assert httpx.get(f"{down.url}/api/invoices", headers=API).status_code == 503
    broken = opsapp(broken_login=1)
    with httpx.Client(base_url=broken.url) as client:
        assert login(client).status_code == 500
    failing = opsapp(error_rate=1)
    assert httpx.get(f"{failing.url}/api/invoices", headers=API).status_code == 500
    slow = opsapp(latency_ms=120)
    start = time.perf_counter()
    httpx.get(f"{slow.url}/healthz")
    assert time.perf_counter() - start >= 0.12


def test_slow_start(opsapp: Callable[..., RunningApp]) -> None:
    start = time.perf_counter()
    app = opsapp(slow_start_s=1, wait_ready=False)
    response = httpx.get(f"{app.url}/healthz", timeout=10)
    assert response.status_code == 200 and time.perf_counter() - start >= 1.0
