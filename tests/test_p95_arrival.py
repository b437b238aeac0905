"""Issue 12: the p95 gate's load arrives at a steady rate, so it measures the server, not its own bursts.

A server with exactly 4 sync worker slots (tests/helpers/sync_slots_server.py, 20 ms service time, capacity
200 requests/s) is driven at 50% of its capacity with lr-ci's default arrival, and by an evenly paced
reference client in the same test: the two p95s agree within 20%. Bursty load (every user sending in the
same instant, as locust's ``constant_throughput`` did) queued on the 4 slots and read about 3x the service
time. The pacing itself is unit-tested in test_p95_stats.py-style pure tests below (no server).
"""

from __future__ import annotations

import http.client
import itertools
import json
import math
import queue
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from helpers.cli import lr_ci_executable
from helpers.hostile import PEAK_RSS_LIMIT, all_format_outputs, run_measured
from helpers.load_sensitive import LOAD_SENSITIVE
from helpers.sync_slots_server import SyncSlotsServer, start_sync_slots
from lr_ci.checks.p95.arrival import EvenPacer, PoissonSchedule, bucket_counts, peak_in_flight, spread
from lr_ci.checks.p95.stats import p95

SLOTS = 4
SERVICE_MS = 20.0
RATE = 100.0  # 50% of 4 slots / 20 ms = 200 requests/s

CONFIG = f"""
[p95]
rate = {RATE:g}
rounds = 2
round_seconds = 2.0
warmup_seconds = 0.5
min_samples = 100
budget_ms = 300
min_increase_ms = 5
seed = 11
"""
# min_increase_ms: a 20 ms service time grows by 10 ms at +50%, right at the default 10 ms floor.


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, SyncSlotsServer]]:
    started = {
        "a": start_sync_slots(SLOTS, SERVICE_MS),
        "b": start_sync_slots(SLOTS, SERVICE_MS),
        "slow": start_sync_slots(SLOTS, SERVICE_MS * 1.5),
    }
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()


def reference_p95(url: str, rate: float, seconds: float, workers: int = 8) -> float:
    """The p95 of requests sent exactly every 1/rate s (an open schedule), each timed from send to body."""
    parts = urlsplit(url)
    due: queue.Queue[float | None] = queue.Queue()
    times: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        try:
            while due.get(timeout=seconds + 10) is not None:
                sent = time.perf_counter()
                connection.request("GET", "/")
                connection.getresponse().read()
                with lock:
                    times.append((time.perf_counter() - sent) * 1000.0)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.05
    for k in range(int(rate * seconds)):
        time.sleep(max(0.0, start + k / rate - time.perf_counter()))
        due.put(start + k / rate)
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join(timeout=seconds + 20)
    settled = times[int(rate * 0.3) :]  # connections opening
    return p95(settled)


def run_p95(tmp_path: Path, *args: str) -> tuple[int, Any, str]:
    config = tmp_path / "lr-ci.toml"
    config.write_text(CONFIG)
    done = subprocess.run(
        [lr_ci_executable(), "--config", str(config), "p95", "--format", "json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else None
    return done.returncode, report, done.stderr


@LOAD_SENSITIVE
def test_default_arrival_matches_an_evenly_paced_client_on_sync_slots(
    servers: dict[str, SyncSlotsServer], tmp_path: Path
) -> None:
    url = servers["a"].url
    reference = reference_p95(url, RATE, 3.0)
    code, report, err = run_p95(tmp_path, "--candidate", url, "--save-baseline", str(tmp_path / "b.json"))
    assert code == 0, err
    measured = report["metrics"]["routes"]["homepage"]["candidate_p95_ms"]
    print(f"lr-ci p95 {measured} ms, reference {reference:.1f} ms, arrivals {report['metrics']['arrivals']}")
    assert abs(measured / reference - 1) <= 0.2, (measured, reference)
    arrivals = report["metrics"]["arrivals"]["candidate"]
    # Below capacity the requests in flight stay near rate x latency (2 here), never a burst of every user.
    assert arrivals["peak_in_flight"] <= 6, arrivals
    assert arrivals["cv_per_100ms"] < 0.5, arrivals
    assert report["metrics"]["achieved_rps"]["candidate"] >= 0.9 * RATE


@LOAD_SENSITIVE
def test_identical_sync_slot_servers_pass(servers: dict[str, SyncSlotsServer], tmp_path: Path) -> None:
    code, report, err = run_p95(tmp_path, "--baseline", servers["a"].url, "--candidate", servers["b"].url)
    assert code == 0, (err, report and report["metrics"]["routes"])
    assert report["metrics"]["routes"]["homepage"]["verdict"] == "pass"


@LOAD_SENSITIVE
def test_half_again_the_service_time_fails_near_x1_5(
    servers: dict[str, SyncSlotsServer], tmp_path: Path
) -> None:
    code, report, err = run_p95(tmp_path, "--baseline", servers["a"].url, "--candidate", servers["slow"].url)
    route = report["metrics"]["routes"]["homepage"]
    assert code == 1, (err, route["why"], route)
    assert route["verdict"] == "regression"
    print(f"ratio x{route['ratio']}")
    assert 1.3 <= route["ratio"] <= 1.7, route


# -- the pacing and the arrival metrics, without a server --------------------------------------------------


def simulate(users: int, rate: float, seconds: float, latency_s: float = 0.0) -> list[float]:
    """Send times of ``users`` paced users whose responses take ``latency_s``, on a simulated clock."""
    period = users / rate
    rng = random.Random(5)
    pacers = [EvenPacer(period, i, users, 0.3, rng) for i in range(users)]
    sends: list[float] = []
    for pacer in pacers:
        now = 0.0
        while True:
            now += pacer.wait(now)
            if now >= seconds:
                break
            sends.append(now)
            now += latency_s
    return sorted(sends)


def test_paced_users_spread_their_requests_evenly() -> None:
    sends = simulate(users=12, rate=60, seconds=10)
    counts = bucket_counts(sends, 1.0, 10.0)
    assert abs(len(sends) / 10 - 60) <= 2
    assert max(counts) <= 8 and min(counts) >= 4, counts  # 6 per 100 ms, never 12 then 0
    found = spread([1], [counts])
    assert found is not None and found.cv_per_bucket < 0.3


def test_a_late_user_does_not_burst_to_catch_up() -> None:
    # Each response takes 3 periods: the user re-anchors and sends at once, one request per response.
    sends = simulate(users=1, rate=10, seconds=3, latency_s=0.35)
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    assert all(gap >= 0.35 - 1e-9 for gap in gaps), gaps


def test_bursts_show_in_the_arrival_metrics() -> None:
    starts = [k * 0.2 + i * 0.001 for k in range(50) for i in range(12)]  # 12 at once every 0.2 s
    ends = [s + 0.02 for s in starts]
    counts = bucket_counts(starts, 0.0, 10.0)
    found = spread([peak_in_flight(starts, ends)], [counts])
    assert found is not None
    assert found.peak_in_flight == 12
    assert found.max_per_bucket == 12
    assert math.isclose(found.cv_per_bucket, 1.0, rel_tol=0.01)


def test_poisson_arrivals_are_open_and_exponential() -> None:
    rng = random.Random(3)
    schedules = [PoissonSchedule(100.0 / 20, rng) for _ in range(20)]  # 20 users, 100 arrivals/s in all
    sends = []
    for schedule in schedules:
        now = 0.0
        while now < 50.0:
            now += schedule.wait(now)  # answered at once: the arrivals are the process's own
            sends.append(now)
    sends = sorted(send for send in sends if send < 50.0)
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    mean = sum(gaps) / len(gaps)
    stdev = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps))
    assert abs(mean - 0.01) < 0.001 and abs(stdev / mean - 1) < 0.1  # exponential: CV 1


@LOAD_SENSITIVE
def test_poisson_arrival_queues_on_sync_slots_by_design(
    servers: dict[str, SyncSlotsServer], tmp_path: Path
) -> None:
    config = tmp_path / "lr-ci.toml"
    config.write_text(CONFIG + 'arrival = "poisson"\nmax_in_flight = 40\n')
    done = subprocess.run(
        [
            lr_ci_executable(),
            "--config",
            str(config),
            "p95",
            "--format",
            "json",
            "--candidate",
            servers["a"].url,
            "--save-baseline",
            str(tmp_path / "b.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)["metrics"]
    measured = metrics["routes"]["homepage"]["candidate_p95_ms"]
    print(f"poisson p95 {measured} ms, arrivals {metrics['arrivals']}")
    assert metrics["arrival"] == "poisson" and metrics["users"] == 40
    assert metrics["achieved_rps"]["candidate"] >= 0.9 * RATE
    assert measured > SERVICE_MS * 1.1  # requests that arrive together queue on the 4 slots
    assert metrics["arrivals"]["candidate"]["cv_per_100ms"] > 0.2  # Poisson counts: about 1/sqrt(10)


@pytest.mark.parametrize(
    ("line", "mentions"),
    [('arrival = "bursty"', "arrival"), ("max_in_flight = 0", "max_in_flight")],
)
def test_a_bad_arrival_setting_is_exit_2_at_its_line(tmp_path: Path, line: str, mentions: str) -> None:
    config = tmp_path / "lr-ci.toml"
    config.write_text(f"[p95]\nrate = 10\n{line}\n")
    done = subprocess.run(
        [
            lr_ci_executable(),
            "--config",
            str(config),
            "p95",
            "--candidate",
            "http://127.0.0.1:9",
            "--save-baseline",
            str(tmp_path / "b.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and mentions in lines[0] and "lr-ci.toml:3" in lines[0], done.stderr


def test_too_few_users_for_the_rate_is_a_clear_warning_and_never_a_pass(
    servers: dict[str, SyncSlotsServer], tmp_path: Path
) -> None:
    # One user waits 20 ms per response: it cannot send 100 requests/s (it needs 100 x 0.02 x 1.5 = 3).
    config = tmp_path / "lr-ci.toml"
    config.write_text(CONFIG + "users = 1\n")
    result = run_measured(
        [
            "--config",
            str(config),
            "p95",
            "--format",
            "text",
            "--candidate",
            servers["a"].url,
            "--save-baseline",
            str(tmp_path / "b.json"),
        ],
        cwd=tmp_path,
        timeout_s=60,
        outputs=all_format_outputs(tmp_path),
    )
    assert result.code == 1, result.err  # the rate was not sustained: inconclusive, never a pass
    report = json.loads(result.files["json"])
    assert report["metrics"]["users_needed"]["candidate"] >= 3
    assert report["metrics"]["routes"]["homepage"]["verdict"] == "inconclusive"
    assert "users = 1 is too few for rate = 100" in result.out
    for fmt, text in result.files.items():
        assert "users = 1 is too few" in text, fmt
    assert result.peak_rss <= PEAK_RSS_LIMIT
