"""Regular expressions on response text, run in a helper process that is killed at the deadline.

A user's regular expression (``capture.regex``, ``expect.headers``, ``expect.json_matches``) meets text a
server chose. Python's ``re`` backtracks: ``(a|aa)+$`` on 30,000 ``a`` runs for longer than the universe,
inside one C call that holds the interpreter lock, so neither the run deadline nor another thread can stop
it. The search therefore runs in a small helper process (about 10 MiB; at most :data:`MAX_HELPERS` in the
process, started on the first searches), which is killed when the search outlives the step's time; the
next search starts a new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import struct
import subprocess
import sys
import time
from dataclasses import dataclass

_HELPER = r"""
import json, re, resource, struct, sys
try:  # killed with the thread that started it (lr-ci killed mid-search must not leave it running)
    import ctypes
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
except Exception:
    pass
# A search's own memory (its backtracking stack) is bounded too: past it, MemoryError fails the step.
resource.setrlimit(resource.RLIMIT_DATA, (%(data)d, %(data)d))
read, write = sys.stdin.buffer.read, sys.stdout.buffer
while True:
    head = read(8)
    if len(head) < 8:
        break
    pattern, text = json.loads(read(struct.unpack(">Q", head)[0]))
    try:
        match = re.search(pattern, text)
        answer = None if match is None else [match.group(0), list(match.groups())]
    except Exception as exc:
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    data = json.dumps(answer).encode()
    write.write(struct.pack(">Q", len(data)) + data)
    write.flush()
"""


HELPER_DATA_BYTES = 96 * 1024 * 1024
"""The helper's data memory: a 4 MiB text arrives as JSON and is decoded (about 20 MiB), with room for a
search's backtracking stack."""


class RegexTimeout(Exception):
    """The search did not end by its deadline (the pattern backtracks without end on this text)."""


class RegexFailed(Exception):
    """The search could not run (the pattern does not compile, the helper died)."""


@dataclass(frozen=True)
class Found:
    """What a match gives the checks: the whole match and its groups (``re.Match``'s, as plain text)."""

    whole: str
    groups: tuple[str | None, ...]

    def first(self) -> str:
        """The first group when the pattern has one (and it took part), else the whole match."""
        return self.groups[0] if self.groups and self.groups[0] is not None else self.whole


class RegexBox:
    """One helper process, started when first needed; ``close()`` ends it."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    def search(self, pattern: str, text: str, timeout_s: float) -> Found | None:
        """``re.search(pattern, text)`` ended within ``timeout_s``, else :class:`RegexTimeout`."""
        process = self._started()
        assert process.stdin is not None and process.stdout is not None
        request = json.dumps([pattern, text]).encode()
        deadline = time.monotonic() + timeout_s
        try:
            process.stdin.write(struct.pack(">Q", len(request)) + request)
            process.stdin.flush()
            head = self._read(process, 8, deadline)
            answer = json.loads(self._read(process, struct.unpack(">Q", head)[0], deadline))
        except (OSError, ValueError) as exc:
            self.close()
            raise RegexFailed(f"the regular expression helper failed ({exc})") from None
        except RegexTimeout:
            self.close()
            raise
        if isinstance(answer, dict):
            raise RegexFailed(str(answer.get("error", "")))
        if answer is None:
            return None
        return Found(answer[0], tuple(answer[1]))

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _HELPER % {"data": HELPER_DATA_BYTES}],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self._process

    @staticmethod
    def _read(process: subprocess.Popen[bytes], size: int, deadline: float) -> bytes:
        assert process.stdout is not None
        descriptor = process.stdout.fileno()
        chunks: list[bytes] = []
        while size > 0:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([descriptor], [], [], left)[0]:
                raise RegexTimeout()
            chunk = os.read(descriptor, min(size, 1 << 20))
            if not chunk:
                raise OSError("it exited")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        """Stop the helper (killed: it may be deep in a search that never ends)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


MAX_HELPERS = 4
"""Helpers alive at once in the process, whatever ``concurrency`` is (256 flows, each with its own, would
be 2.5 GiB): a flow waits for a free one, within its own time."""


class RegexPool:
    """Searches of every flow of the process, on at most :data:`MAX_HELPERS` helpers."""

    def __init__(self, size: int = MAX_HELPERS) -> None:
        import threading

        self._free = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[RegexBox] = []

    def search(self, pattern: str, text: str, timeout_s: float) -> Found | None:
        """:meth:`RegexBox.search` on a free helper; waiting for one counts against ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        if not self._free.acquire(timeout=timeout_s):
            raise RegexTimeout()
        try:
            with self._lock:
                box = self._idle.pop() if self._idle else RegexBox()
            try:
                found = box.search(pattern, text, max(0.001, deadline - time.monotonic()))
            except BaseException:
                box.close()
                raise
            with self._lock:
                self._idle.append(box)
            return found
        finally:
            self._free.release()

    def close(self) -> None:
        """Stop the idle helpers (a search still running keeps its own until it ends)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for box in idle:
            box.close()


POOL = RegexPool()
"""The process's helpers, shared by every flow."""
