"""A long history scanned by several processes (``scan.scan_patches`` with ``Patches.workers`` above 1)
reports exactly what one process reports: the first commit of each secret, the moved secrets left out,
the caps, the counts; a failure in a forked worker is raised in the process that forked it, and a worker
left running is stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lr_ci.checks.secrets import git, scan
from lr_ci.checks.secrets.scan import ContentScanner, scan_patches
from lr_ci.errors import LrCiError
from lr_ci.secret_rules.engine import default_rules

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")


@pytest.fixture(autouse=True)
def _forking_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """lr-ci forks only with no other thread running; this test process runs the suite's local HTTP server
    in a daemon thread (waiting in ``select``, holding no lock a worker takes), so the check is lifted."""
    monkeypatch.setattr(git, "can_fork", lambda: True)


# A scan in a process of its own forks workers from two cores on when it reads patches in Python (with the
# compiled reader, from four: git.history_workers), so that its workers run on the test machines too.
WORKERS_ON_TWO_CORES = {"LR_CI_PURE_PYTHON": "1"}
TOKEN = "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"
AWS = "AKIAZ7Q3WX5KD2LMNB4R"


def _token(n: int) -> str:
    """A different GitHub-shaped token per ``n`` (the checksum does not verify: found, at low severity)."""
    return "ghp_" + f"{n:06d}".join(["Zq8vLm2Rt5Kjp1vRt1fjOx", "Wy"])[:36].ljust(36, "Q")


def _history(repo: Path, commits: int) -> list[str]:
    """A linear history written by ``git fast-import``: a token added at commit 10 and again at 900 (after
    a deletion), a file moved late in the history with its key, and one file that collects more
    different tokens than a file's cap. Returns the commits, oldest first."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    stream = bytearray()
    for n in range(commits):
        files = {"n.txt": f"n = {n}\n" + (f"TOKEN={TOKEN}\n" if n in (10, 900) else "")}
        if n == 20:
            files["keys/aws.env"] = f"aws_access_key_id = {AWS}\n"
        if 100 <= n < 100 + scan.FINDINGS_PER_RULE_PER_FILE + 5:
            files["many.env"] = "".join(f"T{i}={_token(i)}\n" for i in range(n - 99))
        stream += f"commit refs/heads/main\ncommitter A <a@example.com> {1700000000 + n} +0000\n".encode()
        stream += b"data 2\nc\n"
        if n == commits - 5:
            stream += b"D keys/aws.env\n"
            files["moved/aws.env"] = f"aws_access_key_id = {AWS}\n"
        for path, body in files.items():
            stream += f"M 100644 inline {path}\ndata {len(body)}\n{body}\n".encode()
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=bytes(stream), check=True)
    return subprocess.run(
        ["git", "rev-list", "--reverse", "main"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.split()


def _scan(repo: Path, split_from: int, monkeypatch: pytest.MonkeyPatch) -> tuple[ContentScanner, git.Patches]:
    monkeypatch.setattr(git, "SPLIT_COMMITS", split_from)
    scanner = ContentScanner(default_rules(), 1 << 20, lambda path: False)
    patches = git.commit_patches(repo, ["--all"])
    assert patches.workers == (2 if split_from == 1 else 1)
    scan_patches(patches, scanner)
    return scanner, patches


Summary = tuple[list[tuple[str, str, str, str | None]], object, object, object, object]


def _summary(scanned: tuple[ContentScanner, git.Patches]) -> Summary:
    scanner, patches = scanned
    found = [
        (o.hit.rule.id, o.hit.secret, o.path, o.commit.sha if o.commit else None)
        for o in scanner.occurrences(patches.stats.deleted)
    ]
    return (found, scanner.more(), dict(scanner.counts), scanner.unread, dict(scanner.beyond))


def test_workers_report_what_one_process_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shas = _history(tmp_path / "repo", 1000)
    monkeypatch.setattr(git, "_PARALLEL_LOGS", 2)
    monkeypatch.setattr(git, "history_workers", lambda: 2)
    monkeypatch.setattr(git, "_MIN_COMMITS_PER_PART", 100)
    alone = _scan(tmp_path / "repo", 10**9, monkeypatch)
    together = _scan(tmp_path / "repo", 1, monkeypatch)
    assert _summary(together) == _summary(alone)
    found = {(rule, path): sha for rule, _secret, path, sha in _summary(together)[0]}
    assert found[("github-token", "n.txt")] == shas[10]  # the first commit, though part 2 adds it again
    assert found[("aws-access-key-id", "keys/aws.env")] == shas[20]
    assert ("aws-access-key-id", "moved/aws.env") not in found  # moved with its file, in the other part
    assert [m.path for m in together[0].more()] == ["many.env"]
    assert together[0].counts["commits_scanned"] == 1000


def test_the_progress_line_counts_every_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _history(tmp_path / "repo", 600)
    monkeypatch.setattr(git, "_PARALLEL_LOGS", 2)
    monkeypatch.setattr(git, "history_workers", lambda: 2)
    monkeypatch.setattr(git, "_MIN_COMMITS_PER_PART", 100)
    monkeypatch.setattr(git, "SPLIT_COMMITS", 1)
    shown: list[int] = []
    scanner = ContentScanner(default_rules(), 1 << 20, lambda path: False)
    scan_patches(git.commit_patches(tmp_path / "repo", ["--all"]), scanner, shown.append)
    assert shown[-1] == 600
    assert shown == sorted(shown)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [(LrCiError("git log failed: fatal: bad object"), LrCiError), (ValueError("a bug"), RuntimeError)],
)
def test_a_failure_in_a_worker_is_raised_in_the_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: Exception, expected: type[Exception]
) -> None:
    """The worker's user error is the run's exit 2 with git's words; a bug in it is a bug here."""
    _history(tmp_path / "repo", 400)
    monkeypatch.setattr(git, "_PARALLEL_LOGS", 2)
    monkeypatch.setattr(git, "history_workers", lambda: 2)
    monkeypatch.setattr(git, "_MIN_COMMITS_PER_PART", 100)
    monkeypatch.setattr(git, "SPLIT_COMMITS", 1)

    def become(self: git.Patches, worker: int) -> None:
        raise raised

    monkeypatch.setattr(git.Patches, "become", become)
    scanner = ContentScanner(default_rules(), 1 << 20, lambda path: False)
    with pytest.raises(expected, match=str(raised)):
        scan_patches(git.commit_patches(tmp_path / "repo", ["--all"]), scanner)


def test_an_interrupted_parent_stops_its_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or any failure) in the parent: the workers are ended and reaped, none is left behind."""
    _history(tmp_path / "repo", 400)
    monkeypatch.setattr(git, "_PARALLEL_LOGS", 2)
    monkeypatch.setattr(git, "history_workers", lambda: 2)
    monkeypatch.setattr(git, "_MIN_COMMITS_PER_PART", 100)
    monkeypatch.setattr(git, "SPLIT_COMMITS", 1)
    started: list[scan._Worker] = []
    original = scan._Worker.__init__

    def record(self: scan._Worker, *args: object) -> None:
        original(self, *args)  # type: ignore[arg-type]
        started.append(self)
        self.keep_pid = self.pid  # type: ignore[attr-defined]

    def interrupted(commits: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(scan._Worker, "__init__", record)
    scanner = ContentScanner(default_rules(), 1 << 20, lambda path: False)
    with pytest.raises(KeyboardInterrupt):
        scan_patches(git.commit_patches(tmp_path / "repo", ["--all"]), scanner, interrupted)
    assert started
    for worker in started:
        with pytest.raises(ChildProcessError):
            os.waitpid(worker.keep_pid, os.WNOHANG)  # type: ignore[attr-defined]


def test_the_command_line_scans_a_long_history_with_workers(tmp_path: Path) -> None:
    """End to end, in a process of its own: 2,100 commits (at least ``SPLIT_COMMITS``), findings at their
    first commits, every commit counted."""
    shas = _history(tmp_path / "repo", git.SPLIT_COMMITS + 100)
    out = subprocess.run(
        [sys.executable, "-m", "lr_ci", "secrets", "--history", "--format", "json"],
        cwd=tmp_path / "repo",
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", **WORKERS_ON_TWO_CORES},
        check=False,
    )
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["metrics"]["commits_scanned"] == git.SPLIT_COMMITS + 100
    first = {(f["rule"], f["location"]["path"]): f["location"]["commit"] for f in report["findings"]}
    assert first[("github-token", "n.txt")] == shas[10]
    assert first[("aws-access-key-id", "keys/aws.env")] == shas[20]
    assert ("aws-access-key-id", "moved/aws.env") not in first
    assert TOKEN not in out.stdout + out.stderr


def test_without_a_fork_one_process_reads_every_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Split for workers, but a thread runs when the scan starts (no fork is safe then): this process
    reads every part itself, and reports what one process reports."""
    _history(tmp_path / "repo", 1000)
    monkeypatch.setattr(git, "_PARALLEL_LOGS", 2)
    monkeypatch.setattr(git, "history_workers", lambda: 2)
    monkeypatch.setattr(git, "_MIN_COMMITS_PER_PART", 100)
    alone = _scan(tmp_path / "repo", 10**9, monkeypatch)
    monkeypatch.setattr(git, "can_fork", lambda: False)
    unforked = _scan(tmp_path / "repo", 1, monkeypatch)
    assert _summary(unforked) == _summary(alone)


@pytest.mark.parametrize(
    ("commits", "workers"), [(2000, 2), (8758, 2), (16000, 2), (16000, 4), (100_000, 2), (1200, 1), (5, 1)]
)
def test_part_sizes(commits: int, workers: int) -> None:
    """Every commit in one part, no part over the memory bound, parts equal in size; with workers, at
    least two parts each (whoever is free first takes the next)."""
    sizes = git._part_sizes(commits, workers)
    assert sum(sizes) == commits
    assert all(0 < size <= git._COMMITS_PER_PART for size in sizes)
    assert max(sizes) - min(sizes) <= max(sizes) // 100 + 1
    if workers > 1:
        assert len(sizes) >= 2 * workers and len(sizes) % (2 * workers) == 0


def _cmdline(pid: int) -> bytes:
    """A process's command line; empty when it has ended meanwhile (a short git lr-ci ran)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_worker_whose_parent_is_killed_ends(tmp_path: Path) -> None:
    """SIGKILL to lr-ci (a CI job's timeout) cannot stop its workers: each notices it has lost its parent
    at its next change and ends, with its gits, instead of scanning on for nobody."""
    import signal
    import time

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    stream = bytearray()
    body = "".join(
        f"    token = self._token_value  # {line}\n" for line in range(400)
    )  # every line a keyword
    for n in range(git.SPLIT_COMMITS + 100):
        stream += f"commit refs/heads/main\ncommitter A <a@example.com> {1700000000 + n} +0000\n".encode()
        stream += f"data 2\nc\nM 100644 inline f{n}.py\ndata {len(body)}\n{body}\n".encode()
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=bytes(stream), check=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "lr_ci", "secrets", "--history", "--format", "json"],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **WORKERS_ON_TWO_CORES},
    )
    deadline = time.monotonic() + 20
    workers: list[int] = []
    while not workers and time.monotonic() < deadline and process.poll() is None:
        workers = [pid for pid in _children_of(process.pid) if b"python" in _cmdline(pid)]
        time.sleep(0.005)
    if not workers:
        process.wait()
        pytest.skip("the scan ended before a worker could be seen")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # Left alone, a worker would scan its half (seconds); told, it ends at its next file.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.05)
    assert not any(_running(pid) for pid in workers)


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (an ended process its new parent has not reaped yet is a zombie: 'Z')."""
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_scanners_per_core_follow_the_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the compiled reader a scanner needs about a core beside its gits' core; in Python, a core."""
    monkeypatch.setattr(git, "_PARALLEL_LOGS", 4)
    assert git.history_workers() == (4 if git._compiled_sections() is git.python_sections else 2)
    monkeypatch.setattr(git, "_compiled_sections", lambda: git.python_sections)
    assert git.history_workers() == 4
    monkeypatch.setattr(git, "_PARALLEL_LOGS", 1)
    assert git.history_workers() == 1


@pytest.mark.parametrize("workers", [1, 2])
def test_gits_run_below_a_scanner_that_shares_their_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """One scanner beside two gits: the gits run nicer than lr-ci (the scanner is the slower end, git's
    output waits in its file); as many scanners as gits: the same priority."""
    _history(tmp_path / "repo", 400)
    monkeypatch.setattr(git, "_PARALLEL_LOGS", 2)
    monkeypatch.setattr(git, "_MIN_COMMITS_PER_PART", 100)
    monkeypatch.setattr(git, "SPLIT_COMMITS", 1)
    monkeypatch.setattr(git, "history_workers", lambda: workers)
    patches = git.commit_patches(tmp_path / "repo", ["--all"])
    try:
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        started = [process.pid for process, _output, _errors in patches._parts.values()]
        assert started
        # (an ended git not yet reaped keeps its priority: it cannot be gone before close() below)
        niceness = {os.getpriority(os.PRIO_PROCESS, pid) - ours for pid in started}
        assert niceness == ({min(git.GIT_NICENESS, 19 - ours)} if workers == 1 else {0})
    finally:
        patches.close()
