"""The processes ``bench_uptime.py`` measures or leans on, each started as ``python uptime_child.py ...``.

``monitor SPEC``: what a user runs, ``lr-ci uptime run`` minus the config file: a :class:`Plan` built by
hand from ``SPEC`` (a JSON file) around the real probes of ``lr_ci.checks.uptime.probes`` and the real
signed webhook (``notify.WebhookTarget``), a :class:`Store` on a real SQLite file, and ``runner.serve`` in
the main thread until SIGTERM (or stdin closes, so a benchmark that dies leaves no monitor behind). It runs
in its own process so the benchmark's servers and bookkeeping are not counted as the monitor's CPU and
memory, and so an alert's latency includes everything a real monitor process does. A ``stats`` line on
stdin answers one JSON line: probes finished, how many passed, their summed elapsed time.

``farm``: the targets of the load benchmark, in another process so their CPU is not the monitor's: one
asyncio HTTP server answering every path (``/health/<n>``) with 200 at once, and a TLS server (a trustme
certificate) that completes the handshake and closes. Prints ``farm HTTP_PORT TLS_PORT`` when it listens.

No import from ``tests/``: the benchmark stands on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SECRET_ENV = "LR_CI_BENCH_WEBHOOK_SECRET"
"""The webhook's signing secret reaches the monitor through the environment, as in ``[uptime.notify]``."""


class Counter:
    """Probes finished, passed, and their summed elapsed seconds; probe threads add, ``stats`` reads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.probes = 0
        self.ok = 0
        self.elapsed_s = 0.0
        self.errors: dict[str, int] = {}

    def counted(self, probe: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            result = probe()
            with self.lock:
                self.probes += 1
                self.ok += bool(result.ok)
                self.elapsed_s += float(result.elapsed_s)
                if not result.ok:
                    key = str(result.error_class)
                    self.errors[key] = self.errors.get(key, 0) + 1
            return result

        return run

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "probes": self.probes,
                "ok": self.ok,
                "elapsed_s": round(self.elapsed_s, 4),
                "errors": dict(self.errors),
                "cpu_s": round(sum(os.times()[:2]), 4),
                "at": time.time(),
            }


def _probe_for(spec: dict[str, Any], monitor: dict[str, Any], redactor: Any) -> Callable[[], Any]:
    """The real probe of ``monitor['kind']`` bound to its settings, as ``settings.py`` binds one."""
    from lr_ci.checks.uptime import probes

    kind = monitor["kind"]
    timeout = float(monitor["timeout"])
    if kind == "http":
        http = probes.HttpProbe(monitor["url"], timeout_s=timeout)
        return lambda: probes.probe_http(http, redactor.scrub_text)
    if kind == "flow":
        from lr_ci.checks.smoke.settings import SmokeSettings
        from lr_ci.config import load_config, load_section

        smoke = load_section(load_config(Path(spec["smoke_config"])), "smoke", SmokeSettings, redactor)
        flow = probes.FlowProbe(monitor["flow"], monitor["base_url"], timeout_s=timeout)
        return lambda: probes.probe_flow(flow, smoke, redactor)
    if kind == "smtp":
        smtp = probes.SmtpProbe(
            monitor["host"],
            int(monitor["port"]),
            starttls=monitor.get("starttls", "required"),
            rcpt_to=monitor.get("rcpt_to"),
            timeout_s=timeout,
            ca_file=monitor.get("ca_file"),
        )
        return lambda: probes.probe_smtp(smtp, redactor.scrub_text)
    if kind == "tls":
        tls = probes.TlsProbe(
            monitor["host"], int(monitor["port"]), timeout_s=timeout, ca_file=monitor.get("ca_file")
        )
        return lambda: probes.probe_tls(tls, redactor.scrub_text)
    raise SystemExit(f"unknown monitor kind {kind!r}")


def run_monitor(spec_path: Path) -> int:
    from lr_ci.checks.uptime.monitor import Monitor
    from lr_ci.checks.uptime.notify import WebhookTarget, deliver
    from lr_ci.checks.uptime.plan import Plan, PlannedMonitor
    from lr_ci.checks.uptime.rule import Rule
    from lr_ci.checks.uptime.runner import serve
    from lr_ci.checks.uptime.state import Store
    from lr_ci.redact import Redactor

    spec = json.loads(spec_path.read_text())
    redactor = Redactor()
    secret = os.environ[SECRET_ENV]
    redactor.add_credential(secret)
    counter = Counter()
    planned = []
    for item in spec["monitors"]:
        rule = Rule(
            interval=float(item["interval"]),
            timeout=float(item["timeout"]),
            failures=int(item.get("failures", 2)),
            window=float(item.get("window", 300.0)),
            recover_after=int(item.get("recover_after", 2)),
        )
        problem = rule.problem()
        if problem is not None:
            raise SystemExit(f"monitor {item['name']}: {problem}")
        probe = counter.counted(_probe_for(spec, item, redactor))
        planned.append(PlannedMonitor(Monitor(item["name"], probe, owner="bench"), rule, item["kind"], "-"))
    hook = WebhookTarget(spec["webhook"], secret, timeout_s=5.0)
    plan = Plan(
        monitors=tuple(planned),
        control=None,
        targets=("webhook",),
        notify=lambda delivery: deliver(delivery, hook, redactor.scrub_text),
        mask=redactor.scrub_text,
        state_path=Path(spec["state"]),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())

    def answer_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "stats":
                print("stats " + json.dumps(counter.snapshot()), flush=True)
        stop.set()  # the benchmark went away: so does its monitor

    threading.Thread(target=answer_stdin, daemon=True).start()
    profile = spec.get("profile")
    with Store.open(plan.state_path, plan.mask) as store:
        print(f"monitor ready {len(planned)}", flush=True)
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        stats = serve(plan, store, stop=stop, log=lambda line: print(f"log {line}", flush=True))
        if profile:
            profiler.disable()
            profiler.dump_stats(profile)
    print("done " + json.dumps({**stats.__dict__, "events": len(stats.events)}), flush=True)
    return 0


class _Http(asyncio.Protocol):
    """One HTTP/1.1 exchange: the request head, then 200 ``ok`` and close (a health endpoint)."""

    ANSWER = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    )

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.head += data
        if b"\r\n\r\n" in self.head and self.transport is not None:
            self.transport.write(self.ANSWER)
            self.transport.close()


async def _farm(cert: str, key: str) -> None:
    loop = asyncio.get_running_loop()
    http = await loop.create_server(_Http, "127.0.0.1", 0, backlog=1024)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def handshake_then_close(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    tls = await asyncio.start_server(handshake_then_close, "127.0.0.1", 0, ssl=context, backlog=1024)
    http_port = http.sockets[0].getsockname()[1]
    tls_port = tls.sockets[0].getsockname()[1]
    print(f"farm {http_port} {tls_port}", flush=True)
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_reader(sys.stdin.fileno(), lambda: done.set() if not sys.stdin.readline() else None)
    await done.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    monitor = sub.add_parser("monitor")
    monitor.add_argument("spec", type=Path)
    farm = sub.add_parser("farm")
    farm.add_argument("--cert", required=True)
    farm.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    if args.command == "monitor":
        return run_monitor(args.spec)
    asyncio.run(_farm(args.cert, args.key))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
