"""Reading what to scan out of git: files, the index, commits and blobs. Every git failure is exit 2.

Paths are decoded with ``surrogateescape`` (from ``-z`` lists, or unquoted from patches), so names with
spaces, newlines or bytes that are not UTF-8 survive the round trip. Commits and the index are read as
``-U0`` patches, streamed: git computes what each change added while Python scans what came before, and
only added lines are scanned, as ``git log -p`` shows them.

Nothing in the repository or the user's config may change what lr-ci sees. Every setting that shapes the
patch is pinned with ``-c`` (which outranks system, global and repository config), replace refs are
ignored, and git's environment knobs for diffs are dropped. Attributes (``-diff``, ``binary``, a ``diff=``
driver) and size (``core.bigFileThreshold``) can still make git print "Binary files differ" instead of the
lines: such a file is then read from its blob, streamed, by lr-ci itself (:func:`stream_blob`), so a secret
behind any attribute is found. Files above :data:`BLOB_STREAM_BYTES` take that road on purpose: git diffs a
file in memory (about 2.4 times its size), a stream needs a window.

The global and system config are not dropped wholesale (``GIT_CONFIG_GLOBAL=/dev/null``): they hold
``safe.directory``, which git only reads from there, and CI runners (actions/checkout in a container) rely
on it.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, NamedTuple, TypeAlias

from lr_ci.errors import LrCiError

ZERO_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _decode(raw: bytes) -> str:
    return os.fsdecode(raw) if os.name != "nt" else raw.decode("utf-8", "surrogateescape")


def scratch_file() -> IO[bytes]:
    """An anonymous temporary file, read and written, gone when closed: where git's error output goes.

    ``O_TMPFILE`` (Linux) makes it with one system call in the first temporary folder that takes it
    (``TMPDIR``, ``TEMP``, ``TMP``, ``/tmp``, ``/var/tmp``, as :mod:`tempfile` looks); elsewhere it is
    ``tempfile.TemporaryFile``. The staged hook runs on every commit, and importing :mod:`tempfile` (with
    :mod:`shutil` and :mod:`random`) cost more than the scan of a small commit.
    """
    flag = getattr(os, "O_TMPFILE", 0)
    if flag:
        for folder in _temporary_folders():
            try:
                return open(os.open(folder, flag | os.O_RDWR, 0o600), "w+b")
            except OSError:
                continue
    import tempfile

    return tempfile.TemporaryFile(prefix="lr-ci-git-")


def _temporary_folders() -> list[str]:
    # An O_TMPFILE file has no name, so a shared folder has no name to race for.
    shared = ("/tmp", "/var/tmp")  # noqa: S108
    return [f for f in (*(os.environ.get(n) for n in ("TMPDIR", "TEMP", "TMP")), *shared) if f]


def _spool() -> tuple[int, IO[bytes]]:
    """A temporary file for a patch: a descriptor for git to write with, and a reader with its own offset.

    On Linux an ``O_TMPFILE`` file reopened through ``/proc/self/fd`` (a second open file description: git's
    writes do not move the reader's offset); elsewhere a named file, unlinked once open (POSIX keeps an open
    file; Windows removes it when closed).
    """
    flag = getattr(os, "O_TMPFILE", 0)
    if flag and os.path.isdir("/proc/self/fd"):
        for folder in _temporary_folders():
            try:
                write_fd = os.open(folder, flag | os.O_WRONLY, 0o600)
            except OSError:
                continue
            try:
                return write_fd, open(f"/proc/self/fd/{write_fd}", "rb")
            except OSError:
                os.close(write_fd)
                break
    import tempfile

    write_fd, path = tempfile.mkstemp(prefix="lr-ci-patch-")
    output = open(path, "rb")  # noqa: SIM115 - the caller closes it
    with contextlib.suppress(OSError):
        os.unlink(path)
    return write_fd, output


BLOB_STREAM_BYTES = 4 << 20
"""Files larger than this are not diffed by git (``core.bigFileThreshold``) but streamed from their blob."""
# Environment variables that would change a diff behind lr-ci's back (the -c settings cover the config).
_DROPPED_ENV = ("GIT_DIFF_OPTS", "GIT_EXTERNAL_DIFF", "GIT_REPLACE_REF_BASE", "GIT_GRAFT_FILE")


def git_env() -> dict[str, str]:
    """The environment for every git lr-ci runs: the user's, minus what changes what git shows."""
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV}
    env["GIT_NO_REPLACE_OBJECTS"] = "1"  # a replace ref must not hide a commit's real content
    return env


def git_argv(root: Path, *args: str) -> list[str]:
    # A repository's core.fsmonitor would run a program of its choosing: reading needs none.
    return ["git", "--no-replace-objects", "-c", "core.fsmonitor=false", "-C", str(root), *args]


_USERINFO = re.compile(r"(://)[^/@\s]+@")
_COMPLAINT_CHARS = 500


def complaint(what: Sequence[str], stderr: bytes, code: int) -> str:
    """``git SUBCOMMAND failed: LINE`` for an error: git's last ``fatal:``/``error:`` line (or its last
    line), as one printable line of bounded length with anything that looks like a credential masked.

    git quotes remote URLs, refs, paths and object names in its complaints, any of which may hold a token
    (git itself hides only a URL's userinfo), and may write many lines; an lr-ci error is one line that
    never shows a secret.
    """
    from lr_ci.output._text import printable
    from lr_ci.redact import preview
    from lr_ci.secret_rules.engine import scan

    options = iter(what)
    subcommand = next((arg for arg in options if arg != "-c" or next(options, None) is None), "")
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    said = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines
    line = said[-1][:_COMPLAINT_CHARS] if said else f"exit {code}"
    line = _USERINFO.sub(r"\1***@", line)
    for hit in scan(line.encode("utf-8", "surrogateescape"), "git-error"):
        line = line.replace(hit.secret, preview(hit.secret))
    return f"git {subcommand} failed: {printable(line)}"


FETCH_TIMEOUT_S = 300.0
"""How long one ``git fetch`` (``--deepen``) may take: a remote that never answers must not hang a run."""


def run_git(root: Path, *args: str, check: bool = True) -> bytes:
    """``git -C root ARGS``; a failure is exit 2 quoting git's own first line of complaint."""
    try:
        done = subprocess.run(git_argv(root, *args), capture_output=True, check=False, env=git_env())
    except FileNotFoundError:
        raise LrCiError("git is not installed or not on PATH") from None
    if check and done.returncode != 0:
        raise LrCiError(complaint(args, done.stderr, done.returncode))
    return done.stdout


def fetch(root: Path, *args: str) -> None:
    """``git fetch ARGS`` from a remote, bounded by :data:`FETCH_TIMEOUT_S` and never asking for a password.

    A network fetch is the one git call that waits on something outside the machine: a remote that
    accepts the connection and never answers, or a credential prompt with nobody at the terminal, would
    hang the run. git and its helpers (ssh, git-remote-https) run in their own process group, which is
    killed whole at the deadline.
    """
    # A new session has no controlling terminal, so ssh cannot prompt either.
    env = {**git_env(), "GIT_TERMINAL_PROMPT": "0"}
    try:
        process = subprocess.Popen(
            git_argv(root, "fetch", "--quiet", *args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise LrCiError("git is not installed or not on PATH") from None
    try:
        _, stderr = process.communicate(timeout=FETCH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise LrCiError(
            f"git fetch did not finish within {FETCH_TIMEOUT_S:.0f} s (is the remote reachable?)"
        ) from None
    except BaseException:
        # Ctrl-C: git runs in a session of its own, so the terminal's SIGINT did not reach it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    if process.returncode != 0:
        raise LrCiError(complaint(("fetch", *args), stderr, process.returncode))


def run_git_input(root: Path, stdin: bytes, *args: str) -> bytes:
    """``git -C root ARGS`` fed ``stdin``; a failure is exit 2 quoting git."""
    try:
        done = subprocess.run(
            git_argv(root, *args), input=stdin, capture_output=True, check=False, env=git_env()
        )
    except FileNotFoundError:
        raise LrCiError("git is not installed or not on PATH") from None
    if done.returncode != 0:
        raise LrCiError(complaint(args, done.stderr, done.returncode))
    return done.stdout


class Repository(NamedTuple):
    """A NamedTuple, as :class:`Commit`: immutable, and a fraction of a dataclass's cost to define on the
    staged hook's start-up path."""

    root: Path
    shallow: bool
    """Whether the clone is shallow (a history scan then needs ``--deepen``)."""
    head: str | None
    """The commit HEAD names; None before the first commit."""
    bare: bool = False
    """A bare repository (a CI mirror): history and ranges only; ``root`` is its git folder."""


def repository(start: Path) -> Repository | None:
    """The repository around ``start``, found with one git process (the staged hook's start-up); None
    outside one."""
    try:
        done = subprocess.run(
            git_argv(
                start, "rev-parse", "--show-toplevel", "--is-shallow-repository", "--verify", "-q", "HEAD"
            ),
            capture_output=True,
            check=False,
            env=git_env(),
        )
    except FileNotFoundError:
        raise LrCiError("git is not installed or not on PATH") from None
    lines = done.stdout.rstrip(b"\n").split(b"\n")
    if done.returncode not in (0, 1) or len(lines) < 2:
        return _bare_repository(start)  # 128: not a repository, or one without a working tree
    head = lines[2].decode() if done.returncode == 0 and len(lines) > 2 else None
    return Repository(Path(_decode(lines[0])), lines[1] == b"true", head)


def _bare_repository(start: Path) -> Repository | None:
    """The bare repository at ``start`` (``--show-toplevel`` has no answer there), or None: asked only
    when the first question failed, so a working tree's start-up pays nothing for it."""
    done = subprocess.run(
        git_argv(
            start,
            "rev-parse",
            "--is-bare-repository",
            "--absolute-git-dir",
            "--is-shallow-repository",
            "--verify",
            "-q",
            "HEAD",
        ),
        capture_output=True,
        check=False,
        env=git_env(),
    )
    lines = done.stdout.rstrip(b"\n").split(b"\n")
    if done.returncode not in (0, 1) or len(lines) < 3 or lines[0] != b"true":
        return None
    head = lines[3].decode() if done.returncode == 0 and len(lines) > 3 else None
    return Repository(Path(_decode(lines[1])), lines[2] == b"true", head, bare=True)


def is_shallow(root: Path) -> bool:
    return run_git(root, "rev-parse", "--is-shallow-repository").strip() == b"true"


def shallow_boundary(root: Path) -> set[str]:
    """The commits whose parents a shallow clone does not have."""
    path = Path(_decode(run_git(root, "rev-parse", "--git-path", "shallow").strip()))
    path = path if path.is_absolute() else root / path
    return set(path.read_text().split()) if path.is_file() else set()


_OBJECT_ID = re.compile(rb"[0-9a-f]{40}(?:[0-9a-f]{24})?")


def resolve(root: Path, revision: str) -> str:
    """The commit id ``revision`` names; anything else is exit 2. Only a plain id counts: rev-parse also
    answers ``^HEAD`` (with ``^id``, an exclusion), which as a range would select no commit and pass."""
    out = run_git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False).strip()
    if not _OBJECT_ID.fullmatch(out):
        raise LrCiError(
            f"{revision!r} is not a commit in this clone: fetch it first "
            "(in GitHub Actions: actions/checkout with fetch-depth: 0)"
        )
    return out.decode()


def working_tree_files(root: Path) -> list[str]:
    """Tracked files plus untracked files that git does not ignore, relative to ``root``."""
    out = run_git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate")
    return [_decode(name) for name in out.split(b"\0") if name]


class Commit(NamedTuple):
    """A commit as the patch header names it. The author is looked up only for commits with findings
    (:func:`commit_authors`): a name may hold any byte, so it never travels inside the parsed stream."""

    sha: str
    parents: tuple[str, ...]
    date: str


@dataclass
class FileChange:
    """What one commit (or the index) changed in one file.

    ``added`` are runs of consecutive added lines (first line number, text); ``removed_runs`` the runs of
    removed lines as the patch has them, each line still after its ``-`` (:attr:`removed` strips them:
    they are read only when an added line holds a secret, so most are never stripped). For a merge,
    only lines that are in none of the parents count as added: content that first appears in the merge
    resolution. When git would not show the lines (an attribute, or a file larger than
    :data:`BLOB_STREAM_BYTES`), ``blob`` is the new content's object id and ``old_blobs`` those it
    replaced: the scanner reads the blobs itself.
    """

    path: str
    commit: Commit | None = None
    added: list[tuple[int, bytes]] = field(default_factory=list)
    removed_runs: list[bytes] = field(default_factory=list)
    blob: str | None = None
    old_blobs: tuple[str, ...] = ()

    @property
    def removed(self) -> list[bytes]:
        """The runs of removed lines, without their ``-``."""
        return [_strip_prefix(run) for run in self.removed_runs]


@dataclass
class PatchStats:
    commits: int = 0
    deleted: dict[str | None, set[str]] = field(default_factory=dict)
    """Paths each commit (key: its sha; the index: None) deleted, to follow a baselined secret's rename."""


# Only hex and ISO dates in the header: nothing a commit's author can write collides with the separators.
_LOG_FORMAT = "%x01%H%x02%P%x02%aI"
_READ_CHUNK = 1 << 20
_POLL_SECONDS = 0.002  # how long the parser waits when it has caught up with git
# Each git diffs one file of at most BLOB_STREAM_BYTES at a time, in about 2.4 times that memory.
_PARALLEL_LOGS = min(os.cpu_count() or 1, 4)
# At most: a git log's memory grows with the commits it was given (with its delta cache at 64 MB, 98 MB for
# 2,200 commits of real code). Each part costs git a cold start (the trees and blobs its first diffs need
# again, about 40 ms): 12 parts of a history of 8,800 commits cost git a third more work than 2.
_COMMITS_PER_PART = 4000
_MIN_COMMITS_PER_PART = 200  # fewer: another git costs more than it saves
SPLIT_COMMITS = 2000
"""From this many commits on, a history is scanned by :func:`history_workers` processes, each reading its
own parts (:meth:`Patches.become`): below it, parsing and scanning cost less than git's diffs, which the
parts already spread over the cores, and a second process would only add its start."""
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
    """``@@ -a,b +c,d @@`` (or ``@@@ ... +c,d @@@`` for a merge; or without its first ``@@``) -> c, the
    first line on the new side."""
    new_side = hunk_header.split(b" @@", 1)[0].rsplit(b"+", 1)[-1]
    return int(new_side.split(b",")[0]) or 1


def _strip_prefix(lines: bytes) -> bytes:
    """``+a\\n+b\\n`` -> ``a\\nb``: drop the one-column prefix of every line (C speed, no Python loop)."""
    return lines[1:].replace(b"\n" + lines[:1], b"\n").rstrip(b"\n")


# An ordinary hunk's header, ``@@ -a[,b] +c[,d] @@`` and what git adds after it, to its newline: one match
# gives where the lines start and the first new line (a history has hundreds of thousands of hunks).
_HUNK_HEADER = re.compile(rb"@@ -[0-9]+(?:,[0-9]+)? \+([0-9]+)(?:,[0-9]+)? @@[^\n]*\n")


def _simple_hunks(change: FileChange, section: bytes, at: int, end: int) -> None:
    """The hunks of an ordinary ``-U0`` diff: in each, the removed lines come first, then the added ones.

    ``at`` is where the first ``@@`` of the file's section is, ``end`` where it ends: the section is read
    in place, in the text of its commits. A history holds thousands of one-line hunks and hundreds of
    whole added files, so hunks are found by offset and only the lines kept are copied out (each byte of
    a patch was copied five times more when it was split, and once more when each file's section was).
    """
    # git's "\\ No newline at end of file" starts a line: a section without one (nearly all) has no hunk
    # to check for it.
    markers = _has_line_starting_backslash(section, at, end)
    while True:
        following = section.find(b"\n@@", at + 2, end)
        hunk_end = following if following >= 0 else end
        header = _HUNK_HEADER.match(section, at, hunk_end)
        header_end = header.end() - 1 if header is not None else section.find(b"\n", at, hunk_end)
        if header_end >= 0:
            start = header_end + 1
            # -U0: the removed lines, then the added ones. A removed line starts with "-", so the first
            # newline followed by "+" is where the added lines begin.
            if section.startswith(b"+", start, hunk_end):
                plus = start
            else:
                newline = section.find(b"\n+", start, hunk_end)
                plus = newline + 1 if newline >= 0 else hunk_end
            if markers and (_marked(section, start, plus) or _marked(section, plus, hunk_end)):
                # "\\ No newline at end of file": dropped, then the lines read as any other hunk's
                lines = section[start:hunk_end].split(b"\n")
                _hunk(change, section[at + 2 : header_end], b"\n".join(x for x in lines if x[:1] != b"\\"))
            else:
                if plus > start:
                    change.removed_runs.append(section[start:plus])
                if plus < hunk_end:
                    first = (
                        int(header[1]) or 1
                        if header is not None
                        else _new_start(section[at + 2 : header_end])
                    )
                    # the added lines without their "+" (as _strip_prefix, without a call per hunk)
                    added = section[plus + 1 : hunk_end].replace(b"\n+", b"\n").rstrip(b"\n")
                    change.added.append((first, added))
        if following < 0:
            return
        at = following + 1


def _has_line_starting_backslash(section: bytes, at: int, end: int) -> bool:
    """``section.find(b"\\n\\\\", at, end) >= 0``, by way of the backslashes (a ``memchr``: three times as
    fast as a two-byte search whose first byte ends every line; most sections of code have few backslashes).
    """
    found = section.find(b"\\", at + 1, end)
    while found >= 0:
        if section[found - 1] == 0x0A:
            return True
        found = section.find(b"\\", found + 1, end)
    return False


def _marked(section: bytes, start: int, end: int) -> bool:
    """Whether the lines ``section[start:end]`` (removed or added, one side of a hunk) end with git's
    ``\\ No newline at end of file``: that line only ever follows the last line of a side, so the last
    line is the one to look at (a search of every line for it was a pass over the whole patch)."""
    if start >= end:
        return False
    last = section.rfind(b"\n", start, end - 1) + 1 or start
    return section.startswith(b"\\", max(last, start), end)


def _hunk(change: FileChange, header: bytes, lines: bytes) -> None:
    """One hunk's lines (removed, then added) into ``change``; ``header`` is its ``@@`` line's rest."""
    plus = 0 if lines.startswith(b"+") else (lines.find(b"\n+") + 1 or len(lines))
    if plus:
        change.removed_runs.append(lines[:plus])
    if plus < len(lines):
        change.added.append((_new_start(header), _strip_prefix(lines[plus:])))


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


def _section_path(first_line: bytes) -> bytes:
    """The path of ``git a/P b/P`` (both names equal: renames are off) or ``cc P``, quoted or not."""
    if first_line.startswith(b"git "):
        names = first_line[4:]
        name = _unquote(names[: (len(names) - 1) // 2])
        return name[2:] if name.startswith(b"a/") else name
    return _unquote(first_line.split(b" ", 1)[-1])


def _blobs(head: bytes) -> tuple[tuple[str, ...], str | None]:
    """(old blob ids, new blob id) from the ``index A..B`` or ``index A,B..C`` line (``--full-index``)."""
    for line in head.split(b"\n"):
        if line.startswith(b"index "):
            old, _, new = line[6:].split(b" ", 1)[0].partition(b"..")
            olds = tuple(o.decode() for o in old.split(b",") if o.strip(b"0"))
            return olds, new.decode() if new.strip(b"0") else None
    return (), None


def _file_change(
    text: bytes, start: int, end: int, commit: Commit | None, stats: PatchStats
) -> FileChange | None:
    """One ``diff --git``/``diff --cc`` section of a patch, ``text[start:end]`` -> the file change (None:
    deleted, or no lines). The section is read in place: only its head and the lines kept are copied."""
    hunks_at = text.find(b"\n@@", start, end)
    head = text[start:end] if hunks_at < 0 else text[start:hunks_at]
    path = _decode(_section_path(head.split(b"\n", 1)[0]))
    if b"\ndeleted file mode " in head:
        stats.deleted.setdefault(commit.sha if commit else None, set()).add(path)
        return None  # a deleted file adds nothing
    if b"\nBinary files " in head or head.startswith(b"Binary files "):
        old_blobs, blob = _blobs(head)
        return FileChange(path, commit, blob=blob, old_blobs=old_blobs) if blob else None
    if hunks_at < 0:
        return None
    change = FileChange(path, commit)
    if head.startswith(b"cc ") or head.startswith(b"combined "):
        _merge_hunks(change, text[hunks_at + 1 : end], max(2, len(commit.parents) if commit else 2))
    else:
        _simple_hunks(change, text, hunks_at + 1, end)
    return change if change.added else None


def _next_commit(text: bytes, at: int) -> int:
    """``text.find(b"\\n\\x01", at)``, by way of the rare ``\\x01`` (a ``memchr``, ten times as fast
    as a two-byte search whose first byte is every line's end)."""
    found = text.find(b"\x01", at + 1)
    while found >= 0 and text[found - 1] != 0x0A:
        found = text.find(b"\x01", found + 1)
    return found - 1 if found >= 0 else -1


Section: TypeAlias = (
    tuple[Literal[0], bytes]
    | tuple[Literal[1], bytes, list[tuple[int, bytes]], list[bytes]]
    | tuple[Literal[2], int, int]
)
"""What :func:`sections` finds, in order:

- ``(0, header)``: a commit's header line (after its ``\\x01``);
- ``(1, first line, added, removed runs)``: a file section whose lines were read (by the compiled reader);
- ``(2, start, end)``: a file section (``text[start:end]``, after its ``diff --``) for :func:`_file_change`.
"""


def python_sections(text: bytes) -> list[Section]:
    """:data:`Section` s of ``text`` (complete commits or files of a patch), read in Python: the reference
    the compiled reader (``_sections.c``) is held equal to, and the reader where it was not built.

    Commits and files are found by offset in ``text``: nothing is copied but the headers.
    """
    found: list[Section] = []
    at, size, first = 0, len(text), True
    while True:
        following = _next_commit(text, at)
        block_end = following if following >= 0 else size
        block_start = at
        if not first or text.startswith(b"\x01", at):
            header_start = at + 1 if text.startswith(b"\x01", at) else at
            newline = text.find(b"\n", header_start, block_end)
            header_end = newline if newline >= 0 else block_end
            block_start = header_end + 1 if newline >= 0 else block_end
            found.append((0, text[header_start:header_end]))
        if text.startswith(b"diff --", block_start, block_end):
            section_start = block_start + 7
        else:  # the header's rest, or text before the first file
            at_diff = text.find(b"\ndiff --", block_start, block_end)
            section_start = at_diff + 8 if at_diff >= 0 else -1
        while section_start >= 0:
            at_diff = text.find(b"\ndiff --", section_start, block_end)
            found.append((2, section_start, at_diff if at_diff >= 0 else block_end))
            section_start = at_diff + 8 if at_diff >= 0 else -1
        if following < 0:
            return found
        at, first = following + 2, False


@functools.cache
def _compiled_sections() -> Callable[[bytes], list[Section]]:
    """The compiled reader when setup.py could build it (a C compiler was there), else
    :func:`python_sections`. ``LR_CI_PURE_PYTHON=1`` asks for the Python one (to compare them, or to rule
    the compiled one out)."""
    if os.environ.get("LR_CI_PURE_PYTHON") != "1":
        try:
            from lr_ci.checks.secrets._sections import sections as compiled
        except ImportError:
            pass
        else:
            return compiled
    return python_sections


def read_patch(
    text: bytes,
    commit: Commit | None,
    stats: PatchStats,
    reader: Callable[[bytes], list[Section]] | None = None,
) -> Iterator[Commit | FileChange]:
    """The commits (as each header is read) and the file changes of ``text``, complete commits or files of a
    patch; ``commit`` is the one a text that starts with ``diff --`` continues. ``reader``: :func:`sections`
    unless given (the tests give each reader in turn).

    A file's section is read in place (:func:`_file_change`) unless the compiled reader read its lines.
    """
    for item in (reader or sections)(text):
        match item:
            case (0, header):
                sha, parents, date = header.decode("ascii", "replace").split("\x02", 2)
                commit = Commit(sha, tuple(parents.split()), date)
                stats.commits += 1
                yield commit
            case (1, first_line, added, removed_runs):
                path = _decode(_section_path(first_line))
                if added:
                    yield FileChange(path, commit, added, removed_runs)
            case (2, start, end):
                change = _file_change(text, start, end, commit, stats)
                if change is not None:
                    yield change


def sections(text: bytes) -> list[Section]:
    """:data:`Section` s of ``text``, by the compiled reader where there is one (chosen at the first call)."""
    return _compiled_sections()(text)


class Patches:
    """Running git processes writing patches, parsed commit by commit as their output grows.

    The processes start when the object is made, so git already works while lr-ci loads its config and
    rules. Each writes into an unlinked temporary file rather than a pipe: git never waits for the
    parser, no thread shuttles bytes, and memory stays small however long the history (the page cache
    and the disk hold the patch). Iterating yields ``(position of the commit, change)``: in order within a
    part, parts interleaved as their output arrives; then every change of the paths that were too big
    for git to diff (``big``: see :func:`_big_paths`), which the scanner reads from their blobs.

    With ``workers`` above 1, part ``i < workers`` is worker ``i``'s own, and the later parts are taken
    by whichever worker is free first (a pipe of part numbers all the workers read; see
    :func:`_part_sizes`): this object is worker 0, and a forked process calls :meth:`become` to be another
    (``scan.scan_patches``). Each worker runs ``_PARALLEL_LOGS // workers`` gits at a time, at least one.
    """

    def __init__(
        self,
        root: Path,
        commands: Sequence[tuple[list[str], bytes | None]],
        what: str,
        *,
        order: dict[str, int] | None = None,
        big: Sequence[FileChange] = (),
        prepare: Callable[[], tuple[list[tuple[list[str], bytes | None]], list[FileChange], PatchStats]]
        | None = None,
        workers: int = 1,
        niceness: int = 0,
    ) -> None:
        self.root = root
        self.niceness = niceness
        """How many nice levels below this process the gits run (:data:`GIT_NICENESS`)."""
        self.what = what
        self.workers = workers
        self.stats = PatchStats()
        self.order = order or {}
        """Each commit's position in the scan (oldest first): which occurrence of a secret is the first."""
        self._big = big
        self._commit: list[Commit | None] = [None] * len(commands)
        self._result: tuple[int, str] | None = None
        self._commands = list(commands)
        self._parts: dict[int, tuple[subprocess.Popen[bytes], IO[bytes], IO[bytes]]] = {}
        """The parts this process started (and reads, waits for, kills), by part number."""
        self._worker = 0
        self._queue = self._parts_of(0)
        self._started = 0  # how many of self._queue were started
        self._shared: int | None = None  # the read end of the pipe of parts any worker takes
        if workers > 1 and len(commands) > workers:
            read_end, write_end = os.pipe()
            os.write(write_end, b"".join(p.to_bytes(4, "little") for p in range(workers, len(commands))))
            os.close(write_end)  # read to its end, the pipe says there is no part left
            self._shared = read_end
        self._preparing: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._cancelled = False
        if prepare is None:
            self._start_first()
        else:
            # What must be known before the logs start (the files too big to diff) is asked of git in a
            # thread, which then starts them: lr-ci loads its config and rules meanwhile (the thread only
            # waits on git), instead of after it.
            self._preparing = threading.Thread(target=self._prepare, args=(prepare,), daemon=True)
            self._preparing.start()

    def _parts_of(self, worker: int) -> list[int]:
        return list(range(len(self._commands))) if self.workers == 1 else [worker]

    def _take(self) -> int | None:
        """This worker's next part: its own first, then one from the shared pipe; None when none is left.
        A read of 4 bytes from a pipe is whole and one reader's (the part numbers were written at once)."""
        if self._started < len(self._queue):
            self._started += 1
            return self._queue[self._started - 1]
        if self._shared is None:
            return None
        token = os.read(self._shared, 4)
        return int.from_bytes(token, "little") if len(token) == 4 else None

    def _start_first(self) -> None:
        for _ in range(max(1, _PARALLEL_LOGS // self.workers)):
            part = None if self._cancelled else self._take()
            if part is None:
                return
            self._start(part)

    def alone(self) -> None:
        """Read every part in this process: the workers were not forked after all (a thread ran)."""
        started = list(self._parts)
        self.workers = 1
        self._close_shared()
        self._queue = started + [part for part in range(len(self._commands)) if part not in self._parts]
        self._started = len(started)
        self._start_first()

    def _close_shared(self) -> None:
        if self._shared is not None:
            os.close(self._shared)
            self._shared = None

    def become(self, worker: int) -> None:
        """Read worker ``worker``'s parts instead of worker 0's: called in a process forked from the one
        that made this object, before reading. The gits that process started are its children, not this
        one's (nothing here can wait for them): they are left to it, and this process starts its own."""
        for _process, output, errors in self._parts.values():
            output.close()
            errors.close()
        self._parts = {}
        self._worker = worker
        self._queue = self._parts_of(worker)
        self._started = 0
        self._start_first()

    def _prepare(
        self, prepare: Callable[[], tuple[list[tuple[list[str], bytes | None]], list[FileChange], PatchStats]]
    ) -> None:
        try:
            commands, big, stats = prepare()
            self._commands, self._big = commands, big
            self._commit = [None] * len(commands)
            self._queue = self._parts_of(self._worker)
            self.stats.deleted.update(stats.deleted)
            self._start_first()
        except BaseException as exc:  # raised again where the patches are read (or dropped by close)
            self._failure = exc

    def _prepared(self) -> None:
        """Wait for the thread that prepares the logs (if any); raise what it raised."""
        if self._preparing is not None:
            self._preparing.join()
            self._preparing = None
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _start(self, part: int) -> int:
        """Start part ``part``; returns its number. At most ``_PARALLEL_LOGS`` run at once: a git log's
        memory grows with the commits it was given, so a long history is many bounded parts."""
        argv, stdin = self._commands[part]
        # git writes through its own descriptor; the parser reads through another, with its own offset.
        write_fd, output = _spool()
        errors = scratch_file()
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=write_fd,
                stderr=errors,
                env=git_env(),
            )
        except FileNotFoundError:
            raise LrCiError("git is not installed or not on PATH") from None
        finally:
            os.close(write_fd)
        _lower_priority(process.pid, self.niceness)
        if stdin is not None:
            assert process.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                process.stdin.write(stdin)
            process.stdin.close()
        self._parts[part] = (process, output, errors)
        return part

    def __iter__(self) -> Iterator[tuple[int, FileChange]]:
        self._prepared()
        pending = {part: bytearray() for part in range(len(self._commands))}
        running = set(self._parts)
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
                        searched = max(0, len(buffer) - len(b"\ndiff --"))
                        buffer += chunk
                        # Cut at the last commit or file boundary: a huge commit is parsed file by file,
                        # and git never writes more than about 2 * BLOB_STREAM_BYTES for one file.
                        cut = max(buffer.rfind(b"\n\x01", searched), buffer.rfind(b"\ndiff --", searched))
                        if cut > 0:
                            with memoryview(buffer) as view:  # one copy, not a bytearray and a bytes
                                ready = bytes(view[:cut])
                            del buffer[: cut + 1]
                            yield from self._changes(part, ready)
                    elif finished:
                        running.discard(part)
                        yield from self._changes(part, bytes(pending[part]))
                        pending[part] = bytearray()
                        following = None if self._cancelled else self._take()
                        if following is not None:
                            running.add(self._start(following))
                if not progressed and running:
                    time.sleep(_POLL_SECONDS)
        finally:
            code, error = self.close()
        if code != 0:
            raise LrCiError(complaint([self.what], error.encode(), code))
        # A commit that changed only files too big to diff is not in the patch (they are left out of it
        # by pathspec), but it was scanned all the same, from its blobs.
        if self.workers == 1:  # each worker counts its own commits (and no path is too big when split)
            self.stats.commits = max(self.stats.commits, len(self.order))
        for change in self._big:
            yield self._position(change), change

    def _position(self, change: FileChange) -> int:
        return self.order.get(change.commit.sha, 0) if change.commit is not None else 0

    def _changes(self, part: int, text: bytes) -> Iterator[tuple[int, FileChange]]:
        """The changes of complete commits or files; text that starts with ``diff --`` continues the last
        commit of the part."""
        for item in read_patch(text, self._commit[part], self.stats):
            if isinstance(item, Commit):
                self._commit[part] = item
            else:
                yield self._position(item), item

    def close(self) -> tuple[int, str]:
        """Stop git where it still runs, and return the first failure (exit code, error output)."""
        self._cancelled = True  # a thread still preparing starts no log
        self._close_shared()
        if self._preparing is not None:
            self._preparing.join()
            self._preparing = None
        if self._result is None:
            results = []
            for process, output, errors in self._parts.values():
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
    """``-c`` settings that outrank every config file: what the parser reads, whatever the user set."""
    settings = {
        "core.quotePath": "true",
        "core.bigFileThreshold": str(BLOB_STREAM_BYTES),  # larger files: streamed from the blob
        # The cache of objects rebuilt from deltas is most of a git log's memory, up to 96 MB by default.
        # Measured on 8,758 commits of real code in 4 parts, run one after another: git's CPU 1.98 s at
        # 32 MB, 1.94 at 48, 1.78 at 64, 1.76 at 96 (the part with Django's big files rebuilds its bases
        # again and again below 64 MB, which is why 48 MB saved nothing in the real scan). In the real
        # scan, two gits beside two scanners: wall time 2-4% less at 64 than at 32 (8 to 12 interleaved
        # rounds), for a peak of the whole process tree of 249 MiB instead of 195 (each git about 98 MB).
        "core.deltaBaseCacheLimit": "64m",
        "log.showRoot": "true",  # the first commit's patch too
        "diff.noprefix": "false",
        "diff.mnemonicPrefix": "false",
        "diff.relative": "false",
        "diff.interHunkContext": "0",
        "diff.suppressBlankEmpty": "false",
        "log.showSignature": "false",
        "i18n.logOutputEncoding": "UTF-8",
        "color.ui": "false",
        "color.diff": "false",
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
    "--full-index",
    "--irreversible-delete",  # git would load a deleted file whole to print "Binary files differ"
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--no-relative",
)


def _stream(
    root: Path, args: Sequence[str], stdin: bytes | None = None, chunk_bytes: int = _READ_CHUNK
) -> Generator[bytes, None, None]:
    """The output of ``git ARGS``, chunk by chunk: git and lr-ci each hold one chunk, however long it is.

    stderr goes to a file (git never blocks on a full pipe while lr-ci reads stdout); a failure is exit 2
    quoting git. A generator closed early kills git: nobody needs the rest.
    """
    errors = scratch_file()
    try:
        process = subprocess.Popen(
            git_argv(root, *args),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=git_env(),
        )
    except FileNotFoundError:
        errors.close()
        raise LrCiError("git is not installed or not on PATH") from None
    assert process.stdout is not None
    try:
        if stdin is not None:
            assert process.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                process.stdin.write(stdin)
            process.stdin.close()
        while chunk := process.stdout.read(chunk_bytes):
            yield chunk
        errors.seek(0)
        if process.wait() != 0:
            raise LrCiError(complaint(args, errors.read(64 << 10), process.returncode))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
        errors.close()


def _raw_changes(root: Path, args: Sequence[str], stdin: bytes | None) -> Iterator[tuple[bytes, FileChange]]:
    """``--raw -z`` output of ``git ARGS``, streamed: each change that leaves content (not a deletion) as a
    :class:`FileChange` naming its blobs; deletions are yielded with ``blob`` None. Never loads a blob."""
    commit: Commit | None = None
    entry: list[bytes] | None = None
    pending = b""
    for chunk in itertools.chain(_stream(root, args, stdin), [b""]):  # the empty chunk: the last token
        tokens = (pending + chunk).split(b"\0")
        pending = tokens.pop() if chunk else b""
        for raw in tokens:
            token = raw.lstrip(b"\n")
            if entry is not None:
                modes_and_blobs, status = entry
                fields = modes_and_blobs.split(b" ")
                blobs = [blob.decode() for blob in fields[len(fields) // 2 :]]
                new = blobs[-1] if blobs[-1].strip("0") else None
                olds = tuple(blob for blob in blobs[:-1] if blob.strip("0"))
                yield status, FileChange(_decode(raw), commit, blob=new, old_blobs=olds)
                entry = None
            elif token.startswith(b"\x01"):
                sha, parents, date = token[1:].decode("ascii", "replace").split("\x02", 2)
                commit = Commit(sha, tuple(parents.split()), date)
            elif token.startswith(b":"):
                head, _, status = token.lstrip(b":").rpartition(b" ")
                entry = [head, status]


def _sizes(root: Path, blobs: Sequence[str]) -> dict[str, int]:
    out = run_git_input(root, "".join(f"{blob}\n" for blob in blobs).encode(), "cat-file", "--batch-check")
    sizes = {}
    for line in out.decode("ascii", "replace").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2].isdigit():
            sizes[fields[0]] = int(fields[2])
    return sizes


_SIZE_BATCH = 10_000


def _big_paths(root: Path, raw_args: Sequence[str], stdin: bytes | None) -> list[str]:
    """Paths a change adds with more than :data:`BLOB_STREAM_BYTES`. git loads a file it adds whole, even
    to say "Binary files differ" (a modified or, with ``-D``, deleted one it does not): such paths are left
    out of the patch and read from their blobs, streamed, in every commit that changes them."""
    big: set[str] = set()
    batch: dict[str, str] = {}

    def check() -> None:
        sizes = _sizes(root, list(batch))
        big.update(path for blob, path in batch.items() if sizes.get(blob, 0) > BLOB_STREAM_BYTES)
        batch.clear()

    for status, change in _raw_changes(root, raw_args, stdin):
        # Added (to at least one parent), a symlink or submodule that became a file, or a merge's own
        # version (a combined diff loads every parent's blob whole).
        if change.blob is not None and (b"A" in status or b"T" in status or len(status) > 1):
            batch[change.blob] = change.path
            if len(batch) >= _SIZE_BATCH:
                check()
    if batch:
        check()
    return sorted(big)


def _any_blob_over(root: Path, size: int) -> bool:
    """Whether the object store holds any blob larger than ``size``: one streamed pass over the pack
    indexes and loose objects, a fraction of what the per-commit pass of :func:`_big_paths` costs on a
    long history (most repositories have no such blob at all). Stops at the first one; errs towards True
    when git cannot say."""
    pending = b""
    lines = _stream(
        root, ["cat-file", "--batch-all-objects", "--unordered", "--batch-check=%(objecttype) %(objectsize)"]
    )
    try:
        with contextlib.closing(lines):
            for chunk in lines:
                *complete, pending = (pending + chunk).split(b"\n")
                for line in complete:
                    kind, _, length = line.partition(b" ")
                    if kind == b"blob" and length.isdigit() and int(length) > size:
                        return True
    except LrCiError:
        return True
    return False


def _literal(paths: Sequence[str], exclude: bool) -> list[str]:
    magic = ":(exclude,literal)" if exclude else ":(literal)"
    return [magic + path for path in paths]


def _big_changes(
    root: Path, raw_args: Sequence[str], stdin: bytes | None, paths: Sequence[str], stats: PatchStats
) -> list[FileChange]:
    """Every change of ``paths`` (see :func:`_big_paths`), naming blobs; deletions recorded in ``stats``."""
    changes = []
    for _, change in _raw_changes(root, [*raw_args, "--", *_literal(paths, exclude=False)], stdin):
        if change.blob is None:
            stats.deleted.setdefault(change.commit.sha if change.commit else None, set()).add(change.path)
        else:
            changes.append(change)
    return changes


_RAW_FLAGS = ("--raw", "-z", "--no-renames", "--no-abbrev", "--ignore-submodules", "--no-relative")


SCAN_ORDER = ("--author-date-order", "--reverse")
"""The order of a scan's commits, which decides the commit a finding names (the first that added its secret).

A topological order, oldest first: an ancestor always before its descendants, so a secret merged from a
branch is credited to the branch commit that added it, and a secret removed and added again to the first
addition. Between commits neither of which descends from the other (two branches, two unrelated roots),
the one with the older author date (the date a finding shows) comes first; equal dates keep git's own
order, which is fixed for a given set of refs. (``--topo-order`` alone orders parallel branches by how git
walks them: a secret added on two branches could be credited to the newer addition.)
"""


class _Background:
    """A function's call in a daemon thread; :meth:`result` waits for it (and raises what it raised)."""

    def __init__(self, function: Callable[[], bool]) -> None:
        self._function = function
        self._value = False
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._function()
        except BaseException as exc:  # raised again by result()
            self._failure = exc

    def result(self) -> bool:
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        return self._value


def forks() -> bool:
    """Whether this platform scans a long history in forked workers: Linux (macOS forks unsafely once
    system frameworks have threads; Windows has no fork)."""
    import sys

    return sys.platform == "linux"


def can_fork() -> bool:
    """Whether this process may fork now: :func:`forks`, and no other thread runs (a fork copies only the
    calling thread: a lock another thread held would never be released in the copy)."""
    return forks() and threading.active_count() == 1


def history_workers() -> int:
    """How many processes scan a long history (at least :data:`SPLIT_COMMITS` commits, where forks are
    allowed), each beside its own gits (``_PARALLEL_LOGS // workers`` at a time).

    With the compiled reader (``_sections.c``) a scanner spends about the CPU git spends diffing its parts:
    one scanner per two cores, the other core running its gits (at a lower priority: :data:`GIT_NICENESS`).
    Reading patches in Python costs half as much again: then one scanner per core. Measured on 8,758
    commits of real code on 2 cores, as ratios to ``git log -p -U0 --all``: compiled, one scanner and its
    gits niced 1.25x, two scanners 1.30x; in Python, two scanners 1.43x, one scanner and niced gits 1.49x.
    """
    if _compiled_sections() is python_sections:
        return _PARALLEL_LOGS
    return max(1, _PARALLEL_LOGS // 2)


GIT_NICENESS = 5
"""How much lower than lr-ci's the priority of a history's gits is when a scanner shares the cores with
them (:func:`history_workers`): the scanner is then the slower end of the pipeline, and git's output
waits in its file rather than the scanner for a core. 0: the same priority."""


def _lower_priority(pid: int, steps: int) -> None:
    """Run process ``pid`` ``steps`` nice levels below this process (at most 19): a request, not a
    requirement (a platform without priorities, or a git that already ended, is left as it is)."""
    setpriority, getpriority = getattr(os, "setpriority", None), getattr(os, "getpriority", None)
    if setpriority is None or getpriority is None or steps <= 0:
        return
    with contextlib.suppress(OSError):
        setpriority(os.PRIO_PROCESS, pid, min(19, getpriority(os.PRIO_PROCESS, 0) + steps))


def _part_sizes(commits: int, workers: int) -> list[int]:
    """Commits per git log: consecutive parts, equal in size, each at most :data:`_COMMITS_PER_PART` (a
    git's memory).

    One process: a multiple of :data:`_PARALLEL_LOGS` parts, so every wave of gits keeps every core busy.
    Workers: twice as many parts as workers (a multiple of that, for memory), each worker's own first and
    the others taken by whichever worker is free first: the halves of a real history are seldom the same
    work (a vendored library's update, a rewrite of the docs), and another part costs git about 40 ms of
    start (measured on 8,758 commits of real code: 4 parts for 2 workers beat 2, and 6 shrinking ones).
    """
    per_wave = _PARALLEL_LOGS if workers == 1 else 2 * workers
    waves = -(-commits // (per_wave * _COMMITS_PER_PART))
    count = max(1, min(per_wave * waves, commits // _MIN_COMMITS_PER_PART))
    size = max(1, -(-commits // count))
    return [min(size, commits - start) for start in range(0, commits, size)]


def commit_patches(root: Path, revisions: Sequence[str]) -> Patches:
    """Per commit of ``revisions``, per file: the lines it added and removed (part order = commit order).

    A long history is split into consecutive parts of at most ``_COMMITS_PER_PART`` commits, each given to
    its own ``git log``, ``_PARALLEL_LOGS`` of them running at once (diffing is git's work and the bulk of a
    history scan; a git log's memory grows with the commits it is given).
    """
    # Whether any blob is too big to diff is asked of git at the same time as the commits (two gits in
    # parallel, not one after the other: the logs start that much sooner).
    any_big = _Background(lambda: _any_blob_over(root, BLOB_STREAM_BYTES))
    commits = run_git(root, "rev-list", *SCAN_ORDER, *revisions, "--").split()
    order = {sha.decode(): index for index, sha in enumerate(commits)}
    workers = history_workers() if len(commits) >= SPLIT_COMMITS and forks() else 1
    # A scanner beside its gits on fewer cores than they are (all of them with the compiled reader, and
    # any one-process scan of two or more gits) comes first: git's output waits in its file meanwhile.
    niceness = GIT_NICENESS if workers < _PARALLEL_LOGS else 0
    parts, start = [], 0
    for size in _part_sizes(len(commits), workers):
        parts.append(b"\n".join(commits[start : start + size]) + b"\n")
        start += size
    walk = ["--no-walk=unsorted", "--stdin", f"--format={_LOG_FORMAT}"]

    log = git_argv(root, *_patch_options(), "log", *_PATCH_FLAGS, "--cc", *walk)
    # The logs start now, from this thread, as if no blob were too big to diff (most repositories): git
    # works while the object store is still being read for big blobs. (In a thread of their own they
    # waited for the interpreter's lock, held by the config and rules loading here, for about 30 ms at
    # each step of starting them.) A big blob found after all: they are stopped, and the long way taken.
    patches = Patches(
        root, [(log, part) for part in parts], "log", order=order, workers=workers, niceness=niceness
    )
    if not any_big.result():
        return patches
    patches.close()

    def prepare() -> tuple[list[tuple[list[str], bytes | None]], list[FileChange], PatchStats]:
        raw_args = [*_patch_options(), "log", *_RAW_FLAGS, "-c", *walk]
        big = sorted({path for part in parts for path in _big_paths(root, raw_args, part)})
        stats = PatchStats()
        big_changes = (
            [change for part in parts for change in _big_changes(root, raw_args, part, big, stats)]
            if big
            else []
        )
        argv = [*log, "--", *_literal(big, exclude=True)] if big else log
        return [(argv, part) for part in parts], big_changes, stats

    return Patches(root, [], "log", order=order, prepare=prepare, niceness=niceness)


def staged_patches(root: Path, head: str | None) -> Patches:
    """What the next commit would change, from the index (the staged blobs, not the working files), compared
    with ``head`` (None: an empty repository's first commit)."""
    base = head or EMPTY_TREE
    raw_args = [*_patch_options(), "diff", "--cached", *_RAW_FLAGS, base]
    big = _big_paths(root, raw_args, None)
    stats = PatchStats()
    big_changes = _big_changes(root, raw_args, None, big, stats) if big else []
    argv = git_argv(root, *_patch_options(), "diff", "--cached", *_PATCH_FLAGS, base, "--")
    if big:
        argv += _literal(big, exclude=True)
    patches = Patches(root, [(argv, None)], "diff", big=big_changes)
    patches.stats.deleted.update(stats.deleted)
    return patches


def blob_size(root: Path, blob: str) -> int:
    return int(run_git(root, "cat-file", "-s", blob).strip() or 0)


def blob_chunks(root: Path, blob: str, chunk_bytes: int = _READ_CHUNK) -> Iterator[bytes]:
    """A blob's content, streamed: git and lr-ci each hold one chunk of it, however large the file."""
    return _stream(root, ["cat-file", "blob", blob], chunk_bytes=chunk_bytes)


class BlobReader:
    """Blobs read through one ``git cat-file --batch-command`` for a whole scan, not two gits per blob.

    A change git shows as "Binary files differ" (a data file, a file over :data:`BLOB_STREAM_BYTES`) was
    read with one git for each blob's size and another for its content, 3 to 5 ms each: the 42 such changes
    of a history of real releases took 0.4 s. Here ``info`` answers a size and ``contents`` streams a blob
    chunk by chunk (never whole in memory, as :func:`blob_chunks`). A stream left before its end (the scan
    failed) stops the process; the next request starts another. Use it as a context manager.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._process: subprocess.Popen[bytes] | None = None
        self._errors: IO[bytes] | None = None

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def size(self, blob: str) -> int:
        return self._ask("info", blob)[1]

    def chunks(self, blob: str, chunk_bytes: int = _READ_CHUNK) -> Generator[bytes, None, None]:
        """The blob's content, chunk by chunk (the request is sent when the first chunk is asked for)."""
        kind, left = self._ask("contents", blob)
        process = self._process
        assert process is not None and process.stdout is not None
        finished = False
        try:
            if kind != b"blob":
                raise LrCiError(
                    f"git cat-file failed: {blob} is a {kind.decode('ascii', 'replace')}, not a blob"
                )
            while left > 0:
                chunk = process.stdout.read(min(chunk_bytes, left))
                if not chunk:
                    raise LrCiError(f"git cat-file failed: {blob} ended early")
                left -= len(chunk)
                yield chunk
            process.stdout.read(1)  # the newline after the content
            finished = True
        finally:
            if not finished:
                self.close()

    def _ask(self, command: str, blob: str) -> tuple[bytes, int]:
        """Send ``command blob``; returns the object's type and size from git's answer."""
        if self._process is None:
            self._errors = scratch_file()
            try:
                self._process = subprocess.Popen(
                    git_argv(self.root, "cat-file", "--batch-command"),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=self._errors,
                    env=git_env(),
                )
            except FileNotFoundError:
                self.close()
                raise LrCiError("git is not installed or not on PATH") from None
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(f"{command} {blob}\n".encode())
            process.stdin.flush()
        except BrokenPipeError:
            pass  # git ended: its answer is missing, below
        fields = process.stdout.readline().split()
        if len(fields) != 3 or not fields[2].isdigit():
            if fields:  # "<sha> missing", "<sha> ambiguous"
                message = f"git cat-file failed: {blob} {b' '.join(fields[1:]).decode('ascii', 'replace')}"
            else:  # git ended: its own complaint says why
                code = process.wait()
                errors = self._errors
                assert errors is not None
                errors.seek(0)
                message = complaint(("cat-file",), errors.read(64 << 10), code)
            self.close()
            raise LrCiError(message)
        return fields[1], int(fields[2])

    def close(self) -> None:
        """Stop git (it waits for the next request on its input) and drop its error file."""
        if self._process is not None:
            process, self._process = self._process, None
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._errors is not None:
            self._errors.close()
            self._errors = None


def commit_authors(root: Path, shas: Sequence[str]) -> dict[str, str]:
    """``Name <email>`` of each commit, read from the raw commit objects (length-prefixed: no byte of a
    name can be taken for a separator)."""
    if not shas:
        return {}
    try:
        done = subprocess.run(
            git_argv(root, "cat-file", "--batch"),
            input="".join(f"{sha}\n" for sha in shas).encode(),
            capture_output=True,
            check=False,
            env=git_env(),
        )
    except FileNotFoundError:
        raise LrCiError("git is not installed or not on PATH") from None
    out, at, authors = done.stdout, 0, {}
    while at < len(out):
        header_end = out.find(b"\n", at)
        if header_end < 0:
            break
        fields = out[at:header_end].split(b" ")
        if len(fields) != 3:  # "<sha> missing"
            at = header_end + 1
            continue
        size = int(fields[2])
        body = out[header_end + 1 : header_end + 1 + size]
        at = header_end + 1 + size + 1
        for line in body.split(b"\n\n", 1)[0].split(b"\n"):
            if line.startswith(b"author "):
                ident = line[7:].rsplit(b" ", 2)[0]  # drop the timestamp and zone
                authors[fields[0].decode()] = ident.decode("utf-8", "replace")
                break
    return authors
