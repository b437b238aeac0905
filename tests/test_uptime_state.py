"""The uptime state file as a spec: real SQLite files in tmp_path, an injected clock, a real SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from lr_ci.checks.uptime.rule import ControlGuard, Evaluator, Event, Rule, Verdicts
from lr_ci.checks.uptime.state import (
    MAX_ERROR_CHARS,
    ProbeResult,
    StateCorruptError,
    StateLockedError,
    Store,
    retry_delay,
    size_bound,
)
from lr_ci.errors import LrCiError
from lr_ci.redact import Redactor

RULE = Rule(interval=60, timeout=10, failures=2, window=300, recover_after=2)
TARGETS = ("slack", "webhook")


def keep(text: str) -> str:
    return text


def open_store(path: Path) -> Store:
    return Store.open(path, keep)


def probe(store: Store, ev: Evaluator, monitor: str, started: float, up: bool, **extra: object) -> Verdicts:
    """One probe result through the evaluator and into the store, as the monitor's loop does it."""
    finished = started + 0.25
    verdicts = ev.observe(monitor, started, finished, up)
    outcome = next((j.outcome for j in verdicts.judged if j.started == started), None)
    result = ProbeResult(monitor, started, finished, up, outcome, **extra)  # type: ignore[arg-type]
    store.record(
        now=finished, results=[result], judged=verdicts.judged, events=verdicts.events, targets=TARGETS
    )
    return verdicts


def outbox_keys(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT key, target FROM outbox ORDER BY created, key, target").fetchall()


# -- rounds, incidents, restart ---------------------------------------------------------------------------


def test_a_round_is_recorded_with_its_incident_and_one_outbox_row_per_target(tmp_path: Path) -> None:
    path = tmp_path / "uptime.db"
    with open_store(path) as store:
        ev = Evaluator({"api": RULE})
        probe(
            store,
            ev,
            "api",
            0.0,
            False,
            status=500,
            error_class="http-status",
            error="500 Internal Server Error",
        )
        opened = probe(store, ev, "api", 60.0, False, status=500).events
        assert [e.kind for e in opened] == ["opened"]
        [incident] = store.open_incidents()
        assert (incident.id, incident.monitor, incident.since, incident.trigger) == (
            opened[0].incident_id,
            "api",
            0.0,
            60.0,
        )
        assert [(r.started, r.outcome, r.status) for r in store.results("api")] == [
            (0.0, "down", 500),
            (60.0, "down", 500),
        ]
        assert store.results("api")[0].error == "500 Internal Server Error"
        assert outbox_keys(path) == [(opened[0].key, "slack"), (opened[0].key, "webhook")]
        assert store.undelivered() == 2


def test_a_restart_resumes_the_open_incident_and_recovers_under_its_key(tmp_path: Path) -> None:
    path = tmp_path / "uptime.db"
    with open_store(path) as store:
        ev = Evaluator({"api": RULE})
        probe(store, ev, "api", 0.0, False)
        opened = probe(store, ev, "api", 60.0, False).events[0]
        probe(store, ev, "api", 120.0, True)  # one success of the two needed, then the monitor stops
    with open_store(path) as store:
        ev = Evaluator({"api": RULE})
        replayed = store.rebuild(ev)
        assert replayed.events == []
        resumed = ev.monitors["api"].incident
        assert resumed is not None and resumed.id == opened.incident_id
        recovered = probe(store, ev, "api", 180.0, True).events  # the second success, after the restart
        assert [(e.kind, e.incident_id, e.duration) for e in recovered] == [
            ("recovered", opened.incident_id, 120.0)
        ]
        assert store.open_incidents() == []
    assert outbox_keys(path) == [(k, t) for k in (opened.key, recovered[0].key) for t in TARGETS]


def test_a_restart_keeps_the_failures_in_the_window(tmp_path: Path) -> None:
    path = tmp_path / "uptime.db"
    with open_store(path) as store:
        probe(store, Evaluator({"api": RULE}), "api", 0.0, False)
    with open_store(path) as store:
        ev = Evaluator({"api": RULE})
        assert store.rebuild(ev).events == []
        assert [e.kind for e in probe(store, ev, "api", 60.0, False).events] == ["opened"]


def test_a_restart_does_not_count_failures_from_before_a_recovery(tmp_path: Path) -> None:
    path = tmp_path / "uptime.db"
    with open_store(path) as store:
        ev = Evaluator({"api": RULE})
        for started, up in ((0, False), (60, False), (120, True), (180, True)):
            probe(store, ev, "api", float(started), up)
    with open_store(path) as store:
        ev = Evaluator({"api": RULE})
        assert store.rebuild(ev).events == []
        assert probe(store, ev, "api", 240.0, False).events == []  # one new failure: no page


def test_replay_adds_what_a_crash_lost_once_and_only_once(tmp_path: Path) -> None:
    """Results written without their event (as a store written by a crashed older run could be): the
    replay decides the event again; a second replay's identical key is ignored."""
    path = tmp_path / "uptime.db"
    with open_store(path) as store:
        for started in (0.0, 60.0):
            store.record(now=started + 1, results=[ProbeResult("api", started, started + 1, False, "down")])
    with open_store(path) as store:
        replayed = store.rebuild(Evaluator({"api": RULE}))
        assert [e.kind for e in replayed.events] == ["opened"]
        store.record(now=100.0, events=replayed.events, targets=TARGETS)
        store.record(now=101.0, events=replayed.events, targets=TARGETS)  # as two overlapping runs would
    with open_store(path) as store:
        ev = Evaluator({"api": RULE})
        assert store.rebuild(ev).events == []  # now the incident is resumed, not decided again
        assert len(store.open_incidents()) == 1 and ev.monitors["api"].incident is not None
    assert outbox_keys(path) == [(replayed.events[0].key, t) for t in TARGETS]


def test_a_pending_failure_is_judged_again_after_a_restart_with_the_control(tmp_path: Path) -> None:
    path = tmp_path / "uptime.db"
    with open_store(path) as store:
        ev = Evaluator({"api": RULE}, ControlGuard(60, 5))
        for started in (0.0, 60.0):
            control = ev.observe_control(started, started + 0.1, up=False)
            store.record(
                now=started + 0.1,
                results=[ProbeResult("control", started, started + 0.1, False)],
                judged=control.judged,
            )
            probe(store, ev, "api", started, False)
        # The failure at 120 s is stored before the control of its slot reported: still pending.
        pending = probe(store, ev, "api", 120.0, False)
        assert pending.judged == [] and store.results("api")[-1].outcome is None
    with open_store(path) as store:
        ev = Evaluator({"api": RULE}, ControlGuard(60, 5))
        replayed = store.rebuild(ev, control="control")
        assert replayed.events == [] and ev.pending("api") == 1
        released = ev.observe_control(120.0, 120.1, up=False)
        assert [(j.started, j.outcome) for j in released.judged] == [(120.0, "network")]
        assert [r.outcome for r in store.results("api")] == ["network", "network", None]


# -- the outbox -------------------------------------------------------------------------------------------


def test_retry_delay_doubles_from_15_seconds_to_a_15_minute_cap() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4, 7, 50)] == [15, 30, 60, 120, 900, 900]


def test_a_target_down_for_three_rounds_gets_the_alert_once_in_the_fourth(tmp_path: Path) -> None:
    path = tmp_path / "uptime.db"
    with open_store(path) as store:
        ev = Evaluator({"api": RULE})
        probe(store, ev, "api", 0.0, False)
        probe(store, ev, "api", 60.0, False)
    sent: list[tuple[str, str]] = []
    now = 61.0
    for attempt in range(1, 5):
        # Each round is a separate process (``--once`` runs): the outbox carries the retries.
        with open_store(path) as store:
            due = store.due(now)
            assert [d.target for d in due] == (["slack"] if attempt > 1 else ["slack", "webhook"])
            for delivery in due:
                if delivery.target == "webhook":
                    store.delivered(delivery.key, delivery.target, now)
                    sent.append((delivery.key, delivery.target))
                elif attempt < 4:
                    assert delivery.attempts == attempt - 1
                    next_at = store.failed(delivery.key, delivery.target, now, "connection refused")
                    assert next_at == now + retry_delay(attempt)
                else:
                    store.delivered(delivery.key, delivery.target, now)
                    sent.append((delivery.key, delivery.target))
            if attempt < 4:
                assert store.due(next_at - 0.001) == []  # not before its backoff
                now = next_at
    with open_store(path) as store:
        assert store.due(now + 10**6) == [] and store.undelivered() == 0
        store.delivered(sent[0][0], "slack", now + 1)  # marking again changes nothing
    assert sorted(t for _, t in sent) == ["slack", "webhook"] and len(set(sent)) == 2


def test_skipped_slots_are_counted_per_monitor(tmp_path: Path) -> None:
    with open_store(tmp_path / "uptime.db") as store:
        store.record(now=600.0, skipped={"api": 9})
        store.record(now=700.0, skipped={"api": 1, "home": 2})
        assert (store.skipped("api"), store.skipped("home"), store.skipped("unknown")) == (10, 2, 0)


def test_the_delivery_body_carries_the_idempotency_key_and_the_callers_details(tmp_path: Path) -> None:
    event = Event("opened", "api", "inc-1", 1, 61.0, 0.0)
    with open_store(tmp_path / "uptime.db") as store:
        store.record(
            now=61.0, events=[event], targets=["t"], details={event.key: {"owner": "@ops", "status": 500}}
        )
        [delivery] = store.due(61.0)
    assert delivery.key == "inc-1:opened:1" == delivery.body["key"]
    assert delivery.body["owner"] == "@ops" and delivery.body["since"] == 0.0 and delivery.kind == "opened"


# -- one run at a time, crashes, corruption ------------------------------------------------------------------


def test_a_second_run_that_finds_the_lock_held_says_so(tmp_path: Path) -> None:
    path = tmp_path / "uptime.db"
    first = open_store(path)
    with pytest.raises(StateLockedError) as refused:
        open_store(path)
    assert f"in use by another lr-ci uptime run (pid {os.getpid()})" in str(refused.value)
    assert isinstance(refused.value, LrCiError) and refused.value.exit_code == 2
    first.close()
    open_store(path).close()


CHILD = textwrap.dedent(
    """
    import sys
    from lr_ci.checks.uptime.rule import Event
    from lr_ci.checks.uptime.state import ProbeResult, Store

    store = Store.open(sys.argv[1], str)
    i = 0
    while True:
        t = i * 60.0
        results = [ProbeResult(f"m{j}", t, t + 0.05, False, "down", 500, "http", "x" * 150) for j in range(300)]
        event = Event("opened", "m0", f"inc-{i}", 1, t, t)
        store.record(now=t, results=results, events=[event], targets=["a", "b"])
        print(i, flush=True)
        i += 1
    """
)


def test_a_monitor_killed_with_sigkill_mid_write_leaves_whole_rounds_and_no_lock(tmp_path: Path) -> None:
    path = tmp_path / "uptime.db"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        rounds = 0
        while rounds < 15:
            line = child.stdout.readline()
            assert line, "the child stopped writing"
            rounds = int(line) + 1
        with pytest.raises(StateLockedError, match=f"pid {child.pid}"):
            open_store(path)
        os.kill(child.pid, signal.SIGKILL)  # while it writes its next rounds
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    with open_store(path) as store:  # quick_check passed, and the kernel released the lock
        with sqlite3.connect(path) as db:
            results = db.execute("SELECT count(*) FROM results").fetchone()[0]
            events = db.execute("SELECT count(DISTINCT key) FROM outbox").fetchone()[0]
            incidents = db.execute("SELECT count(*) FROM incidents").fetchone()[0]
        assert results >= 15 * 300 and results == 300 * events == 300 * incidents
        store.record(now=10**6, results=[ProbeResult("m0", 10**6, 10**6 + 1, True, "up")])


def test_a_corrupt_file_is_a_clear_error_and_is_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "uptime.db"
    path.write_bytes(b"this is not a database\n" * 200)
    before = path.read_bytes()
    with pytest.raises(StateCorruptError) as corrupt:
        open_store(path)
    message = str(corrupt.value)
    assert message.startswith(f"{path}: the state file is damaged or not a state file")
    assert "\n" not in message and corrupt.value.exit_code == 2
    assert path.read_bytes() == before
    open_store(tmp_path / "other.db").close()  # the lock of a failed open is released too
    open_store(tmp_path / "other.db").close()


def test_a_damaged_page_is_found_at_start(tmp_path: Path) -> None:
    path = tmp_path / "uptime.db"
    with open_store(path) as store:
        store.record(now=0, results=[ProbeResult("api", float(i), i + 0.1, True, "up") for i in range(3000)])
        store.file_bytes()
    data = bytearray(path.read_bytes())
    data[8192:12288] = b"\xa5" * 4096  # overwrite the third page
    path.write_bytes(bytes(data))
    with pytest.raises(StateCorruptError, match="damaged"):
        open_store(path)


def test_another_sqlite_database_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
    before = path.read_bytes()
    with pytest.raises(StateCorruptError, match="not an lr-ci uptime state file"):
        open_store(path)
    assert path.read_bytes() == before  # not even switched to WAL


def test_a_round_is_all_or_nothing(tmp_path: Path) -> None:
    def results_then_a_crash() -> Iterator[ProbeResult]:
        yield ProbeResult("api", 0.0, 1.0, False, "down")
        raise RuntimeError("the probe layer crashed mid-round")

    with open_store(tmp_path / "uptime.db") as store:
        with pytest.raises(RuntimeError):
            store.record(
                now=1.0, results=results_then_a_crash(), events=[Event("opened", "api", "i", 1, 1.0, 0.0)]
            )
        assert store.results("api") == [] and store.undelivered() == 0
        store.record(now=2.0, results=[ProbeResult("api", 60.0, 61.0, True, "up")])  # the store still works
        assert [r.started for r in store.results("api")] == [60.0]


# -- credentials ---------------------------------------------------------------------------------------------

SECRET = "hunter2-Sup3rS3cretT0ken-9f8e7d"


def test_a_registered_credential_never_reaches_the_file(tmp_path: Path) -> None:
    redactor = Redactor()
    redactor.add_credential(SECRET)
    path = tmp_path / "uptime.db"
    event = Event("opened", "login", "inc-1", 1, 61.0, 0.0)
    with Store.open(path, redactor.scrub_text) as store:
        straddling = "x" * (MAX_ERROR_CHARS - 10) + SECRET  # cut in the middle of the secret
        errors = [
            f"login failed for password={SECRET}",
            f"GET /?token={SECRET.replace('-', '%2D')}",
            straddling,
        ]
        store.record(
            now=61.0,
            results=[
                ProbeResult("login", float(i), i + 1.0, False, "down", error=e) for i, e in enumerate(errors)
            ],
            events=[event],
            targets=["t"],
            details={event.key: {"error": f"auth {SECRET}", "lines": [SECRET]}},
        )
        store.failed(event.key, "t", 62.0, f"401 for Bearer {SECRET}")
        stored = [r.error or "" for r in store.results("login")]
        assert all(SECRET not in text and "***" in text for text in stored)
        assert len(stored[2]) <= MAX_ERROR_CHARS
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("uptime.db"))
    for needle in (SECRET, SECRET[:12], SECRET.replace("-", "%2D")):
        assert needle.encode() not in raw


def test_without_the_mask_the_same_check_would_find_it(tmp_path: Path) -> None:
    """The raw-bytes check above is able to see a credential that is written."""
    path = tmp_path / "uptime.db"
    with open_store(path) as store:
        store.record(
            now=1.0, results=[ProbeResult("login", 0.0, 1.0, False, "down", error=f"password={SECRET}")]
        )
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("uptime.db"))
    assert SECRET.encode() in raw


# -- bounded history -----------------------------------------------------------------------------------------


def test_old_results_are_folded_into_hourly_aggregates(tmp_path: Path) -> None:
    day = 86_400.0
    with open_store(tmp_path / "uptime.db") as store:
        results = [
            ProbeResult(
                name,
                i * 60.0,
                i * 60.0 + (0.5 if i % 60 == 7 else 0.1),
                i % 60 != 7,
                "up" if i % 60 != 7 else "down",
            )
            for name in ("api", "home")
            for i in range(3 * 1440)
        ]
        store.record(now=3 * day, results=results)
        folded = store.compact(now=3 * day, retention=2 * day)
        assert folded == 2 * 1440
        assert store.compact(now=3 * day, retention=2 * day) == 0  # nothing is counted twice
        kept = store.results("api")
        assert kept[0].started == day and len(kept) == 2 * 1440
        hours = store.hourly("api")
        assert len(hours) == 24 and hours[0].hour == 0.0 and hours[-1].hour == 23 * 3600.0
        assert {(h.probes, h.failures, h.network) for h in hours} == {(60, 1, 0)}
        assert hours[0].latency_sum == pytest.approx(59 * 0.1 + 0.5) and hours[0].latency_max == 0.5


def test_delivered_notifications_are_dropped_after_the_retention_but_undelivered_ones_never(
    tmp_path: Path,
) -> None:
    events = [Event("opened", "api", f"inc-{i}", 1, 0.0, 0.0) for i in range(2)]
    with open_store(tmp_path / "uptime.db") as store:
        store.record(now=0.0, events=events, targets=["t"])
        store.delivered(events[0].key, "t", 1.0)
        store.compact(now=10 * 86_400.0)
        assert store.undelivered() == 1 and [d.key for d in store.due(10 * 86_400.0)] == [events[1].key]


def test_a_year_of_60s_probes_stays_within_the_size_bound(tmp_path: Path) -> None:
    """Ten monitors (a tenth of the issue's 100, to keep the test fast): a year of hourly aggregates and
    two days of raw results. The file must stay under ``size_bound``, which for 100 monitors is ~30 MB."""
    monitors, interval, retention = 10, 60.0, 2 * 86_400.0
    path = tmp_path / "uptime.db"
    now = 365 * 86_400.0
    with open_store(path) as store:
        raw_start = now - retention
        for name in range(monitors):
            store.record(
                now=now,
                results=[
                    ProbeResult(
                        f"monitor-{name}",
                        raw_start + i * interval,
                        raw_start + i * interval + 0.08 + (i % 7) / 100,
                        True,
                        "up",
                        200,
                    )
                    for i in range(int(retention / interval))
                ],
            )
        with sqlite3.connect(path) as db:
            db.executemany(
                "INSERT INTO hourly VALUES (?, ?, 60, ?, 0, ?, ?)",
                (
                    (m, h, h % 97 == 0, 4800 + h % 500, 200 + h % 300)
                    for m in range(1, monitors + 1)
                    for h in range(363 * 24)
                ),
            )
        size = store.file_bytes()
    assert size <= size_bound(monitors, interval, retention)
    assert size_bound(100, 60.0) < 40 * 1024 * 1024
    print(f"{monitors} monitors, a year: {size} bytes; bound for 100: {size_bound(100, 60.0)} bytes")


def test_an_incident_opened_late_by_the_control_resumes_after_its_own_trigger(tmp_path: Path) -> None:
    path = tmp_path / "uptime.db"
    with open_store(path) as store:
        ev = Evaluator({"api": RULE}, ControlGuard(60, 5))
        ev.observe_control(0.0, 0.1, up=True)
        probe(store, ev, "api", 0.0, False)
        probe(store, ev, "api", 60.0, False)  # held: the control of its slot has not reported
        probe(store, ev, "api", 120.0, True)  # queued behind it
        released = ev.observe_control(60.0, 121.0, up=True)
        assert [e.kind for e in released.events] == ["opened"] and released.events[0].decided_by == 60.0
        store.record(now=121.0, judged=released.judged, events=released.events, targets=TARGETS)
        assert store.open_incidents()[0].trigger == 60.0
    with open_store(path) as store:
        ev = Evaluator({"api": RULE})
        store.rebuild(ev)
        # The success at 120 s is replayed (it came after the trigger), so one more closes the incident.
        assert [e.kind for e in probe(store, ev, "api", 180.0, True).events] == ["recovered"]


def test_with_compaction_the_file_stops_growing_once_the_retention_is_full(tmp_path: Path) -> None:
    hour, day = 3600.0, 86_400.0
    sizes: dict[int, int] = {}
    with open_store(tmp_path / "uptime.db") as store:
        for h in range(4 * 24):
            start = h * hour
            store.record(
                now=start + hour,
                results=[
                    ProbeResult(f"m{m}", start + i * 60.0 + m, start + i * 60.0 + m + 0.1, True, "up", 200)
                    for i in range(60)
                    for m in range(5)
                ],
            )
            store.compact(now=start + hour, retention=day)
            if (h + 1) % 24 == 0:
                sizes[(h + 1) // 24] = store.file_bytes()
    # Days 3 and 4 only add 5 x 24 hourly rows each (~3 KB); the raw rows' pages are reused.
    assert sizes[4] - sizes[2] <= 16 * 1024, sizes


WRITER = textwrap.dedent(
    """
    import sys
    from lr_ci.checks.uptime.state import ProbeResult, Store

    store = Store.open(sys.argv[1], str, lock=False)
    for i in range(40):
        t = i * 60.0
        store.record(now=t, results=[ProbeResult(f"{sys.argv[2]}-{j}", t, t + 0.1, True, "up") for j in range(50)])
    store.close()
    """
)


def test_two_writers_without_the_run_lock_queue_and_lose_nothing(tmp_path: Path) -> None:
    """The run lock keeps monitors apart; below it, ``BEGIN IMMEDIATE`` and the busy timeout make two
    writing processes (a monitor and a maintenance command, say) take turns instead of corrupting."""
    path = tmp_path / "uptime.db"
    open_store(path).close()  # the schema exists before both start
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name]) for name in ("a", "b")]
    assert [writer.wait(timeout=60) for writer in writers] == [0, 0]
    with open_store(path), sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM results").fetchone()[0] == 2 * 40 * 50
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_core_imports_nothing_heavy() -> None:
    code = (
        "import sys, lr_ci.checks.uptime.rule, lr_ci.checks.uptime.schedule, lr_ci.checks.uptime.state; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'pydantic', 'click', 'apprise', "
        "'aiosmtpd', 'hypothesis', 'asyncio', 'lr_ci.config'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- monitors removed from the configuration --------------------------------------------------------------


def test_a_removed_monitor_s_open_incident_is_closed_with_one_recovery_per_target(tmp_path: Path) -> None:
    """A monitor removed while down is never probed again: without this its incident (and GitHub issue)
    would stay open forever. The recovery is queued once, with the key a normal recovery would have, and
    survives a restart without a second row."""
    from lr_ci.checks.uptime.notify import summary

    path = tmp_path / "uptime.db"
    with open_store(path) as store:
        ev = Evaluator({"api": RULE, "web": RULE})
        probe(store, ev, "api", 0.0, False)
        opened = probe(store, ev, "api", 60.0, False).events[0]
        probe(store, ev, "web", 0.0, False)
        web_opened = probe(store, ev, "web", 60.0, False).events[0]
    with open_store(path) as store:  # the next start: "api" is gone from lr-ci.toml, "web" is still there
        closed = store.close_removed(["web"], 600.0, TARGETS)
        assert [(e.kind, e.monitor, e.incident_id, e.key, e.duration) for e in closed] == [
            ("recovered", "api", opened.incident_id, f"{opened.incident_id}:recovered:1", 600.0)
        ]
        assert [i.monitor for i in store.open_incidents()] == ["web"]
        rows = [d for d in store.due(600.0) if d.kind == "recovered"]
        assert [(d.key, d.target) for d in rows] == [(closed[0].key, t) for t in TARGETS]
        assert rows[0].body["removed"] is True and rows[0].body["monitor"] == "api"
        title, text = summary(rows[0])
        assert "api was removed from the configuration: incident closed" in text
        assert title == "[lr-ci uptime] RECOVERED: api"
    with open_store(path) as store:  # a restart with the same config queues nothing more
        assert store.close_removed(["web"], 900.0, TARGETS) == []
        ev = Evaluator({"web": RULE})
        assert store.rebuild(ev).events == []
        resumed = ev.monitors["web"].incident
        assert resumed is not None and resumed.id == web_opened.incident_id
    assert outbox_keys(path).count((closed[0].key, "slack")) == 1
    assert len(outbox_keys(path)) == 3 * len(TARGETS)


def test_closing_removed_monitors_is_one_transaction(tmp_path: Path) -> None:
    """A storage failure half-way leaves every incident open and no outbox row: the next start retries."""
    path = tmp_path / "uptime.db"
    with open_store(path) as store:
        ev = Evaluator({"api": RULE, "web": RULE})
        for name in ("api", "web"):
            probe(store, ev, name, 0.0, False)
            probe(store, ev, name, 60.0, False)
    with open_store(path) as store:
        before = outbox_keys(path)

        class Broken(Sequence[str]):
            """Targets whose second row cannot be written (a full disk, as the store sees it)."""

            def __len__(self) -> int:
                return 2

            def __getitem__(self, index: int) -> str:  # type: ignore[override]
                if index == 1:
                    raise sqlite3.OperationalError("database or disk is full")
                return "slack"

        with pytest.raises(LrCiError, match="disk is full"):
            store.close_removed([], 600.0, Broken())
        assert sorted(i.monitor for i in store.open_incidents()) == ["api", "web"]
        assert outbox_keys(path) == before
        assert [e.monitor for e in store.close_removed([], 600.0, TARGETS)] == ["api", "web"]
