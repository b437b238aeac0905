"""The monitor's state: one SQLite file (stdlib ``sqlite3``, WAL) with probe results, incidents, the
notification outbox and the bounded history. Times are passed in; nothing here reads a clock.

Why each part is the way it is:

- **One transaction per round** (:meth:`Store.record`): a round's results, the outcomes judged, the
  incidents the events open or close and the outbox rows of those events are committed together, so a
  monitor killed at any instant (SIGKILL included) leaves either all of a round or none of it. WAL with
  ``synchronous=NORMAL`` never corrupts on a process crash; writes take ``BEGIN IMMEDIATE``, so two
  writers queue instead of failing half-way.
- **One run at a time**: :meth:`Store.open` takes an exclusive ``flock`` on ``<file>.lock`` (released by
  the kernel when the process dies, so a SIGKILL never leaves a stale lock). A second ``--once`` run that
  finds it held gets :class:`StateLockedError` naming the holder's pid, never a shared file.
- **At-least-once delivery** (the outbox): an event is written (one row per target) in the round that
  decided it, before anything is sent; the sender marks a row delivered after the target accepted it. A
  failed attempt is retried after :func:`retry_delay` (exponential backoff, capped), in later rounds and
  after restarts, and never given up. A delivered row is never handed out again. A crash between sending
  and marking sends once more, which is why every notification carries its idempotency key.
- **Restart resumes**: :meth:`Store.rebuild` restores open incidents and replays the recent results into a
  fresh :class:`~lr_ci.checks.uptime.rule.Evaluator`. Event keys are derived from the data, so what the
  replay decides again is already in the outbox and is ignored (``INSERT OR IGNORE``); only what a crash
  lost is added.
- **Bounded history** (:meth:`Store.compact`): raw results are kept for ``retention`` (default 2 days),
  then folded into per-hour aggregates (probes, failures, network, latency sum and max). Rows are compact
  (integer milliseconds, a monitor number instead of its name, ``WITHOUT ROWID``: ~24 and ~22 bytes
  measured), so a year of 60 s probes for 100 monitors is 25 MiB, under :func:`size_bound` (37 MiB),
  instead of ~1.2 GiB of raw rows. Freed pages are reused: once the retention period is full the file
  grows only by the aggregates, about 0.5 KB per monitor and day.
- **No credentials**: results keep status, error class, timing and a short error text that has passed
  the caller's ``mask`` (then is cut to :data:`MAX_ERROR_CHARS`); outbox bodies and delivery errors pass
  it too. The mask runs before the cut, so a credential straddling the cut is masked whole.
- **A corrupt or foreign file** raises :class:`StateCorruptError` (an :class:`~lr_ci.errors.LrCiError`,
  exit 2): never a traceback, never a silent reset that would forget open incidents and undelivered alerts.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lr_ci.checks.uptime.rule import Evaluator, Event, Incident, Judged, Outcome, Verdicts, to_ms
from lr_ci.errors import LrCiError

APPLICATION_ID = 0x6C726375  # "lrcu": marks the file as an lr-ci uptime state file
SCHEMA_VERSION = 1
MAX_ERROR_CHARS = 200
DEFAULT_RETENTION_S = 2 * 86_400.0
HOUR_MS = 3_600_000
RETRY_BASE_S = 15.0
RETRY_CAP_S = 900.0
BUSY_TIMEOUT_MS = 5_000

_OUTCOME_CODES: dict[Outcome, int] = {"up": 0, "down": 1, "network": 2}
_OUTCOMES: dict[int, Outcome] = {code: outcome for outcome, code in _OUTCOME_CODES.items()}

_SCHEMA = """
CREATE TABLE monitors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    skipped INTEGER NOT NULL DEFAULT 0
);
-- outcome: 0 up, 1 down, 2 network, NULL while the control's verdict is pending.
CREATE TABLE results (
    monitor INTEGER NOT NULL,
    started INTEGER NOT NULL,
    duration INTEGER NOT NULL,
    outcome INTEGER,
    status INTEGER,
    error_class TEXT,
    error TEXT,
    PRIMARY KEY (monitor, started)
) WITHOUT ROWID;
CREATE TABLE hourly (
    monitor INTEGER NOT NULL,
    hour INTEGER NOT NULL,
    probes INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    network INTEGER NOT NULL,
    latency_sum INTEGER NOT NULL,
    latency_max INTEGER NOT NULL,
    PRIMARY KEY (monitor, hour)
) WITHOUT ROWID;
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    monitor INTEGER NOT NULL,
    since INTEGER NOT NULL,
    trigger INTEGER NOT NULL,
    opened_at INTEGER NOT NULL,
    reminders INTEGER NOT NULL DEFAULT 0,
    recovered_at INTEGER,
    recovered_by INTEGER,
    duration INTEGER
);
CREATE INDEX incidents_open ON incidents (monitor, recovered_at);
CREATE TABLE outbox (
    key TEXT NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    incident TEXT NOT NULL,
    body TEXT NOT NULL,
    created INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    delivered_at INTEGER,
    last_error TEXT,
    PRIMARY KEY (key, target)
) WITHOUT ROWID;
CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt);
"""


class StateError(LrCiError):
    """The state file cannot be used as asked (exit 2)."""


class StateCorruptError(StateError):
    """The state file is damaged or is not an lr-ci uptime state file."""


class StateLockedError(StateError):
    """Another lr-ci uptime run holds the state file."""


def retry_delay(attempts: int) -> float:
    """Seconds before the next delivery attempt after ``attempts`` failed ones: 15 s doubling to 15 min.

    Never infinite: an alert target that was down for a day still gets the alert when it is back.
    """
    return min(RETRY_CAP_S, RETRY_BASE_S * 2.0 ** max(0, attempts - 1))


# Bytes per row on disk, with a third of margin over what real files measure (24 and 22 bytes with rows
# written as a live monitor interleaves them): a raw result without error text, an hourly aggregate.
RAW_ROW_BYTES = 32
HOURLY_ROW_BYTES = 32


def size_bound(
    monitors: int, interval: float, retention: float = DEFAULT_RETENTION_S, days: float = 365.0
) -> int:
    """An upper bound of the file's size after ``days`` of probes: raw rows for the retention period plus
    one aggregate row per monitor and hour, plus 1 MiB for the schema, incidents and the outbox."""
    raw_rows = monitors * math.ceil(retention / interval)
    hourly_rows = monitors * math.ceil(days * 24)
    return raw_rows * RAW_ROW_BYTES + hourly_rows * HOURLY_ROW_BYTES + (1 << 20)


@dataclass(frozen=True)
class ProbeResult:
    """One probe's result as the store keeps it. ``error`` is a short text, masked before it is written;
    ``outcome`` is None for a failure still waiting for the control's verdict."""

    monitor: str
    started: float
    finished: float
    up: bool
    outcome: Outcome | None = None
    status: int | None = None
    error_class: str | None = None
    error: str | None = None

    @property
    def latency(self) -> float:
        return max(0.0, self.finished - self.started)


@dataclass(frozen=True)
class Delivery:
    """One outbox row to send: the event's idempotency key, its target and its body."""

    key: str
    target: str
    kind: str
    incident: str
    body: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class HourlyAggregate:
    monitor: str
    hour: float
    probes: int
    failures: int
    network: int
    latency_sum: float
    latency_max: float


@dataclass(frozen=True)
class IncidentRecord:
    """An incident as the history shows it, open or closed. ``duration`` is the outage's length (first
    failed probe's start to the start of the first success that closed it); None while it is open."""

    id: str
    monitor: str
    since: float
    opened_at: float
    reminders: int
    recovered_at: float | None
    duration: float | None

    @property
    def ended(self) -> float | None:
        """When the service was back (the first success of the run that closed it), None while open."""
        return None if self.duration is None else self.since + self.duration


def _lock(path: Path) -> IO[str]:
    """An exclusive, non-blocking lock on ``<file>.lock`` holding this process's pid."""
    import fcntl

    lock_path = path.with_name(path.name + ".lock")
    try:
        handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the store's lifetime
    except OSError as error:
        raise StateError(f"{path}: cannot create the state file's lock ({error.strerror or error})") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip()[:20] or "unknown"
        handle.close()
        raise StateLockedError(
            f"{path}: the state file is in use by another lr-ci uptime run (pid {holder}); "
            f"runs that share a state file must not overlap (use a concurrency group in CI)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _create_schema(connection: sqlite3.Connection) -> None:
    """Create the tables in one transaction (a crash leaves no half schema); a run that created them
    meanwhile is noticed under the write lock."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        if connection.execute("PRAGMA user_version").fetchone()[0] == 0:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            # Both live in the file's header and are written by this transaction.
            connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class Store:
    """The state file of one monitor process. Open it with :meth:`open`; close it (or use ``with``)."""

    def __init__(
        self, path: Path, connection: sqlite3.Connection, lock: IO[str] | None, mask: Callable[[str], str]
    ) -> None:
        self.path = path
        self._db = connection
        self._lock = lock
        self._mask = mask
        self._monitor_ids: dict[str, int] = {}

    @classmethod
    def open(cls, path: Path | str, mask: Callable[[str], str], *, lock: bool = True) -> Store:
        """Open (or create) the state file at ``path``, holding the run lock unless ``lock`` is False.

        Raises :class:`StateLockedError` when another run holds it and :class:`StateCorruptError` when the
        file is damaged or something else: both exit 2 with one line.
        """
        path = Path(path)
        handle = _lock(path) if lock else None
        try:
            connection = cls._connect(path)
        except BaseException:
            if handle is not None:
                handle.close()
            raise
        return cls(path, connection, handle, mask)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        existed = path.exists() and path.stat().st_size > 0
        try:
            connection = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as error:
            raise StateError(f"{path}: cannot open the state file ({error})") from None
        try:
            application_id = connection.execute("PRAGMA application_id").fetchone()[0]
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if existed and (application_id, version) == (0, 0):
                tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if tables:
                    raise StateCorruptError(
                        f"{path}: not an lr-ci uptime state file (another SQLite database)"
                    )
            elif existed and application_id != APPLICATION_ID:
                raise StateCorruptError(f"{path}: not an lr-ci uptime state file")
            if version > SCHEMA_VERSION:
                raise StateError(f"{path}: written by a newer lr-ci (state schema {version}); upgrade lr-ci")
            # Only now that the file is known to be ours (or new) is anything about it changed.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            check = connection.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StateCorruptError(f"{path}: the state file is damaged ({str(check)[:120]})")
            if version == 0:
                _create_schema(connection)
        except StateError:
            connection.close()
            raise
        except sqlite3.DatabaseError as error:
            connection.close()
            raise StateCorruptError(
                f"{path}: the state file is damaged or not a state file ({error}); "
                f"move it aside to start afresh (open incidents and undelivered alerts in it are then lost)"
            ) from None
        return connection

    def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _unusable(self, error: sqlite3.DatabaseError) -> StateError:
        """A storage failure during the run, as one line: a damaged page, a full disk, a lock held too long.
        An ``IntegrityError`` or ``ProgrammingError`` is a bug in lr-ci and is not wrapped."""
        if type(error) is sqlite3.DatabaseError:
            return StateCorruptError(f"{self.path}: the state file is damaged ({error})")
        return StateError(f"{self.path}: cannot use the state file ({error})")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``: the write lock is taken up front, so a concurrent writer
        waits (up to the busy timeout) instead of failing after part of the work; any failure rolls the
        whole round back."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise StateLockedError(f"{self.path}: the state file stayed locked ({error})") from None
        except sqlite3.DatabaseError as error:
            raise self._unusable(error) from None
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._monitor_ids.clear()  # ids inserted by the rolled-back transaction are gone
            if isinstance(error, sqlite3.OperationalError) or type(error) is sqlite3.DatabaseError:
                raise self._unusable(error) from None
            raise

    def _read(self, sql: str, parameters: Sequence[object] = ()) -> list[Any]:
        """Rows of a query; a storage failure is a :class:`StateError`, as for writes."""
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as error:
            if isinstance(error, (sqlite3.IntegrityError, sqlite3.ProgrammingError)):
                raise
            raise self._unusable(error) from None

    def _monitor_id(self, db: sqlite3.Connection, name: str) -> int:
        known = self._monitor_ids.get(name)
        if known is not None:
            return known
        db.execute("INSERT OR IGNORE INTO monitors (name) VALUES (?)", (name,))
        number = int(db.execute("SELECT id FROM monitors WHERE name = ?", (name,)).fetchone()[0])
        self._monitor_ids[name] = number
        return number

    def _masked(self, text: str | None, limit: int = MAX_ERROR_CHARS) -> str | None:
        if text is None:
            return None
        masked = self._mask(text)
        return masked if len(masked) <= limit else masked[: limit - 1] + "…"

    def _masked_value(self, value: object) -> object:
        if isinstance(value, str):
            return self._mask(value)
        if isinstance(value, Mapping):
            return {str(k): self._masked_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._masked_value(v) for v in value]
        return value

    # -- writing a round -------------------------------------------------------------------------------

    def record(
        self,
        *,
        now: float,
        results: Iterable[ProbeResult] = (),
        judged: Iterable[Judged] = (),
        events: Iterable[Event] = (),
        targets: Sequence[str] = (),
        details: Mapping[str, Mapping[str, object]] | None = None,
        skipped: Mapping[str, int] | None = None,
    ) -> None:
        """Commit one round: results, judged outcomes, the incidents the events change and one outbox row
        per event and target (``details[event.key]`` is added to its body), all or nothing.

        Recording what is already there is harmless: a result with the same monitor and start, and an
        outbox row with the same key and target, are kept as they were.
        """
        with self._transaction() as db:
            for result in results:
                outcome = None if result.outcome is None else _OUTCOME_CODES[result.outcome]
                db.execute(
                    "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        self._monitor_id(db, result.monitor),
                        to_ms(result.started),
                        to_ms(result.latency),
                        outcome,
                        result.status,
                        result.error_class,
                        self._masked(result.error),
                    ),
                )
            for verdict in judged:
                db.execute(
                    "UPDATE results SET outcome = ? WHERE monitor = ? AND started = ?",
                    (
                        _OUTCOME_CODES[verdict.outcome],
                        self._monitor_id(db, verdict.monitor),
                        to_ms(verdict.started),
                    ),
                )
            self._write_events(db, now, events, targets, details)
            for monitor, count in (skipped or {}).items():
                db.execute(
                    "UPDATE monitors SET skipped = skipped + ? WHERE id = ?",
                    (count, self._monitor_id(db, monitor)),
                )

    def _write_events(
        self,
        db: sqlite3.Connection,
        now: float,
        events: Iterable[Event],
        targets: Sequence[str],
        details: Mapping[str, Mapping[str, object]] | None,
    ) -> None:
        """Apply each event to its incident and queue one outbox row per target (kept if already there)."""
        for event in events:
            self._apply(db, event)
            body = {
                "key": event.key,
                "kind": event.kind,
                "monitor": event.monitor,
                "incident": event.incident_id,
                "sequence": event.sequence,
                "at": event.at,
                "since": event.since,
                "duration": event.duration,
                **dict((details or {}).get(event.key, {})),
            }
            text = json.dumps(self._masked_value(body), sort_keys=True)
            for target in targets:
                db.execute(
                    "INSERT OR IGNORE INTO outbox"
                    " (key, target, kind, incident, body, created, next_attempt)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (event.key, target, event.kind, event.incident_id, text, to_ms(now), to_ms(now)),
                )

    def close_removed(self, monitors: Iterable[str], now: float, targets: Sequence[str]) -> list[Event]:
        """Close the open incidents of monitors not in ``monitors`` (removed from the configuration) at
        ``now``, each with a ``recovered`` event (``removed: true`` in its body) queued for every target,
        in one transaction; returns those events.

        Why: a removed monitor is never probed again, so nothing would ever close its incident: it would
        stay open (``check --once`` exiting 1 forever, a GitHub issue never closed). The event's key is the
        one a normal recovery of that incident would have (``<incident>:recovered:1``): it is derived from
        the stored incident, so a crash and restart queue it once (``INSERT OR IGNORE``), and a receiver
        sees one recovery per incident whatever closed it. Call it at start-up, before the first round.
        """
        keep = set(monitors)
        closed: list[Event] = []
        with self._transaction() as db:
            rows = db.execute(
                "SELECT i.id, m.name, i.since FROM incidents i JOIN monitors m ON m.id = i.monitor"
                " WHERE i.recovered_at IS NULL ORDER BY i.since"
            ).fetchall()
            for incident, monitor, since_ms in rows:
                if monitor in keep:
                    continue
                since = since_ms / 1000
                closed.append(
                    Event("recovered", monitor, incident, 1, now, since, max(0.0, now - since), None)
                )
            details = {event.key: {"removed": True} for event in closed}
            self._write_events(db, now, closed, targets, details)
        return closed

    def _apply(self, db: sqlite3.Connection, event: Event) -> None:
        if event.kind == "opened":
            trigger = event.since if event.decided_by is None else event.decided_by
            db.execute(
                "INSERT OR IGNORE INTO incidents (id, monitor, since, trigger, opened_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    event.incident_id,
                    self._monitor_id(db, event.monitor),
                    to_ms(event.since),
                    to_ms(trigger),
                    to_ms(event.at),
                ),
            )
        elif event.kind == "reminder":
            db.execute(
                "UPDATE incidents SET reminders = max(reminders, ?) WHERE id = ?",
                (event.sequence, event.incident_id),
            )
        else:
            db.execute(
                "UPDATE incidents SET recovered_at = ?, recovered_by = ?, duration = ?"
                " WHERE id = ? AND recovered_at IS NULL",
                (
                    to_ms(event.at),
                    to_ms(event.at if event.decided_by is None else event.decided_by),
                    to_ms(event.duration or 0.0),
                    event.incident_id,
                ),
            )

    # -- the outbox ------------------------------------------------------------------------------------

    def due(self, now: float, limit: int = 100) -> list[Delivery]:
        """Undelivered outbox rows whose next attempt is due at ``now``, oldest first."""
        rows = self._read(
            "SELECT key, target, kind, incident, body, attempts FROM outbox"
            " WHERE delivered_at IS NULL AND next_attempt <= ? ORDER BY created, key, target LIMIT ?",
            (to_ms(now), limit),
        )
        return [
            Delivery(key, target, kind, incident, json.loads(body), attempts)
            for key, target, kind, incident, body, attempts in rows
        ]

    def delivered(self, key: str, target: str, now: float) -> None:
        """The target accepted the notification: it is never handed out again."""
        with self._transaction() as db:
            db.execute(
                "UPDATE outbox SET delivered_at = ? WHERE key = ? AND target = ? AND delivered_at IS NULL",
                (to_ms(now), key, target),
            )

    def failed(self, key: str, target: str, now: float, error: str) -> float:
        """A delivery attempt failed: count it and schedule the next one; returns when that is due."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT attempts FROM outbox WHERE key = ? AND target = ? AND delivered_at IS NULL",
                (key, target),
            ).fetchone()
            if row is None:
                return math.inf
            attempts = int(row[0]) + 1
            next_attempt = now + retry_delay(attempts)
            db.execute(
                "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ?"
                " WHERE key = ? AND target = ?",
                (attempts, to_ms(next_attempt), self._masked(error), key, target),
            )
        return next_attempt

    def undelivered(self) -> int:
        """Outbox rows not delivered yet (the report shows it: an alert still owed)."""
        return int(self._read("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")[0][0])

    # -- incidents and history --------------------------------------------------------------------------

    def open_incidents(self) -> list[Incident]:
        rows = self._read(
            "SELECT i.id, m.name, i.since, i.trigger, i.opened_at, i.reminders FROM incidents i"
            " JOIN monitors m ON m.id = i.monitor WHERE i.recovered_at IS NULL ORDER BY i.since"
        )
        return [Incident(i, m, s / 1000, t / 1000, o / 1000, r) for i, m, s, t, o, r in rows]

    def results(self, monitor: str, after: float = -math.inf) -> list[ProbeResult]:
        """Raw results of ``monitor`` that started after ``after``, in start order."""
        rows = self._read(
            "SELECT r.started, r.duration, r.outcome, r.status, r.error_class, r.error FROM results r"
            " JOIN monitors m ON m.id = r.monitor WHERE m.name = ? AND r.started > ? ORDER BY r.started",
            (monitor, -(2**62) if after == -math.inf else to_ms(after)),
        )
        out = []
        for started, duration, outcome, status, error_class, error in rows:
            judged = None if outcome is None else _OUTCOMES[outcome]
            out.append(
                ProbeResult(
                    monitor,
                    started / 1000,
                    (started + duration) / 1000,
                    judged == "up",
                    judged,
                    status,
                    error_class,
                    error,
                )
            )
        return out

    def hourly(self, monitor: str) -> list[HourlyAggregate]:
        rows = self._read(
            "SELECT h.hour, h.probes, h.failures, h.network, h.latency_sum, h.latency_max FROM hourly h"
            " JOIN monitors m ON m.id = h.monitor WHERE m.name = ? ORDER BY h.hour",
            (monitor,),
        )
        return [
            HourlyAggregate(monitor, hour * 3600.0, p, f, n, total / 1000, peak / 1000)
            for hour, p, f, n, total, peak in rows
        ]

    def incident_history(self, after: float) -> list[IncidentRecord]:
        """Incidents open now or recovered after ``after``, the newest outage first (the status page)."""
        rows = self._read(
            "SELECT i.id, m.name, i.since, i.opened_at, i.reminders, i.recovered_at, i.duration"
            " FROM incidents i JOIN monitors m ON m.id = i.monitor"
            " WHERE i.recovered_at IS NULL OR i.recovered_at > ? ORDER BY i.since DESC, i.id",
            (-(2**62) if after == -math.inf else to_ms(after),),
        )
        return [
            IncidentRecord(
                i,
                m,
                s / 1000,
                o / 1000,
                r,
                None if rec is None else rec / 1000,
                None if d is None else d / 1000,
            )
            for i, m, s, o, r, rec, d in rows
        ]

    def judged_counts(self, monitor: str, start: float, end: float) -> tuple[int, int]:
        """``(up, judged)``: probes of ``monitor`` from ``start`` to ``end`` judged up, and judged at all,
        from the raw results that started inside and the hourly aggregates of the hours that overlap it
        (the status page's uptime). ``network`` outcomes are in neither; a failure still waiting for the
        control's verdict is judged down, as the aggregates count it. Counted by SQLite: a year of
        history is never loaded into Python for one number."""
        start_ms, end_ms = to_ms(start), to_ms(end)
        raw = self._read(
            "SELECT coalesce(sum(r.outcome = 0), 0), count(*) - coalesce(sum(r.outcome = 2), 0)"
            " FROM results r JOIN monitors m ON m.id = r.monitor"
            " WHERE m.name = ? AND r.started >= ? AND r.started <= ?",
            (monitor, start_ms, end_ms),
        )[0]
        hourly = self._read(
            "SELECT coalesce(sum(h.probes - h.network - h.failures), 0),"
            " coalesce(sum(h.probes - h.network), 0) FROM hourly h JOIN monitors m ON m.id = h.monitor"
            " WHERE m.name = ? AND (h.hour + 1) * ? > ? AND h.hour * ? <= ?",
            (monitor, HOUR_MS, start_ms, HOUR_MS, end_ms),
        )[0]
        return int(raw[0]) + int(hourly[0]), int(raw[1]) + int(hourly[1])

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside the block see one state of the file: a round that ``run`` commits meanwhile (WAL
        lets it write while this reads) is seen whole or not at all, never half (a status page whose
        incident list and states disagree). Read only: nothing is written in it."""
        try:
            self._db.execute("BEGIN DEFERRED")
        except sqlite3.DatabaseError as error:
            raise self._unusable(error) from None
        try:
            yield
        finally:
            if self._db.in_transaction:
                self._db.execute("COMMIT")

    def skipped(self, monitor: str) -> int:
        rows = self._read("SELECT skipped FROM monitors WHERE name = ?", (monitor,))
        return int(rows[0][0]) if rows else 0

    def compact(self, now: float, retention: float = DEFAULT_RETENTION_S) -> int:
        """Fold raw results older than ``retention`` (whole hours) into hourly aggregates, and drop
        delivered outbox rows as old; returns the raw rows folded. Freed pages are reused by later rows,
        so the file stops growing once the retention period is full."""
        cutoff = (to_ms(now - retention) // HOUR_MS) * HOUR_MS
        with self._transaction() as db:
            db.execute(
                "INSERT INTO hourly (monitor, hour, probes, failures, network, latency_sum, latency_max)"
                " SELECT monitor, started / ?, count(*), sum(outcome IS NULL OR outcome = 1),"
                " sum(outcome = 2),"
                " sum(duration), max(duration) FROM results WHERE started < ? GROUP BY monitor, started / ?"
                " ON CONFLICT (monitor, hour) DO UPDATE SET probes = probes + excluded.probes,"
                " failures = failures + excluded.failures, network = network + excluded.network,"
                " latency_sum = latency_sum + excluded.latency_sum,"
                " latency_max = max(latency_max, excluded.latency_max)",
                (HOUR_MS, cutoff, HOUR_MS),
            )
            folded = db.execute("DELETE FROM results WHERE started < ?", (cutoff,)).rowcount
            db.execute("DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", (cutoff,))
        return int(folded)

    # -- restart ---------------------------------------------------------------------------------------

    def rebuild(self, evaluator: Evaluator, control: str | None = None) -> Verdicts:
        """Bring a fresh evaluator to the state it had before the stop: open incidents are resumed and the
        results after each monitor's last decision point are replayed (after an open incident's trigger;
        otherwise after the result that confirmed the last recovery, within one window of the latest
        result). Returns what the replay decided; record it with :meth:`record`: keys already in the
        outbox are ignored."""
        for incident in self.open_incidents():
            if incident.monitor in evaluator.monitors:
                evaluator.resume(incident)
        replay: list[tuple[float, str, ProbeResult]] = []
        earliest = math.inf
        for name, monitor_rule in evaluator.monitors.items():
            if monitor_rule.incident is not None:
                after = monitor_rule.incident.trigger
            else:
                row = self._read(
                    "SELECT max(i.recovered_by), (SELECT max(started) FROM results r WHERE r.monitor = m.id)"
                    " FROM monitors m LEFT JOIN incidents i ON i.monitor = m.id WHERE m.name = ?",
                    (name,),
                )[0]
                recovered, latest = row
                after = max(
                    -math.inf if recovered is None else recovered / 1000,
                    -math.inf if latest is None else latest / 1000 - monitor_rule.rule.window,
                )
            earliest = min(earliest, after)
            replay.extend((r.finished, name, r) for r in self.results(name, after))
        if control is not None and evaluator.control is not None and earliest != math.inf:
            start = earliest - evaluator.control.interval
            replay.extend((r.finished, control, r) for r in self.results(control, start))
        out = Verdicts()
        for _, name, result in sorted(replay, key=lambda item: (item[0], item[2].started)):
            if name == control:
                out.extend(evaluator.observe_control(result.started, result.finished, result.up))
            elif result.outcome is None or evaluator.pending(name):
                out.extend(evaluator.observe(name, result.started, result.finished, result.up))
            else:
                out.extend(evaluator.observe_judged(name, result.started, result.finished, result.outcome))
        return out

    def file_bytes(self) -> int:
        """The size of the database with its WAL checkpointed into it."""
        self._read("PRAGMA wal_checkpoint(TRUNCATE)")
        return self.path.stat().st_size
