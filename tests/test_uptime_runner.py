"""``runner.serve``, the long-running loop, in real time with short intervals (0.2 s) and bounded waits.

The probes here are the monitor's inputs, not what is under test: most are scripted (up or down on a
switch, or hanging), one is a real HTTP probe against a server whose socket closes, with the real signed
webhook receiver. Under test is the loop: fixed schedules that a hanging probe or notification target does
not delay, the alert within its bound, one alert and one recovery, a prompt stop, a restart that resumes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from helpers.uptime_servers import SECRET, webhook_receiver
from lr_ci.checks.uptime.monitor import Monitor
from lr_ci.checks.uptime.notify import Sent, WebhookTarget, deliver
from lr_ci.checks.uptime.plan import Plan, PlannedMonitor
from lr_ci.checks.uptime.probes import HttpProbe, ProbeResult, probe_http
from lr_ci.checks.uptime.rule import Rule
from lr_ci.checks.uptime.runner import ServeStats, serve
from lr_ci.checks.uptime.state import Delivery, Store

FAST = Rule(interval=0.2, timeout=0.1, failures=2, window=1.0, recover_after=2)
WAIT_S = 10.0


@dataclass
class Switch:
    """A scripted target: up or down, or hanging for ``hang_s``; counts its probes and when they ran."""

    up: bool = True
    hang_s: float = 0.0
    starts: list[float] = field(default_factory=list)

    def probe(self) -> ProbeResult:
        self.starts.append(time.time())
        if self.hang_s:
            time.sleep(self.hang_s)
            return ProbeResult(False, self.hang_s, None, "timeout", "timed out")
        return ProbeResult(True, 0.001) if self.up else ProbeResult(False, 0.001, 503, "status", "503")


@dataclass
class Inbox:
    """What the notify function was given, and a way to make it fail or hang."""

    received: list[Delivery] = field(default_factory=list)
    failing: bool = False
    hang_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def notify(self, delivery: Delivery) -> Sent:
        if self.hang_s:
            time.sleep(self.hang_s)
        if self.failing:
            return Sent(False, "target down")
        with self.lock:
            self.received.append(delivery)
        return Sent(True)

    def kinds(self) -> list[str]:
        with self.lock:
            return [f"{d.kind} {d.body['monitor']}" for d in self.received]


def planned(name: str, probe: Callable[[], ProbeResult], rule: Rule = FAST) -> PlannedMonitor:
    return PlannedMonitor(Monitor(name, probe, owner="ops"), rule, "http", f"scripted://{name}")


def make_plan(tmp_path: Path, monitors: list[PlannedMonitor], notify: Callable[[Delivery], Sent]) -> Plan:
    return Plan(
        monitors=tuple(monitors),
        control=None,
        targets=("inbox",),
        notify=notify,
        mask=lambda text: text,
        state_path=tmp_path / "uptime.sqlite",
    )


@contextmanager
def serving(
    plan: Plan, clock: Callable[[], float] = time.time, lines: list[str] | None = None
) -> Iterator[tuple[ServeStats, threading.Event]]:
    """``serve`` in a thread (which opens the store: a connection belongs to its thread); stopped, and its
    return awaited (bounded), on exit."""
    stop = threading.Event()
    result: list[ServeStats] = []

    def work() -> None:
        with Store.open(plan.state_path, plan.mask) as store:
            result.append(
                serve(plan, store, stop=stop, clock=clock, log=(lines if lines is not None else []).append)
            )

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    stats = ServeStats()
    try:
        yield stats, stop
    finally:
        stop.set()
        thread.join(timeout=5)
        assert not thread.is_alive(), "serve did not return after stop"
        if result:
            stats.__dict__.update(result[0].__dict__)


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_an_outage_is_alerted_within_two_intervals_plus_the_timeout_and_recovers_once(tmp_path: Path) -> None:
    target, inbox = Switch(), Inbox()
    lines: list[str] = []
    plan = make_plan(tmp_path, [planned("api", target.probe)], inbox.notify)
    with serving(plan, lines=lines):
        wait_until(lambda: len(target.starts) >= 3)
        target.up = False
        down_at = time.time()
        wait_until(lambda: "opened api" in inbox.kinds())
        alerted_after = time.time() - down_at
        target.up = True
        wait_until(lambda: "recovered api" in inbox.kinds())
        time.sleep(3 * FAST.interval)
    assert inbox.kinds() == ["opened api", "recovered api"]
    # The bound is failures x interval + timeout; the rest is this thread's polling and a busy machine.
    assert alerted_after <= FAST.alert_bound() + 0.5, alerted_after
    assert any(line.startswith("incident opened: api is down since") for line in lines)
    assert any(line.startswith("recovered: api is up again") for line in lines)


def test_probes_start_on_a_fixed_schedule_beside_a_hanging_probe_and_a_hanging_target(tmp_path: Path) -> None:
    steady, hanging, inbox = Switch(), Switch(hang_s=FAST.timeout), Inbox(hang_s=1.0)
    plan = make_plan(
        tmp_path, [planned("steady", steady.probe), planned("hanging", hanging.probe)], inbox.notify
    )
    with serving(plan):
        time.sleep(2.0)
    gaps = [b - a for a, b in zip(steady.starts, steady.starts[1:], strict=False)]
    assert len(steady.starts) >= 8, steady.starts  # 2 s at 0.2 s: about 10
    assert max(gaps) < 2 * FAST.interval, gaps  # never delayed by the hanging probe or notification
    assert len(hanging.starts) >= 8


def test_stop_returns_promptly_with_a_probe_in_flight(tmp_path: Path) -> None:
    slow = Switch(hang_s=5.0)
    rule = Rule(interval=10.0, timeout=5.0, failures=2, window=30.0)
    plan = make_plan(tmp_path, [planned("slow", slow.probe, rule)], Inbox().notify)
    with serving(plan) as (_stats, stop):
        wait_until(lambda: bool(slow.starts), timeout_s=15)
        stopped = time.monotonic()
        stop.set()
    assert time.monotonic() - stopped < 1.5


def test_a_restart_mid_incident_resumes_it_and_sends_nothing_twice(tmp_path: Path) -> None:
    target, inbox = Switch(up=False), Inbox()
    plan = make_plan(tmp_path, [planned("api", target.probe)], inbox.notify)
    with serving(plan):
        wait_until(lambda: "opened api" in inbox.kinds())
    with serving(plan):  # the same state file, still down: the incident is resumed, not opened again
        time.sleep(5 * FAST.interval)
        target.up = True
        wait_until(lambda: "recovered api" in inbox.kinds())
    assert inbox.kinds() == ["opened api", "recovered api"]


def test_a_failed_delivery_is_retried_until_delivered_once(tmp_path: Path) -> None:
    target, inbox = Switch(up=False), Inbox(failing=True)
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    plan = make_plan(tmp_path, [planned("api", target.probe)], inbox.notify)
    lines: list[str] = []
    with serving(plan, clock=clock, lines=lines):
        wait_until(lambda: any("failed: target down (retry in" in line for line in lines))
        inbox.failing = False
        offset[0] += 3600.0  # past the store's backoff
        wait_until(lambda: "opened api" in inbox.kinds())
        time.sleep(5 * FAST.interval)
    assert inbox.kinds().count("opened api") == 1


def test_a_real_http_outage_reaches_the_signed_webhook_once(tmp_path: Path) -> None:
    """A real server, a real HTTP probe, the real signed webhook receiver deduplicating by key."""
    from http.server import BaseHTTPRequestHandler

    from helpers.asgi_server import unused_port_url
    from helpers.uptime_servers import serve_handler

    class Healthy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serve_handler(Healthy) as url, webhook_receiver() as (hook_url, receiver):
        current = {"url": url}

        def probe() -> ProbeResult:
            return probe_http(HttpProbe(current["url"], timeout_s=FAST.timeout))

        hook = WebhookTarget(hook_url, SECRET)
        plan = make_plan(tmp_path, [planned("home", probe)], lambda d: deliver(d, hook))

        def kinds() -> list[str]:
            with receiver.lock:
                return [body["kind"] for body in receiver.accepted.values()]

        with serving(plan):
            time.sleep(3 * FAST.interval)
            current["url"] = unused_port_url()  # refused, as a stopped server is
            wait_until(lambda: "opened" in kinds())
            current["url"] = url
            wait_until(lambda: "recovered" in kinds())
        assert kinds() == ["opened", "recovered"] and receiver.duplicates == []
