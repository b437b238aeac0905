"""Reading a build: which files, and their raw, gzip and brotli sizes (in parallel, cached by content)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lr_ci.checks.bundle.sizes import brotli_size, gzip_size, stable_name
from lr_ci.errors import LrCiError

DEFAULT_DIRS = ("dist", "build", "out", ".next/static", "public/build")
# Below this much data, starting worker processes costs more than it saves.
PARALLEL_FROM_BYTES = 4 * 1024 * 1024
CACHE_VERSION = 2
COMPRESSORS = {"gzip": gzip_size, "brotli": brotli_size}


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


def list_files(dirs: list[Path]) -> list[tuple[Path, str]]:
    """(file, name): names relative to the build folder (prefixed by the folder when there are several)."""
    files = []
    for directory in dirs:
        base = directory if len(dirs) == 1 else directory.parent
        for folder, subdirs, names in os.walk(directory):
            subdirs.sort()
            for name in sorted(names):
                full = Path(folder) / name
                if full.is_file() and not full.is_symlink():
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


def _sizes_of(job: tuple[str, tuple[str, ...]]) -> dict[str, int]:
    path, compressions = job
    data = Path(path).read_bytes()
    return {name: COMPRESSORS[name](data) for name in compressions}


def measure(
    dirs: list[Path],
    compressions: set[str],
    hash_pattern: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[BuiltFile]:
    """Every file's sizes in the asked ``compressions`` (gzip, brotli); compression runs in worker
    processes for large builds, and once per content: results are cached by a hash of the bytes."""
    wanted = tuple(sorted(c for c in compressions if c in COMPRESSORS))
    files = list_files(dirs)
    cache_path = _cache_path()
    cache = _load_cache(cache_path)
    digests: dict[Path, str] = {}
    raw: dict[Path, int] = {}
    jobs: list[tuple[str, tuple[str, ...]]] = []
    for count, (full, _) in enumerate(files, start=1):
        if progress is not None:
            progress(count)
        data = full.read_bytes()
        raw[full] = len(data)
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        digests[full] = digest
        missing = tuple(c for c in wanted if c not in cache.get(digest, {}))
        if missing:
            jobs.append((str(full), missing))
    pending_bytes = sum(raw[Path(path)] for path, _ in jobs)
    if jobs and pending_bytes >= PARALLEL_FROM_BYTES and (os.cpu_count() or 1) > 1:
        with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
            results = list(pool.map(_sizes_of, jobs, chunksize=16))
    else:
        results = [_sizes_of(job) for job in jobs]
    for (path, _), sizes in zip(jobs, results, strict=True):
        cache.setdefault(digests[Path(path)], {}).update(sizes)
    if jobs:
        # Only this build's entries are kept: the cache serves the next run, and stays as small as a build.
        _save_cache(
            cache_path, {digest: cache[digest] for digest in set(digests.values()) if digest in cache}
        )
    built = []
    for full, relative in files:
        sizes = cache.get(digests[full], {})
        built.append(
            BuiltFile(
                relative,
                stable_name(relative, hash_pattern),
                raw[full],
                sizes.get("gzip"),
                sizes.get("brotli"),
            )
        )
    return built
