"""The sample ops app behaves like the internal tool it stands for, and its knobs misbehave on purpose."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from helpers.cli import Cli
from helpers.opsapp_server import OPSAPP_DIR, RunningApp, start_opsapp

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


def test_healthz_reports_its_dependencies_and_the_version(opsapp: Callable[..., RunningApp]) -> None:
    app = opsapp(version="2.0.0")
    health = httpx.get(f"{app.url}/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "checks": {"database": "ok", "queue": "ok"}, "version": "2.0.0"}


def test_knobs(opsapp: Callable[..., RunningApp]) -> None:
    down = opsapp(db_down=1)
    health = httpx.get(f"{down.url}/healthz")
    assert health.status_code == 503
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"] == {"database": "down", "queue": "ok"}
    assert httpx.get(f"{down.url}/api/invoices", headers=API).status_code == 503
    stuck = opsapp(queue_down=1)
    assert httpx.get(f"{stuck.url}/healthz").json()["checks"] == {"database": "ok", "queue": "down"}
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


ADMIN_TOKEN = "admin-token-for-the-opsapp-tests-0123"  # a test's own, on loopback


def admin(app: RunningApp, **knobs: object) -> httpx.Response:
    return httpx.post(
        f"{app.url}/admin/knobs", json=knobs, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=5
    )


def report_status(client: httpx.Client, report_id: int) -> str:
    status: str = client.get(f"/api/reports/{report_id}").json()["status"]
    return status


def wait_for_report(client: httpx.Client, report_id: int) -> str:
    status = "running"
    for _ in range(100):  # at most 5 s
        status = report_status(client, report_id)
        if status == "done":
            break
        time.sleep(0.05)
    return status


def test_admin_knobs_take_the_running_app_down_and_bring_it_back(opsapp: Callable[..., RunningApp]) -> None:
    """One process: its database, then its report queue, go down and come back while it serves."""
    app = opsapp(admin_token=ADMIN_TOKEN, report_seconds=0.1)
    health = f"{app.url}/healthz"
    changed = admin(app, db_down=True)
    assert changed.status_code == 200 and changed.json()["db_down"] is True
    assert httpx.get(health).status_code == 503
    assert httpx.get(health).json()["checks"] == {"database": "down", "queue": "ok"}
    assert httpx.get(f"{app.url}/api/invoices", headers=API).status_code == 503
    assert admin(app, db_down=False).json()["db_down"] is False
    assert httpx.get(health).status_code == 200
    with httpx.Client(base_url=app.url, headers=API) as client:
        assert admin(app, queue_down=True).status_code == 200
        assert httpx.get(health).json() == {
            "status": "degraded",
            "checks": {"database": "ok", "queue": "down"},
            "version": "1.4.2",
        }
        stuck = client.post("/api/reports").json()["id"]
        time.sleep(0.3)  # three times the job's length: a working queue would have finished it
        assert report_status(client, stuck) == "running"
        admin(app, queue_down=False)
        assert wait_for_report(client, stuck) == "done"  # the job waited, it was not lost
        assert httpx.get(health).status_code == 200
    slowed = admin(app, latency_ms=150)
    assert slowed.json()["latency_ms"] == 150
    start = time.perf_counter()
    httpx.get(health)
    assert time.perf_counter() - start >= 0.15
    admin(app, latency_ms=0)


def test_admin_is_closed_without_the_token(opsapp: Callable[..., RunningApp]) -> None:
    closed = opsapp()
    assert httpx.post(f"{closed.url}/admin/knobs", json={"db_down": True}).status_code == 404
    assert httpx.get(f"{closed.url}/healthz").status_code == 200
    app = opsapp(admin_token=ADMIN_TOKEN)
    for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN}):
        refused = httpx.post(f"{app.url}/admin/knobs", json={"db_down": True}, headers=header)
        assert refused.status_code == 401 and ADMIN_TOKEN not in refused.text
    assert httpx.get(f"{app.url}/healthz").status_code == 200
    for bad in ({"admin_token": "x"}, {"db_down": "yes"}, {"latency_ms": -1}, {"latency_ms": True}):
        rejected = admin(app, **bad)
        assert rejected.status_code == 422, bad
        assert ADMIN_TOKEN not in rejected.text
    state = httpx.get(f"{app.url}/admin/knobs", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert state.json()["db_down"] is False and ADMIN_TOKEN not in state.text


def test_the_whole_app_down_refuses_connections_and_comes_back_on_the_same_port(tmp_path: Path) -> None:
    """Down as a crash is: the socket closed. Restarted on the same port with the same SQLite file, it
    answers where its monitors look, with its data."""
    database = tmp_path / "ops.db"
    app = start_opsapp(database=database)
    try:
        port = int(app.url.rsplit(":", 1)[1])
        created = httpx.post(
            f"{app.url}/api/invoices", json={"customer": "ACME", "amount_cents": 1}, headers=API
        )
        assert created.status_code == 201
    finally:
        app.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{app.url}/healthz", timeout=2)
    again = start_opsapp(port=port, database=database)
    try:
        assert again.url == app.url
        assert httpx.get(f"{again.url}/healthz").json()["checks"] == {"database": "ok", "queue": "ok"}
        invoice = httpx.get(f"{again.url}/api/invoices/{created.json()['id']}", headers=API)
        assert invoice.json()["customer"] == "ACME"
    finally:
        again.stop()


UPTIME = """
[uptime]
base_url = "{url}"

[[uptime.monitors]]
name = "homepage"
url = "{url}/"
body_contains = "Ops Console"

[[uptime.monitors]]
name = "login"
flow = "login"

[[uptime.monitors]]
name = "health"
url = "{url}/healthz"
json = ['$.checks.database == "ok"', '$.checks.queue == "ok"']
"""


def test_the_apps_uptime_monitors_pass_against_it_and_see_its_database_go_down(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The three monitors the demo runs (homepage, the example's login flow, /healthz with its
    dependencies) pass one round against the running app; with its database down, only health fails."""
    app = start_opsapp(admin_token=ADMIN_TOKEN)
    try:
        config = tmp_path / "lr-ci.toml"
        config.write_text((OPSAPP_DIR / "lr-ci.toml").read_text() + UPTIME.format(url=app.url))
        monkeypatch.setenv("OPS_USER", "ops")
        monkeypatch.setenv("OPS_PASSWORD", "ops-demo-password")
        assert cli("--config", str(config), "config", "check").code == 0
        once = ("--config", str(config), "uptime", "check", "--once", "--format", "json")
        round_one = cli(*once)
        assert round_one.code == 0, round_one.err
        per_monitor = round_one.json()["metrics"]["per_monitor"]
        assert {name: m["ok"] for name, m in per_monitor.items()} == {
            "homepage": True,
            "login": True,
            "health": True,
        }
        admin(app, db_down=True)
        round_two = cli(*once)
        per_monitor = round_two.json()["metrics"]["per_monitor"]
        assert {name: m["ok"] for name, m in per_monitor.items()} == {
            "homepage": True,
            "login": True,
            "health": False,
        }
        assert per_monitor["health"]["status"] == 503
        assert "ops-demo-password" not in round_one.out + round_two.out + round_two.err
        assert ADMIN_TOKEN not in round_two.out
    finally:
        app.stop()


def test_admin_refuses_a_client_that_is_not_on_loopback() -> None:
    """The admin endpoint answers loopback clients only: Starlette's test client connects as the host
    ``testclient``, which is not a loopback address (run in the app's own environment, in a subprocess)."""
    script = f"""
from starlette.testclient import TestClient
from opsapp.app import create_app
from opsapp.knobs import Knobs
with TestClient(create_app(Knobs(admin_token={ADMIN_TOKEN!r}))) as client:
    auth = {{"Authorization": "Bearer {ADMIN_TOKEN}"}}
    print(client.post("/admin/knobs", json={{"db_down": True}}, headers=auth).status_code)
    print(client.get("/healthz").status_code)
"""
    env = {**os.environ, "PYTHONPATH": str(OPSAPP_DIR)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["403", "200"]  # refused, and the database is still up
