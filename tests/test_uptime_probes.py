"""The uptime probes against real servers on 127.0.0.1: an HTTP server that answers 200, 500, slowly,
hangs or closes, a port that refuses; aiosmtpd with STARTTLS (a trustme certificate) and AUTH; a TLS
server whose certificate expires soon; the sample ops app for a flow. Every wait is bounded."""

from __future__ import annotations

import contextlib
import datetime
import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import trustme

from helpers.asgi_server import hanging_server
from helpers.uptime_servers import (
    SINK,
    SMTP_PASSWORD,
    SMTP_USER,
    free_port,
    serve_handler,
    smtp_server,
    tls_server,
)
from lr_ci.checks.uptime.probes import (
    FlowProbe,
    HttpProbe,
    JsonCondition,
    SmtpProbe,
    TlsProbe,
    probe_flow,
    probe_http,
    probe_smtp,
    probe_tls,
)
from lr_ci.redact import Redactor

ROOT = Path(__file__).resolve().parent.parent


# -- servers -----------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """``/health`` (JSON with the database's state), ``/500``, ``/slow`` (300 ms), ``/close`` (drops the
    connection without an answer); the class's ``database`` says what /health reports."""

    database = "ok"

    def do_GET(self) -> None:
        path = self.path
        if path == "/close":
            self.close_connection = True
            return
        if path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/health")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == "/slow":
            time.sleep(0.3)
        if path == "/500":
            self._send(500, b"internal error")
            return
        checks = {"database": self.database, "queue": 3}
        self._send(200, json.dumps({"status": "up", "checks": checks}).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def http_server(database: str = "ok") -> Iterator[str]:
    with serve_handler(type("HealthHandler", (_Handler,), {"database": database})) as url:
        yield url


# -- HTTP --------------------------------------------------------------------------------------------------


def test_http_up_with_json_conditions_and_body_text() -> None:
    with http_server() as url:
        conditions = (
            JsonCondition.parse('$.checks.database == "ok"'),
            JsonCondition.parse("$.checks.queue < 10"),
        )
        result = probe_http(HttpProbe(f"{url}/health", json=conditions, body_contains='"up"', timeout_s=2))
    assert result.ok and result.status == 200 and result.error is None
    assert 0 < result.elapsed_s < 2


def test_http_json_condition_fails_naming_the_field() -> None:
    with http_server(database="down") as url:
        condition = JsonCondition.parse('$.checks.database == "ok"')
        result = probe_http(HttpProbe(f"{url}/health", json=(condition,), timeout_s=2))
    assert not result.ok and result.error_class == "json" and result.status == 200
    assert result.error == '$.checks.database is "down", expected == "ok"'


def test_http_500_is_a_status_failure() -> None:
    with http_server() as url:
        result = probe_http(HttpProbe(f"{url}/500", timeout_s=2))
    assert (result.ok, result.status, result.error_class) == (False, 500, "status")
    assert result.error == "HTTP 500, expected 200"


def test_http_slow_answer_over_max_ms() -> None:
    with http_server() as url:
        result = probe_http(HttpProbe(f"{url}/slow", max_ms=100, timeout_s=3))
    assert not result.ok and result.error_class == "slow" and result.status == 200
    assert "over max_ms 100" in (result.error or "")


def test_http_redirect_is_a_failure_unless_followed() -> None:
    with http_server() as url:
        stopped = probe_http(HttpProbe(f"{url}/moved", timeout_s=2))
        followed = probe_http(HttpProbe(f"{url}/moved", follow_redirects=True, timeout_s=2))
    assert (stopped.ok, stopped.status, stopped.error) == (False, 302, "HTTP 302, expected 200")
    assert (followed.ok, followed.status) == (True, 200)


def test_http_hang_is_bounded_by_the_timeout() -> None:
    with hanging_server() as url:
        started = time.monotonic()
        result = probe_http(HttpProbe(url, timeout_s=0.4))
        took = time.monotonic() - started
    assert (result.ok, result.error_class, result.error) == (False, "timeout", "timed out after 0.4 s")
    assert took < 3  # bounded (generously: this is not a timing test, only "it did not hang")


def test_http_closed_connection_and_refused_port() -> None:
    with http_server() as url:
        closed = probe_http(HttpProbe(f"{url}/close", timeout_s=2))
    refused = probe_http(HttpProbe(f"http://127.0.0.1:{free_port()}/", timeout_s=2))
    assert (closed.ok, closed.error_class) == (False, "protocol")
    assert (refused.ok, refused.error_class, refused.error) == (False, "refused", "connection refused")


def test_http_url_credentials_are_masked() -> None:
    password = "url-secret-pw-1234"
    result = probe_http(HttpProbe(f"http://ops:{password}@127.0.0.1:{free_port()}/", timeout_s=2))
    assert not result.ok and password not in repr(result)


@pytest.mark.parametrize("text", ["$.a = 1", "checks.database == ok", '$.a < "x"', "$.a[ == 1", "$.a =="])
def test_bad_json_conditions_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        JsonCondition.parse(text)


# -- flows -------------------------------------------------------------------------------------------------


def _smoke_settings(monkeypatch: pytest.MonkeyPatch, password: str, redactor: Redactor) -> Any:
    from lr_ci.checks.smoke.settings import SmokeSettings
    from lr_ci.config import load_config, load_section

    monkeypatch.setenv("OPS_USER", "ops")
    monkeypatch.setenv("OPS_PASSWORD", password)
    config = load_config(ROOT / "examples" / "opsapp" / "lr-ci.toml")
    return load_section(config, "smoke", SmokeSettings, redactor)


def test_flow_probe_logs_in(opsapp_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    redactor = Redactor()
    smoke = _smoke_settings(monkeypatch, "ops-demo-password", redactor)
    result = probe_flow(FlowProbe("login", opsapp_url, timeout_s=10), smoke, redactor)
    assert result.ok, result.error
    assert result.detail["steps"] == 3


def test_flow_probe_failure_names_the_step_and_masks_the_password(
    opsapp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    redactor = Redactor()
    wrong = "wrong-pa55word-xyz"
    smoke = _smoke_settings(monkeypatch, wrong, redactor)
    result = probe_flow(FlowProbe("login", opsapp_url, timeout_s=10), smoke, redactor)
    assert not result.ok and result.error_class == "flow"
    assert (result.error or "").startswith("step submit:")
    assert wrong not in repr(result)


def test_flow_probe_unknown_flow_and_down_app(monkeypatch: pytest.MonkeyPatch) -> None:
    redactor = Redactor()
    smoke = _smoke_settings(monkeypatch, "ops-demo-password", redactor)
    url = f"http://127.0.0.1:{free_port()}"
    unknown = probe_flow(FlowProbe("no-such-flow", url, timeout_s=2), smoke, redactor)
    down = probe_flow(FlowProbe("homepage", url, timeout_s=2), smoke, redactor)
    assert (unknown.ok, unknown.error_class, unknown.error) == (
        False,
        "config",
        "no flow named 'no-such-flow'",
    )
    assert (down.ok, down.error_class) == (False, "refused")


# -- SMTP --------------------------------------------------------------------------------------------------


def test_smtp_starttls_auth_and_a_test_message(ca: trustme.CA, ca_file: str) -> None:
    with smtp_server(ca) as (port, sink):
        settings = SmtpProbe(
            "127.0.0.1",
            port,
            username=SMTP_USER,
            password=SMTP_PASSWORD,
            rcpt_to=SINK,
            send_data=True,
            ca_file=ca_file,
            timeout_s=5,
        )
        result = probe_smtp(settings)
    assert result.ok, result.error
    assert [envelope.rcpt_tos for envelope in sink.messages] == [[SINK]]
    assert b"lr-ci uptime probe" in (sink.messages[0].content or b"")


def test_smtp_wrong_password_is_an_auth_failure_without_the_password(ca: trustme.CA, ca_file: str) -> None:
    wrong = "not-the-pa55word-42"
    with smtp_server(ca) as (port, _sink):
        result = probe_smtp(
            SmtpProbe(
                "127.0.0.1",
                port,
                username=SMTP_USER,
                password=wrong,
                rcpt_to=SINK,
                ca_file=ca_file,
                timeout_s=5,
            )
        )
    assert (result.ok, result.error_class, result.status) == (False, "auth", 535)
    assert wrong not in repr(result) and SMTP_USER not in repr(result)


def test_smtp_untrusted_certificate_is_a_tls_failure(ca: trustme.CA) -> None:
    with smtp_server(ca) as (port, _sink):
        result = probe_smtp(
            SmtpProbe("127.0.0.1", port, username=SMTP_USER, password=SMTP_PASSWORD, timeout_s=5)
        )
    assert (result.ok, result.error_class) == (False, "tls")
    assert (result.error or "").startswith("STARTTLS: certificate not accepted")


def test_smtp_starttls_required_but_not_offered_and_optional() -> None:
    with smtp_server(None) as (port, sink):
        required = probe_smtp(SmtpProbe("127.0.0.1", port, rcpt_to=SINK, timeout_s=5))
        optional = probe_smtp(SmtpProbe("127.0.0.1", port, starttls="optional", rcpt_to=SINK, timeout_s=5))
        rejected = probe_smtp(
            SmtpProbe("127.0.0.1", port, starttls="off", rcpt_to="nobody@example.com", timeout_s=5)
        )
    assert (required.ok, required.error_class) == (False, "starttls")
    assert optional.ok, optional.error
    assert (rejected.ok, rejected.error_class, rejected.status) == (False, "rejected", 550)
    assert sink.messages == []


def test_smtp_refused_and_hanging_server() -> None:
    refused = probe_smtp(SmtpProbe("127.0.0.1", free_port(), timeout_s=2))
    with hanging_server() as url:
        port = int(url.rsplit(":", 1)[1])
        hung = probe_smtp(SmtpProbe("127.0.0.1", port, timeout_s=0.4))
    assert (refused.ok, refused.error_class) == (False, "refused")
    assert (hung.ok, hung.error_class) == (False, "timeout")
    assert hung.elapsed_s < 3


# -- SMTPS (implicit TLS) -----------------------------------------------------------------------------------


def test_smtps_implicit_tls_auth_and_a_test_message(ca: trustme.CA, ca_file: str) -> None:
    """TLS from the first byte (port 465 in real life), verified against the internal CA, then AUTH."""
    with smtp_server(ca, implicit_tls=True) as (port, sink):
        result = probe_smtp(
            SmtpProbe(
                "127.0.0.1",
                port,
                implicit_tls=True,
                username=SMTP_USER,
                password=SMTP_PASSWORD,
                rcpt_to=SINK,
                send_data=True,
                ca_file=ca_file,
                timeout_s=5,
            )
        )
    assert result.ok, result.error
    assert [envelope.rcpt_tos for envelope in sink.messages] == [[SINK]]


def test_smtps_wrong_password_is_an_auth_failure_without_the_password(ca: trustme.CA, ca_file: str) -> None:
    wrong = "not-the-smtps-pa55word"
    with smtp_server(ca, implicit_tls=True) as (port, sink):
        result = probe_smtp(
            SmtpProbe(
                "127.0.0.1",
                port,
                implicit_tls=True,
                username=SMTP_USER,
                password=wrong,
                rcpt_to=SINK,
                ca_file=ca_file,
                timeout_s=5,
            )
        )
    assert (result.ok, result.error_class, result.status) == (False, "auth", 535)
    assert wrong not in repr(result) and SMTP_USER not in repr(result) and sink.messages == []


def test_smtps_checks_the_certificate_and_its_name(ca: trustme.CA, ca_file: str) -> None:
    with smtp_server(ca, implicit_tls=True) as (port, _sink):
        untrusted = probe_smtp(SmtpProbe("127.0.0.1", port, implicit_tls=True, timeout_s=5))
        wrong_name = probe_smtp(
            SmtpProbe(
                "127.0.0.1", port, implicit_tls=True, ca_file=ca_file, server_name="mail.example", timeout_s=5
            )
        )
        right_name = probe_smtp(
            SmtpProbe(
                "127.0.0.1", port, implicit_tls=True, ca_file=ca_file, server_name="localhost", timeout_s=5
            )
        )
    assert (untrusted.ok, untrusted.error_class) == (False, "tls"), untrusted.error
    assert "certificate not accepted" in (untrusted.error or "")
    assert (wrong_name.ok, wrong_name.error_class) == (False, "tls"), wrong_name.error
    assert right_name.ok, right_name.error


def test_smtps_against_a_plain_smtp_server_is_a_tls_failure(ca_file: str) -> None:
    with smtp_server(None) as (port, _sink):
        result = probe_smtp(SmtpProbe("127.0.0.1", port, implicit_tls=True, ca_file=ca_file, timeout_s=3))
    assert (result.ok, result.error_class) == (False, "tls"), result.error
    assert (result.error or "").startswith("connect (implicit TLS): TLS failed")
    assert result.elapsed_s < 3


def test_smtps_to_a_hanging_server_times_out_within_its_timeout() -> None:
    with hanging_server() as url:
        port = int(url.rsplit(":", 1)[1])
        hung = probe_smtp(SmtpProbe("127.0.0.1", port, implicit_tls=True, timeout_s=0.4))
    assert (hung.ok, hung.error_class) == (False, "timeout"), hung.error
    assert hung.elapsed_s < 3


# -- TLS ---------------------------------------------------------------------------------------------------


def _cert(ca: trustme.CA, days: float) -> trustme.LeafCert:
    not_after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return ca.issue_cert("127.0.0.1", not_after=not_after)


def test_tls_certificate_far_from_expiry_passes(ca: trustme.CA, ca_file: str) -> None:
    with tls_server(_cert(ca, 90)) as port:
        result = probe_tls(TlsProbe("127.0.0.1", port, min_days=14, ca_file=ca_file, timeout_s=3))
    assert result.ok, result.error
    assert 89 <= result.detail["days_left"] <= 90


def test_tls_certificate_near_expiry_fails(ca: trustme.CA, ca_file: str) -> None:
    with tls_server(_cert(ca, 5)) as port:
        result = probe_tls(TlsProbe("127.0.0.1", port, min_days=14, ca_file=ca_file, timeout_s=3))
    assert (result.ok, result.error_class) == (False, "expiring")
    assert "expires in 4.9 days" in (result.error or "") or "expires in 5.0 days" in (result.error or "")


def test_tls_untrusted_refused_and_hanging(ca: trustme.CA) -> None:
    with tls_server(_cert(ca, 90)) as port:
        untrusted = probe_tls(TlsProbe("127.0.0.1", port, timeout_s=3))
    refused = probe_tls(TlsProbe("127.0.0.1", free_port(), timeout_s=2))
    with hanging_server() as url:
        hung = probe_tls(TlsProbe("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout_s=0.4))
    assert (untrusted.ok, untrusted.error_class) == (False, "tls")
    assert (refused.ok, refused.error_class) == (False, "refused")
    assert (hung.ok, hung.error_class) == (False, "timeout")
