"""Sizes: parsing "250 kB", compressing as servers do, and stable names for content-hashed files."""

from __future__ import annotations

import re
import zlib
from functools import lru_cache

_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
# Content hashes as bundlers write them, just before an extension:
#   webpack/CRA/Parcel  main.3f9a2c1b.js, main.3f9a2c1b.chunk.js, chunk.8d1f.css (hex)
#   Vite/Rollup/esbuild index-BxQ2_9kd.js, out-ABCD1234.js (8 base64url/base32 characters)
#   Next.js             pages/index-3f9a2c1b9e8d7f6a.js (16 hex), .next/static/<build id>/...
_HEX_HASH = re.compile(r"[.-][0-9a-f]{4,32}(?=\.)")
_SHORT_HASH = re.compile(r"-[A-Za-z0-9_]{8}(?=\.[A-Za-z0-9]+$)")
_BUILD_ID_DIR = re.compile(r"(?<=/)[A-Za-z0-9_-]{20,22}(?=/)")


def parse_size(text: str | int) -> int:
    """ "250 kB" -> 250000, "1.5 KiB" -> 1536, "500" or "500 B" -> 500 (kB is 1000 bytes, KiB 1024)."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in ("", *_UNITS):
        raise ValueError(f'{text!r} is not a size: use B, kB, KiB, MB or MiB, e.g. "250 kB"')
    return round(float(match.group(1)) * _UNITS.get(unit, 1))


def format_size(size: int) -> str:
    if abs(size) < 1000:
        return f"{size} B"
    if abs(size) < 1000**2:
        return f"{size / 1000:.2f} kB"
    return f"{size / 1000**2:.2f} MB"


def _looks_like_hash(text: str) -> bool:
    """A random token has a digit or upper-case letter; a word like "-lodashes" does not."""
    body = text[1:]
    return any(c.isdigit() for c in body) or (
        any(c.isupper() for c in body) and any(c.islower() for c in body)
    )


@lru_cache(maxsize=65536)
def stable_name(path: str, extra_pattern: str | None = None) -> str:
    """``assets/index-BxQ2_9kd.js`` -> ``assets/index.js``: the same file across builds, whatever its hash."""
    name = "/" + path
    if extra_pattern:
        name = re.sub(extra_pattern, "", name)
    name = _BUILD_ID_DIR.sub(lambda m: "[build]" if _looks_like_hash("-" + m.group(0)) else m.group(0), name)
    name = _SHORT_HASH.sub(lambda m: "" if _looks_like_hash(m.group(0)) else m.group(0), name)
    name = _HEX_HASH.sub(lambda m: "" if any(c.isdigit() for c in m.group(0)) else m.group(0), name)
    return name[1:]


def gzip_size(data: bytes) -> int:
    """What ``gzip -9 -n`` writes: a 10-byte header, level-9 deflate, an 8-byte trailer."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
    return 10 + len(compressor.compress(data) + compressor.flush()) + 8


def brotli_size(data: bytes) -> int:
    import brotli

    return len(brotli.compress(data, quality=11, lgwin=22))  # the library's and Node's default window
