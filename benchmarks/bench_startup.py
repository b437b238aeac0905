"""Start-up time of the commands a pre-commit hook runs on every commit.

Target: `lr-ci --help` and `lr-ci CHECK --help` at most 100 ms wall on the 2-core reference machine (issue 15).
Prints the median of repeated runs and the ratio to a baseline measured in the same run (a bare
`python -c pass` of the same interpreter), so the numbers compare across machines.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 21
TARGET_MS = 100.0
LR_CI = str(Path(sys.executable).with_name("lr-ci"))
CASES = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "lr-ci --help": [LR_CI, "--help"],
    "lr-ci config --help": [LR_CI, "config", "--help"],
    "lr-ci config check --help": [LR_CI, "config", "check", "--help"],
    "lr-ci secrets --help": [LR_CI, "secrets", "--help"],
}


def median_ms(argv: list[str]) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    results = {name: median_ms(argv) for name, argv in CASES.items()}
    baseline = results["python -c pass (baseline)"]
    print(f"{'command':<30} {'median ms':>10} {'x baseline':>11}  target")
    failed = False
    for name, ms in results.items():
        verdict = "" if "baseline" in name else ("ok" if ms < TARGET_MS else f"OVER {TARGET_MS:.0f} ms")
        failed |= verdict.startswith("OVER")
        print(f"{name:<30} {ms:>10.1f} {ms / baseline:>11.2f}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
