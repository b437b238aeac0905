"""The fixed probe schedule as a spec: slots at ``k * interval + phase``, never a burst after a stall."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from lr_ci.checks.uptime.schedule import Schedule, phase_for, skipped_span, slot_at, slot_start


def test_slots_start_at_k_intervals_plus_the_phase() -> None:
    assert [slot_start(k, 60, 7.5) for k in range(3)] == [7.5, 67.5, 127.5]
    assert slot_at(67.5, 60, 7.5) == 1  # a slot's own start belongs to it
    assert slot_at(67.499, 60, 7.5) == 0
    assert slot_at(0.0, 60, 7.5) == -1
    # Rounding never puts a slot's start after ``now``.
    for k in range(1, 2000):
        assert slot_at(slot_start(k, 0.1, 0.03), 0.1, 0.03) == k


def test_a_slow_probe_does_not_shift_the_next_start() -> None:
    schedule = Schedule(60)
    first = schedule.step(0.0, None)
    assert (first.run, first.start, first.wake_at) == (0, 0.0, 60.0)
    # The probe took 59 s (it was bounded by its timeout): waking then starts nothing early.
    after_probe = schedule.step(59.0, first.last_slot)
    assert after_probe.run is None and after_probe.wake_at == 60.0 and after_probe.skipped == 0
    second = schedule.step(60.2, first.last_slot)
    assert (second.run, second.start, second.skipped) == (1, 60.0, 0)


def test_after_a_long_stall_only_the_current_slot_runs_and_the_missed_ones_are_counted() -> None:
    schedule = Schedule(60)
    resumed = schedule.step(10 * 60 + 3.0, 0)  # stalled from just after slot 0 to 3 s into slot 10
    assert (resumed.run, resumed.start, resumed.skipped, resumed.last_slot) == (10, 600.0, 9, 10)
    assert skipped_span(schedule, 0, resumed) == (60.0, 540.0)
    again = schedule.step(10 * 60 + 3.5, resumed.last_slot)
    assert again.run is None and again.skipped == 0  # no burst: the same moment starts nothing twice


def test_a_stall_that_ends_late_in_a_slot_gives_that_slot_up_too() -> None:
    schedule = Schedule(60)  # lateness: a quarter of the interval, 15 s
    resumed = schedule.step(10 * 60 + 30.0, 0)
    assert (resumed.run, resumed.skipped, resumed.last_slot, resumed.wake_at) == (None, 10, 10, 660.0)
    assert skipped_span(schedule, 0, resumed) == (60.0, 600.0)
    nxt = schedule.step(660.0, resumed.last_slot)
    assert (nxt.run, nxt.skipped) == (11, 0)


def test_the_first_call_runs_the_current_slot_only_when_it_just_began() -> None:
    """No burst at start-up: a monitor whose slot began more than a second ago waits for its next one."""
    assert Schedule(60, phase=10).step(10.5, None).run == 0
    waits = Schedule(60, phase=10).step(12.0, None)  # within max_lateness (15 s), but not just begun
    assert (waits.run, waits.skipped, waits.wake_at) == (None, 0, 70.0)
    late = Schedule(60, phase=10).step(40.0, None)
    assert (late.run, late.skipped, late.wake_at) == (None, 0, 70.0)
    assert Schedule(60, max_lateness=0.5).step(0.6, None).run is None


def test_500_monitors_started_at_once_spread_their_first_probes_over_the_interval() -> None:
    schedules = [Schedule(60, phase=phase_for(f"m{i}", 60)) for i in range(500)]
    first = [schedule.step(1000.0, None) for schedule in schedules]
    assert sum(step.run is not None for step in first) <= 25  # those whose slot began in the last second
    starts = sorted(step.wake_at for step in first if step.run is None)
    assert starts[-1] - 1000.0 <= 60 and max(b - a for a, b in itertools.pairwise(starts)) < 5


def test_phases_are_stable_and_spread_500_monitors_over_the_interval() -> None:
    assert phase_for("api", 60) == phase_for("api", 60)
    phases = [phase_for(f"monitor-{i}", 60) for i in range(500)]
    assert all(0 <= p < 60 for p in phases)
    per_second = Counter(int(p) for p in phases)
    assert len(per_second) == 60 and max(per_second.values()) <= 20  # ~8 a second, never 500 at once


@settings(max_examples=300, deadline=None)
@given(
    interval=st.floats(0.5, 600),
    phase_fraction=st.floats(0, 0.999),
    gaps=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=60),
)
def test_every_slot_is_run_or_counted_skipped_exactly_once_and_runs_start_on_time(
    interval: float, phase_fraction: float, gaps: list[float]
) -> None:
    """Wake-ups at any times (early, on time, after stalls of up to five intervals): runs are distinct
    increasing slots, at most one per wake-up, each started within the lateness of its slot, and the
    slots between the first and the last accounted one are each either run or skipped, never both."""
    schedule = Schedule(interval, phase_fraction * interval)
    now = schedule.phase
    last: int | None = None
    runs: list[int] = []
    skipped = 0
    first_accounted: int | None = None
    for gap in gaps:
        now += gap * interval
        step = schedule.step(now, last)
        if last is None and step.last_slot is not None:
            # The first slot the schedule owes: the one it ran, or the one after the one it waited out.
            first_accounted = step.last_slot if step.run is not None else step.last_slot + 1
        if step.run is not None:
            assert step.start is not None and 0 <= now - step.start <= schedule.lateness
            assert not runs or step.run > runs[-1]
            runs.append(step.run)
        skipped += step.skipped
        assert step.wake_at > now
        last = step.last_slot
    if last is not None and first_accounted is not None:
        accounted = last - first_accounted + 1
        assert len(runs) + skipped == accounted
