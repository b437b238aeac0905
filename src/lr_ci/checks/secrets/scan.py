"""The scan modes, all on one engine: working tree, given paths, the index, a commit range, all history.

For the index and for commits, only secrets a change *introduces* are reported: a secret on a line it
added that none of its removed lines had. So a commit touching a file with an accepted old secret is not
blocked again, and content that first appears in a merge resolution is found.

Nothing that could hold a secret is skipped quietly, and nothing is read whole:

- Content is read and scanned in overlapping windows (:mod:`~lr_ci.secret_rules.windows`), so a file
  of any size is scanned in bounded memory, at the right lines and columns, and each hit is reported once.
- Content that looks binary is still read: UTF-16/UTF-32 (with a BOM, or by the pattern of its zero bytes)
  is decoded, anything else has its control bytes blanked so the printable runs are scanned
  (:class:`~lr_ci.secret_rules.decoding.Decoder`). Files skipped by type (images, fonts, archives) stay
  skipped, and counted.
- A file left unread (larger than ``max_file_bytes``) is recorded in :attr:`ContentScanner.unread`, so the
  report names it and ``on_skipped`` decides what it does to the exit code.
- At most :data:`FINDINGS_PER_RULE_PER_FILE` different secrets are kept per rule and file, and at most
  :data:`SECRETS_PER_RUN` in a run; the rest are counted, so a report (and the memory holding it) cannot
  explode.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import itertools
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple, cast

from lr_ci.checks.secrets import git
from lr_ci.errors import LrCiError
from lr_ci.output._text import printable
from lr_ci.secret_rules.decoding import Decoder, decoded, is_compiled_program
from lr_ci.secret_rules.engine import DEFAULT_MAX_HITS, Hit, RuleSet, path_policy, scan
from lr_ci.secret_rules.windows import WINDOW_BYTES, scan_windows

ALWAYS_EXCLUDED_DIRS = frozenset({".git", ".hg", ".svn"})
FINDINGS_PER_RULE_PER_FILE = 100
"""Different secrets kept per rule and file; more are counted in one finding."""
SECRETS_PER_RUN = 10_000
"""Different secrets kept in one run (about 3 KiB each until the report is written); more are counted per
rule: a tree of 100,000 files with a token each must not hold them all, nor write them all in six formats."""
_READ_BYTES = 1 << 20
_PATHS_REMEMBERED = 100_000
"""Paths whose scan decision is remembered (a path and a small string each: a few MB at most)."""
_PREFILTER_BYTES = 4096
"""Text up to this size is first searched for keywords alone: the engine's set-up per call costs more than
that search; in longer text the search would be done twice for what it saves."""
_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class Occurrence(NamedTuple):
    """Where a hit was found. NamedTuples here, not dataclasses: defining one costs a fraction, on the
    staged hook's start-up path."""

    hit: Hit
    path: str
    commit: git.Commit | None = None


class Unread(NamedTuple):
    """A file whose content was not scanned, and why: the report names it (it could hold a secret)."""

    path: str
    reason: str
    commit: str | None = None
    remedy: str = "exclude it by name or raise max_file_bytes"


class ScannerState(NamedTuple):
    """:meth:`ContentScanner.state`: hits as tuples naming their rule by id, which every process has."""

    found: list[tuple[tuple[int, int], str, git.Commit | None, tuple[Any, ...]]]
    more: Counter[tuple[str, str]]
    beyond: Counter[str]
    counts: Counter[str]
    unread: list[Unread]


@dataclass(frozen=True)
class More:
    """Secrets of ``rule`` in ``path`` beyond the first :data:`FINDINGS_PER_RULE_PER_FILE`, counted."""

    path: str
    rule: str
    count: int


class ContentScanner:
    """Scans contents with the path policy, size limit and exclusions; counts and names what it skips."""

    def __init__(self, rules: RuleSet, max_bytes: int, excluded: Callable[[str], bool]) -> None:
        self.rules = rules
        self.max_bytes = max_bytes
        self.excluded = excluded
        self.counts: Counter[str] = Counter()
        self.unread: list[Unread] = []
        self._found: dict[tuple[str, str, str], tuple[tuple[int, int], Occurrence]] = {}
        self._secrets_per_rule: Counter[tuple[str, str]] = Counter()
        self._more: Counter[tuple[str, str]] = Counter()
        self.beyond: Counter[str] = Counter()
        """Secrets per rule not kept because the run already holds :data:`SECRETS_PER_RUN`."""
        self._sequence = 0
        self._why_not: dict[str, str | None] = {}
        """Per path seen: why it is not scanned ("excluded", "skipped_by_type"), None when it is."""

    def wanted(self, path: str) -> bool:
        """Whether ``path`` is scanned (counting why not). Decided once per path: a history changes the
        same files in thousands of commits, and the exclusion globs are matched in Python."""
        why = self._why_not.get(path, "?")
        if why == "?":
            why = "excluded" if self.excluded(path) else None
            if why is None and path_policy(path).scan == "skip":
                why = "skipped_by_type"
            if len(self._why_not) < _PATHS_REMEMBERED:
                self._why_not[path] = why
        if why is not None:
            self.counts[why] += 1
            return False
        return True

    def too_big(self, size: int, path: str, commit: git.Commit | None = None) -> bool:
        if size > self.max_bytes:
            self.counts["skipped_huge"] += 1
            reason = f"{size} bytes, larger than max_file_bytes ({self.max_bytes})"
            self.unread.append(Unread(path, reason, commit.sha if commit else None))
            return True
        return False

    def stream(
        self,
        chunks: Iterable[bytes],
        path: str,
        sink: Callable[[list[Hit]], None],
        commit: git.Commit | None = None,
        *,
        old: bool = False,
    ) -> None:
        """Content of any size, decoded and scanned in overlapping windows; hits go to ``sink``, each once.

        A window with more hits than the engine examines (its cap) makes the file partly unread: it is
        named like a file too big to read, and ``on_skipped`` decides, since what the engine left out was
        never compared with a baseline. Not so for ``old`` content (what a change removed): hits missed
        there only make more of the new ones count as introduced.
        """
        dropped = 0

        def sniffed(decoder: Decoder) -> None:
            self.counts["decoded_binary"] += decoder.binary

        pieces = iter(chunks)
        first = next(pieces, b"")
        compiled = is_compiled_program(first)
        content = decoded(itertools.chain((first,), pieces), sniffed)
        for window, hits in scan_windows(content, path, self.rules, specific_only=compiled):
            self.counts["bytes_scanned"] += len(window.data)
            dropped += hits.dropped
            if hits:
                sink(hits)
        if dropped and not old:
            reason = f"more than {DEFAULT_MAX_HITS} possible secrets in one window, the rest not examined"
            remedy = "exclude it by name if it is data"
            self.unread.append(Unread(path, reason, commit.sha if commit else None, remedy))

    def scan_text(
        self,
        text: bytes,
        path: str,
        sink: Callable[[list[Hit]], None],
        commit: git.Commit | None = None,
        *,
        old: bool = False,
        has_keyword: bool = False,
    ) -> None:
        """:meth:`stream` of one piece of content already in memory (a patch's lines), by the shortest way.

        Most pieces of a history are a few lines: text with no NUL byte and no byte-order mark that fits
        one window reads exactly as :meth:`stream` would read it (the decoder returns it unchanged, the
        windows are one that owns every position), so it goes to the engine directly, without the
        generators of the general road; and a short one only when it holds a keyword of some rule (most
        one-line edits hold none, and the engine reports hits only around keywords). Anything else takes
        that road. ``has_keyword``: :meth:`worth_scanning` already found one (no second search). A file a
        path-scoped rule names (pgbouncer's ``userlist.txt``: :meth:`.RuleSet.path_rules`) is scanned
        whatever it holds: its name is that rule's keyword.
        """
        if len(text) > WINDOW_BYTES or b"\0" in text or text.startswith(_BOMS):
            self.stream([text], path, sink, commit, old=old)
            return
        self.counts["bytes_scanned"] += len(text)
        if (
            not has_keyword
            and len(text) <= _PREFILTER_BYTES
            and not self.rules.has_keyword(text)
            and not self.rules.path_rules(path)
        ):
            return  # no rule's keyword: the engine would find nothing (and set up a scan per rule to say so)
        hits = scan(text, path, self.rules)
        if hits:
            sink(hits)
        if hits.dropped and not old:
            reason = f"more than {DEFAULT_MAX_HITS} possible secrets in one window, the rest not examined"
            remedy = "exclude it by name if it is data"
            self.unread.append(Unread(path, reason, commit.sha if commit else None, remedy))

    def worth_scanning(self, runs: list[tuple[int, bytes]], path: str = "") -> list[tuple[int, bytes]]:
        """The runs of added lines of one change that :meth:`scan_text` could find anything in.

        A change of a real history is often hundreds of one-line hunks, most without any rule's keyword,
        which :meth:`scan_text` drops one by one after a keyword search each. Here the runs are searched
        together, in one pass over their join (a keyword that holds a newline, YAML's ``: |`` and its
        line break, may match across the join: that only keeps a run :meth:`scan_text` would drop, never
        drops one), and a short run without a keyword is dropped as :meth:`scan_text` would drop it (its
        bytes still counted as scanned). Each run that is kept is then scanned alone, exactly as before,
        without searching it for keywords again (``scan_text(..., has_keyword=True)``). Every run of a
        file a path-scoped rule names (``path``: :meth:`.RuleSet.path_rules`) is kept, keywords or not.
        """
        # A run longer than _PREFILTER_BYTES is scanned whatever it holds (the engine finds its keywords
        # itself): only the short runs are joined and searched here, or the long ones (whole added files,
        # most of a history's bytes) would be searched twice.
        if not runs:
            return []
        if path and self.rules.path_rules(path):
            return runs
        texts = [text for _, text in runs]
        all_short = max(map(len, texts)) <= _PREFILTER_BYTES
        joined = b"\n".join(texts if all_short else [text for text in texts if len(text) <= _PREFILTER_BYTES])
        found = self.rules.keyword_starts(joined)
        # No NUL, and no 0xFF or 0xFE byte (every byte-order mark of _BOMS holds one): no short run takes
        # the long road of scan_text for what it is, only for its keywords.
        plain = b"\0" not in joined and b"\xff" not in joined and b"\xfe" not in joined
        if all_short and plain:
            # The common case (a change of a few short hunks), without a step per run: the runs holding a
            # keyword are found from the keywords, by where each run starts in the join.
            starts = list(itertools.accumulate([len(text) + 1 for text in texts], initial=0))
            runs_of = ((bisect.bisect_right(starts, start) - 1, start) for start in found)
            kept = [
                runs[at]
                for at in sorted({at for at, start in runs_of if start - starts[at] < len(texts[at])})
            ]
            self.counts["bytes_scanned"] += len(joined) - len(texts) + 1 - sum(len(run[1]) for run in kept)
            return kept
        kept = []
        at, index = 0, 0
        for run, text in zip(runs, texts, strict=True):
            if len(text) > _PREFILTER_BYTES:
                kept.append(run)
                continue
            end = at + len(text)
            while index < len(found) and found[index] < at:
                index += 1
            if (index < len(found) and found[index] < end) or (
                not plain and (b"\0" in text or text.startswith(_BOMS))
            ):
                kept.append(run)
            else:
                self.counts["bytes_scanned"] += len(text)
            at = end + 1
        return kept

    def take(
        self, hits: Iterable[Hit], path: str, commit: git.Commit | None = None, position: int = 0
    ) -> None:
        """Keep the earliest occurrence (by commit ``position``, then arrival) of each secret, at most
        :data:`FINDINGS_PER_RULE_PER_FILE` secrets per rule and path; count the rest."""
        for hit in hits:
            if hit.allowed:
                self.counts["allowed_inline"] += 1
                continue
            self._sequence += 1
            self._keep((position, self._sequence), Occurrence(hit, path, commit))

    def _keep(self, order: tuple[int, int], occurrence: Occurrence) -> None:
        key = (occurrence.path, occurrence.hit.rule.id, occurrence.hit.secret)
        known = self._found.get(key)
        if known is None:
            if self._secrets_per_rule[key[:2]] >= FINDINGS_PER_RULE_PER_FILE:
                self._more[key[:2]] += 1
                return
            if len(self._found) >= SECRETS_PER_RUN:
                self.beyond[key[1]] += 1
                return
            self._secrets_per_rule[key[:2]] += 1
        elif known[0] <= order:
            return
        self._found[key] = (order, occurrence)

    def state(self) -> ScannerState:
        """What this scanner found and counted, in plain data (rules by id): what a worker process sends
        back to the one that forked it (see :func:`scan_patches`)."""
        found = [
            (order, o.path, o.commit, (o.hit.rule.id, o.hit.secret, o.hit.line, o.hit.column, o.hit.key,
             o.hit.allowed, o.hit.severity, o.hit.note))
            for order, o in self._found.values()
        ]  # fmt: skip
        return ScannerState(found, self._more, self.beyond, self.counts, self.unread)

    def absorb(self, state: ScannerState) -> None:
        """Add a worker's :meth:`state`, as if this scanner had scanned what it did: the earliest occurrence
        of each secret wins (positions are the whole scan's) and the caps hold for the sum."""
        rules = {rule.id: rule for rule in self.rules.rules}
        for order, path, commit, (rule_id, secret, line, column, key, allowed, severity, note) in sorted(
            state.found, key=lambda item: item[0]
        ):
            hit = Hit(rules[rule_id], secret, line, column, key, allowed, severity=severity, note=note)
            self._keep(order, Occurrence(hit, path, commit))
        self._more.update(state.more)
        self.beyond.update(state.beyond)
        self.counts.update(state.counts)
        self.unread.extend(state.unread)

    def count_more(self, path: str, rule: str) -> None:
        self._more[(path, rule)] += 1

    def occurrences(self, deleted: Mapping[str | None, set[str]] | None = None) -> list[Occurrence]:
        """What was kept, in scan order (the first commit first), without the secrets that only moved.

        ``deleted`` holds the paths each commit deleted (:attr:`git.PatchStats.deleted`). A secret that a
        commit adds to one file while it deletes another file in which the same rule found the same secret
        at an earlier commit was renamed or moved with its file, not introduced (patches are read without
        rename detection, so a rename is a delete plus an add): it is left out, and the earlier
        occurrence names the commit that introduced it. Whatever is left out, the secret itself stays
        reported, at its first commit.
        """
        ordered = sorted(self._found.values(), key=lambda item: item[0])
        if not deleted:
            return [occurrence for _, occurrence in ordered]
        first_at: dict[tuple[str, str], dict[str, int]] = {}  # (rule, secret) -> path -> first position
        for (position, _), occurrence in ordered:
            paths = first_at.setdefault((occurrence.hit.rule.id, occurrence.hit.secret), {})
            paths.setdefault(occurrence.path, position)
        kept = []
        for (position, _), occurrence in ordered:
            gone = deleted.get(occurrence.commit.sha) if occurrence.commit is not None else None
            if gone:
                paths = first_at[(occurrence.hit.rule.id, occurrence.hit.secret)]
                if any(path in gone and at < position for path, at in paths.items()):
                    continue
            kept.append(occurrence)
        return kept

    def more(self) -> list[More]:
        return [More(path, rule, count) for (path, rule), count in sorted(self._more.items())]


class _Limited:
    """A file's chunks up to ``limit`` bytes; ``cut`` says whether there was more.

    The size checked before reading is not the size read: a log another process appends to, or a file
    whose size the system does not know (``/proc``, 0 bytes), reads on for as long as it grows. Reading
    stops at ``max_file_bytes``, and such a file is then unread like one too big from the start.
    """

    def __init__(self, full: Path, limit: int) -> None:
        self.full = full
        self.limit = limit
        self.cut = False

    def __iter__(self) -> Iterator[bytes]:
        left = self.limit
        with self.full.open("rb") as handle:
            while left > 0 and (chunk := handle.read(min(_READ_BYTES, left))):
                left -= len(chunk)
                yield chunk
            self.cut = left <= 0 and bool(handle.read(1))


def scan_files(
    root: Path, paths: Iterable[str], scanner: ContentScanner, follow: frozenset[str] = frozenset()
) -> None:
    """Files on disk, ``paths`` relative to ``root``. Sockets, FIFOs and submodules are not files; a
    symlink is not followed (its target is scanned as itself) unless it was named on the command line
    (``follow``). A path named on the command line that is not a file (``/dev/stdin``, a FIFO, a device)
    is exit 2: it cannot be read in bounded time (``/dev/zero``), and skipping it would pass unread."""
    for path in paths:
        if not scanner.wanted(path):
            continue
        full = root / path
        try:
            info = full.stat() if path in follow else full.lstat()
        except FileNotFoundError:
            continue  # tracked but deleted in the working tree: nothing to scan
        except OSError as exc:
            raise LrCiError(f"{printable(path)}: cannot read: {exc.strerror or exc}") from None
        if not stat.S_ISREG(info.st_mode):
            if path in follow and not stat.S_ISDIR(info.st_mode):
                # Named on the command line: passing it unread would be a pass on nothing.
                raise LrCiError(
                    f"{printable(path)}: not a regular file (a FIFO, socket or device): "
                    "lr-ci scans files and folders; write the content to a file first"
                )
            continue
        if scanner.too_big(info.st_size, path):
            continue
        scanner.counts["files_scanned"] += 1

        def take(hits: list[Hit], path: str = path) -> None:
            scanner.take(hits, path)

        chunks = _Limited(full, scanner.max_bytes)
        try:
            scanner.stream(chunks, path, take)
        except OSError as exc:
            raise LrCiError(f"{printable(path)}: cannot read: {exc.strerror or exc}") from None
        if chunks.cut:
            scanner.counts["skipped_huge"] += 1
            reason = f"grew past max_file_bytes ({scanner.max_bytes}) while it was read; the rest not read"
            scanner.unread.append(Unread(path, reason))


def walk(targets: Iterable[Path], base: Path) -> tuple[list[str], frozenset[str]]:
    """Files under ``targets`` (files or folders, symlinks to them followed), as paths relative to
    ``base`` with ``/``; and those of them named directly (to follow when they are symlinks)."""
    files: list[str] = []
    named: set[str] = set()
    for target in targets:
        if not target.exists():
            why = "a broken symlink" if target.is_symlink() else "no such file or directory"
            raise LrCiError(f"{printable(str(target))}: {why}")
        if target.is_dir():
            files += _files_under(target, base)
        else:
            files.append(_relative(target, base))
            named.add(files[-1])
    return files, frozenset(named)


def _files_under(folder: Path, base: Path) -> Iterator[str]:
    """Every entry under ``folder`` but folders, in name order, relative to ``base``: as ``os.walk`` lists
    them (a symlink to a folder is not entered), but with a stack instead of recursion, so a tree thousands
    of folders deep is not a RecursionError, and a folder that cannot be listed is exit 2 naming it
    (``os.walk`` skips it silently: a pass on what was never read)."""
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
            folders = []
            for entry in entries:
                if entry.is_dir():
                    if not entry.is_symlink() and entry.name not in ALWAYS_EXCLUDED_DIRS:
                        folders.append(Path(entry.path))
                else:
                    yield _relative(Path(entry.path), base)
        except OSError as exc:
            raise LrCiError(f"{printable(str(current))}: cannot list: {exc.strerror or exc}") from None
        pending += reversed(folders)


def _relative(path: Path, base: Path) -> str:
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        return absolute.as_posix()


class _Candidates:
    """The secrets one file change adds, kept as :meth:`ContentScanner.take` would (one hit per secret, at
    most :data:`FINDINGS_PER_RULE_PER_FILE` per rule), until what it removed is known."""

    def __init__(self, scanner: ContentScanner, change: git.FileChange) -> None:
        self.scanner = scanner
        self.change = change
        self.hits: dict[tuple[str, str], Hit] = {}
        self.per_rule: Counter[str] = Counter()
        self.old: set[str] = set()
        self.first_line = 1

    def add(self, hits: list[Hit]) -> None:
        for hit in hits:
            if hit.allowed:
                self.scanner.counts["allowed_inline"] += 1
                continue
            key = (hit.rule.id, hit.secret)
            if key in self.hits:
                continue
            if self.per_rule[hit.rule.id] >= FINDINGS_PER_RULE_PER_FILE:
                self.scanner.count_more(self.change.path, hit.rule.id)  # old or new: an upper bound
                continue
            self.per_rule[hit.rule.id] += 1
            self.hits[key] = replace(hit, line=hit.line + self.first_line - 1)

    def forget(self, hits: list[Hit]) -> None:
        """Secrets the change removed: a moved secret is not introduced."""
        new = {secret for _, secret in self.hits}
        self.old.update(hit.secret for hit in hits if hit.secret in new)

    def introduced(self) -> list[Hit]:
        kept = [hit for hit in self.hits.values() if hit.secret not in self.old]
        return sorted(kept, key=lambda hit: (hit.line, hit.column))


def _introduced_lines(change: git.FileChange, scanner: ContentScanner) -> list[Hit]:
    """Secrets in the lines a change added, except those its removed lines already had (a moved line)."""
    if scanner.too_big(sum(len(text) for _, text in change.added), change.path, change.commit):
        return []
    candidates = _Candidates(scanner, change)
    for first_line, text in scanner.worth_scanning(change.added, change.path):
        candidates.first_line = first_line
        scanner.scan_text(text, change.path, candidates.add, change.commit, has_keyword=True)
    if candidates.hits and change.removed_runs:
        scanner.scan_text(b"\n".join(change.removed), change.path, candidates.forget, old=True)
    return candidates.introduced()


def _introduced_blob(change: git.FileChange, blobs: git.BlobReader, scanner: ContentScanner) -> list[Hit]:
    """A file git did not show as lines: the secrets of its new blob that none of its old blobs had."""
    assert change.blob is not None
    if scanner.too_big(blobs.size(change.blob), change.path, change.commit):
        return []
    candidates = _Candidates(scanner, change)
    scanner.stream(blobs.chunks(change.blob), change.path, candidates.add, change.commit)
    for old in change.old_blobs:
        if not candidates.hits or blobs.size(old) > scanner.max_bytes:
            continue  # an old blob too big to read: its secrets count as new (reported, never hidden)
        scanner.stream(blobs.chunks(old), change.path, candidates.forget, old=True)
    return candidates.introduced()


def scan_patches(
    patches: git.Patches, scanner: ContentScanner, progress: Callable[[int], None] | None = None
) -> None:
    """Secrets introduced by the changes of a patch (the index, or commits), oldest commit first.

    A long history (``patches.workers`` above 1) is scanned by that many processes: this one and copies
    forked from it (:class:`_Worker`), each reading its own git parts; what each found is added to
    ``scanner`` here. Parsing and scanning a history costs about what git spends diffing it with the
    compiled reader, three halves of it in Python: how many processes that takes is
    :func:`.git.history_workers`.
    """
    workers: list[_Worker] = []
    try:
        if patches.workers > 1 and git.can_fork():
            scanner.rules.prepare_to_fork()  # once, before the fork: every worker shares the result
            workers = [_Worker(patches, scanner, number) for number in range(1, patches.workers)]
        elif patches.workers > 1:
            patches.alone()
        shown = progress
        if progress is not None and workers:
            shown = lambda commits: progress(commits + sum(w.commits() for w in workers))  # noqa: E731
        _scan_changes(patches, scanner, shown)
        for worker in workers:
            scanner.absorb(worker.result(patches.stats))
        if progress is not None and workers:
            progress(patches.stats.commits)
    finally:
        for worker in workers:
            worker.stop()
    scanner.counts["commits_scanned"] += patches.stats.commits


class _Worker:
    """A forked copy of this process scanning one worker's share of a history's parts.

    The copy shares every rule, compiled regex and automaton already made (nothing is pickled on the way
    in), starts its own gits, scans, and writes its scanner's :meth:`~ContentScanner.state` and its patch
    stats into an unlinked file, then ends without running any exit handler or flushing any stream (the
    parent owns stdout, stderr and the report). Its commit count is in a shared page, for the progress line.
    A failure in the copy is raised again here: an :class:`LrCiError` as itself, anything else as an error
    naming it. An interrupt (Ctrl-C reaches the whole process group) or :meth:`stop` (SIGTERM) ends the
    copy as an interrupt ends this process: its gits are stopped on the way out, nothing is written. A
    copy whose parent is gone (killed outright) ends the same way at its next change.
    """

    def __init__(self, patches: git.Patches, scanner: ContentScanner, number: int) -> None:
        import mmap

        self._file = git.scratch_file()
        self._shared = mmap.mmap(-1, 8)
        parent = os.getpid()  # before the fork: the parent may be killed before the copy first runs
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover (runs in the forked copy; its coverage is not collected)
            self._run(patches, scanner, number, parent)

    def _run(self, patches: git.Patches, scanner: ContentScanner, number: int, parent: int) -> None:
        import pickle
        import signal

        def interrupted(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupted)
        code = 0
        try:
            patches.become(number)

            def counted(commits: int) -> None:
                self._shared[:8] = commits.to_bytes(8, "little")
                if os.getppid() != parent:  # the parent was killed (SIGKILL, a CI timeout): nobody waits
                    raise KeyboardInterrupt

            _scan_changes(patches, scanner, counted)
            payload: tuple[str, Any] = ("ok", (scanner.state(), patches.stats))
        except LrCiError as exc:
            payload = ("error", exc.message)
        except KeyboardInterrupt:
            os._exit(130)
        except BaseException as exc:  # a bug: named in the parent, which reports it as one
            payload = ("bug", f"{type(exc).__name__}: {exc}")
            code = 1
        try:
            pickle.dump(payload, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._file.flush()
        finally:
            os._exit(code)

    def commits(self) -> int:
        return int.from_bytes(self._shared[:8], "little")

    def result(self, stats: git.PatchStats) -> ScannerState:
        """Wait for the copy; add its patch stats to ``stats`` and return its scanner's state."""
        import pickle

        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        self._file.seek(0)
        try:
            kind, value = pickle.load(self._file)  # noqa: S301 (written by the copy, in a file only we hold)
        except (EOFError, pickle.UnpicklingError):
            raise RuntimeError(f"a scanning process ended without a result (wait status {status})") from None
        if kind == "error":
            raise LrCiError(value)
        if kind == "bug":
            raise RuntimeError(f"a scanning process failed: {value}")
        state, worker_stats = cast(tuple[ScannerState, git.PatchStats], value)
        stats.commits += worker_stats.commits
        for sha, paths in worker_stats.deleted.items():
            stats.deleted.setdefault(sha, set()).update(paths)
        return state

    def stop(self) -> None:
        """End the copy if it still runs (this process failed or was interrupted) and release its files."""
        import signal

        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0
        self._file.close()
        self._shared.close()


def _scan_changes(
    patches: git.Patches, scanner: ContentScanner, progress: Callable[[int], None] | None
) -> None:
    """Every change ``patches`` yields, scanned: what each introduced is given to ``scanner.take``."""
    with git.BlobReader(patches.root) as blobs:
        for position, change in patches:
            if scanner.wanted(change.path):
                hits = (
                    _introduced_blob(change, blobs, scanner)
                    if change.blob is not None
                    else _introduced_lines(change, scanner)
                )
                scanner.take(hits, change.path, change.commit, position)
            if progress is not None:
                progress(patches.stats.commits)
