"""When probes start: a fixed schedule, slot ``k`` at ``k * interval + phase``. Pure, time passed in.

Why fixed: the alert bound (``failures * interval + timeout``, ``rule.py``) assumes a probe starts every
interval whatever the previous one did. A schedule that waits for the previous probe drifts by every
probe's duration and, behind a hanging target, probes once per interval plus timeout.

Why never a burst: after a stall (a suspended laptop, a stopped container, a blocked event loop) the
monitor does not run the slots it missed one after the other: ten probes in a second would all see the
same moment and could open an incident on ten copies of one observation. It runs at most the current
slot, and only while it is still on time (within ``max_lateness`` of the slot's start); every slot it did
not run is counted in :attr:`Step.skipped`, so the store and the report can say "12 probes skipped: the
monitor was paused from ... to ...". A slot started late by more than ``max_lateness`` is skipped too
and the monitor waits for the next one, so a probe's start is never far from its slot.

Phases spread monitors over the interval (:func:`phase_for`): 500 monitors at 60 s start about 8 per
second instead of 500 in the same instant. The start of the monitor keeps that spread: on its first step a
monitor runs its current slot only if that slot began within :data:`FIRST_SLOT_GRACE_S`, else it waits for
its next one. Running every slot still within ``max_lateness`` instead made a quarter of all monitors probe
in the same instant at every start (125 of 500 at 60 s: the start-up's memory peak, and a burst on the
services watched at every restart), measured by ``benchmarks/bench_uptime.py``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

FIRST_SLOT_GRACE_S = 1.0
"""On its first step a monitor runs the current slot only if it began at most this long ago."""


def slot_start(slot: int, interval: float, phase: float = 0.0) -> float:
    """The start time of slot ``slot``."""
    return slot * interval + phase


def slot_at(now: float, interval: float, phase: float = 0.0) -> int:
    """The latest slot that starts at or before ``now``."""
    slot = math.floor((now - phase) / interval)
    # Guard against rounding: the slot's start must not lie after ``now``, nor the next one at or before.
    if slot_start(slot, interval, phase) > now:
        slot -= 1
    elif slot_start(slot + 1, interval, phase) <= now:
        slot += 1
    return slot


def phase_for(name: str, interval: float) -> float:
    """A stable phase in ``[0, interval)`` for the monitor called ``name``: the same after every restart,
    spread evenly over the interval across many names (a hash, not the order in the config, so adding a
    monitor does not move the others)."""
    fraction = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") / 2**64
    return fraction * interval


@dataclass(frozen=True)
class Step:
    """What to do at one wake-up.

    ``run`` is the slot to start now (None: nothing to start), ``skipped`` the slots given up since the
    last step (missed during a stall, or found too late to start), ``last_slot`` the slot to pass to the
    next call and ``wake_at`` when the next slot starts.
    """

    run: int | None
    start: float | None
    skipped: int
    last_slot: int | None
    wake_at: float


@dataclass(frozen=True)
class Schedule:
    """A fixed schedule: slot ``k`` starts at ``k * interval + phase``; a slot is run only within
    ``max_lateness`` of its start (default a quarter of the interval), never later."""

    interval: float
    phase: float = 0.0
    max_lateness: float | None = None

    @property
    def lateness(self) -> float:
        return self.interval / 4 if self.max_lateness is None else self.max_lateness

    def start(self, slot: int) -> float:
        return slot_start(slot, self.interval, self.phase)

    def step(self, now: float, last_slot: int | None) -> Step:
        """What to run at ``now`` when ``last_slot`` was the last slot run or given up (None: first call).

        Depends only on ``now`` and ``last_slot``, never on how long earlier probes took; called twice at
        the same ``now`` it starts nothing the second time.
        """
        current = slot_at(now, self.interval, self.phase)
        if last_slot is not None and current <= last_slot:
            return Step(None, None, 0, last_slot, self.start(last_slot + 1))
        first_owed = current if last_slot is None else last_slot + 1
        wake_at = self.start(current + 1)
        on_time = self.lateness if last_slot is not None else min(self.lateness, FIRST_SLOT_GRACE_S)
        if now - self.start(current) <= on_time:
            return Step(current, self.start(current), current - first_owed, current, wake_at)
        # Too late for the current slot too: give it up with the missed ones (on the first call there is
        # nothing owed yet, the monitor simply waits for its first slot).
        skipped = 0 if last_slot is None else current - first_owed + 1
        return Step(None, None, skipped, current, wake_at)


def skipped_span(schedule: Schedule, last_slot: int, step: Step) -> tuple[float, float] | None:
    """The start times of the first and last slot a step gave up, for "skipped from ... to ..." in the
    report; None when it gave up nothing."""
    if step.skipped == 0:
        return None
    first = last_slot + 1
    return schedule.start(first), schedule.start(first + step.skipped - 1)
