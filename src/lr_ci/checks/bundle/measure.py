"""Reading a build: which files, and their raw, gzip and brotli sizes (in parallel, cached by content).

Every file is read in :data:`~lr_ci.checks.bundle.sizes.CHUNK_BYTES` chunks, for its hash and for each
compressor, so memory does not grow with a file's size; at most :data:`MAX_WORKERS` worker processes
compress, started fresh (``spawn``) so that each holds only this module and its compressors, not a copy of
the parent: the whole process tree stays under 256 MB on any build.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lr_ci.checks.bundle.sizes import (
    CHUNK_BYTES,
    COUNTERS,
    HASH_PATTERN_BUDGET_S,
    HashPatternTooSlow,
    compressed_sizes,
    stable_name,
    time_limit,
)
from lr_ci.errors import LrCiError

DEFAULT_DIRS = ("dist", "build", "out", ".next/static", "public/build")
# Below this much data, starting worker processes costs more than it saves.
PARALLEL_FROM_BYTES = 4 * 1024 * 1024
MAX_WORKERS = 2
"""Compressing processes at most: each holds a brotli window and hash tree (about 50 MB at quality 11)."""
CACHE_VERSION = 3


@dataclass(frozen=True)
class BuiltFile:
    path: str
    """Relative to the build folder (prefixed by the folder when there are several), with /."""
    stable: str
    raw: int
    gzip: int | None
    brotli: int | None
    """None: not measured (no budget asks for it; brotli at quality 11 is slow)."""

    def size(self, compression: str) -> int:
        value = {"gzip": self.gzip, "brotli": self.brotli, "none": self.raw}[compression]
        if value is None:
            raise ValueError(f"{compression} size of {self.path} was not measured")
        return value


def find_dirs(requested: list[str], cwd: Path) -> list[Path]:
    if requested:
        dirs = [cwd / d for d in requested]
        for directory in dirs:
            if not directory.is_dir():
                raise LrCiError(f"{directory}: no such build folder")
        return dirs
    for candidate in DEFAULT_DIRS:
        if (cwd / candidate).is_dir():
            return [cwd / candidate]
    raise LrCiError(f"no build folder found here (looked for {', '.join(DEFAULT_DIRS)}): pass the folder")


MAX_BUILD_ENTRIES = 50_000
"""Files and folders a build may hold (a large Next.js build has a few thousand): a build folder that is,
or links to, ``/`` or ``node_modules`` would otherwise be walked and compressed for hours."""


def list_files(dirs: list[Path]) -> list[tuple[Path, str]]:
    """(file, name): names relative to the build folder (prefixed by the folder when there are several).

    Symbolic links are followed, files and folders alike: a deploy (``aws s3 sync``, ``rsync -L``, a
    static host) ships what a link points to, so its bytes count against the budget and are scanned for
    secrets; skipping them let a link to a secret-bearing file pass unseen. A folder already walked (a
    link loop) is not walked again. A folder that cannot be listed is exit 2, never a smaller build
    passing; more than :data:`MAX_BUILD_ENTRIES` files and folders is exit 2 too.
    """
    files = []
    entries = 0

    def unreadable(exc: OSError) -> None:
        raise LrCiError(f"{exc.filename}: cannot list the build folder: {exc.strerror or exc}")

    for directory in dirs:
        base = directory if len(dirs) == 1 else directory.parent
        walked: set[tuple[int, int]] = set()
        for folder, subdirs, names in os.walk(directory, onerror=unreadable, followlinks=True):
            try:
                info = os.stat(folder)
            except OSError as exc:
                unreadable(exc)
            if (info.st_dev, info.st_ino) in walked:
                subdirs[:] = []
                continue
            walked.add((info.st_dev, info.st_ino))
            subdirs.sort()
            entries += len(subdirs) + len(names)
            if entries > MAX_BUILD_ENTRIES:
                raise LrCiError(
                    f"{directory}: more than {MAX_BUILD_ENTRIES} files and folders: not a build folder "
                    "(does it link to a system folder or node_modules?)"
                )
            for name in sorted(names):
                full = Path(folder) / name
                if full.is_file():  # a regular file, or a link to one; not a FIFO or device
                    files.append((full, full.relative_to(base).as_posix()))
    if not files:
        raise LrCiError(f"{', '.join(str(d) for d in dirs)}: the build folder is empty")
    return files


def _cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lr-ci" / "bundle-sizes.json"


def _load_cache(path: Path) -> dict[str, dict[str, int]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    sizes: dict[str, dict[str, int]] = data.get("sizes", {}) if data.get("version") == CACHE_VERSION else {}
    return sizes


def _save_cache(path: Path, sizes: dict[str, dict[str, int]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"version": CACHE_VERSION, "sizes": sizes}))
    except OSError:
        pass  # a cache that cannot be written only costs time


def read_chunks(path: Path) -> Iterator[bytes]:
    """``path``'s bytes, :data:`CHUNK_BYTES` at a time; an unreadable file is exit 2 naming it."""
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk
    except OSError as exc:
        raise LrCiError(f"{path}: cannot read the built file: {exc.strerror or exc}") from None


def _sizes_of(job: tuple[str, int, tuple[str, ...]]) -> dict[str, int]:
    path, raw_size, compressions = job
    return compressed_sizes(read_chunks(Path(path)), raw_size, compressions)


def _hash_and_size(path: Path) -> tuple[str, int]:
    digest, size = hashlib.blake2b(digest_size=16), 0
    for chunk in read_chunks(path):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def measure(
    dirs: list[Path],
    compressions: set[str],
    hash_pattern: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[BuiltFile]:
    """Every file's sizes in the asked ``compressions`` (gzip, brotli); compression runs in worker
    processes for large builds, and once per content: results are cached by a hash of the bytes."""
    wanted = tuple(sorted(c for c in compressions if c in COUNTERS))
    files = list_files(dirs)
    cache_path = _cache_path()
    cache = _load_cache(cache_path)
    digests: dict[Path, str] = {}
    raw: dict[Path, int] = {}
    jobs: list[tuple[str, int, tuple[str, ...]]] = []
    for count, (full, _) in enumerate(files, start=1):
        if progress is not None:
            progress(count)
        digest, raw[full] = _hash_and_size(full)
        digests[full] = digest
        missing = tuple(c for c in wanted if c not in cache.get(digest, {}))
        if missing:
            jobs.append((str(full), raw[full], missing))
    pending_bytes = sum(size for _, size, _ in jobs)
    workers = min(os.cpu_count() or 1, MAX_WORKERS, len(jobs))
    if jobs and pending_bytes >= PARALLEL_FROM_BYTES and workers > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = list(pool.map(_sizes_of, jobs, chunksize=16))
    else:
        results = [_sizes_of(job) for job in jobs]
    for (path, _, _), sizes in zip(jobs, results, strict=True):
        cache.setdefault(digests[Path(path)], {}).update(sizes)
    if jobs:
        # Only this build's entries are kept: the cache serves the next run, and stays as small as a build.
        _save_cache(
            cache_path, {digest: cache[digest] for digest in set(digests.values()) if digest in cache}
        )
    with time_limit(HASH_PATTERN_BUDGET_S, HashPatternTooSlow(len(files)) if hash_pattern else None):
        stable = [stable_name(relative, hash_pattern) for _, relative in files]
    built = []
    for (full, relative), name in zip(files, stable, strict=True):
        sizes = cache.get(digests[full], {})
        built.append(BuiltFile(relative, name, raw[full], sizes.get("gzip"), sizes.get("brotli")))
    return built
