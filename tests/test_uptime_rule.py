"""The uptime alert rule as a spec: each test is one sentence of ``lr_ci.checks.uptime.rule``'s docstring,
driven by an injected clock (times are plain numbers; no test sleeps)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lr_ci.checks.uptime.rule import (
    ControlGuard,
    Evaluator,
    Event,
    Incident,
    MonitorRule,
    Outcome,
    Rule,
    incident_id,
    validate_rule,
)

RULE = Rule(interval=60, timeout=10, failures=2, window=300, recover_after=2)


def feed(rule: MonitorRule, outcomes: str, start: float = 0.0, every: float = 60.0) -> list[Event]:
    """Feed results one interval apart: ``d`` down, ``u`` up, ``n`` network; each reports 1 s after it starts."""
    codes: dict[str, Outcome] = {"d": "down", "u": "up", "n": "network"}
    events: list[Event] = []
    for index, code in enumerate(outcomes):
        started = start + index * every
        events.extend(rule.observe(started, started + 1, codes[code]))
    return events


def kinds(events: list[Event]) -> list[str]:
    return [event.kind for event in events]


# -- validate_rule --------------------------------------------------------------------------------------


def test_the_default_rule_is_valid_and_its_bound_is_two_intervals_plus_the_timeout() -> None:
    assert Rule().problem() is None
    assert Rule().alert_bound() == 2 * 60 + 10


def test_a_rule_whose_failures_cannot_fit_in_the_window_is_refused_with_the_reason() -> None:
    reason = validate_rule(300, 10, 2, 300)
    assert reason is not None
    assert reason.startswith("this rule can never fire: 2 failures of a probe that runs every 300 s")
    assert "span at least 300 s, which does not fit in a window of 300 s" in reason
    assert validate_rule(299, 10, 2, 300) is None
    assert validate_rule(60, 10, 6, 300) is not None  # 5 * 60 = 300
    assert validate_rule(60, 10, 5, 300) is None
    assert validate_rule(60, 10, 1, 1) is None  # one failure always fits


def test_a_timeout_longer_than_the_interval_is_refused() -> None:
    reason = validate_rule(60, 61, 2, 300)
    assert reason is not None and "timeout (61 s) is longer than the interval (60 s)" in reason
    assert validate_rule(60, 60, 2, 300) is None


@pytest.mark.parametrize(
    ("args", "extra", "fragment"),
    [
        ((0, 1, 2, 300), {}, "interval must be a number of seconds above 0"),
        ((60, -1, 2, 300), {}, "timeout must be"),
        ((60, 10, 2, float("nan")), {}, "window must be"),
        ((60, 10, 0, 300), {}, "failures must be at least 1"),
        ((60, 10, 2, 300), {"recover_after": 0}, "recover_after must be at least 1"),
        ((60, 10, 2, 300), {"renotify": 0.0}, "renotify must be"),
    ],
)
def test_nonsense_numbers_are_refused(
    args: tuple[float, float, int, float], extra: dict[str, object], fragment: str
) -> None:
    reason = validate_rule(*args, **extra)  # type: ignore[arg-type]
    assert reason is not None and fragment in reason


# -- the window -----------------------------------------------------------------------------------------


def test_two_failures_just_inside_the_window_open_an_incident() -> None:
    rule = MonitorRule("api", RULE)
    assert rule.observe(0.0, 1.0, "down") == []
    events = rule.observe(299.999, 300.5, "down")
    assert kinds(events) == ["opened"]
    assert events[0].since == 0.0 and events[0].at == 300.5


def test_two_failures_just_outside_the_window_open_nothing() -> None:
    rule = MonitorRule("api", RULE)
    assert rule.observe(0.0, 1.0, "down") == []
    assert rule.observe(300.0, 301.0, "down") == []
    # The third failure pairs with the second: the incident's start is the second's.
    events = rule.observe(360.0, 361.0, "down")
    assert kinds(events) == ["opened"] and events[0].since == 300.0


def test_failures_need_not_be_consecutive() -> None:
    rule = MonitorRule("api", RULE)
    events = feed(rule, "duuud")  # failures at 0 and 240 s, three successes between
    assert kinds(events) == ["opened"] and events[0].since == 0.0


def test_consecutive_only_would_miss_flapping_but_the_window_rule_does_not() -> None:
    rule = MonitorRule("api", RULE)
    assert kinds(feed(rule, "dudu")) == ["opened"]


def test_three_failures_rule() -> None:
    rule = MonitorRule("api", Rule(failures=3, window=300))
    assert feed(rule, "dd") == []
    assert kinds(feed(rule, "d", start=120)) == ["opened"]


# -- incidents, recovery, reminders ----------------------------------------------------------------------


def test_one_incident_per_outage_and_flapping_keeps_it_open() -> None:
    rule = MonitorRule("api", RULE)
    events = feed(rule, "dd" + "dudududu" * 5)
    assert kinds(events) == ["opened"]
    assert rule.incident is not None


def test_recovery_after_consecutive_successes_reports_the_outage_duration() -> None:
    rule = MonitorRule("api", RULE)
    events = feed(rule, "ddddu" + "d" + "uu")  # down from 0, up at 240, down at 300, up at 360 and 420
    assert kinds(events) == ["opened", "recovered"]
    opened, recovered = events
    assert recovered.incident_id == opened.incident_id
    assert recovered.duration == 360.0  # first failure at 0 s, the recovering run starts at 360 s
    assert recovered.at == 421.0
    assert rule.incident is None


def test_recover_after_three() -> None:
    rule = MonitorRule("api", Rule(recover_after=3))
    assert kinds(feed(rule, "dduu")) == ["opened"]
    assert kinds(feed(rule, "u", start=240)) == ["recovered"]


def test_a_single_failure_right_after_a_recovery_does_not_page_again() -> None:
    rule = MonitorRule("api", RULE)
    assert kinds(feed(rule, "dduud")) == ["opened", "recovered"]  # the old failures are 240 s old
    assert kinds(feed(rule, "d", start=300)) == ["opened"]  # a second new failure does
    assert rule.incident is not None and rule.incident.since == 240.0


def test_a_new_outage_is_a_new_incident_with_new_keys() -> None:
    rule = MonitorRule("api", RULE)
    first = feed(rule, "dduu")
    second = feed(rule, "dduu", start=1000)
    assert kinds(first) == kinds(second) == ["opened", "recovered"]
    assert first[0].incident_id != second[0].incident_id
    assert len({e.key for e in first + second}) == 4


def test_reminders_every_renotify_and_never_a_burst_after_a_pause() -> None:
    rule = MonitorRule("api", Rule(renotify=600))
    opened = feed(rule, "dd")[0]
    assert opened.at == 61.0
    assert rule.tick(660.0) == []
    first = rule.tick(661.0)
    assert [(e.kind, e.sequence, e.key) for e in first] == [
        ("reminder", 1, f"{opened.incident_id}:reminder:1")
    ]
    assert rule.tick(700.0) == []
    # A pause of an hour: one reminder, whose sequence says six periods passed.
    late = rule.tick(61.0 + 3600 + 5)
    assert [(e.kind, e.sequence) for e in late] == [("reminder", 6)]
    assert rule.tick(61.0 + 3600 + 6) == []


def test_no_reminders_without_renotify_or_after_recovery() -> None:
    rule = MonitorRule("api", RULE)
    feed(rule, "dd")
    assert rule.tick(10_000.0) == []
    reminding = MonitorRule("api", Rule(renotify=100))
    feed(reminding, "dduu")
    assert reminding.tick(10_000.0) == []


def test_a_stale_or_duplicate_result_is_ignored() -> None:
    rule = MonitorRule("api", RULE)
    rule.observe(60.0, 61.0, "down")
    assert rule.observe(60.0, 61.0, "down") == []
    assert rule.observe(0.0, 1.0, "down") == []
    assert rule.stale == 2 and rule.incident is None


# -- idempotency keys ------------------------------------------------------------------------------------


def test_keys_are_incident_kind_sequence_and_the_id_is_stable_to_the_millisecond() -> None:
    assert incident_id("api", 1_700_000_000.1231) == incident_id("api", 1_700_000_000.1234)  # same ms
    assert incident_id("api", 1.0) != incident_id("api", 1.001)
    assert incident_id("api", 1.0) != incident_id("web", 1.0)
    first = feed(MonitorRule("api", RULE), "dduu", start=1_700_000_000.0)
    again = feed(MonitorRule("api", RULE), "dduu", start=1_700_000_000.0)
    assert [e.key for e in first] == [e.key for e in again]
    assert first[0].key.endswith(":opened:1") and first[1].key.endswith(":recovered:1")
    assert first[0].key.isascii() and " " not in first[0].key  # fits an HTTP header


def test_a_resumed_incident_recovers_under_the_same_id() -> None:
    live = MonitorRule("api", RULE)
    opened = feed(live, "dd")[0]
    assert live.incident is not None
    stored = Incident(
        live.incident.id, "api", live.incident.since, live.incident.trigger, live.incident.opened_at
    )
    resumed = MonitorRule("api", RULE, stored)
    assert resumed.observe(60.0, 61.0, "down") == []  # the trigger itself: already accounted for
    recovered = feed(resumed, "uu", start=120)
    assert kinds(recovered) == ["recovered"] and recovered[0].incident_id == opened.incident_id


# -- the control target ----------------------------------------------------------------------------------


def evaluator(*names: str, control: bool = True) -> Evaluator:
    return Evaluator({name: RULE for name in names}, ControlGuard(60, 5) if control else None)


def test_services_failing_with_the_control_are_network_not_incidents() -> None:
    ev = evaluator("home", "login", "api")
    events: list[Event] = []
    judged = []
    for k in range(5):
        t = k * 60.0
        v = ev.observe_control(t, t + 5, up=False)
        events += v.events
        for name in ("home", "login", "api"):
            verdicts = ev.observe(name, t, t + 10, up=False)
            events += verdicts.events
            judged += verdicts.judged
    assert events == []
    assert {j.outcome for j in judged} == {"network"} and len(judged) == 15
    assert ev.control is not None and ev.control.lost_since == 0.0
    ev.observe_control(300.0, 300.1, up=True)
    assert ev.control.lost_since is None


def test_a_service_down_while_the_control_answers_opens_an_incident() -> None:
    ev = evaluator("api", "home")
    events: list[Event] = []
    for k in range(2):
        t = k * 60.0
        events += ev.observe_control(t, t + 0.1, up=True).events
        events += ev.observe("api", t, t + 10, up=False).events
        events += ev.observe("home", t, t + 0.2, up=True).events
    assert [(e.kind, e.monitor) for e in events] == [("opened", "api")]


def test_a_failure_waits_for_the_control_probe_of_its_slot() -> None:
    ev = evaluator("api")
    ev.observe_control(0.0, 0.1, up=True)
    assert ev.observe("api", 0.0, 1.0, up=False).judged[0].outcome == "down"
    # The service's failure at 60 s arrives before the control probe that started at 60 s reports.
    held = ev.observe("api", 60.0, 60.5, up=False)
    assert held.judged == [] and held.events == [] and ev.pending("api") == 1
    # A later success of the same monitor queues behind it, so the rule still sees start order.
    assert ev.observe("api", 120.0, 120.1, up=True).judged == []
    released = ev.observe_control(60.0, 61.0, up=True)
    assert [(j.started, j.outcome) for j in released.judged] == [(60.0, "down"), (120.0, "up")]
    assert kinds(released.events) == ["opened"] and released.events[0].at == 61.0


def test_a_network_loss_between_probes_counts_at_most_one_failure() -> None:
    ev = evaluator("api")
    ev.observe_control(0.0, 0.1, up=True)  # the network goes at 30 s, after this control probe
    events = ev.observe("api", 30.0, 40.0, up=False).events  # covered by the control at 0 s: down
    for k in range(1, 6):
        t = k * 60.0
        ev.observe_control(t, t + 5, up=False)
        events += ev.observe("api", t + 30, t + 40, up=False).events
    assert events == []


def test_a_held_failure_without_any_control_verdict_is_paged_after_its_deadline() -> None:
    ev = evaluator("api")
    ev.observe("api", 0.0, 1.0, up=False)
    ev.observe("api", 60.0, 61.0, up=False)
    assert ev.tick(65.0).events == []
    assert ev.pending("api") == 2
    # No control verdict within one control interval plus its timeout (66 s): when in doubt, page.
    late = ev.tick(126.5)
    assert [j.outcome for j in late.judged] == ["down", "down"] and kinds(late.events) == ["opened"]


def test_network_results_neither_count_nor_break_a_run_of_successes() -> None:
    rule = MonitorRule("api", RULE)
    assert kinds(feed(rule, "dnd")) == ["opened"]  # failures at 0 and 120 s
    assert kinds(feed(rule, "unu", start=180)) == ["recovered"]


def test_without_a_control_every_failure_is_down_at_once() -> None:
    ev = evaluator("api", control=False)
    assert ev.observe("api", 0.0, 1.0, up=False).judged[0].outcome == "down"
    assert kinds(ev.observe("api", 60.0, 61.0, up=False).events) == ["opened"]
    assert ev.observe_control(0.0, 1.0, up=False).events == []


# -- properties -----------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    interval=st.floats(0.05, 600),
    timeout_fraction=st.floats(0.001, 1.0),
    failures=st.integers(1, 4),
    window_slack=st.floats(0.01, 5.0),
    phase_fraction=st.floats(0.0, 0.999),
    outage_at=st.floats(0.0, 20.0),
    hang_seed=st.integers(0, 2**32 - 1),
    control_interval_fraction=st.one_of(st.none(), st.floats(0.1, 1.0)),
    control_timeout_fraction=st.floats(0.01, 1.0),
)
def test_the_alert_is_due_within_failures_intervals_plus_the_timeout_after_an_outage_starts(
    interval: float,
    timeout_fraction: float,
    failures: int,
    window_slack: float,
    phase_fraction: float,
    outage_at: float,
    hang_seed: int,
    control_interval_fraction: float | None,
    control_timeout_fraction: float,
) -> None:
    """With failures=2: at most two intervals plus the timeout (``Rule.alert_bound``), whatever the
    phase, wherever between two probes the outage starts, whether probes hang to their timeout or are
    refused at once, and with a control target (probed at least as often, with a timeout no longer than
    the monitor's) whose verdict each failure waits for."""
    timeout = interval * timeout_fraction
    rule = Rule(interval, timeout, failures, (failures - 1) * interval + interval * window_slack)
    assert rule.problem() is None
    phase = phase_fraction * interval
    outage = phase + outage_at * interval  # in units of intervals after the first probe
    rng = random.Random(hang_seed)
    arrivals: list[tuple[float, float, str, float, bool]] = []  # finish, tie-break, who, start, up
    horizon = outage + rule.alert_bound() + 2 * interval
    k = 0
    while (start := k * interval + phase) <= horizon:
        up = start < outage
        duration = timeout if (not up and rng.random() < 0.5) else rng.random() * timeout
        arrivals.append((start + duration, rng.random(), "api", start, up))
        k += 1
    control: ControlGuard | None = None
    if control_interval_fraction is not None:
        control_interval = interval * control_interval_fraction
        control_timeout = min(control_interval, timeout) * control_timeout_fraction
        control = ControlGuard(control_interval, control_timeout)
        c_phase = rng.random() * control_interval
        j = -2
        while (start := j * control_interval + c_phase) <= horizon:
            arrivals.append((start + rng.random() * control_timeout, rng.random(), "control", start, True))
            j += 1
    ev = Evaluator({"api": rule}, control)
    opened: list[Event] = []
    for finished, _, who, start, up in sorted(arrivals):
        if who == "control":
            verdicts = ev.observe_control(start, finished, up)
        else:
            verdicts = ev.observe("api", start, finished, up)
        opened += [e for e in verdicts.events if e.kind == "opened"]
    assert len(opened) == 1
    assert opened[0].at <= outage + rule.alert_bound() + 1e-9 * max(1.0, horizon)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from("udn"), max_size=80), st.integers(1, 3), st.integers(1, 3))
def test_incidents_alternate_opened_and_recovered_whatever_the_results(
    codes: list[str], failures: int, recover_after: int
) -> None:
    """One incident per outage: never two ``opened`` without a ``recovered`` between, every recovery
    closes the incident that opened, and every key is unique."""
    rule = MonitorRule("api", Rule(failures=failures, window=300, recover_after=recover_after, renotify=90))
    events = feed(rule, "".join(codes))
    open_id: str | None = None
    for event in events:
        if event.kind == "opened":
            assert open_id is None
            open_id = event.incident_id
        else:
            assert event.incident_id == open_id
            if event.kind == "recovered":
                open_id = None
    assert len({e.key for e in events}) == len(events)


@settings(max_examples=300, deadline=None)
@given(
    interval=st.integers(1, 600),
    failures=st.integers(1, 6),
    window=st.integers(1, 3000),
    phase=st.integers(0, 599),
)
def test_validate_rule_refuses_exactly_the_rules_that_never_fire(
    interval: int, failures: int, window: int, phase: int
) -> None:
    """A service down for good, probed on the fixed schedule: the rule fires if and only if
    ``validate_rule`` accepts it (times are whole seconds here, so the boundary is exact)."""
    accepted = validate_rule(interval, interval, failures, window) is None
    rule = MonitorRule("api", Rule(float(interval), float(interval), failures, float(window)))
    events = [
        e
        for k in range(failures + 5)
        for e in rule.observe(float(phase + k * interval), phase + k * interval + 1.0, "down")
    ]
    assert (kinds(events) == ["opened"]) == accepted
