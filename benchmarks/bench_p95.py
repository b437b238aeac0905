"""The p95 gate's false-alarm and detection rates, end to end, with the default gate settings.

Each trial starts two instances of the sample app with the latency knob (baseline: 40 ms ± 10 ms), runs
`lr-ci p95 --baseline A --candidate B` with no configuration (the defaults), and records the verdict.
Kinds: identical builds; candidate's server time slowed by +20%, by +30%; and slowed so that the
end-to-end p95 grows by exactly 20% ("e2e20"). The `sync-` kinds target a server with exactly 4 sync
worker slots instead (tests/helpers/sync_slots_server.py, like gunicorn's sync workers: one request per slot, a
burst queues), 37 ms service time, so the default 60 req/s is 56% of its capacity: the stack where the
old bursty load read a 40-90 ms p95 as 430-483 ms. Their rows also print the absolute p95 measured, to
compare with the service time. The naive rule, "candidate p95 /
baseline p95 > 1.2 from one run each", is judged on the same trials from the first measured round of each
side (reported per round in the JSON metrics).

Targets: identical builds fail in at most 5% of trials; +30% is caught in at least 90%; one default gate
run (confirmation included) under 3 minutes. Results are appended as JSON lines, so an interrupted run
keeps what it measured.

Usage: python benchmarks/bench_p95.py [--trials 20] [--kinds identical,slow30,slow20,e2e20,sync-identical,sync-slow30]
       [--out FILE]
       [--workers N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol, TypedDict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers.opsapp_server import start_opsapp  # noqa: E402 - the tests folder holds the app launcher
from helpers.sync_slots_server import start_sync_slots  # noqa: E402

LR_CI = str(Path(sys.executable).with_name("lr-ci"))
BASE_LATENCY_MS, BASE_JITTER_MS = 40.0, 10.0
# The knob scales the app's server time, not the fixed per-request cost (loopback, HTTP parsing), so
# "+20% server-side" reads about x1.17 end to end on this machine and "+30%" about x1.25. "e2e20" is the
# knob setting whose end-to-end p95 ratio is x1.20 (interpolated between those two measured slopes: the
# ratio grows by 0.83 per unit of knob); the summary prints the median ratio actually measured.
KINDS = {
    "identical": 1.0,
    "slow20": 1.2,
    "slow30": 1.3,
    "e2e20": 1.24,
    "sync-identical": 1.0,
    "sync-slow30": 1.3,
}
SYNC_SLOTS, SYNC_SERVICE_MS = 4, 37.0  # capacity 4 / 37 ms = 108 req/s; the default 60 req/s is 56% of it


class _Target(Protocol):
    url: str

    def stop(self) -> None: ...


def start_target(kind: str, factor: float) -> _Target:
    """The server one side of a trial measures: the sample app, or the sync-slot server for `sync-` kinds."""
    if kind.startswith("sync-"):
        return start_sync_slots(SYNC_SLOTS, SYNC_SERVICE_MS * factor)
    return start_opsapp(latency_ms=BASE_LATENCY_MS * factor, jitter_ms=BASE_JITTER_MS * factor)


class Trial(TypedDict):
    """One trial's row, as printed and written to ``--out`` (one JSON object a line)."""

    kind: str
    exit: int
    verdict: str
    ratio: float
    interval: list[float]
    naive_fails: bool
    seconds: float
    p95_ms: list[float]
    achieved_rps: dict[str, float]
    arrivals: dict[str, Any] | None
    requested_rps: float
    why: str


def trial(kind: str, workdir: Path, extra: list[str]) -> Trial:
    factor = KINDS[kind]
    baseline = start_target(kind, 1.0)
    candidate = start_target(kind, factor)
    try:
        started = time.monotonic()
        done = subprocess.run(
            [
                LR_CI,
                "p95",
                "--baseline",
                baseline.url,
                "--candidate",
                candidate.url,
                "--format",
                "json",
                *extra,
            ],
            capture_output=True,
            text=True,
            cwd=workdir,
            check=False,
            timeout=600,
        )
        seconds = time.monotonic() - started
    finally:
        baseline.stop()
        candidate.stop()
    report = json.loads(done.stdout)
    route = report["metrics"]["routes"]["homepage"]
    rounds = route["round_p95_ms"]
    naive = rounds["candidate"][0] / rounds["baseline"][0] > 1.2
    return {
        "kind": kind,
        "exit": done.returncode,
        "verdict": route["verdict"],
        "ratio": route["ratio"],
        "interval": route["ratio_interval"],
        "naive_fails": naive,
        "seconds": round(seconds, 1),
        "p95_ms": [route["baseline_p95_ms"], route["candidate_p95_ms"]],
        "achieved_rps": report["metrics"]["achieved_rps"],
        "arrivals": report["metrics"].get("arrivals"),
        "requested_rps": report["metrics"]["requested_rps"],
        "why": route["why"],
    }


def summarize(rows: list[Trial]) -> None:
    print(
        f"{'kind':<15} {'trials':>6} {'gate fails':>11} {'naive fails':>12} {'median s':>9} {'ratios':>13}"
        f" {'p95 ms (base)':>15}"
    )
    for kind in KINDS:
        subset = [r for r in rows if r["kind"] == kind]
        if not subset:
            continue
        gate = sum(r["exit"] == 1 for r in subset)
        naive = sum(bool(r["naive_fails"]) for r in subset)
        seconds = sorted(float(r["seconds"]) for r in subset)[len(subset) // 2]
        ratios = sorted(float(r["ratio"]) for r in subset)
        base_p95 = sorted(float(r["p95_ms"][0]) for r in subset)
        print(
            f"{kind:<15} {len(subset):>6} {gate:>5} ({gate / len(subset):4.0%}) {naive:>5} ({naive / len(subset):4.0%})"
            f" {seconds:>9.1f} {ratios[0]:.2f}-{ratios[-1]:.2f} {base_p95[0]:>7.1f}-{base_p95[-1]:.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--kinds", default="identical,slow30,slow20,e2e20")
    parser.add_argument("--out", type=Path, default=Path("p95-trials.jsonl"))
    parser.add_argument("--workers", type=int, default=0, help="send the load from N local locust workers")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="lr-ci-p95-"))  # no lr-ci.toml: the default gate
    rows: list[Trial] = []
    for kind in args.kinds.split(","):
        for number in range(args.trials):
            row = trial(kind, workdir, ["--workers", str(args.workers)] if args.workers else [])
            rows.append(row)
            with args.out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(
                f"{kind} #{number + 1}: {row['verdict']} x{row['ratio']} naive={row['naive_fails']} {row['seconds']} s",
                flush=True,
            )
    summarize(rows)
    missed = targets_missed(rows)
    for line in missed:
        print(f"target missed: {line}")
    return 1 if missed else 0


def targets_missed(rows: list[Trial]) -> list[str]:
    """The issue's targets, on the kinds that were run."""
    missed = []
    for kind in KINDS:
        subset = [r for r in rows if r["kind"] == kind]
        failed = sum(r["exit"] == 1 for r in subset)
        if kind.endswith("identical") and subset and failed > 0.05 * len(subset):
            missed.append(f"{kind}: identical builds failed the gate in more than 5% of trials")
        if kind.endswith("slow30") and subset and failed < 0.9 * len(subset):
            missed.append(f"{kind}: +30% was caught in fewer than 90% of trials")
    kept = min(
        (float(rate) / float(r["requested_rps"]) for r in rows for rate in r["achieved_rps"].values()),
        default=1.0,
    )
    if kept < 0.9:
        missed.append(f"the load generator kept only {kept:.0%} of the requested rate")
    slowest = max((float(r["seconds"]) for r in rows), default=0.0)
    if slowest >= 180:
        missed.append(f"a gate run took {slowest:.0f} s (target < 3 min)")
    return missed


if __name__ == "__main__":
    raise SystemExit(main())
