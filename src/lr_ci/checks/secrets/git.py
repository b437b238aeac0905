"""Reading what to scan out of git: files, the index, commits and blobs. Every git failure is exit 2.

Paths are decoded with ``surrogateescape`` (from ``-z`` lists, or unquoted from patches), so names with
spaces, newlines or bytes that are not UTF-8 survive the round trip. Commits and the index are read as
``-U0`` patches, streamed: git computes what each change added while Python scans what came before, and
only added lines are scanned, as ``git log -p`` shows them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

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
    try:
        done = subprocess.run(
            ["git", "-C", str(start), "rev-parse", "--show-toplevel", "--is-shallow-repository"],
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise LrCiError("git is not installed or not on PATH") from None
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
_POLL_SECONDS = 0.002  # how long the parser waits when it has caught up with git
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


def _split_blocks(text: bytes) -> list[bytes]:
    """Text of whole commits -> one block per commit, each starting with its ``\\x01`` header line."""
    first, *rest = text.split(b"\n\x01")
    return [block for block in (first, *(b"\x01" + block for block in rest)) if block.strip()]


class Patches:
    """Running git processes writing patches, parsed commit by commit as their output grows.

    The processes start when the object is made, so git already works while lr-ci loads its config and
    rules. Each writes into an unlinked temporary file rather than a pipe: git never waits for the
    parser, no thread shuttles bytes, and memory stays small however long the history (the page cache
    and the disk hold the patch). Iterating yields ``(part, change)``: in order within a part, parts
    interleaved as their output arrives.
    """

    def __init__(self, commands: Sequence[tuple[list[str], bytes | None]], what: str) -> None:
        self.what = what
        self.stats = PatchStats()
        self._result: tuple[int, str] | None = None
        self._parts: list[tuple[subprocess.Popen[bytes], IO[bytes], IO[bytes]]] = []
        for argv, stdin in commands:
            # git writes through its own descriptor; the parser reads through another, with its own offset.
            write_fd, path = tempfile.mkstemp(prefix="lr-ci-patch-")
            output = open(path, "rb")  # noqa: SIM115 - closed in close()
            errors = tempfile.TemporaryFile(prefix="lr-ci-patch-")  # noqa: SIM115 - closed in close()
            with contextlib.suppress(OSError):
                os.unlink(path)  # POSIX keeps the open file; elsewhere it goes when closed
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=write_fd,
                stderr=errors,
            )
            os.close(write_fd)
            if stdin is not None:
                assert process.stdin is not None
                with contextlib.suppress(BrokenPipeError):
                    process.stdin.write(stdin)
                process.stdin.close()
            self._parts.append((process, output, errors))

    def __iter__(self) -> Iterator[tuple[int, FileChange]]:
        pending = [bytearray() for _ in self._parts]
        running = set(range(len(self._parts)))
        try:
            while running:
                progressed = False
                for part in sorted(running):
                    process, output, _ = self._parts[part]
                    finished = process.poll() is not None  # checked before reading: then all is written
                    chunk = output.read(_READ_CHUNK)
                    if chunk:
                        progressed = True
                        buffer = pending[part]
                        searched = max(0, len(buffer) - 1)
                        buffer += chunk
                        cut = buffer.rfind(b"\n\x01", searched)
                        if cut > 0:
                            ready = bytes(buffer[:cut])
                            del buffer[: cut + 1]
                            yield from self._changes(part, ready)
                    elif finished:
                        running.discard(part)
                        yield from self._changes(part, bytes(pending[part]))
                if not progressed and running:
                    time.sleep(_POLL_SECONDS)
        finally:
            code, error = self.close()
        if code != 0:
            raise LrCiError(f"{self.what} failed: {error.splitlines()[-1] if error else f'exit {code}'}")

    def _changes(self, part: int, text: bytes) -> Iterator[tuple[int, FileChange]]:
        for block in _split_blocks(text):
            for change in _commit_block(block, self.stats):
                yield part, change

    def close(self) -> tuple[int, str]:
        """Stop git where it still runs, and return the first failure (exit code, error output)."""
        if self._result is None:
            results = []
            for process, output, errors in self._parts:
                if process.poll() is None:
                    process.kill()  # the parse stopped early: nobody needs the rest
                code = process.wait()
                errors.seek(0)
                results.append((code, errors.read().decode("utf-8", "replace").strip()))
                output.close()
                errors.close()
            self._result = next((r for r in results if r[0] != 0 and r[0] != -9), (0, ""))
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
