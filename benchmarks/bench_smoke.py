"""A smoke run of the sample app's three flows (homepage, login, invoice approval with a polled report job),
end to end through the `lr-ci smoke` command, against the sample app on loopback. Target: < 2 s wall.

Baseline in the same run: `python -c pass` (interpreter start-up), and the same requests' server time is
shown by the report itself.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers.opsapp_server import start_opsapp  # noqa: E402 - the tests folder holds the app launcher

LR_CI = str(Path(sys.executable).with_name("lr-ci"))
RUNS = 7


def wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed: {done.stderr.decode()[-400:]}")
    return time.perf_counter() - start


def main() -> int:
    app = start_opsapp()
    try:
        env = {**os.environ, "OPS_USER": "ops", "OPS_PASSWORD": "ops-demo-password"}
        config = str(ROOT / "examples" / "opsapp" / "lr-ci.toml")
        argv = [LR_CI, "--config", config, "smoke", "--base-url", app.url, "--format", "json"]
        python_s = statistics.median(wall([sys.executable, "-c", "pass"], env) for _ in range(RUNS))
        smoke_s = statistics.median(wall(argv, env) for _ in range(RUNS))
        ok = smoke_s < 2.0
        print(f"python -c pass (baseline)        {python_s:6.3f} s")
        print(f"lr-ci smoke, 3 flows, 12 steps   {smoke_s:6.3f} s   target < 2 s  {'ok' if ok else 'OVER'}")
        return 0 if ok else 1
    finally:
        app.stop()


if __name__ == "__main__":
    raise SystemExit(main())
