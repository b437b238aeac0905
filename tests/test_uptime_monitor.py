"""One round of the monitor (``run_round``) with the real store, real probes against a real HTTP server
that goes bad and comes back, and the real signed webhook receiver; the round's time is injected, so a
five-round outage with a notification target down for three rounds runs in well under a second."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import trustme

from helpers.uptime_servers import (
    SECRET,
    SINK,
    SMTP_USER,
    free_port,
    serve_handler,
    smtp_server,
    webhook_receiver,
)
from lr_ci.checks.uptime.monitor import Monitor, run_round, send_deliveries
from lr_ci.checks.uptime.notify import Sent, WebhookTarget, deliver
from lr_ci.checks.uptime.probes import (
    HttpProbe,
    JsonCondition,
    ProbeResult,
    SmtpProbe,
    probe_http,
    probe_smtp,
)
from lr_ci.checks.uptime.rule import ControlGuard, Evaluator, Rule
from lr_ci.checks.uptime.state import Delivery, Store
from lr_ci.redact import Redactor

RULE = Rule(interval=60, timeout=10, failures=2, window=300, recover_after=2)
T0 = 1_780_000_000.0
HEALTHY = JsonCondition.parse('$.database == "ok"')


class Service:
    """A health endpoint whose database can be switched between "ok" and "down"."""

    def __init__(self) -> None:
        self.database = "ok"
        self.hits = 0


@contextlib.contextmanager
def service() -> Iterator[tuple[str, Service]]:
    state = Service()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits += 1
            body = json.dumps({"database": state.database}).encode()
            self.send_response(200 if state.database == "ok" else 503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve_handler(Handler) as url:
        yield f"{url}/health", state


def http_monitor(name: str, url: str, owner: str | None = "team-core") -> Monitor:
    settings = HttpProbe(url, json=(HEALTHY,), timeout_s=2)
    return Monitor(name, lambda: probe_http(settings), owner)


class Rounds:
    """Drives rounds one interval apart with the real store and a webhook target."""

    def __init__(
        self, path: Path, hook_url: str, monitors: list[Monitor], control: Monitor | None = None
    ) -> None:
        self.store = Store.open(path, lambda text: text)
        rules = {m.name: RULE for m in monitors}
        self.evaluator = Evaluator(rules, ControlGuard(60, 10) if control is not None else None)
        self.monitors, self.control = monitors, control
        self.target = WebhookTarget(hook_url, SECRET, timeout_s=2)
        self.now = T0

    def notify(self, delivery: Delivery) -> Sent:
        return deliver(delivery, self.target)

    def round(self) -> Any:
        at = self.now
        report = run_round(
            self.monitors,
            self.store,
            self.evaluator,
            at,
            notify=self.notify,
            targets=("hook",),
            control=self.control,
            clock=lambda: at + 5,
        )
        self.now += 60
        return report


def test_an_outage_is_alerted_once_and_its_recovery_once(tmp_path: Path) -> None:
    with service() as (url, api), webhook_receiver() as (hook, receiver):
        rounds = Rounds(tmp_path / "state.db", hook, [http_monitor("api", url)])
        assert rounds.round().verdicts.events == []
        api.database = "down"
        first = rounds.round()
        assert first.verdicts.events == [] and first.results["api"].error_class == "status"
        opened = rounds.round()
        assert [e.kind for e in opened.verdicts.events] == ["opened"] and opened.open_incidents == ["api"]
        still = rounds.round()
        assert still.verdicts.events == [] and still.delivered == []
        api.database = "ok"
        rounds.round()
        recovered = rounds.round()
        assert [e.kind for e in recovered.verdicts.events] == ["recovered"] and recovered.open_incidents == []
        assert recovered.undelivered == 0
        rounds.store.close()
    assert [body["kind"] for body in receiver.accepted.values()] == ["opened", "recovered"]
    assert receiver.duplicates == [] and receiver.bad_signatures == 0
    alert = next(iter(receiver.accepted.values()))
    assert alert["monitor"] == "api" and alert["owner"] == "team-core"
    assert alert["since"] == T0 + 60  # the first failed probe's start
    assert alert["failure"]["status"] == 503 and alert["failure"]["error"] == "HTTP 503, expected 200"
    back = list(receiver.accepted.values())[1]
    assert back["duration"] == 180.0  # from the first failure to the first success


def test_a_target_down_for_three_rounds_gets_the_alert_exactly_once_after(tmp_path: Path) -> None:
    with service() as (url, api), webhook_receiver() as (hook, receiver):
        rounds = Rounds(tmp_path / "state.db", hook, [http_monitor("api", url)])
        api.database = "down"
        receiver.status = 503
        rounds.round()
        failures = [rounds.round(), rounds.round(), rounds.round()]
        assert [len(r.failed) for r in failures] == [1, 1, 1]
        assert failures[0].failed[0][2] == "webhook http://***: HTTP 503"
        assert all(r.undelivered == 1 for r in failures)
        receiver.status = 200
        after = rounds.round()
        assert len(after.delivered) == 1 and after.undelivered == 0
        assert rounds.round().delivered == []
        rounds.store.close()
    assert receiver.requests == 4
    assert [body["kind"] for body in receiver.accepted.values()] == ["opened"] and receiver.duplicates == []


def test_the_control_target_down_means_no_page(tmp_path: Path) -> None:
    """Both the service and the always-up control fail: the monitor lost its own network."""
    down = f"http://127.0.0.1:{free_port()}/health"
    with webhook_receiver() as (hook, receiver):
        rounds = Rounds(
            tmp_path / "state.db", hook, [http_monitor("api", down)], http_monitor("control", down)
        )
        reports = [rounds.round() for _ in range(4)]
        rounds.store.close()
    assert all(r.verdicts.events == [] for r in reports)
    assert reports[-1].network_lost_since == T0 and reports[-1].open_incidents == []
    assert {j.outcome for r in reports for j in r.verdicts.judged} == {"network"}
    assert receiver.requests == 0


def test_a_probe_that_raises_is_a_recorded_failure_and_the_others_still_run(tmp_path: Path) -> None:
    redactor = Redactor()
    redactor.add_credential("probe-cred-secret-1")

    def broken() -> ProbeResult:
        raise RuntimeError("bug with probe-cred-secret-1 inside")

    with service() as (url, api), webhook_receiver() as (hook, _receiver):
        rounds = Rounds(tmp_path / "state.db", hook, [Monitor("broken", broken), http_monitor("api", url)])
        report = run_round(
            rounds.monitors,
            rounds.store,
            rounds.evaluator,
            T0,
            notify=rounds.notify,
            targets=("hook",),
            clock=lambda: T0,
            mask=redactor.scrub_text,
        )
        stored = rounds.store.results("broken")
        rounds.store.close()
    assert report.results["api"].ok and api.hits == 1
    assert report.results["broken"].error_class == "internal"
    assert (
        report.results["broken"].error == "the probe failed inside lr-ci: RuntimeError: bug with *** inside"
    )
    assert [(r.up, r.error_class) for r in stored] == [(False, "internal")]


def test_a_notifier_that_raises_is_a_failed_attempt_retried_later(tmp_path: Path) -> None:
    calls: list[str] = []

    def flaky(delivery: Delivery) -> Sent:
        calls.append(delivery.key)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return Sent(True)

    with service() as (url, api):
        store = Store.open(tmp_path / "state.db", lambda text: text)
        evaluator = Evaluator({"api": RULE})
        api.database = "down"
        for k in range(2):
            report = run_round(
                [http_monitor("api", url)],
                store,
                evaluator,
                T0 + 60 * k,
                notify=flaky,
                targets=("pager",),
                clock=functools.partial(float, T0 + 60 * k + 5),
            )
        assert report.failed[0][2] == "the notifier failed inside lr-ci: RuntimeError"
        later = send_deliveries(store, flaky, clock=lambda: T0 + 60 + 5 + 15)
        assert later.delivered == [(calls[0], "pager")] and store.undelivered() == 0
        store.close()
    assert len(calls) == 2 and calls[0] == calls[1]


def test_an_smtp_monitor_pages_without_its_credentials_anywhere(
    tmp_path: Path, ca: trustme.CA, ca_file: str
) -> None:
    """The mail server starts refusing the probe's login: an alert that says so, and the password is in
    neither the state file nor the alert."""
    password = "smtp-monitor-pa55-91"
    settings = SmtpProbe(
        "127.0.0.1", 0, username=SMTP_USER, password=password, rcpt_to=SINK, ca_file=ca_file, timeout_s=3
    )
    with smtp_server(ca) as (port, _sink), webhook_receiver() as (hook, receiver):
        probe = replace(settings, port=port)
        rounds = Rounds(tmp_path / "state.db", hook, [Monitor("mail", lambda: probe_smtp(probe), "ops")])
        reports = [rounds.round() for _ in range(3)]
        rounds.store.file_bytes()  # checkpoints the WAL into the file
        rounds.store.close()
    assert [e.kind for r in reports for e in r.verdicts.events] == ["opened"]
    alert = next(iter(receiver.accepted.values()))
    assert alert["monitor"] == "mail" and alert["failure"]["error_class"] == "auth"
    assert alert["failure"]["error"] == "AUTH refused: 535 5.7.8 Authentication credentials invalid"
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert password.encode() not in stored and password not in json.dumps(receiver.accepted)
