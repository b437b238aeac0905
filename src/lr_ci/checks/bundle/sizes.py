"""Sizes: parsing "250 kB", compressing as servers do, and stable names for content-hashed files."""

from __future__ import annotations

import re
import signal
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Protocol

CHUNK_BYTES = 1 << 20
"""Files are read and compressed this many bytes at a time: memory does not grow with the file."""
BROTLI_BEST_MAX_BYTES = 8 << 20
"""Brotli quality 11 (what a build pre-compresses with) runs at 0.2-1 MB/s: above this size a file is
measured at :data:`BROTLI_LARGE_QUALITY` instead, whose size is an upper bound (about 5-10% larger)."""
BROTLI_LARGE_QUALITY = 5
BROTLI_WINDOW_BITS = 22
"""The library's and Node's default window (4 MiB), as size-limit and most servers compress."""

MAX_SIZE_BYTES = 1e18
"""The largest size a budget may name (an exabyte): more digits than that are a typo, and 400 of them were
an infinity that crashed the rounding."""
_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int) -> int:
    """ "250 kB" -> 250000, "1.5 KiB" -> 1536, "500" or "500 B" -> 500 (kB is 1000 bytes, KiB 1024)."""
    if isinstance(text, int):
        return text
    shown = repr(text if len(text) <= 40 else text[:40] + "…")
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in ("", *_UNITS):
        raise ValueError(f'{shown} is not a size: use B, kB, KiB, MB or MiB, e.g. "250 kB"')
    size = float(match.group(1)) * _UNITS.get(unit, 1)
    if not size < MAX_SIZE_BYTES:  # also inf: 400 digits do not fit a float
        raise ValueError(f"{shown} is not a size: more than {MAX_SIZE_BYTES:.0e} bytes")
    return round(size)


def format_size(size: int) -> str:
    if abs(size) < 1000:
        return f"{size} B"
    if abs(size) < 1000**2:
        return f"{size / 1000:.2f} kB"
    return f"{size / 1000**2:.2f} MB"


HASH_PATTERN_BUDGET_S = 2.0
"""The time ``hash_pattern`` may take on all the names of a build (a plain pattern needs milliseconds for
10,000 names): a pattern that backtracks, such as ``(a+)+$``, would otherwise run for years on one name."""


class HashPatternTooSlow(Exception):
    """``hash_pattern`` ran past :data:`HASH_PATTERN_BUDGET_S`; the command names the config line."""

    def __init__(self, names: int) -> None:
        super().__init__(
            f"took more than {HASH_PATTERN_BUDGET_S:g} s on the {names} file names of the "
            "build: a pattern that backtracks (such as (a+)+$)? Make it match the hash alone"
        )


class _TimeUp(BaseException):
    """Raised by the SIGALRM handler inside the regex engine (it checks signals as it runs)."""


@contextmanager
def time_limit(seconds: float, error: Exception | None) -> Iterator[None]:
    """Raise ``error`` when the block runs longer than ``seconds`` (no limit when ``error`` is None).

    Python's regex engine cannot be given a timeout, but it checks for signals while it matches, so an
    interval timer's SIGALRM stops even a catastrophic backtrack. Only the main thread receives signals;
    elsewhere (lr-ci never measures there) the block runs unbounded.
    """
    if error is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise _TimeUp

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _TimeUp:
        raise error from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@lru_cache(maxsize=65536)
def stable_name(path: str, extra_pattern: str | None = None) -> str:
    """``assets/index-BxQ2_9kd.js`` -> ``assets/index.js``: the same file across builds, whatever its hash.

    The bundlers' hash formats are in :mod:`~lr_ci.checks.bundle.names`, with their examples. A name that
    is not UTF-8 (kept as surrogates) or holds control characters is escaped first (``\\xff``): stable
    names are the keys of the baseline JSON, which must be valid UTF-8.
    """
    from lr_ci.checks.bundle.names import normalise
    from lr_ci.output._text import printable

    return normalise(printable(path), extra_pattern)


def brotli_quality(raw_size: int) -> int:
    """11 up to :data:`BROTLI_BEST_MAX_BYTES`, :data:`BROTLI_LARGE_QUALITY` above (see there)."""
    return 11 if raw_size <= BROTLI_BEST_MAX_BYTES else BROTLI_LARGE_QUALITY


class _Counter(Protocol):
    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> int: ...


class _GzipCounter:
    """What ``gzip -9 -n`` writes: a 10-byte header, level-9 deflate, an 8-byte trailer. Deflate's output
    does not depend on how its input is split, so the streamed size is the one-shot size."""

    def __init__(self, raw_size: int) -> None:
        self._compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
        self._size = 10 + 8

    def feed(self, chunk: bytes) -> None:
        self._size += len(self._compressor.compress(chunk))

    def finish(self) -> int:
        return self._size + len(self._compressor.flush())


class _BrotliCounter:
    """Brotli with :data:`BROTLI_WINDOW_BITS`; the same bytes as ``brotli -q 11 -w 22`` (also streamed)."""

    def __init__(self, raw_size: int) -> None:
        import brotli

        self._compressor: Any = brotli.Compressor(quality=brotli_quality(raw_size), lgwin=BROTLI_WINDOW_BITS)
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        self._size += len(self._compressor.process(chunk))

    def finish(self) -> int:
        return self._size + len(self._compressor.finish())


COUNTERS: dict[str, Callable[[int], _Counter]] = {"gzip": _GzipCounter, "brotli": _BrotliCounter}


def compressed_sizes(chunks: Iterable[bytes], raw_size: int, compressions: Sequence[str]) -> dict[str, int]:
    """The compressed size of the concatenated ``chunks`` in each of ``compressions`` (gzip, brotli), in
    one pass: only one chunk and each compressor's window are in memory, whatever the file's size."""
    counters = {name: COUNTERS[name](raw_size) for name in compressions}
    for chunk in chunks:
        if chunk:
            for counter in counters.values():
                counter.feed(chunk)
    return {name: counter.finish() for name, counter in counters.items()}


def gzip_size(data: bytes) -> int:
    """``data``'s size after ``gzip -9 -n``."""
    return compressed_sizes([data], len(data), ["gzip"])["gzip"]


def brotli_size(data: bytes) -> int:
    """``data``'s size after ``brotli -q 11 -w 22`` (quality as :func:`brotli_quality` says)."""
    return compressed_sizes([data], len(data), ["brotli"])["brotli"]
