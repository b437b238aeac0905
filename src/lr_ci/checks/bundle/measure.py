"""Reading a build: which files, and their raw, gzip and brotli sizes (in parallel, cached by content)."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lr_ci.checks.bundle.sizes import compressed_sizes, stable_name
from lr_ci.errors import LrCiError

DEFAULT_DIRS = ("dist", "build", "out", ".next/static", "public/build")
# Below this much data, starting worker processes costs more than it saves.
PARALLEL_FROM_BYTES = 4 * 1024 * 1024
CACHE_VERSION = 1


@dataclass(frozen=True)
class BuiltFile:
    path: str
    """Relative to the build folder's parent, with /."""
    stable: str
    raw: int
    gzip: int
    brotli: int

    def size(self, compression: str) -> int:
        return {"gzip": self.gzip, "brotli": self.brotli}.get(compression, self.raw)


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


def _load_cache(path: Path) -> dict[str, list[int]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data.get("sizes", {}) if data.get("version") == CACHE_VERSION else {}


def _save_cache(path: Path, sizes: dict[str, list[int]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"version": CACHE_VERSION, "sizes": sizes}))
    except OSError:
        pass  # a cache that cannot be written only costs time


def _sizes_of(path: str) -> tuple[int, int, int]:
    return compressed_sizes(Path(path).read_bytes())


def measure(dirs: list[Path], hash_pattern: str | None = None) -> list[BuiltFile]:
    """Every file's sizes; compression runs in worker processes for large builds, once per content."""
    files = list_files(dirs)
    cache_path = _cache_path()
    cache = _load_cache(cache_path)
    digests = {}
    todo: list[Path] = []
    for full, _ in files:
        digest = hashlib.blake2b(full.read_bytes(), digest_size=16).hexdigest()
        digests[full] = digest
        if digest not in cache:
            todo.append(full)
    pending_bytes = sum(p.stat().st_size for p in todo)
    if todo and pending_bytes >= PARALLEL_FROM_BYTES and (os.cpu_count() or 1) > 1:
        with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
            results = list(pool.map(_sizes_of, [str(p) for p in todo], chunksize=8))
    else:
        results = [_sizes_of(str(p)) for p in todo]
    for full, sizes in zip(todo, results, strict=True):
        cache[digests[full]] = list(sizes)
    if todo:
        # Only this build's entries are kept: the cache serves the next run, and stays as small as a build.
        _save_cache(cache_path, {digest: cache[digest] for digest in digests.values()})
    built = []
    for full, relative in files:
        raw, gz, br = cache[digests[full]]
        built.append(BuiltFile(relative, stable_name(relative, hash_pattern), raw, gz, br))
    return built
