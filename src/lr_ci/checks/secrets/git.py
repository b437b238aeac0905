"""Reading what to scan out of git: files, the index, commits and blobs. Every git failure is exit 2.

Paths are decoded with ``surrogateescape`` (from ``-z`` lists, or unquoted from patches), so names with
spaces, newlines or bytes that are not UTF-8 survive the round trip. Commits and the index are read as
``-U0`` patches, streamed: git computes what each change added while Python scans what came before, and
only added lines are scanned, as ``git log -p`` shows them.
"""

from __future__ import annotations

import collections
import contextlib
import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lr_ci.errors import LrCiError

ZERO_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _decode(raw: bytes) -> str:
    return os.fsdecode(raw) if os.name != "nt" else raw.decode("utf-8", "surrogateescape")


def run_git(root: Path, *args: str, check: bool = True) -> bytes:
    """``git -C root ARGS``; a failure is exit 2 quoting git's own first line of complaint."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise LrCiError("git is not installed or not on PATH") from None
    if check and done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit {done.returncode}"]
        raise LrCiError(f"git {' '.join(args[:3])} failed: {lines[-1] if lines[-1] else lines[0]}")
    return done.stdout


def repository(start: Path) -> tuple[Path, bool] | None:
    """(root, whether the clone is shallow) for the repository around ``start``; None outside one."""
    done = subprocess.run(
        ["git", "-C", str(start), "rev-parse", "--show-toplevel", "--is-shallow-repository"],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    root, shallow = done.stdout.rstrip(b"\n").rsplit(b"\n", 1)
    return Path(_decode(root)), shallow == b"true"


def repository_root(start: Path) -> Path | None:
    found = repository(start)
    return found[0] if found else None


def has_commits(root: Path) -> bool:
    return bool(run_git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).strip())


def is_shallow(root: Path) -> bool:
    return run_git(root, "rev-parse", "--is-shallow-repository").strip() == b"true"


def shallow_boundary(root: Path) -> set[str]:
    """The commits whose parents a shallow clone does not have."""
    path = Path(_decode(run_git(root, "rev-parse", "--git-path", "shallow").strip()))
    path = path if path.is_absolute() else root / path
    return set(path.read_text().split()) if path.is_file() else set()


def resolve(root: Path, revision: str) -> str:
    out = run_git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False).strip()
    if not out:
        raise LrCiError(
            f"{revision!r} is not a commit in this clone: fetch it first "
            "(in GitHub Actions: actions/checkout with fetch-depth: 0)"
        )
    return out.decode()


def working_tree_files(root: Path) -> list[str]:
    """Tracked files plus untracked files that git does not ignore, relative to ``root``."""
    out = run_git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate")
    return [_decode(name) for name in out.split(b"\0") if name]


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    date: str


@dataclass
class FileChange:
    """What one commit (or the index) changed in one file.

    ``added`` are runs of consecutive added lines (first line number, text); ``removed`` the removed lines.
    For a merge, only lines that are in none of the parents count as added: content that first appears in
    the merge resolution.
    """

    path: str
    commit: Commit | None = None
    added: list[tuple[int, bytes]] = field(default_factory=list)
    removed: list[bytes] = field(default_factory=list)


@dataclass
class PatchStats:
    commits: int = 0
    binary: int = 0


_LOG_FORMAT = "%x01%H%x02%P%x02%an <%ae>%x02%aI"
_READ_CHUNK = 1 << 20
_QUEUED_BYTES = 64 << 20  # at most 64 MiB of patch waiting for the parser
_PARALLEL_LOGS = os.cpu_count() or 1
_COMMITS_PER_PART = 200
_ESCAPES = {b"a": 7, b"b": 8, b"t": 9, b"n": 10, b"v": 11, b"f": 12, b"r": 13, b'"': 34, b"\\": 92}


def _unquote(raw: bytes) -> bytes:
    """A path as git quotes it in patches (C-style, octal escapes for bytes), back to its bytes."""
    if not raw.startswith(b'"'):
        return raw
    out = bytearray()
    i, body = 0, raw[1:-1]
    while i < len(body):
        if body[i : i + 1] == b"\\":
            following = body[i + 1 : i + 2]
            if following.isdigit():
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(_ESCAPES.get(following, following[0]))
            i += 2
            continue
        out.append(body[i])
        i += 1
    return bytes(out)


def _new_start(hunk_header: bytes) -> int:
    """``@@ -a,b +c,d @@`` (or ``@@@ ... +c,d @@@`` for a merge) -> c, the first line on the new side."""
    new_side = hunk_header.split(b" @@", 1)[0].rsplit(b"+", 1)[-1]
    return int(new_side.split(b",")[0]) or 1


def _strip_prefix(lines: bytes) -> bytes:
    """``+a\\n+b\\n`` -> ``a\\nb``: drop the one-column prefix of every line (C speed, no Python loop)."""
    return lines[1:].replace(b"\n" + lines[:1], b"\n").rstrip(b"\n")


def _simple_hunks(change: FileChange, body: bytes) -> None:
    """The hunks of an ordinary ``-U0`` diff: in each, the removed lines come first, then the added ones."""
    for hunk in (b"\n" + body).split(b"\n@@")[1:]:
        header_end = hunk.find(b"\n")
        if header_end < 0:
            continue
        lines = hunk[header_end + 1 :]
        if b"\n\\" in b"\n" + lines:  # "\\ No newline at end of file"
            lines = b"".join(line for line in lines.splitlines(keepends=True) if not line.startswith(b"\\"))
        # -U0: the removed lines, then the added ones. A removed line starts with "-", so the first
        # newline followed by "+" is where the added lines begin.
        plus = 0 if lines.startswith(b"+") else (lines.find(b"\n+") + 1 or len(lines))
        if plus:
            change.removed.append(_strip_prefix(lines[:plus]))
        if plus < len(lines):
            change.added.append((_new_start(b"@@" + hunk[:header_end]), _strip_prefix(lines[plus:])))


def _merge_hunks(change: FileChange, body: bytes, columns: int) -> None:
    """A combined (``--cc``) diff: only lines that are in none of the parents (all columns ``+``) count."""
    line = 0
    run_start, run = 0, list[bytes]()

    def close() -> None:
        nonlocal run
        if run:
            change.added.append((run_start, b"\n".join(run)))
        run = []

    for text in body.split(b"\n"):
        if text.startswith(b"@@"):
            close()
            line = _new_start(text)
            continue
        if not line:
            continue
        prefix = text[:columns]
        if b"-" in prefix or prefix.startswith(b"\\"):
            close()
            continue
        if prefix == b"+" * columns:
            if not run:
                run_start = line
            run.append(text[columns:])
        else:
            close()
        line += 1
    close()


def _file_change(section: bytes, commit: Commit | None, stats: PatchStats) -> FileChange | None:
    """One ``diff --git``/``diff --cc`` section of a patch -> the file change (None: deleted or binary)."""
    hunks_at = section.find(b"\n@@")
    head = section if hunks_at < 0 else section[:hunks_at]
    if b"\nBinary files " in head or head.startswith(b"Binary files "):
        stats.binary += 1
        return None
    target = next((ln[4:] for ln in head.split(b"\n") if ln.startswith(b"+++ ")), None)
    if target is None or hunks_at < 0:
        return None
    target = target.rstrip(b"\t")  # git ends a name that has spaces with a tab
    if target == b"/dev/null":
        return None  # a deleted file adds nothing
    path = _unquote(target)
    change = FileChange(_decode(path[2:] if path.startswith(b"b/") else path), commit)
    body = section[hunks_at + 1 :]
    if section.startswith(b"cc ") or section.startswith(b"combined "):
        _merge_hunks(change, body, max(2, len(commit.parents) if commit else 2))
    else:
        _simple_hunks(change, body)
    return change if change.added else None


def _commit_block(block: bytes, stats: PatchStats) -> Iterator[FileChange]:
    """A commit's header line and its patch (or, for the index, a patch without a header)."""
    commit = None
    if block.startswith(b"\x01"):
        header, _, block = block.partition(b"\n")
        sha, parents, author, date = header[1:].decode("utf-8", "replace").split("\x02")
        commit = Commit(sha, tuple(parents.split()), author, date)
        stats.commits += 1
    for section in (b"\n" + block).split(b"\ndiff --")[1:]:
        change = _file_change(section, commit, stats)
        if change is not None:
            yield change


def _widen_pipe(fd: int) -> None:
    """Let git write ahead (1 MiB instead of 64 KiB) while Python holds the GIL elsewhere (Linux only)."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _READ_CHUNK)
    except (ImportError, OSError):
        pass


def _split_blocks(text: bytes) -> list[bytes]:
    """Text of whole commits -> one block per commit, each starting with its ``\\x01`` header line."""
    first, *rest = text.split(b"\n\x01")
    return [block for block in (first, *(b"\x01" + block for block in rest)) if block.strip()]


class _ChunkQueue:
    """(part, chunk) from the reader threads to the parser; readers wait while ``limit`` bytes are queued."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._queued = 0
        self._items: collections.deque[tuple[int, bytes | None]] = collections.deque()
        self._discarding = False
        self._condition = threading.Condition()

    def put(self, part: int, chunk: bytes | None) -> None:
        with self._condition:
            while chunk is not None and self._queued > self._limit and not self._discarding:
                self._condition.wait()
            if not self._discarding:
                self._items.append((part, chunk))
                self._queued += len(chunk or b"")
            self._condition.notify_all()

    def get(self) -> tuple[int, bytes | None]:
        with self._condition:
            while not self._items:
                self._condition.wait()
            part, chunk = self._items.popleft()
            self._queued -= len(chunk or b"")
            self._condition.notify_all()
            return part, chunk

    def discard(self) -> None:
        """Drop what is queued and everything still to come (the parser stopped reading)."""
        with self._condition:
            self._discarding = True
            self._items.clear()
            self._queued = 0
            self._condition.notify_all()


class Patches:
    """Running git processes writing patches, parsed commit by commit as output arrives.

    The processes start when the object is made, so git already works while lr-ci loads its config and
    rules. Reader threads drain git's output into a bounded queue, so git never waits on the parser (up
    to 64 MiB, which keeps memory in check on huge histories). Iterating yields ``(part, change)``:
    in order within a part, parts interleaved as their output arrives.
    """

    def __init__(self, commands: Sequence[tuple[list[str], bytes | None]], what: str) -> None:
        self.what = what
        self.stats = PatchStats()
        self._queue = _ChunkQueue(_QUEUED_BYTES)
        self._result: tuple[int, str] | None = None
        self._processes: list[subprocess.Popen[bytes]] = []
        self._readers: list[threading.Thread] = []
        for part, (argv, stdin) in enumerate(commands):
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            assert process.stdout is not None
            _widen_pipe(process.stdout.fileno())
            if stdin is not None:
                assert process.stdin is not None
                with contextlib.suppress(BrokenPipeError):
                    process.stdin.write(stdin)
                process.stdin.close()
            reader = threading.Thread(target=self._drain, args=(part, process), daemon=True)
            reader.start()
            self._processes.append(process)
            self._readers.append(reader)

    def _drain(self, part: int, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        try:
            while chunk := os.read(process.stdout.fileno(), _READ_CHUNK):
                self._queue.put(part, chunk)
        except OSError:
            pass
        finally:
            self._queue.put(part, None)

    def __iter__(self) -> Iterator[tuple[int, FileChange]]:
        pending = [b""] * len(self._processes)
        running = len(self._processes)
        try:
            while running:
                part, chunk = self._queue.get()
                if chunk is None:
                    running -= 1
                    blocks, pending[part] = _split_blocks(pending[part]), b""
                else:
                    pending[part] += chunk
                    cut = pending[part].rfind(b"\n\x01")
                    if cut <= 0:
                        continue
                    blocks = _split_blocks(pending[part][:cut])
                    pending[part] = pending[part][cut + 1 :]
                for block in blocks:
                    for change in _commit_block(block, self.stats):
                        yield part, change
        finally:
            code, error = self.close()
        if code != 0:
            raise LrCiError(f"{self.what} failed: {error.splitlines()[-1] if error else f'exit {code}'}")

    def close(self) -> tuple[int, str]:
        """Stop git where it still runs, and return the first failure (exit code, error output)."""
        if self._result is None:
            for process, reader in zip(self._processes, self._readers, strict=True):
                if process.poll() is None and reader.is_alive():
                    process.kill()  # the parse stopped early: nobody needs the rest
            self._queue.discard()  # unblock readers that wait for room
            results = []
            for process, reader in zip(self._processes, self._readers, strict=True):
                reader.join()
                code = process.wait()
                assert process.stdout is not None and process.stderr is not None
                error = process.stderr.read().decode("utf-8", "replace").strip()
                process.stdout.close()
                process.stderr.close()
                results.append((code, error))
            self._result = next((r for r in results if r[0] != 0), (0, ""))
        return self._result


def _patch_options() -> list[str]:
    settings = {
        "core.quotePath": "true",
        # A user's own settings must not change the patch format this parser reads.
        "diff.noprefix": "false",
        "diff.mnemonicPrefix": "false",
        "diff.relative": "false",
        "log.showSignature": "false",
        "color.ui": "false",
    }
    return [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]


_PATCH_FLAGS = (
    "-p",
    "-U0",
    "--no-renames",
    "--ignore-submodules",
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
)


def commit_patches(root: Path, revisions: Sequence[str]) -> Patches:
    """Per commit of ``revisions``, per file: the lines it added and removed (part order = commit order).

    A long history is split into consecutive parts, each given to its own ``git log`` running in parallel
    (diffing is git's work and the bulk of a history scan).
    """
    commits = run_git(root, "rev-list", "--topo-order", "--reverse", *revisions, "--").split()
    parts = max(1, min(_PARALLEL_LOGS, len(commits) // _COMMITS_PER_PART))
    size = max(1, -(-len(commits) // parts))
    argv = [
        "git",
        "-C",
        str(root),
        *_patch_options(),
        "log",
        *_PATCH_FLAGS,
        "--cc",
        "--no-walk=unsorted",
        "--stdin",
        f"--format={_LOG_FORMAT}",
    ]
    commands = [(argv, b"\n".join(commits[i : i + size]) + b"\n") for i in range(0, len(commits), size)]
    return Patches(commands, f"git log {' '.join(revisions)}")


def staged_patches(root: Path) -> Patches:
    """What the next commit would change, from the index (the staged blobs, not the working files)."""
    base = "HEAD" if has_commits(root) else EMPTY_TREE
    argv = ["git", "-C", str(root), *_patch_options(), "diff", "--cached", *_PATCH_FLAGS, base, "--"]
    return Patches([(argv, None)], "git diff --cached")
