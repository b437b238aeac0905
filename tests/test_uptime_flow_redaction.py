"""A flow monitor runs its flow every interval for as long as the monitor runs: what one run captures (a
session cookie, a CSRF token) is masked by a redactor of that probe, never added to the monitor's own.

Added to the monitor's redactor, two new credentials a login probe piled up forever, and each one made the
next masked text recompile a pattern of all of them: ``benchmarks/bench_uptime.py`` saw a flow monitor's
first failing probe take 0.2-0.3 s of masking after a few dozen probes (6 s after 500), overrun its slot
and page one interval late. Real servers: the sample app, and a server that echoes its session cookie.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from helpers.asgi_server import hanging_server
from helpers.cli import ROOT
from helpers.uptime_servers import serve_handler
from lr_ci.checks.smoke.settings import SmokeSettings
from lr_ci.checks.uptime.probes import FlowProbe, probe_flow
from lr_ci.config import load_config, load_section
from lr_ci.redact import Redactor


def _smoke(config: Path, redactor: Redactor) -> SmokeSettings:
    return load_section(load_config(config), "smoke", SmokeSettings, redactor)


def test_login_probes_leave_the_monitors_redactor_as_it_was(
    opsapp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_USER", "ops")
    monkeypatch.setenv("OPS_PASSWORD", "ops-demo-password")
    redactor = Redactor()
    smoke = _smoke(ROOT / "examples" / "opsapp" / "lr-ci.toml", redactor)
    before = redactor.credentials
    for _ in range(5):
        result = probe_flow(FlowProbe("login", opsapp_url, timeout_s=10), smoke, redactor)
        assert result.ok, result.error
    assert redactor.credentials == before  # the five sessions and CSRF tokens are not kept


@pytest.fixture
def echoing_session() -> Iterator[tuple[str, str]]:
    """A page that sets a fresh session cookie and prints it in the body: (base URL, the last session)."""
    issued: list[str] = []

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            session = secrets.token_urlsafe(24)
            issued.append(session)
            body = f"welcome, your session is {session}".encode()
            self.send_response(200)
            self.send_header("Set-Cookie", f"sid={session}; HttpOnly")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve_handler(Page) as url:
        yield url, "".join(issued[-1:])


def test_a_session_the_run_received_is_masked_in_its_failure(
    echoing_session: tuple[str, str], tmp_path: Path
) -> None:
    url, _ = echoing_session
    config = tmp_path / "lr-ci.toml"
    config.write_text(
        "[smoke]\n[smoke.flows.page]\n"
        'steps = [ { name = "page", path = "/", expect = { body_contains = ["signed in"] } } ]\n'
    )
    redactor = Redactor()
    smoke = _smoke(config, redactor)
    for _ in range(3):
        result = probe_flow(FlowProbe("page", url, timeout_s=5), smoke, redactor)
        assert not result.ok and result.error_class == "flow"
        assert "your session is ***" in (result.error or ""), result.error
    assert redactor.credentials == ()


def test_a_flow_whose_target_hangs_is_a_timeout_within_its_budget(tmp_path: Path) -> None:
    """The flow's time budget is the monitor's timeout: a target that accepts and never answers is
    grouped with the other probes' ``timeout`` failures, not as a broken flow."""
    config = tmp_path / "lr-ci.toml"
    config.write_text('[smoke]\n[smoke.flows.page]\nsteps = [ { name = "page", path = "/" } ]\n')
    redactor = Redactor()
    with hanging_server() as url:
        result = probe_flow(FlowProbe("page", url, timeout_s=0.5), _smoke(config, redactor), redactor)
    assert (result.ok, result.error_class) == (False, "timeout"), result.error
    assert result.elapsed_s < 3  # bounded (generously: not a timing test)
