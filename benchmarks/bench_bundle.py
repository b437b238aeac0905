"""Measuring a 50 MB build of 2,000 files: `lr-ci bundle` wall time, cold and with unchanged files cached.

Target: under 5 s on the 2-core reference machine (default gzip budgets). Baseline in the same run:
`gzip -9 -n` over the same files one after another, the work a naive measurement does.
The files are generated JavaScript-like text (compressible like real bundles).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LR_CI = str(Path(sys.executable).with_name("lr-ci"))
FILES, TOTAL_BYTES = 2000, 50 * 1000 * 1000


def make_build(root: Path) -> None:
    rng = random.Random(1)
    words = [
        "invoice",
        "approve",
        "report",
        "customer",
        "amount",
        "status",
        "render",
        "fetch",
        "table",
        "row",
    ]
    per_file = TOTAL_BYTES // FILES
    for index in range(FILES):
        folder = root / "dist" / "assets" / f"group{index % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        lines, size = [], 0
        while size < per_file:
            line = (
                f"function {rng.choice(words)}{rng.randint(0, 99999)}(a,b){{return a.{rng.choice(words)}"
                f"+b[{rng.randint(0, 999)}]*{rng.random():.6f};}}\n"
            )
            lines.append(line)
            size += len(line)
        (folder / f"chunk{index}-{rng.getrandbits(40):010x}.js").write_text("".join(lines))


def wall(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="lr-ci-bundle-"))
    try:
        make_build(root)
        env = {**os.environ, "XDG_CACHE_HOME": str(root / "cache")}
        files = sorted(str(p) for p in (root / "dist").rglob("*.js"))
        start = time.perf_counter()
        for path in files:
            subprocess.run(["gzip", "-9", "-n", "-c", path], stdout=subprocess.DEVNULL, check=True)
        naive = time.perf_counter() - start
        cold = wall([LR_CI, "bundle", "--format", "json"], root, env)
        warm = wall([LR_CI, "bundle", "--format", "json"], root, env)
        print(f"build: {FILES} files, {TOTAL_BYTES / 1e6:.0f} MB")
        print(f"gzip -9 -n, file by file (baseline)  {naive:6.2f} s")
        print(
            f"lr-ci bundle, cold                    {cold:6.2f} s   {naive / cold:4.1f}x faster  target < 5 s  "
            f"{'ok' if cold < 5 else 'OVER'}"
        )
        print(f"lr-ci bundle, unchanged files cached  {warm:6.2f} s")
        return 0 if cold < 5 else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
