"""Sending the load with locust, in this process, and collecting every raw response time.

Locust is imported here and nowhere else: it monkey-patches the standard library with gevent on import,
which must not reach the other checks (a pre-commit hook never pays for it either). Times come from
locust's ``request`` event, not its stored percentiles: those round to 10 ms between 100 and 999 ms and
read one rank high.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lr_ci.checks.p95.arrival import ArrivalSpread, spread
from lr_ci.checks.p95.settings import Route
from lr_ci.checks.p95.stats import Side

# Samples of the first instant of a round are dropped too: users are spawning and connecting.
SETTLE_SECONDS = 0.5


@dataclass(frozen=True)
class Target:
    """One side: where it answers, and what its login left us (cookies, captured values)."""

    url: str
    cookies: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    routes: Sequence[Route]
    rate: float
    users: int
    rounds: int
    round_seconds: float
    warmup_seconds: float
    timeout_s: float
    locustfile: str | None = None
    """A user's locustfile instead of routes: its request names are the routes."""
    locustfile_timeout_s: float = 30.0
    """How long importing the locustfile may take (exit 2 past it)."""
    arrival: str = "even"
    """"even": each user on its own jittered grid; "poisson": an open arrival process, ``users`` the cap on
    requests in flight (see :mod:`.arrival`)."""


@dataclass
class Measurement:
    sides: dict[str, dict[str, Side]]
    """side -> route label -> raw times per round."""
    first_errors: dict[str, dict[str, str]]
    """side -> route label -> the first error seen, to say why requests failed."""
    achieved_rps: dict[str, float]
    requested_rps: float
    duration_s: float
    arrivals: dict[str, ArrivalSpread | None] = field(default_factory=dict)
    """side -> how evenly its measured requests arrived (None where not collected: distributed mode)."""


def _fill(template: str, values: Mapping[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


_ALWAYS_CREDENTIALS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _origin(url: str) -> tuple[str, str, int | None]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(parts.scheme)


MAX_RESPONSE_BYTES = 64 << 20
"""Bytes of one route's response read at most; more is an error of the route (a body that never ends)."""


def _drain_body(response: Any, *_: Any, **__: Any) -> Any:
    """Read a route's body to its end, keeping none of it; past :data:`MAX_RESPONSE_BYTES`, a failed request.

    requests holds a whole body in memory before locust times it: two users on an endless body took
    987 MiB in two seconds. This response hook runs before requests reads the body, and inside locust's
    timing, so a response time still includes the whole body; the body is counted and dropped.
    """
    from requests.exceptions import RequestException

    size = 0
    try:
        for chunk in response.iter_content(65536):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise RequestException(f"the body is longer than {MAX_RESPONSE_BYTES >> 20} MiB")
    except BaseException:
        response.close()
        raise
    response._content = b""
    response._content_consumed = True
    return response


def _on_target(path: str) -> str:
    """A route's path, always on the side being measured.

    requests sends a path that is an absolute URL (``https://other.example/x``, or a ``{value}`` the login
    captured that fills in as one) to that host, with the login's cookies, which are set for no domain:
    both sides would be measured on the same host and it would get the credentials. A path is a path.
    """
    return path if path.startswith("/") else "/" + path


def _credentials_stay_home(session: Any, home: Callable[[], str], headers: set[str]) -> None:
    """A redirect away from the target's origin carries no credential of the run.

    requests follows redirects itself: it drops Authorization on another host, but resends the login
    flow's cookies (set for no domain, so for every host) and every configured header (``X-Api-Key =
    "{api_token}"``) to wherever the server points. ``rebuild_auth`` is the hook requests calls on every
    redirect once the next request's cookies and headers are built; off the target's origin it now removes
    Authorization, Proxy-Authorization, Cookie and every header a route configures.
    """
    rebuild_auth = session.rebuild_auth

    def rebuild_auth_at_home(prepared: Any, response: Any) -> None:
        rebuild_auth(prepared, response)
        if _origin(prepared.url) != _origin(home()):
            for name in [n for n in prepared.headers if n.lower() in _ALWAYS_CREDENTIALS | headers]:
                del prepared.headers[name]

    session.rebuild_auth = rebuild_auth_at_home


LOCUSTFILE_IMPORT_MEMORY = 128 << 20
"""The data memory a locustfile's import may use in the import probe (locust itself needs about 40 MiB)."""


def import_locustfile_here(path: str) -> list[Any]:
    """Import the locustfile in this process; its User classes, or exit 2 saying what is wrong in one line.

    Whatever the file raises is bad input, ``SystemExit`` and ``KeyboardInterrupt`` included (a file
    that calls ``sys.exit()`` on import is broken, it did not pass): only a real Ctrl-C, seen by
    :func:`interrupted`, stops the run as an interruption.
    """
    import importlib.util
    import inspect

    from locust import User

    from lr_ci.errors import LrCiError

    spec = importlib.util.spec_from_file_location("lr_ci_locustfile", path)
    if spec is None or spec.loader is None:
        raise LrCiError(f"locustfile {path}: cannot load it")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except FileNotFoundError:
        raise LrCiError(
            f"locustfile {path}: no such file (the path is relative to the working directory)"
        ) from None
    except BaseException as exc:  # whatever the file raises is bad input, said in one line
        if isinstance(exc, KeyboardInterrupt) and interrupted():
            raise
        if isinstance(exc, MemoryError):
            limit = LOCUSTFILE_IMPORT_MEMORY >> 20
            raise LrCiError(f"locustfile {path}: its import needs more than {limit} MiB of memory") from None
        raise LrCiError(f"locustfile {path}: {type(exc).__name__}: {exc}") from None
    found = [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, User)
        and not getattr(value, "abstract", False)
        and value.__module__ == module.__name__
    ]
    if not found:
        raise LrCiError(f"locustfile {path}: defines no User class")
    return found


def _import_locustfile(path: str, timeout_s: float) -> list[Any]:
    """The locustfile's User classes, its import bounded by ``timeout_s`` (exit 2 naming the file past it).

    First imported in a throwaway process killed at the timeout (:mod:`._probe`): that bounds any file,
    even one whose loop never lets a watchdog thread run. Then imported here, with a watchdog that ends
    this process (exit 2, one line) should this second import not end although the first did.
    """
    import subprocess
    import sys
    import tempfile

    from lr_ci.errors import LrCiError

    if os.path.exists(path) and not os.path.isfile(path):  # a FIFO, a device, a folder
        raise LrCiError(f"locustfile {path}: not a regular file")
    if not os.path.isfile(path):
        raise LrCiError(f"locustfile {path}: no such file (the path is relative to the working directory)")
    too_long = f"locustfile {path}: its import did not finish within {timeout_s:g} s (locustfile_timeout_s)"
    with tempfile.TemporaryDirectory(prefix="lr-ci-p95-") as scratch:
        result = os.path.join(scratch, "result")
        probe = subprocess.Popen(
            [sys.executable, "-m", "lr_ci.checks.p95._probe", path, result],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own group: killed with whatever it started
        )
        try:
            probe.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise LrCiError(too_long) from None
        finally:
            _kill_group(probe.pid)  # also whatever the file started and left running
            probe.wait()
        try:
            with open(result, encoding="utf-8") as handle:
                outcome = handle.read(4000)
        except OSError:
            outcome = f"locustfile {path}: importing it ended the process (exit code {probe.returncode})"
    if outcome != "ok":
        raise LrCiError(
            outcome if outcome.startswith(f"locustfile {path}:") else f"locustfile {path}: {outcome}"
        )
    with _watchdog(timeout_s, too_long):
        return import_locustfile_here(path)


def _kill_group(pid: int) -> None:
    import signal

    with contextlib.suppress(OSError):  # already gone
        os.killpg(pid, signal.SIGKILL)


@contextlib.contextmanager
def _watchdog(seconds: float, message: str) -> Iterator[None]:
    """End this process with exit 2 and ``message`` unless the ``with`` block ends within ``seconds``.

    A real OS thread (gevent's monkey-patching turns ``threading`` into greenlets, which a busy loop in the
    main greenlet would never let run). A loop in C that never releases the interpreter's lock stops that
    thread too: for it, :mod:`faulthandler` (a C thread) ends the process BACKSTOP_SECONDS later, with
    exit 1 and nothing printed, still never a pass.
    """
    import faulthandler

    from gevent.monkey import get_original

    from lr_ci._run import error_line

    start_thread = get_original("_thread", "start_new_thread")
    done = get_original("_thread", "allocate_lock")()
    done.acquire()
    sink = open(os.devnull, "w")  # noqa: SIM115 - faulthandler writes to it until cancelled
    faulthandler.dump_traceback_later(seconds + BACKSTOP_SECONDS, exit=True, file=sink)

    def watch() -> None:
        if not done.acquire(timeout=seconds):
            os.write(2, (error_line("p95", message) + "\n").encode("utf-8", "replace"))
            _kill_children()
            os._exit(2)

    start_thread(watch, ())
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        sink.close()
        done.release()


BACKSTOP_SECONDS = 10.0


def _kill_children() -> None:
    """SIGKILL this process's children (local workers) before it ends itself: none is left running."""
    import signal

    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as handle:
                children = [int(pid) for pid in handle.read().split()]
        except OSError:
            continue
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _locustfile_users(plan: Plan, target: Target) -> list[Any]:
    """The User classes a locustfile defines, pointed at ``target``, every task failure recorded."""
    assert plan.locustfile is not None
    found = _import_locustfile(plan.locustfile, plan.locustfile_timeout_s)
    return [
        type(
            cls.__name__,
            (_Guarded, cls),
            {"host": target.url, "abstract": False, "lr_ci_where": plan.locustfile},
        )
        for cls in found
    ]


# -- what a task may not do ------------------------------------------------------------------------------
#
# An exception that escapes a task (locust would log it and go on) or a SystemExit / KeyboardInterrupt
# raised by the task's code (gevent would end the whole process with it, and an empty report passed): the
# load did not run as written, so the run is exit 2 naming the file and the line, never a pass.

_interrupted = [False]


def interrupted() -> bool:
    """Whether a real SIGINT (Ctrl-C) reached this process, as opposed to code raising KeyboardInterrupt."""
    return _interrupted[0]


def watch_interrupts() -> None:
    """Deliver a real SIGINT to the main greenlet as KeyboardInterrupt, noted (see :func:`interrupted`).

    Python's own handler raises it in whichever greenlet runs at that instant: a user's (where it would look
    like the task's own doing), or one of locust's that swallows it, and the run went on to pass. Called
    from the main greenlet.
    """
    import signal

    import gevent

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return  # started with SIGINT ignored (a background job): it stays ignored, as Python leaves it
    main: Any = gevent.getcurrent()

    def on_sigint() -> None:
        _interrupted[0] = True
        main.throw(KeyboardInterrupt)

    gevent.signal_handler(signal.SIGINT, on_sigint)


@dataclass
class _TaskFailures:
    count: int = 0
    first: str | None = None

    def record(self, text: str, count: int = 1) -> None:
        self.count += count
        if self.first is None:
            self.first = text

    def check(self) -> None:
        from lr_ci.errors import LrCiError

        if self.first is not None:
            times = f" ({self.count} times)" if self.count > 1 else ""
            raise LrCiError(
                f"{self.first}{times}: a task must not raise (report a failed response with "
                "catch_response=True and response.failure() instead)"
            )


task_failures = _TaskFailures()
"""This process's task failures (a worker sends its own to the master with its samples)."""


def _describe_failure(exc: BaseException, where: str | None) -> str:
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if where and os.path.abspath(f.filename) == os.path.abspath(where)]
    spot = mine[-1] if mine else (frames[-1] if frames else None)
    at = f" at {os.path.basename(spot.filename)}:{spot.lineno} in {spot.name}" if spot else ""
    what = f"locustfile {where}" if where else "p95 routes"
    return f"{what}: a task raised {type(exc).__name__}: {exc}"[:300] + at


class _Guarded:
    """Mixed into every User class lr-ci runs: a task's escaping exception is recorded, not lost."""

    lr_ci_where: str | None = None

    def start(self, group: Any) -> Any:
        """As locust's ``User.start`` (one greenlet per user, the user its first argument), guarded."""
        self._greenlet = group.spawn(_run_guarded, self)
        self._group = group
        return self._greenlet


def _run_guarded(user: Any) -> None:
    from gevent import GreenletExit

    if not getattr(type(user), "lr_ci_armed", True):
        return  # a worker's user before its master sent a sealed target: it sends nothing
    try:
        user.run()
    except GreenletExit:
        raise  # the runner stopping its users
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt) and interrupted():
            raise
        task_failures.record(_describe_failure(exc, type(user).lr_ci_where))


def _quiet_locust_logging() -> None:
    """locust's log lines (and its traceback per failed task) are not lr-ci's output: lr-ci reports them."""
    import logging

    locust_logger = logging.getLogger("locust")
    locust_logger.handlers[:] = [logging.NullHandler()]
    locust_logger.propagate = False
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())  # else Python's last-resort handler prints to stderr


def _user_class(plan: Plan, target: Target, rng: random.Random) -> Any:
    import itertools

    import gevent
    from locust import HttpUser, task

    from lr_ci.checks.p95.arrival import EvenPacer, PoissonSchedule

    if plan.locustfile:
        return _locustfile_users(plan, target)

    routes = list(plan.routes)
    weights = [max(1, route.weight) for route in routes]
    credential_headers = {name.lower() for route in routes for name in route.headers}
    period = plan.users / plan.rate
    # Users are numbered as they start, in this process; the phase makes another process's (a worker's)
    # grids fall between these rather than on them.
    numbering = itertools.count()
    pacing_rng = random.Random(rng.random())
    phase = pacing_rng.random()

    class RouteUser(_Guarded, HttpUser):
        host = target.url
        # Read through the class, not the closure: in distributed mode the master re-aims it every round.
        lr_ci_target = target

        def on_start(self) -> None:
            self.client.cookies.update(dict(type(self).lr_ci_target.cookies))
            _credentials_stay_home(self.client, lambda: type(self).lr_ci_target.url, credential_headers)
            self.lr_ci_pacer: EvenPacer | PoissonSchedule = (
                PoissonSchedule(plan.rate / plan.users, pacing_rng)
                if plan.arrival == "poisson"
                else EvenPacer(period, next(numbering), plan.users, phase, pacing_rng)
            )
            gevent.sleep(self.wait_time())  # the first request on this user's grid (or arrival it claimed)

        def wait_time(self) -> float:
            """Until this user's next slot (see :class:`~lr_ci.checks.p95.arrival.EvenPacer`), or the next
            arrival of the open process it claims (``arrival = "poisson"``)."""
            return self.lr_ci_pacer.wait(time.monotonic())

        @task
        def request(self) -> None:
            route = rng.choices(routes, weights)[0]
            values = type(self).lr_ci_target.values
            headers = {k: _fill(v, values) for k, v in route.headers.items()}
            self.client.request(
                route.method.upper(),
                _on_target(_fill(route.path, values)),
                name=route.label,
                headers=headers,
                json=route.json,
                timeout=plan.timeout_s,
                hooks={"response": _drain_body},
            )

    return RouteUser


class _Collector:
    def __init__(self) -> None:
        self.accepting_after = float("inf")
        self.closed_at = float("inf")
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.first_error: dict[str, str] = {}
        self.starts: array[float] = array("d")
        """When each accepted request was sent and answered (epoch seconds), for the arrival metrics."""
        self.ends: array[float] = array("d")
        self.arrivals: tuple[int, list[int]] | None = None
        """This round's peak in flight and per-100 ms counts, once closed (local mode)."""

    def snapshot(self) -> _Collector:
        """A copy of what this round collected (the master's collector is reused for the next round)."""
        copy = _Collector()
        copy.times, copy.errors, copy.first_error = (
            dict(self.times),
            dict(self.errors),
            dict(self.first_error),
        )
        return copy

    def open(self, settle: float) -> None:
        self.times, self.errors, self.first_error = {}, {}, {}
        self.starts, self.ends = array("d"), array("d")
        self.accepting_after = time.time() + settle

    def close(self) -> None:
        """The round's load ends now: count its arrivals, and drop the raw start and end times."""
        from lr_ci.checks.p95.arrival import bucket_counts, peak_in_flight

        self.closed_at = time.time()
        self.arrivals = (
            peak_in_flight(self.starts, self.ends),
            bucket_counts(self.starts, self.accepting_after, self.closed_at),
        )
        self.starts, self.ends = array("d"), array("d")

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        exception: Exception | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        started = start_time or time.time()
        if started < self.accepting_after:
            return
        if self.arrivals is None:
            self.starts.append(started)
            self.ends.append(started + float(response_time or 0.0) / 1000.0)
        if exception is not None:
            self.errors[name] = self.errors.get(name, 0) + 1
            self.first_error.setdefault(name, f"{type(exception).__name__}: {exception}"[:200])
        else:
            self.times.setdefault(name, []).append(float(response_time))


def _run_round(user_class: Any, plan: Plan, seconds: float, collector: _Collector) -> None:
    import gevent
    from locust.env import Environment

    _quiet_locust_logging()
    classes = user_class if isinstance(user_class, list) else [user_class]
    environment = Environment(user_classes=classes, host=classes[0].host, catch_exceptions=False)
    events: Any = environment.events
    events.request.add_listener(collector.on_request)
    runner = environment.create_local_runner()
    collector.open(SETTLE_SECONDS)
    runner.start(plan.users, spawn_rate=min(100, plan.users * 10))
    gevent.sleep(seconds)
    collector.close()
    runner.quit()
    task_failures.check()


def measure(
    targets: Mapping[str, Target],
    plan: Plan,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Measurement:
    """Warm each side up, then alternate measured rounds between the sides (A B B A A B ...)."""
    rng = random.Random(seed)
    users = {side: _user_class(plan, target, rng) for side, target in targets.items()}
    by_url = {target.url: users[side] for side, target in targets.items()}

    def one_round(target: Target, seconds: float) -> _Collector:
        collector = _Collector()
        _run_round(by_url[target.url], plan, seconds, collector)
        return collector

    return _rounds(targets, plan, one_round, progress)


ROUND_GRACE_SECONDS = float(os.environ.get("LR_CI_P95_ROUND_GRACE", "60"))
"""Beyond its planned seconds, how long a round may take (spawning, stopping and waiting for workers,
collecting) before lr-ci takes it for a task that blocks the load process (a loop that never yields to
gevent). LR_CI_P95_ROUND_GRACE overrides it, for tests."""


def _bounded(
    one_round: Callable[[Target, float], _Collector], plan: Plan
) -> Callable[[Target, float], _Collector]:
    """``one_round`` under a watchdog: a round that does not end is exit 2, not a run without end."""
    where = f"locustfile {plan.locustfile}" if plan.locustfile else "the routes' load"

    def bounded(target: Target, seconds: float) -> _Collector:
        limit = seconds + ROUND_GRACE_SECONDS
        with _watchdog(
            limit,
            f"{where}: a round of load did not end within {limit:g} s: a task blocks the load process "
            "(a loop or a call that never yields to gevent)",
        ):
            return one_round(target, seconds)

    return bounded


def _rounds(
    targets: Mapping[str, Target],
    plan: Plan,
    one_round: Callable[[Target, float], _Collector],
    progress: Callable[[int], None] | None = None,
) -> Measurement:
    """The schedule, whoever sends the load: warm-up per side, then rounds alternating A B B A ..."""
    collected: dict[str, list[_Collector]] = {side: [] for side in targets}
    started = time.monotonic()
    done = 0
    one_round = _bounded(one_round, plan)
    for target in targets.values():
        one_round(target, plan.warmup_seconds)
        done += 1
        if progress is not None:
            progress(done)
    names = list(targets)
    for index in range(plan.rounds):
        for side in names if index % 2 == 0 else list(reversed(names)):
            collected[side].append(one_round(targets[side], plan.round_seconds))
            done += 1
            if progress is not None:
                progress(done)
    # Routes: the configured ones, or (a locustfile) every request name seen.
    routes = (
        [r.label for r in plan.routes]
        if not plan.locustfile
        else sorted({name for rounds in collected.values() for c in rounds for name in (*c.times, *c.errors)})
    )
    sides = {
        side: {
            route: Side(
                [c.times.get(route, []) for c in rounds], errors=sum(c.errors.get(route, 0) for c in rounds)
            )
            for route in routes
        }
        for side, rounds in collected.items()
    }
    first_errors = {
        side: {route: e for c in rounds for route, e in c.first_error.items()}
        for side, rounds in collected.items()
    }
    measured = max(0.001, plan.round_seconds - SETTLE_SECONDS) * plan.rounds
    achieved = {
        side: sum(sum(map(len, c.times.values())) + sum(c.errors.values()) for c in rounds) / measured
        for side, rounds in collected.items()
    }
    arrivals = {
        side: spread(
            [c.arrivals[0] for c in rounds if c.arrivals], [c.arrivals[1] for c in rounds if c.arrivals]
        )
        for side, rounds in collected.items()
    }
    return Measurement(sides, first_errors, achieved, plan.rate, time.monotonic() - started, arrivals)


# -- distributed mode ----------------------------------------------------------------------------------
#
# The master (this process) tells its workers which side to load before each round ("lrci_target"), starts
# and stops the users as in local mode, and receives every raw response time from the workers in batches
# ("lrci_samples"): locust's own distributed stats would only give it the rounded percentiles.
#
# locust's master-worker protocol (ZeroMQ) has no authentication and no encryption: whoever reaches the
# master's port joins as a worker, and every message crosses the network in clear. A round's target carries
# the login flow's cookies and captured values, and the samples decide the gate. So lr-ci's own messages
# are sealed with a secret the master and its workers share (LR_CI_P95_CLUSTER_SECRET; local --workers get
# a fresh random one): a worker first proves the secret (a sealed answer to the master's challenge), only
# proven workers get a target, only sealed samples count, and a worker that does not prove it stops the run
# before anything is sent to it. Sealing is AES-256-GCM from the `cryptography` package (authenticated
# encryption; a random 96-bit nonce per message) with the key derived from the secret by HKDF-SHA256.

_SEAL_CONTEXT = b"lr-ci p95 cluster v1"
TARGET_MESSAGE = "lrci_target"
SAMPLES_MESSAGE = "lrci_samples"
CHALLENGE_MESSAGE = "lrci_challenge"
HELLO_MESSAGE = "lrci_hello"
CLUSTER_SECRET_ENV = "LR_CI_P95_CLUSTER_SECRET"  # noqa: S105 - the variable's name, not a secret
MIN_SECRET_LENGTH = 16
LOCAL_BIND_HOST = "127.0.0.1"
"""Where the master listens for local ``--workers``: nothing outside this machine can join."""
HELLO_WAIT_SECONDS = 5.0
"""How long a joined worker has to prove the secret before the run stops."""
BATCH_SECONDS = 0.25
TARGET_LEAD_SECONDS = 0.2
STOP_WAIT_SECONDS = 10.0
# How long a master waits for its workers to join (LR_CI_P95_WORKER_WAIT overrides, for tests).
WORKER_WAIT_SECONDS = float(os.environ.get("LR_CI_P95_WORKER_WAIT", "60"))


def cluster_secret(role: str) -> str:
    """The shared secret of a cluster from the environment; missing or short is exit 2 naming it."""
    from lr_ci.errors import LrCiError

    secret = os.environ.get(CLUSTER_SECRET_ENV, "")
    if len(secret) < MIN_SECRET_LENGTH:
        raise LrCiError(
            f"{role} needs {CLUSTER_SECRET_ENV} set to the same secret (at least {MIN_SECRET_LENGTH} "
            "characters) on the master and every worker: locust's workers are not authenticated otherwise"
        )
    return secret


class Seal:
    """Authenticated encryption of JSON values with a shared secret (see the section comment above)."""

    def __init__(self, secret: str) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_CONTEXT).derive(
            secret.encode("utf-8")
        )
        self._aead = AESGCM(key)
        self.seen: set[str] = set()
        """Nonces opened already: a replayed message is refused."""

    def seal(self, value: Any) -> dict[str, str]:
        import base64
        import json

        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, json.dumps(value).encode("utf-8"), _SEAL_CONTEXT)
        encode = base64.b64encode
        return {"nonce": encode(nonce).decode(), "sealed": encode(sealed).decode()}

    def open(self, box: Any) -> Any:
        """The value sealed in ``box``; ValueError when it was not sealed with this secret, or replayed."""
        import base64
        import binascii
        import json

        from cryptography.exceptions import InvalidTag

        try:
            nonce, sealed = (base64.b64decode(box[key], validate=True) for key in ("nonce", "sealed"))
            opened = self._aead.decrypt(nonce, sealed, _SEAL_CONTEXT)
        except (TypeError, KeyError, binascii.Error) as exc:
            raise ValueError("not a sealed message") from exc
        except InvalidTag as exc:
            raise ValueError("not sealed with this secret") from exc
        if box["nonce"] in self.seen:
            raise ValueError("replayed")
        self.seen.add(box["nonce"])
        return json.loads(opened)


class _DistributedCollector(_Collector):
    """Master side: samples arrive in sealed batches from proven workers, tagged with their round."""

    def __init__(self, seal: Seal, trusted: set[str]) -> None:
        super().__init__()
        self.round_id = 0
        self.seal = seal
        self.trusted = trusted

    def on_batch(self, environment: Any, msg: Any, **_: Any) -> None:
        if msg.node_id not in self.trusted:
            return
        try:
            data = self.seal.open(msg.data)
        except ValueError:
            return  # not from a worker that holds the secret
        if not isinstance(data, dict) or data.get("round") != self.round_id:
            return  # late samples of an earlier round
        for name, times in data.get("times", {}).items():
            self.times.setdefault(name, []).extend(float(t) for t in times)
        for name, count in data.get("errors", {}).items():
            self.errors[name] = self.errors.get(name, 0) + int(count)
        for name, error in data.get("first_error", {}).items():
            self.first_error.setdefault(name, str(error))
        failure = data.get("task_failure")
        if failure:
            task_failures.record(str(failure), int(data.get("task_failures", 1)))


def _distributed_user_classes(plan: Plan, rng: random.Random) -> list[Any]:
    """User classes the master re-aims before each round (see :func:`_aim`).

    A locustfile's classes keep their own ``on_start`` (their login is theirs); only their host changes.
    """
    made = _user_class(plan, Target("http://127.0.0.1"), rng)
    return made if isinstance(made, list) else [made]


def _aim(user_classes: Sequence[Any], target: Target) -> None:
    """Point every user class at ``target`` (users spawned from now on use it)."""
    for user_class in user_classes:
        user_class.host = target.url
        user_class.lr_ci_target = target
        user_class.lr_ci_armed = True


class _Gatekeeper:
    """The master's side of the handshake: challenge every worker that joins, trust those that answer."""

    def __init__(self, runner: Any, seal: Seal) -> None:
        import secrets

        self.runner = runner
        self.seal = seal
        self.trusted: set[str] = set()
        self.challenges: dict[str, str] = {}
        self.joined_at: dict[str, float] = {}
        self._token = secrets.token_hex
        events: Any = runner.environment.events
        events.worker_connect.add_listener(self.on_connect)
        runner.register_message(HELLO_MESSAGE, self.on_hello)

    def on_connect(self, client_id: str, **_: Any) -> None:
        if client_id in self.trusted:
            return  # a proven worker ready again after a round
        self.joined_at.setdefault(client_id, time.monotonic())
        self.challenge(client_id)

    def challenge(self, client_id: str) -> None:
        """Ask ``client_id`` to prove the secret (again: a worker may get the first ask before it listens)."""
        nonce = self.challenges.setdefault(client_id, self._token(16))
        self.runner.send_message(CHALLENGE_MESSAGE, {"nonce": nonce}, client_id=client_id)

    def on_hello(self, environment: Any, msg: Any, **_: Any) -> None:
        try:
            answer = self.seal.open(msg.data)
        except ValueError:
            return
        expected = self.challenges.get(msg.node_id)
        if expected is not None and answer == {"nonce": expected, "client": msg.node_id}:
            self.trusted.add(msg.node_id)

    def proven(self) -> list[str]:
        """The connected workers that proved the secret."""
        return [client.id for client in self.runner.clients.all if client.id in self.trusted]

    def check_strangers(self) -> None:
        """Exit 2 when a worker joined and did not prove the secret in time (nothing was sent to it)."""
        from lr_ci.errors import LrCiError

        now = time.monotonic()
        for client in self.runner.clients.all:
            joined = self.joined_at.setdefault(client.id, now)
            if client.id in self.trusted:
                continue
            self.challenge(client.id)
            if now - joined > HELLO_WAIT_SECONDS:
                raise LrCiError(
                    f"a locust worker joined without proving {CLUSTER_SECRET_ENV} within "
                    f"{HELLO_WAIT_SECONDS:g} s; the run stopped before sending it anything: start workers "
                    f"with `lr-ci p95 --worker` and the master's {CLUSTER_SECRET_ENV}"
                )


def measure_distributed(
    targets: Mapping[str, Target],
    plan: Plan,
    workers: int,
    port: int,
    spawn: Callable[[int], list[Any]] | None = None,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    secret: str,
    bind_host: str = LOCAL_BIND_HOST,
) -> Measurement:
    """As :func:`measure`, with the users spread over ``workers`` worker processes.

    ``spawn(port)`` starts local worker processes (``--workers N``); without it, the master waits for
    workers started elsewhere (``--master``) to join on ``bind_host:port``. Every worker must prove
    ``secret`` before it counts.
    """
    import gevent
    from locust.env import Environment

    _quiet_locust_logging()
    rng = random.Random(seed)
    # The master needs the same classes as its workers: it tells them which classes to spawn, by name.
    environment = Environment(user_classes=_distributed_user_classes(plan, rng), catch_exceptions=False)
    with _master(environment, bind_host, port) as (runner, local_workers):
        seal = Seal(secret)
        gate = _Gatekeeper(runner, seal)
        collector = _DistributedCollector(seal, gate.trusted)
        runner.register_message(SAMPLES_MESSAGE, collector.on_batch)
        # Started once the master listens for them: their hello must not come before the gatekeeper.
        if spawn is not None:
            local_workers.extend(spawn(port))
        deadline = time.monotonic() + WORKER_WAIT_SECONDS
        while len(gate.proven()) < workers:
            gate.check_strangers()
            if time.monotonic() > deadline:
                raise _no_workers(len(gate.proven()), workers, port)
            gevent.sleep(0.2)
        return _rounds(
            targets,
            plan,
            lambda target, seconds: _distributed_round(runner, gate, collector, plan, target, seconds),
            progress,
        )


@contextlib.contextmanager
def _master(environment: Any, bind_host: str, port: int) -> Iterator[tuple[Any, list[Any]]]:
    """The master runner listening on ``bind_host:port``, and a list for the local worker processes the
    caller starts for it.

    On the way out the master quits first (a worker that got its quit ends within seconds), then each
    local worker is waited for; after an error or an interruption they are stopped instead.
    """
    runner = _listen(environment, bind_host, port)
    processes: list[Any] = []
    finished = False
    try:
        yield runner, processes
        finished = True
    finally:
        runner.quit()
        for process in processes:
            _reap(process, finished)


def _listen(environment: Any, bind_host: str, port: int) -> Any:
    """The master runner listening on ``bind_host:port``; an address it cannot take is exit 2 naming it."""
    from locust.exception import RPCError

    from lr_ci.errors import LrCiError

    try:
        return environment.create_master_runner(master_bind_host=bind_host, master_bind_port=port)
    except RPCError as exc:
        reason = str(exc).split(" (addr=")[0]
        raise LrCiError(
            f"--master-bind {bind_host} --master-port {port}: cannot listen there: {reason}"
        ) from None


def _reap(process: Any, finished: bool) -> None:
    """End a local worker after the master quit: one that got the master's quit ends within seconds; on
    an error or an interruption (``finished`` false) it may not even have joined yet, so it is stopped."""
    import subprocess

    if not finished:
        process.terminate()
    try:
        process.wait(timeout=10 if finished else 5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _no_workers(joined: int, wanted: int, port: int) -> Exception:
    from lr_ci.errors import LrCiError

    return LrCiError(
        f"only {joined} of {wanted} locust workers joined on port {port} within "
        f"{WORKER_WAIT_SECONDS:g} s: start them with `lr-ci p95 --worker --master-host HOST` and the "
        f"master's {CLUSTER_SECRET_ENV}"
    )


def _distributed_round(
    runner: Any,
    gate: _Gatekeeper,
    collector: _DistributedCollector,
    plan: Plan,
    target: Target,
    seconds: float,
) -> _Collector:
    import gevent

    gate.check_strangers()
    while len(gate.proven()) < len(runner.clients.all):  # a worker that joined since: until it proves it
        gevent.sleep(0.1)
        gate.check_strangers()
    collector.round_id += 1
    collector.times, collector.errors, collector.first_error = {}, {}, {}
    aim = {
        "round": collector.round_id,
        "url": target.url,
        "cookies": dict(target.cookies),
        "values": dict(target.values),
    }
    for client_id in gate.proven():  # sealed, and only to workers that proved the secret
        runner.send_message(TARGET_MESSAGE, gate.seal.seal(aim), client_id=client_id)
    gevent.sleep(TARGET_LEAD_SECONDS)  # the target reaches every worker before the spawn message
    runner.start(plan.users, spawn_rate=min(100, plan.users * 10))
    gevent.sleep(seconds)
    _stop_workers(runner)
    task_failures.check()
    return collector.snapshot()


def _stop_workers(runner: Any) -> None:
    """Stop the users and wait until every worker is ready again, its last samples already sent.

    locust's own ``MasterRunner.stop`` polls in whole seconds; this waits for the workers' "ready" instead
    (a worker sends its last batch on stop, before it says so, and one socket keeps that order). Bounded:
    a worker that never comes back leaves the next round to the others (the achieved rate then shows it).
    """
    import gevent

    expected = runner.worker_count
    back: list[str] = []
    events: Any = runner.environment.events

    def on_connect(client_id: str, **_: Any) -> None:
        back.append(client_id)

    events.worker_connect.add_listener(on_connect)
    try:
        runner.stop(send_stop_to_client=False)
        runner.send_message("stop")
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while len(set(back)) < expected and time.monotonic() < deadline:
            gevent.sleep(0.02)
    finally:
        events.worker_connect.remove_listener(on_connect)


def _join(environment: Any, master_host: str, master_port: int) -> Any:
    """The worker runner, connected to its master; a master that cannot be named or reached is exit 2.

    Bounded like the master's wait for its workers (WORKER_WAIT_SECONDS) rather than locust's five minutes.
    """
    import socket

    import zmq
    from locust import runners

    from lr_ci.errors import LrCiError

    where = f"--master-host {master_host!r} --master-port {master_port}"
    try:
        socket.getaddrinfo(master_host, master_port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise LrCiError(f"{where}: cannot resolve the master's host: {exc}") from None
    runners.CONNECT_RETRY_COUNT = max(1, int(WORKER_WAIT_SECONDS / runners.CONNECT_TIMEOUT))
    try:
        return environment.create_worker_runner(master_host, master_port)
    except ConnectionError:
        raise LrCiError(f"{where}: no master answered within {WORKER_WAIT_SECONDS:g} s") from None
    except zmq.ZMQError as exc:
        raise LrCiError(f"{where}: cannot connect: {exc}") from None


def run_worker(plan: Plan, master_host: str, master_port: int, seed: int | None = None) -> None:
    """A worker process: prove the cluster secret, load whatever target the master names, send back every
    raw time (sealed)."""
    import gevent
    from locust.env import Environment

    seal = Seal(cluster_secret("--worker"))
    _quiet_locust_logging()
    rng = random.Random(seed)
    user_classes = _distributed_user_classes(plan, rng)
    for user_class in user_classes:
        user_class.lr_ci_armed = False  # until a target sealed with the secret names where to send load
    environment = Environment(user_classes=user_classes, catch_exceptions=False)
    runner = _join(environment, master_host, master_port)
    collector = _Collector()
    round_id = [0]

    def on_challenge(environment: Any, msg: Any, **_: Any) -> None:
        nonce = (msg.data or {}).get("nonce")
        runner.send_message(HELLO_MESSAGE, seal.seal({"nonce": nonce, "client": runner.client_id}))

    def on_target(environment: Any, msg: Any, **_: Any) -> None:
        try:
            data = seal.open(msg.data)
        except ValueError:
            return  # not from a master holding the secret
        _aim(user_classes, Target(data["url"], data.get("cookies", {}), data.get("values", {})))
        round_id[0] = data["round"]
        collector.open(TARGET_LEAD_SECONDS + SETTLE_SECONDS)  # users spawn after the lead time

    def send_batch(**_: Any) -> None:
        if collector.times or collector.errors or task_failures.first:
            # Taken and reset before sending (sending may yield to the other caller).
            batch = {
                "round": round_id[0],
                "times": collector.times,
                "errors": collector.errors,
                "first_error": collector.first_error,
                "task_failure": task_failures.first,
                "task_failures": task_failures.count,
            }
            collector.times, collector.errors = {}, {}
            task_failures.first, task_failures.count = None, 0
            runner.send_message(SAMPLES_MESSAGE, seal.seal(batch))

    def flush() -> None:
        while True:
            gevent.sleep(BATCH_SECONDS)
            send_batch()

    runner.register_message(CHALLENGE_MESSAGE, on_challenge)
    runner.register_message(TARGET_MESSAGE, on_target)
    events: Any = environment.events
    events.request.add_listener(collector.on_request)
    events.test_stop.add_listener(send_batch)  # the round's last samples, before "stopped" reaches the master
    gevent.spawn(flush)
    runner.greenlet.join()
