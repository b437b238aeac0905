"""The ``lr-ci uptime`` commands: ``check --once`` (one round, for schedulers), ``run`` (a long-running
monitor) and ``test-alert`` (the alert path, tested in one command).

Each parses its options into a :class:`~lr_ci.checks.uptime.check.Request`, then runs in
:func:`~lr_ci._run.run_check` like every check: the plan is built from ``[uptime]`` with the options merged
over it first (every config problem is exit 2 at file:line before anything is probed, stored or sent),
then the state file is opened (locked) and the work done.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from lr_ci._run import RunContext, run_check
from lr_ci.cli import global_options
from lr_ci.report import Report

if TYPE_CHECKING:
    from lr_ci.checks.uptime.check import Request
    from lr_ci.checks.uptime.listener import ListenAddress, Listener, Site
    from lr_ci.checks.uptime.metrics import UptimeMetrics
    from lr_ci.checks.uptime.plan import Plan

F = TypeVar("F", bound=Callable[..., Any])


def _plan_options(command: F) -> F:
    """What every uptime command reads beyond ``[uptime]``: the state file, flows' base URL, Actions mode."""
    decorators = [
        click.option(
            "--state",
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="PATH",
            help="The SQLite state file (else [uptime] state, .lr-ci/uptime.sqlite beside lr-ci.toml).",
        ),
        click.option("--base-url", metavar="URL", help="Where flow monitors run (else [uptime] base_url)."),
        click.option(
            "--github-issues",
            is_flag=True,
            help="Also open a GitHub issue per incident in GITHUB_REPOSITORY, with GITHUB_TOKEN (Actions).",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


@click.group("uptime")
@global_options
def command() -> None:
    """Uptime monitors: probes on a fixed schedule, an alert after N failures in a window.

    `lr-ci uptime check --once` runs one round (a scheduler's job, state carried in a file; exit 1 while an
    incident is open); `lr-ci uptime run` monitors until stopped; `lr-ci uptime test-alert` sends a test
    notification to every target.
    """


@command.command("check")
@click.option("--once", is_flag=True, help="Run one round of every monitor (required: `run` loops).")
@click.option(
    "--lock-wait",
    type=float,
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another run holding the state file, then exit 2.",
)
@_plan_options
@global_options
@click.pass_context
def check_command(
    ctx: click.Context,
    once: bool,
    lock_wait: float,
    state: Path | None,
    base_url: str | None,
    github_issues: bool,
) -> None:
    """Probe every monitor once, send the alerts due, and report; exit 1 while any incident is open."""
    from lr_ci.checks.uptime.check import Request

    request = Request(once=once, lock_wait_s=lock_wait, github_issues=github_issues)

    def body(run: RunContext) -> Report:
        from lr_ci.checks.uptime import check

        check.check_request(request)
        plan = load_plan(run, request, state=state, base_url=base_url)
        return check.run_once(plan, request)

    run_check(ctx, "uptime", body)


@command.command("run")
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Serve /metrics (Prometheus) and the live page here, e.g. 127.0.0.1:9310 (else [uptime] listen).",
)
@_plan_options
@global_options
@click.pass_context
def run_command(
    ctx: click.Context, listen: str | None, state: Path | None, base_url: str | None, github_issues: bool
) -> None:
    """Monitor until stopped (SIGTERM or Ctrl-C: exit 0), one line on stderr per incident event."""
    from lr_ci.checks.uptime.check import Request

    request = Request(github_issues=github_issues)
    run_check(ctx, "uptime", lambda run: _serve(run, request, state=state, base_url=base_url, listen=listen))


@command.command("test-alert")
@_plan_options
@global_options
@click.pass_context
def test_alert_command(
    ctx: click.Context, state: Path | None, base_url: str | None, github_issues: bool
) -> None:
    """Send a test notification to every target; exit 1 when any was not delivered, 2 when none is set."""
    from lr_ci.checks.uptime.check import Request

    request = Request(github_issues=github_issues)

    def body(run: RunContext) -> Report:
        from lr_ci.checks.uptime import check

        plan = load_plan(run, request, state=state, base_url=base_url, needs_monitors=False)
        return check.send_test_alert(plan)

    run_check(ctx, "uptime", body)


@command.command("page")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Write index.html, status.json and badges/<monitor>.svg into this folder (created if needed).",
)
@click.option(
    "--state",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PATH",
    help="The SQLite state file (else [uptime] state); read only, also while `lr-ci uptime run` writes it.",
)
@click.option("--base-url", metavar="URL", help="Flow monitors' base URL, as the page shows their target.")
@global_options
@click.pass_context
def page_command(ctx: click.Context, out: Path, state: Path | None, base_url: str | None) -> None:
    """Write the static status page, its badges and status.json from the state file (for GitHub Pages)."""

    def body(run: RunContext) -> Report:
        import os
        import time

        from lr_ci.checks.uptime import page, summary
        from lr_ci.checks.uptime.check import Request
        from lr_ci.checks.uptime.state import Store
        from lr_ci.errors import LrCiError
        from lr_ci.report import Table

        plan = load_plan(run, Request(), state=state, base_url=base_url)
        path = plan.state_path
        if not path.is_file() or path.stat().st_size == 0:  # opening it would create it
            raise LrCiError(f"no state file at {path}: run `lr-ci uptime check --once` or `run` first")
        # Without the run lock: a running `lr-ci uptime run` holds it, and WAL lets this read meanwhile.
        with Store.open(path, plan.mask, lock=False) as store:
            shown = summary.read(plan.monitors, store, time.time(), plan.mask)
        folder = run.cwd / out
        previous = _previous_status(folder / "status.json")  # read before this write replaces it
        written = []
        for site_path, (_type, content) in page.site(shown).items():
            target = folder / page.file_name(site_path)
            partial = target.with_name(f".{target.name}.partial")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                partial.write_bytes(content)
                os.replace(partial, target)  # a reader (Pages, a browser) never sees half a file
            except OSError as exc:
                raise LrCiError(f"{target}: cannot write the status page ({exc.strerror or exc})") from None
            written.append(page.file_name(site_path))
        removed = page.stale_badges(previous, written)
        for name in removed:
            target = folder / name
            try:
                if not target.is_symlink():  # lr-ci wrote a regular file; a link is someone else's
                    target.unlink(missing_ok=True)
            except OSError as exc:
                raise LrCiError(f"{target}: cannot remove the badge of a removed monitor ({exc})") from None
        report = Report(check="uptime")
        report.metrics = {
            "out": str(folder),
            "files": written,
            "removed": removed,
            "monitors": len(shown.monitors),
            "down": sum(view.state == "down" for view in shown.monitors),
            "incidents": len(shown.incidents),
            "state_file": str(path),
        }
        rows = [
            [view.name, page.state_text(view), *(view.uptime[key].text for key in ("24h", "7d", "90d"))]
            for view in shown.monitors
        ]
        report.tables.append(
            Table(f"Status page: {folder}", ["monitor", "state", "24 h", "7 d", "90 d"], rows)
        )
        return report

    run_check(ctx, "uptime", body)


def _previous_status(path: Path) -> Any:
    """The ``status.json`` an earlier ``lr-ci uptime page`` wrote in ``--out`` (the manifest of the badges
    it wrote: :func:`page.stale_badges`), or None when there is none or it cannot be read as JSON: then no
    badge is removed, since nothing says which files lr-ci wrote. Read with a bound: it may be anything."""
    import json

    from lr_ci._json_files import MAX_DOCUMENT_BYTES, read_bounded
    from lr_ci.errors import LrCiError

    if not path.is_file():
        return None
    try:
        return json.loads(read_bounded(path, "previous status.json", MAX_DOCUMENT_BYTES))
    except (LrCiError, ValueError, RecursionError):
        return None


def load_plan(
    run: RunContext,
    request: Request,
    *,
    state: Path | None,
    base_url: str | None,
    needs_monitors: bool = True,
) -> Plan:
    """``[uptime]`` with ``--state`` and ``--base-url`` merged over it (and ``[smoke]``'s flows when a
    monitor uses one), built into the plan the runners take."""
    from lr_ci.checks.uptime.settings import UptimeSettings, build_plan
    from lr_ci.errors import LrCiError
    from lr_ci.flows.urls import check_http_url, userinfo_credentials

    if base_url is not None:
        for credential in userinfo_credentials(base_url):
            run.redactor.add_credential(credential)
        try:
            check_http_url(base_url, "--base-url")
        except ValueError as exc:
            raise LrCiError(str(exc)) from None
    # --state is relative to the working directory, [uptime] state to the config file's folder.
    overrides = {"state": str(run.cwd / state) if state is not None else None, "base_url": base_url}
    settings = run.settings(UptimeSettings, overrides=overrides)
    smoke = None
    if any(monitor.flow is not None for monitor in settings.monitors):
        from lr_ci.checks.smoke.settings import SmokeSettings

        smoke = run.settings(SmokeSettings, table="smoke")
    plan = build_plan(
        settings, config=run.config, smoke=smoke, redactor=run.redactor, github_issues=request.github_issues
    )
    if not plan.monitors and needs_monitors:
        raise LrCiError("no monitors: add [[uptime.monitors]] to lr-ci.toml (see docs/uptime.md)")
    return plan


def _serve(
    run: RunContext, request: Request, *, state: Path | None, base_url: str | None, listen: str | None = None
) -> Report:
    """Open the store, resume, and hand the plan to the runner until SIGTERM or SIGINT sets ``stop``; with
    ``--listen`` (or ``[uptime] listen``) serve /metrics and the live page beside it until then."""
    import signal
    import sys
    import threading
    import time
    import types

    from lr_ci.checks.uptime import check

    address = _listen_address(run, listen)
    plan = load_plan(run, request, state=state, base_url=base_url)
    from lr_ci.checks.uptime import runner  # after the plan: a bad config is exit 2 before anything starts

    stop = threading.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {number: signal.getsignal(number) for number in signals}
    received: list[str] = []

    def on_signal(number: int, _frame: types.FrameType | None) -> None:
        received.append(signal.Signals(number).name)
        stop.set()

    def log(line: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sys.stderr.write(f"lr-ci uptime: {stamp} {run.redactor.scrub_text(' '.join(line.split()))}\n")
        sys.stderr.flush()

    metrics, listener = _bind_listener(plan, address)  # a port in use is exit 2 before anything starts
    started = time.time()
    for number in signals:
        signal.signal(number, on_signal)
    try:
        with check.open_store(plan, lock_wait=0.0) as store:
            evaluator = plan.resume(store, time.time())
            log(f"monitoring {len(plan.monitors)} monitor(s), state in {plan.state_path}")
            if listener is not None and address is not None:
                listener.start()
                exposed = "" if address.loopback else " (beyond loopback, without authentication)"
                log(f"serving /metrics on {listener.address.url}/metrics{exposed}")
            stats = runner.serve(plan, store, stop=stop, log=log, evaluator=evaluator, observer=metrics)
    finally:
        if listener is not None:
            listener.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    report = Report(check="uptime")
    report.metrics = {
        "monitors": len(plan.monitors),
        "probes": stats.probes,
        "skipped": stats.skipped,
        "delivered": stats.delivered,
        "delivery_failures": stats.failed,
        "events": len(stats.events),
        "ran_s": round(time.time() - started, 1),
        "stopped_by": received[0] if received else None,
        "state_file": str(plan.state_path),
    }
    return report


def _listen_address(run: RunContext, listen: str | None) -> ListenAddress | None:
    """``--listen`` (checked here, naming the option) over ``[uptime] listen`` (checked at file:line)."""
    from lr_ci.checks.uptime.listener import parse_listen
    from lr_ci.checks.uptime.settings import UptimeSettings
    from lr_ci.errors import LrCiError

    if listen is None:
        listen = run.settings(UptimeSettings).listen
        if listen is None:
            return None
    try:
        return parse_listen(listen)
    except ValueError as exc:
        raise LrCiError(f"--listen {exc}") from None


LIVE_PAGE_MAX_AGE_S = 5.0
"""The live page is read again from the state file at most this often, however often it is requested."""


def _live_site(plan: Plan) -> Site:
    """The status page of the running monitor, the same files ``lr-ci uptime page`` writes.

    Read from the state file through the listener thread's own connection (a connection belongs to its
    thread; WAL lets it read while the loop writes, without the run lock), at most every
    :data:`LIVE_PAGE_MAX_AGE_S`, so a page reloaded in a loop costs the monitor nothing.
    """
    import math
    import threading
    import time

    from lr_ci.checks.uptime import page, summary
    from lr_ci.checks.uptime.listener import Page
    from lr_ci.checks.uptime.state import Store

    lock = threading.Lock()
    cached: dict[str, tuple[str, bytes]] = {}
    read_at = [-math.inf]

    def site(path: str) -> Page | None:
        with lock:
            if time.monotonic() - read_at[0] > LIVE_PAGE_MAX_AGE_S:
                with Store.open(plan.state_path, plan.mask, lock=False) as store:
                    shown = summary.read(plan.monitors, store, time.time(), plan.mask)
                cached.clear()
                cached.update(page.site(shown))
                read_at[0] = time.monotonic()
            found = cached.get(path)
        return None if found is None else Page(200, found[0], found[1])

    return site


def _bind_listener(plan: Plan, address: ListenAddress | None) -> tuple[UptimeMetrics | None, Listener | None]:
    """The run's metrics and the listener that will serve them, its socket bound (not serving yet)."""
    if address is None:
        return None, None
    from lr_ci.checks.uptime.listener import Listener
    from lr_ci.checks.uptime.metrics import UptimeMetrics
    from lr_ci.errors import LrCiError

    metrics = UptimeMetrics.for_plan(plan)
    try:
        return metrics, Listener(address, metrics.render, site=_live_site(plan))
    except OSError as exc:
        where = address.url.removeprefix("http://")
        raise LrCiError(f"cannot listen on {where}: {exc.strerror or exc}") from None
