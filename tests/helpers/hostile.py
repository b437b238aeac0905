"""Running lr-ci on hostile input: in a subprocess, bounded in time, with the process tree's peak memory.

The hostile-input tests (``tests/test_hostile_*.py``) use this to hold what issue 11 asks of every command:
the exit code, one clear line on stderr (never a traceback), no secret in any output format, and a peak
resident set size of the whole process tree (lr-ci and every git, worker or compressor it starts) at most
:data:`PEAK_RSS_LIMIT`.

The peak is sampled: a watcher thread sums the RSS of every descendant every few milliseconds from
``/proc``. A spike shorter than the sampling period could be missed, so the result is also never lower
than lr-ci's own peak since its exec (``VmHWM``), which the kernel tracks exactly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers.cli import ROOT

MIB = 1 << 20
PEAK_RSS_LIMIT = 256 * MIB
"""The documented bound for every input of issue 11's "No bound on time or memory" section."""
FORMATS = ("text", "json", "sarif", "junit", "markdown", "github")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_SAMPLE_S = 0.003


@dataclass
class Measured:
    code: int
    out: str
    err: str
    peak_rss: int
    """Bytes: the largest sum of the RSS of the process tree seen, or the largest single process's peak."""
    seconds: float
    files: dict[str, str]
    """Extra outputs written by ``--output FMT:PATH`` (format -> text), when asked for."""

    @property
    def everything(self) -> str:
        """stdout, stderr and every written file: where a secret must not appear."""
        return "\n".join([self.out, self.err, *self.files.values()])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    kids = [int(k) for k in handle.read().split()]
            except OSError:
                continue
            found += kids
            pending += kids
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _high_water(pid: int) -> int:
    """The peak RSS of ``pid`` since its exec (``VmHWM``: exact, kept by the kernel), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def tree_rss(pid: int) -> int:
    """The summed resident set size of ``pid`` and all its descendants, now."""
    return sum(_rss(p) for p in [pid, *_children(pid)])


def lr_ci_argv() -> list[str]:
    """How to start lr-ci in a subprocess with this interpreter (so tests and CI use the same code)."""
    return [sys.executable, "-m", "lr_ci"]


def run_measured(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 60.0,
    stdin: bytes | None = None,
    outputs: Mapping[str, Path] | None = None,
) -> Measured:
    """``lr-ci ARGV`` in ``cwd``; killed (and the test failed) when it runs past ``timeout_s``.

    ``outputs`` maps formats to files: each becomes ``--output FMT:PATH`` and its text is returned.
    """
    extra = [f"--output={fmt}:{path}" for fmt, path in (outputs or {}).items()]
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("PYTHONPATH", str(ROOT / "src"))
    started = time.perf_counter()
    process = subprocess.Popen(
        [*lr_ci_argv(), *argv, *extra],
        cwd=cwd,
        env=full_env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    peak = high_water = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak, high_water
        while not stop.is_set():
            peak = max(peak, tree_rss(process.pid))
            high_water = max(high_water, _high_water(process.pid))
            stop.wait(_SAMPLE_S)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        out, err = process.communicate(stdin, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.communicate()
        raise AssertionError(f"lr-ci {' '.join(argv)} ran past {timeout_s} s") from None
    finally:
        stop.set()
        watcher.join()
    seconds = time.perf_counter() - started
    # lr-ci's own high-water mark, not RUSAGE_CHILDREN: that also counted a browser or a server of an
    # earlier test reaped while this one ran, and the copy of the test process a fork starts as.
    single = high_water
    files = {fmt: path.read_text(errors="replace") for fmt, path in (outputs or {}).items() if path.exists()}
    return Measured(
        process.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        max(peak, single),
        seconds,
        files,
    )


def assert_one_clear_line(result: Measured, *, mentions: Sequence[str] = ()) -> str:
    """stderr is one ``lr-ci ...: error: ...`` line (no traceback) that names each of ``mentions``."""
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert "Traceback" not in result.err, result.err
    assert "internal error" not in result.err, result.err
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1, result.err
    for word in mentions:
        assert word in errors[0], (word, errors[0])
    return errors[0]


def all_format_outputs(tmp: Path) -> dict[str, Path]:
    """``--output`` files for every format but the one printed (stdout), to check them all in one run."""
    return {fmt: tmp / f"report.{fmt}" for fmt in ("json", "sarif", "junit", "markdown")}
