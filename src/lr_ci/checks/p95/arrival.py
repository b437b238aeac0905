"""When each request of the p95 load is sent, and how evenly the requests arrived.

Pure Python (no locust, no gevent): the pacing is unit-tested without a server, and the arrival metrics are
computed from the (start, end) times the load collected.

Why even arrival: a server with a fixed number of sync workers queues every burst. With locust's
``constant_throughput`` every user spawned within the same ~100 ms and stayed in step, so the load came as
"12 requests at once, then nothing for 0.2 s" and the gate measured its own bursts (p95 430 ms against
62-89 ms from an evenly paced client, on 4 sync workers at 56% of capacity). Here each user sends on its own
fixed grid of slots, the users' grids interleaved, so below capacity the requests in flight stay near
rate x latency and the p95 is the server's.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

GOLDEN_FRACTION = (math.sqrt(5) - 1) / 2
"""User ``i`` starts at ``frac(phase + i * GOLDEN_FRACTION)`` of a period: any run of consecutive users is
spread over the period with gaps of at most three sizes (the three-gap theorem), whatever their count."""

JITTER_SHARE = 0.5
"""Each send moves by up to +-half the gap between two users' slots: the users never lock into step with
a periodic server (a timer, a GC), and never swap order with a neighbour by more than one slot."""

BUCKET_SECONDS = 0.1
"""Arrivals are counted per 100 ms to report their spread."""


class EvenPacer:
    """One user's send schedule: slots ``offset + k * period`` on the monotonic clock, each jittered.

    The schedule is absolute, not "period after the last send": a user whose response came back late sends
    at its next slot, not in step with every other user whose response came back in the same instant (which
    is how a queueing server re-synchronised ``constant_throughput`` users into bursts). A user that fell
    more than a whole period behind (its responses take longer than its period: too few users for the rate)
    sends at once and re-anchors its grid there; the achieved rate then shows the shortfall.
    """

    def __init__(self, period: float, index: int, users: int, phase: float, rng: random.Random) -> None:
        self.period = period
        self.jitter = JITTER_SHARE * period / max(1, users)
        self.rng = rng
        self.offset = ((phase + index * GOLDEN_FRACTION) % 1.0) * period
        self.next_slot: float | None = None

    def wait(self, now: float) -> float:
        """Seconds to wait, at monotonic time ``now``, before this user's next request."""
        if self.next_slot is None:
            # The first slot of this user's grid from now on.
            k = math.ceil((now - self.offset) / self.period)
            self.next_slot = self.offset + k * self.period
        elif self.next_slot < now - self.period:
            self.next_slot = now  # fell behind by more than a period: re-anchor, no catch-up burst
        slot = self.next_slot
        self.next_slot = slot + self.period
        send_at = slot + self.rng.uniform(-self.jitter, self.jitter)
        return max(0.0, send_at - now)


STALE_SECONDS = 1.0
"""A Poisson arrival more than this far in the past (every slot was busy, or the last round ended) is
dropped and the schedule restarts from now: a backlog is never sent as one burst."""


class PoissonSchedule:
    """``arrival = "poisson"``: one user's share of an open arrival process.

    Each of the ``max_in_flight`` users sends on its own Poisson process of rate/users, on an absolute
    schedule (an arrival is due at its instant whether or not this user's earlier requests returned; one
    that came due while the user waited for a response is sent when it returns, the next ones stay on
    schedule). The users' processes add up to one Poisson process at the rate asked, in any number of
    processes (workers); at most ``max_in_flight`` requests are in flight: the cap.
    """

    def __init__(self, rate: float, rng: random.Random) -> None:
        self.rate = rate
        self.rng = rng
        self.next_arrival: float | None = None

    def wait(self, now: float) -> float:
        """Seconds to wait, at monotonic time ``now``, before this user's next arrival."""
        if self.next_arrival is None or self.next_arrival < now - STALE_SECONDS:
            self.next_arrival = now + self.rng.expovariate(self.rate)
        arrival = self.next_arrival
        self.next_arrival = arrival + self.rng.expovariate(self.rate)
        return max(0.0, arrival - now)


@dataclass(frozen=True)
class ArrivalSpread:
    """What one side's arrivals looked like over its measured rounds."""

    peak_in_flight: int
    """The most requests sent and not yet answered at any instant."""
    mean_per_bucket: float
    """Requests sent per 100 ms, on average."""
    max_per_bucket: int
    """Requests sent in the busiest 100 ms."""
    cv_per_bucket: float
    """Coefficient of variation (stdev / mean) of the per-100 ms counts: about 1/sqrt(mean) for Poisson
    arrivals, near 0 for perfectly even ones, far above 1 for bursts."""

    def to_json(self) -> dict[str, float | int]:
        return {
            "peak_in_flight": self.peak_in_flight,
            "mean_per_100ms": round(self.mean_per_bucket, 2),
            "max_per_100ms": self.max_per_bucket,
            "cv_per_100ms": round(self.cv_per_bucket, 3),
        }


def peak_in_flight(starts: Sequence[float], ends: Sequence[float]) -> int:
    """The most intervals ``[start, end)`` overlapping at one instant (an end before a start at a tie)."""
    events = sorted([(s, 1) for s in starts] + [(e, -1) for e in ends])
    peak = level = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def bucket_counts(starts: Sequence[float], since: float, until: float) -> list[int]:
    """Requests started per whole 100 ms bucket within ``[since, until)`` (partial buckets left out)."""
    first = math.ceil(since / BUCKET_SECONDS)
    last = math.floor(until / BUCKET_SECONDS)  # exclusive
    if last <= first:
        return []
    counts = [0] * (last - first)
    for start in starts:
        index = math.floor(start / BUCKET_SECONDS) - first
        if 0 <= index < len(counts):
            counts[index] += 1
    return counts


def spread(peaks: Sequence[int], rounds: Sequence[Sequence[int]]) -> ArrivalSpread | None:
    """One side's spread from its rounds' peaks in flight and per-100 ms counts; None without any count."""
    counts = [c for round_counts in rounds for c in round_counts]
    if not counts:
        return None
    mean = sum(counts) / len(counts)
    variance = sum((c - mean) ** 2 for c in counts) / len(counts)
    cv = math.sqrt(variance) / mean if mean > 0 else 0.0
    return ArrivalSpread(max(peaks, default=0), mean, max(counts), cv)
