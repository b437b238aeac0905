"""A large real git history to time ``lr-ci secrets --history`` on: consecutive releases of real packages.

Each commit is one release's source distribution (sdist) laid over the previous release of the same
package, in its own folder (``pip/``, ``requests/``, ...), so the history's diffs are what real projects
changed between releases: code, vendored libraries, docs and tests, tens of MB of them. The generated
history of ``bench_secrets.py`` is the standard library with one-line edits; real diffs are larger hunks,
whole new files and renames, which weigh differently on a scanner.

The sdists come from PyPI with ``pip download --no-deps --no-binary :all: NAME==VERSION`` into a cache
folder (default ``~/.cache/lr-ci-bench``), downloaded once. Benchmarks only: no test builds this.

``--per-change`` makes the history long instead of large-grained, as a real project's is: each release's
changes are committed a folder at a time (at most 4 files a commit, in path order), which gives about 13,000
commits of real code (pip's own history has 16,000), the shape the issue's "large real history" names.
The commits are written with ``git fast-import`` (one process, not one ``git commit`` each), then repacked
as a clone would be (fast-import's pack makes ``git log -p`` half as slow again, which no real clone is).

Usage::

    python benchmarks/release_history.py OUT_REPO [--cache DIR] [--small] [--per-change]
    python benchmarks/bench_secrets.py --repo OUT_REPO --history-only
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# Releases in the order they are committed: each package's in release order, one package after another.
PIP = [
    "19.0", "19.0.3", "19.1", "19.1.1", "19.2", "19.2.3", "19.3", "19.3.1", "20.0", "20.0.2", "20.1",
    "20.1.1", "20.2", "20.2.4", "20.3", "20.3.4", "21.0", "21.0.1", "21.1", "21.1.3", "21.2", "21.2.4",
    "21.3", "21.3.1", "22.0", "22.0.4", "22.1", "22.1.2", "22.2", "22.2.2", "22.3", "22.3.1", "23.0",
    "23.0.1", "23.1", "23.1.2", "23.2", "23.2.1", "23.3", "23.3.2", "24.0", "24.1", "24.2", "24.3.1",
]  # fmt: skip
REQUESTS = [
    "2.19.1", "2.20.0", "2.21.0", "2.22.0", "2.23.0", "2.24.0", "2.25.0", "2.25.1", "2.26.0", "2.27.0",
    "2.27.1", "2.28.0", "2.28.1", "2.28.2", "2.29.0", "2.30.0", "2.31.0", "2.32.0", "2.32.3",
]  # fmt: skip
FLASK = [
    "1.0", "1.0.2", "1.1.0", "1.1.2", "1.1.4", "2.0.0", "2.0.3", "2.1.0", "2.1.3", "2.2.0", "2.2.5",
    "2.3.0", "2.3.3", "3.0.0", "3.0.3",
]  # fmt: skip
DJANGO = ["3.2", "4.0", "4.1", "4.2", "5.0", "5.1"]
RELEASES: list[tuple[str, list[str]]] = [
    ("pip", PIP),
    ("requests", REQUESTS),
    ("flask", FLASK),
    ("django", DJANGO),
]
SMALL: list[tuple[str, list[str]]] = [("pip", PIP[::4]), ("requests", REQUESTS[::4])]


def sdist(cache: Path, name: str, version: str) -> Path:
    """The release's sdist in ``cache``, downloaded from PyPI the first time."""
    found = _cached(cache, name, version)
    if found is not None:
        return found
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"{name}=={version}",
            "-d",
            str(cache),
        ],
        check=True,
    )
    found = _cached(cache, name, version)
    if found is None:
        raise SystemExit(f"pip download {name}=={version} saved no sdist in {cache}")
    return found


def _cached(cache: Path, name: str, version: str) -> Path | None:
    """An sdist of ``name`` ``version`` in ``cache`` (PyPI spells names with ``-``, ``_`` or capitals)."""
    wanted = {f"{name}-{version}".lower(), f"{name.replace('-', '_')}-{version}".lower()}
    for path in sorted(cache.iterdir()) if cache.is_dir() else []:
        stem = path.name.lower()
        for suffix in (".tar.gz", ".zip", ".tar.bz2"):
            if stem.endswith(suffix) and stem[: -len(suffix)] in wanted:
                return path
    return None


def unpack(archive: Path, into: Path) -> None:
    """The archive's files into ``into``, without its single top folder (``pip-19.0/``)."""
    with tempfile.TemporaryDirectory(prefix="lr-ci-release-") as scratch:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as handle:
                handle.extractall(scratch)
        else:
            with tarfile.open(archive) as handle:
                handle.extractall(scratch, filter="data")
        entries = list(Path(scratch).iterdir())
        top = entries[0] if len(entries) == 1 and entries[0].is_dir() else Path(scratch)
        shutil.rmtree(into, ignore_errors=True)
        shutil.copytree(top, into, symlinks=True)


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)


def _new_repository(
    repo: Path, cache: Path, releases: list[tuple[str, list[str]]]
) -> list[tuple[str, str, Path]]:
    """Every release's sdist (downloaded once into ``cache``), and ``repo`` made, empty."""
    cache.mkdir(parents=True, exist_ok=True)
    archives = [
        (name, version, sdist(cache, name, version)) for name, versions in releases for version in versions
    ]
    if repo.exists():
        raise SystemExit(f"{repo} exists: give a new path")
    git(Path.cwd(), "init", "-q", "-b", "main", str(repo))
    return archives


def build(repo: Path, cache: Path, releases: list[tuple[str, list[str]]]) -> int:
    """The repository: one commit per release, each package in its folder. Returns the commit count."""
    archives = _new_repository(repo, cache, releases)
    git(repo, "config", "user.name", "Release Bot")
    git(repo, "config", "user.email", "releases@example.com")
    git(repo, "config", "commit.gpgsign", "false")
    for number, (name, version, archive) in enumerate(archives):
        unpack(archive, repo / name)
        git(repo, "add", "-A", "--", name)
        stamp = f"{1_500_000_000 + number * 86_400} +0000"
        env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        git(repo, "commit", "-q", "--allow-empty", "--no-verify", "-m", f"{name} {version}", env=env)
    return len(archives)


_FILES_PER_COMMIT = 4


def _tree(folder: Path) -> dict[str, tuple[str, bytes]]:
    """Every file under ``folder``: relative path -> (git mode, content)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            files[relative] = ("120000", os.readlink(path).encode())
        elif path.is_file() and "\n" not in relative and not relative.startswith('"'):
            executable = os.access(path, os.X_OK)
            files[relative] = ("100755" if executable else "100644", path.read_bytes())
    return files


def build_per_change(repo: Path, cache: Path, releases: list[tuple[str, list[str]]]) -> int:
    """The repository: each release's changes a folder at a time. Returns the commit count."""
    archives = _new_repository(repo, cache, releases)
    importer = subprocess.Popen(["git", "-C", str(repo), "fast-import", "--quiet"], stdin=subprocess.PIPE)
    assert importer.stdin is not None
    out = importer.stdin
    commits = 0
    state: dict[str, dict[str, tuple[str, bytes]]] = {}
    with tempfile.TemporaryDirectory(prefix="lr-ci-release-") as scratch:
        for name, version, archive in archives:
            unpack(archive, Path(scratch) / "tree")
            new = _tree(Path(scratch) / "tree")
            old = state.get(name, {})
            changed = sorted(p for p in new.keys() | old.keys() if new.get(p) != old.get(p))
            groups: list[list[str]] = []
            for path in changed:
                folder = path.rpartition("/")[0]
                last = groups[-1] if groups else None
                if last and last[0].rpartition("/")[0] == folder and len(last) < _FILES_PER_COMMIT:
                    last.append(path)
                else:
                    groups.append([path])
            for group in groups:
                stamp = 1_500_000_000 + commits * 600
                message = f"{name} {version}: {group[0].rpartition('/')[0] or '.'}".encode()
                out.write(b"commit refs/heads/main\n")
                for role in (b"author", b"committer"):
                    out.write(role + b" Release Bot <releases@example.com> %d +0000\n" % stamp)
                out.write(b"data %d\n%s\n" % (len(message), message))
                for path in group:
                    target = f"{name}/{path}".encode()
                    if path in new:
                        mode, content = new[path]
                        out.write(b"M %s inline %s\ndata %d\n" % (mode.encode(), target, len(content)))
                        out.write(content + b"\n")
                    else:
                        out.write(b"D %s\n" % target)
                commits += 1
            state[name] = new
    out.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    git(repo, "reset", "-q", "--hard")
    git(repo, "repack", "-a", "-d", "-f", "-q")
    return commits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path, help="the repository to create (a new path)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "lr-ci-bench")
    parser.add_argument("--small", action="store_true", help="a few releases of pip and requests only")
    parser.add_argument("--download-only", action="store_true", help="fill the cache, build nothing")
    parser.add_argument(
        "--per-change", action="store_true", help="a folder's changes a commit (long history)"
    )
    args = parser.parse_args()
    releases = SMALL if args.small else RELEASES
    if args.download_only:
        for name, versions in releases:
            for version in versions:
                sdist(args.cache, name, version)
        return 0
    builder = build_per_change if args.per_change else build
    commits = builder(args.repo.resolve(), args.cache, releases)
    size = subprocess.run(
        ["git", "-C", str(args.repo), "log", "-p", "-U0", "--all"], capture_output=True, check=True
    ).stdout
    print(f"{args.repo}: {commits} commits, git log -p -U0 --all: {len(size) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
