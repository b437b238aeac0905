"""``lr-ci secrets``: choose what to scan, refuse partial scans, and turn hits into the report.

Failure is never silent: a git error, a range that reaches past a shallow clone's boundary or ``--history``
in a shallow clone is exit 2 with the fix, never "no leaks found" on a partial scan.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from lr_ci.checks.secrets import git
from lr_ci.checks.secrets.baseline import (
    Entry,
    detect_secrets_hash,
    read_baseline,
    read_detect_secrets_baseline,
    write_baseline,
)
from lr_ci.errors import LrCiError
from lr_ci.report import Finding, Location, Report, Severity, fingerprint, sha256_hex

if TYPE_CHECKING:  # the scanner, its rules and pydantic load while git already runs (see start)
    from lr_ci._run import RunContext
    from lr_ci.checks.secrets.scan import ContentScanner, Occurrence
    from lr_ci.checks.secrets.settings import SecretsSettings

LISTED_FINDINGS = 1_000
"""Findings a report lists (the most severe first); the rest are counted per rule in one finding each. Six
formats of 20,000 findings took 266 MiB to write."""
MAX_EVENT_BYTES = 16 << 20
"""A GitHub event payload larger than this is exit 2 (GitHub's own webhook payloads stop at 25 MB; a push or
pull request event is a few KB)."""
DEEPEN_STEP = 200
DEEPEN_TRIES = 10
SHALLOW_FIX = "fetch the history first (actions/checkout: fetch-depth: 0), or run again with --deepen"


class Request(NamedTuple):
    """What the user asked to scan, built from the command's keyword arguments (``--range`` is
    ``revision_range``). A NamedTuple: immutable like a frozen dataclass, and a sixth of its cost to define
    on the pre-commit hook's start-up path."""

    paths: tuple[Path, ...] = ()
    staged: bool = False
    revision_range: str | None = None
    history: bool = False
    deepen: bool = False

    @property
    def mode(self) -> str:
        if self.staged:
            return "staged"
        if self.revision_range:
            return "range"
        if self.history:
            return "history"
        return "paths" if self.paths else "working-tree"

    @property
    def complete(self) -> bool:
        """Whether every current secret is seen, so baseline entries that match none are stale."""
        return self.mode in ("working-tree", "history")


def validate(request: Request) -> None:
    chosen = [
        m
        for m in (request.staged, request.revision_range is not None, request.history, bool(request.paths))
        if m
    ]
    if len(chosen) > 1:
        raise LrCiError("choose one of PATH..., --staged, --range and --history")
    if request.revision_range is not None and not request.revision_range.strip():
        raise LrCiError("--range: the range is empty; give BASE..HEAD, BASE...HEAD or a revision")


def body(context: RunContext, request: Request, *, write_baseline: bool) -> Report:
    """The run of ``lr-ci secrets`` (a scan) or ``lr-ci secrets baseline``, once the command line is read:
    by click, or for the staged hook by :mod:`lr_ci._entry` without it."""
    from lr_ci._report_paths import repository_root
    from lr_ci.github import in_actions

    if request.mode == "working-tree" and not write_baseline and in_actions():
        root = repository_root(context.cwd)
        derived = event_range(root) if root is not None else None
        if derived:
            request = request._replace(revision_range=derived)
    with start(request, context.cwd) as started:
        from lr_ci.checks.secrets.settings import SecretsSettings

        settings = context.settings(SecretsSettings)
        if write_baseline:
            return update_baseline(started, settings, context.cwd)
        with context.progress("scanning commits") as progress:
            # Drawn for commits only: a staged or working-tree scan is over before a line would help.
            shown = progress if request.mode in ("history", "range") else None
            return run(started, settings, context.cwd, shown)


def event_range(root: Path) -> str | None:
    """The commits of this pull request or push, from GitHub's event payload (None: not such an event).

    The payload is a file like any other: read with a size bound and validated strictly (only the fields
    used, for the events used), so a broken or hostile one is exit 2 naming the field, never an internal
    error or gigabytes of memory.
    """
    from lr_ci._json_files import read_bounded, read_shaped
    from lr_ci.github import event_path as github_event_path
    from lr_ci.github.events import PullRequestEvent, PushEvent

    event_path = github_event_path()
    name = os.environ.get("GITHUB_EVENT_NAME", "")
    if event_path is None or not event_path.is_file():
        return None
    what = "GitHub event (GITHUB_EVENT_PATH)"
    if name.startswith("pull_request") or name == "push":
        read_bounded(event_path, what, MAX_EVENT_BYTES)  # the size, before anything is parsed
    if name.startswith("pull_request"):
        pull = read_shaped(event_path, what, PullRequestEvent).get("pull_request")
        return f"{pull['base']['sha']}..{pull['head']['sha']}" if pull is not None else None
    if name != "push":
        return None
    push = read_shaped(event_path, what, PushEvent)
    after = push.get("after")
    if after is None or after == git.ZERO_SHA:
        return None  # not a push payload, or a deleted branch: nothing new to scan
    before = push.get("before") or git.ZERO_SHA
    known = before != git.ZERO_SHA and _is_commit(root, before)
    if known and not push.get("forced"):
        return f"{before}..{after}"
    # A new branch or a forced push: what the pushed commit adds to the default branch.
    default = push.get("repository", {}).get("default_branch") or ""
    base = f"origin/{default}" if default and _is_commit(root, f"origin/{default}") else None
    return f"{base}..{after}" if base else after


def _is_commit(root: Path, revision: str) -> bool:
    out = git.run_git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False)
    return bool(out.strip())


def _deepen(root: Path, until: str | None) -> None:
    """Fetch missing history: deeper step by step while ``until`` (a range) still hits the boundary."""
    remotes = git.run_git(root, "remote").split()
    if not remotes:
        raise LrCiError("--deepen: this clone has no remote to fetch history from")
    remote = "origin" if b"origin" in remotes else remotes[0].decode()
    if until is not None:
        for _ in range(DEEPEN_TRIES):
            git.fetch(root, f"--deepen={DEEPEN_STEP}", remote)
            if not _range_hits_boundary(root, until):
                return
    if git.is_shallow(root):
        git.fetch(root, "--unshallow", remote)


def _range_hits_boundary(root: Path, revision_range: str) -> bool:
    boundary = git.shallow_boundary(root)
    if not boundary:
        return False
    commits = git.run_git(root, "rev-list", *revision_range.split()).decode().split()
    return any(commit in boundary for commit in commits)


def _check_range(root: Path, revision_range: str, deepen: bool) -> list[str]:
    if "..." in revision_range:
        base, _, head = revision_range.partition("...")
        head = git.resolve(root, head or "HEAD")
        revisions = [f"{_merge_base(root, git.resolve(root, base or 'HEAD'), head, deepen)}..{head}"]
    elif ".." in revision_range:
        base, _, head = revision_range.partition("..")
        revisions = [f"{git.resolve(root, base)}..{git.resolve(root, head or 'HEAD')}"]
    else:
        revisions = [git.resolve(root, revision_range)]
    spec = " ".join(revisions)
    if git.is_shallow(root) and _range_hits_boundary(root, spec):
        if not deepen:
            raise LrCiError(
                f"the range {revision_range} reaches past the boundary of this shallow clone, so part of it "
                f"cannot be scanned: {SHALLOW_FIX}"
            )
        _deepen(root, spec)
    return revisions


def _merge_base(root: Path, base: str, head: str, deepen: bool) -> str:
    """Where HEAD's branch left BASE: ``A...B`` scans what B added since then, as GitHub's compare does.

    (git's own ``A...B`` is the symmetric difference: it would also scan the base branch's new commits.)
    """
    found = git.run_git(root, "merge-base", base, head, check=False).strip()
    if not found and git.is_shallow(root) and deepen:
        _deepen(root, None)
        found = git.run_git(root, "merge-base", base, head, check=False).strip()
    if not found:
        why = (
            f"this shallow clone lacks their common history: {SHALLOW_FIX}"
            if git.is_shallow(root)
            else "they share no history"
        )
        raise LrCiError(f"no merge base of {base[:12]} and {head[:12]}: {why}")
    return found.decode()


@dataclass
class Started:
    """A scan whose git side is already running: the root, and the patch git is writing (if any).

    A context manager: ``with start(request, cwd) as started:`` stops git when the scan ends or fails."""

    request: Request
    root: Path | None
    patches: git.Patches | None = None

    def close(self) -> None:
        if self.patches is not None:
            self.patches.close()

    def __enter__(self) -> Started:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def start(request: Request, cwd: Path) -> Started:
    """Check the request against the repository and start git: before the config and rules load.

    Refusals (not a repository, a shallow clone, an unknown revision) happen here, before any scan.
    """
    validate(request)
    found = git.repository(cwd)
    mode = request.mode
    if found is not None and found.bare and mode not in ("history", "range"):
        if mode == "staged":
            raise LrCiError(f"{cwd}: a bare repository has no index (--staged needs a working tree)")
        found = None  # the working tree or paths: the files in the folder, as outside a repository
    if found is None:
        if mode not in ("paths", "working-tree"):
            raise LrCiError(f"{cwd}: not a git repository (--{mode} needs one)")
        return Started(request, None)
    root, shallow = found.root, found.shallow
    if mode == "staged":
        return Started(request, root, git.staged_patches(root, found.head))
    if mode == "history":
        if shallow:
            if not request.deepen:
                raise LrCiError(f"--history needs every commit, but this clone is shallow: {SHALLOW_FIX}")
            _deepen(root, None)
        # --all is every ref and HEAD (also a detached one); in an empty repository it is nothing.
        return Started(request, root, git.commit_patches(root, ["--all"]))
    if mode == "range":
        assert request.revision_range is not None
        revisions = _check_range(root, request.revision_range, request.deepen)
        return Started(request, root, git.commit_patches(root, revisions))
    return Started(request, root)


def collect(
    started: Started, settings: SecretsSettings, cwd: Path, progress: Callable[[int], None] | None = None
) -> tuple[ContentScanner, Report, Path]:
    """Run the scan; returns the scanner (what it found and left unread), a report with metrics, and the
    root paths are relative to."""
    from lr_ci._globs import excluder
    from lr_ci.checks.secrets.scan import ContentScanner, scan_files, scan_patches, walk
    from lr_ci.secret_rules.engine import default_rules

    rules = default_rules().without(settings.disable_rules)
    # The baselines hold hashes of secrets, which look like secrets to the generic rules.
    never = [*settings.exclude, settings.baseline, settings.detect_secrets_baseline]
    scanner = ContentScanner(rules, settings.max_file_bytes, excluder(never))
    request, root = started.request, started.root
    if started.patches is not None:
        scan_patches(started.patches, scanner, progress)
    elif request.mode == "paths":
        root = root or cwd
        files, named = walk(request.paths, root)
        scan_files(root, files, scanner, follow=named)
    elif root is None:
        root = cwd
        scan_files(cwd, walk([cwd], cwd)[0], scanner)
    elif request.mode == "working-tree":
        scan_files(root, git.working_tree_files(root), scanner)
    # else: the history of an empty repository
    assert root is not None
    report = Report(
        check="secrets", fail_at=settings.fail_on, rules={r.id: r.description for r in rules.rules}
    )
    report.metrics.update({"mode": request.mode, "rules": len(rules.rules)})
    for key in (
        "files_scanned",
        "commits_scanned",
        "bytes_scanned",
        "decoded_binary",
        "skipped_huge",
        "skipped_by_type",
        "excluded",
    ):
        report.metrics[key] = scanner.counts[key]
    report.metrics["unread"] = len(scanner.unread)
    report.metrics["allowed_inline"] = scanner.counts["allowed_inline"]
    return scanner, report, root


def findings(occurrences: list[Occurrence], root: Path) -> list[Finding]:
    """One finding per (rule, path, secret), the earliest occurrence, with its commit's author."""
    shas = sorted({o.commit.sha for o in occurrences if o.commit is not None})
    authors = git.commit_authors(root, shas) if shas else {}
    seen: dict[str, Finding] = {}
    for occurrence in occurrences:
        hit = occurrence.hit
        commit = occurrence.commit
        data = {"author": authors.get(commit.sha, ""), "date": commit.date} if commit else {}
        finding = Finding(
            rule=hit.rule.id,
            severity=hit.severity,
            message=hit.rule.description
            + (f" ({hit.key})" if hit.key else "")
            + (f": {hit.note}" if hit.note else ""),
            location=Location(
                path=occurrence.path, line=hit.line, column=hit.column, commit=commit.sha if commit else None
            ),
            data=data,
            secret=hit.secret,
        )
        seen.setdefault(finding.fingerprint, finding)
    return list(seen.values())


def partial_scan(report: Report, scanner: ContentScanner, policy: str) -> None:
    """What was not fully read: more secrets than listed (a finding per rule and file), and unread
    files, each a finding ("warn") or the whole run exit 2 naming them ("fail": a partial scan)."""
    from lr_ci.checks.secrets.scan import FINDINGS_PER_RULE_PER_FILE, SECRETS_PER_RUN
    from lr_ci.output._text import printable

    if scanner.unread and policy == "fail":
        first = scanner.unread[0]
        others = f" and {len(scanner.unread) - 1} more" if len(scanner.unread) > 1 else ""
        where = f" in {first.commit[:12]}" if first.commit else ""
        raise LrCiError(
            f"the scan is partial: {printable(first.path)}{where} was not read in full ({first.reason})"
            f'{others}; {first.remedy} ([secrets] exclude), or set on_skipped = "warn"'
        )
    by_rule = {rule.id: rule for rule in scanner.rules.rules}
    # The secrets not listed in a file are like the ones listed there: at the worst severity of those (a
    # test fixture of random tokens is low, as each of its listed tokens is), else the rule's.
    worst: dict[tuple[str, str], Severity] = {}
    if scanner.more():
        for occurrence in scanner.occurrences():
            key = (occurrence.path, occurrence.hit.rule.id)
            if key not in worst or occurrence.hit.severity.rank > worst[key].rank:
                worst[key] = occurrence.hit.severity
    for more in scanner.more():
        rule = by_rule[more.rule]
        report.findings.append(
            Finding(
                rule="secrets-more",
                severity=worst.get((more.path, more.rule), rule.severity),
                message=f"{more.count} more {more.rule} secrets in this file are not listed "
                f"(the first {FINDINGS_PER_RULE_PER_FILE} per rule and file are)",
                location=Location(path=more.path),
            )
        )
    for rule_id, count in sorted(scanner.beyond.items()):
        report.findings.append(
            Finding(
                rule="secrets-more",
                severity=by_rule[rule_id].severity,
                message=f"{count} more {rule_id} secrets were found after the first {SECRETS_PER_RUN:,} "
                "secrets of this run: not listed, and not compared with the baselines",
            )
        )
    for unread in scanner.unread:
        report.findings.append(
            Finding(
                rule="secrets-unread",
                severity=Severity.LOW,
                message=f"not scanned in full: {unread.reason}; {unread.remedy}",
                location=Location(path=unread.path, commit=unread.commit),
            )
        )
    report.rules["secrets-more"] = "More secrets of one rule in one file than the report lists"
    report.rules["secrets-unread"] = "A file that was not scanned (on_skipped decides what it does)"


def cap(report: Report) -> None:
    """List at most :data:`LISTED_FINDINGS` findings, the most severe first (in scan order within a
    severity, counts without a path before the rest); each rule's others become one finding at the worst
    severity among them, with their count. The exit code is unchanged: a finding that would fail the
    check still does, counted."""
    if len(report.findings) <= LISTED_FINDINGS:
        return
    # Counts without a path (secrets past the run's cap) first within a severity: they say the most.
    ordered = sorted(report.findings, key=lambda f: (-f.severity.rank, f.location.path is not None))
    report.findings = ordered[:LISTED_FINDINGS]
    counts: dict[str, int] = {}
    worst: dict[str, Severity] = {}
    for finding in ordered[LISTED_FINDINGS:]:
        counts[finding.rule] = counts.get(finding.rule, 0) + 1
        if finding.rule not in worst or finding.severity.rank > worst[finding.rule].rank:
            worst[finding.rule] = finding.severity
    for rule_id, count in sorted(counts.items()):
        report.findings.append(
            Finding(
                rule="findings-not-listed",
                severity=worst[rule_id],
                message=f"{count} more {rule_id} findings are not listed "
                f"(a report lists the first {LISTED_FINDINGS:,}, the most severe first)",
            )
        )
    report.rules["findings-not-listed"] = "Findings past the number a report lists, counted per rule"
    report.metrics["findings_not_listed"] = sum(counts.values())


def _renamed_from(finding: Finding, deleted: Mapping[str | None, set[str]]) -> list[str]:
    """The paths the finding's commit (or the index) deleted: a secret accepted under one of them and
    now found in an added file was moved, not introduced (a rename is a delete plus an add here)."""
    gone = deleted.get(finding.location.commit)
    return sorted(gone - {finding.location.path}) if gone else []


def suppress(
    report: Report,
    found: list[Finding],
    settings: SecretsSettings,
    root: Path,
    complete: bool,
    deleted: Mapping[str | None, set[str]] | None = None,
) -> None:
    """Move baselined findings out of the report, counting them; list stale baseline entries.

    A secret the baseline accepts under a path that the same commit (or the index) deletes is accepted
    where it moved to: renaming a file must not fail on a secret already accepted. Only an exact match
    of rule and secret hash counts, and only for paths that change removed.
    """
    deleted = deleted or {}
    baseline = read_baseline(root / settings.baseline)
    detect_secrets = read_detect_secrets_baseline(root / settings.detect_secrets_baseline)
    kept: list[Finding] = []
    matched: set[str] = set()
    counts = {"baseline": 0, "detect_secrets": 0}
    for finding in found:
        paths = [finding.location.path or "", *_renamed_from(finding, deleted)]
        secret = finding.secret
        fingerprints = [
            fingerprint(finding.rule, path, sha256_hex(secret)) if secret is not None else finding.fingerprint
            for path in paths
        ]
        accepted = next((fp for fp in fingerprints if fp in baseline), None)
        if accepted is not None:
            matched.add(accepted)
            counts["baseline"] += 1
        elif (
            detect_secrets
            and secret is not None
            and any((path, detect_secrets_hash(secret)) in detect_secrets for path in paths)
        ):
            counts["detect_secrets"] += 1
        else:
            kept.append(finding)
    stale = [entry for fp, entry in sorted(baseline.items()) if fp not in matched] if complete else []
    for entry in stale:
        kept.append(
            Finding(
                rule="baseline-stale",
                severity=Severity.INFO,
                message=f"baseline entry for {entry.rule} matches no secret any more: remove it "
                "(`lr-ci secrets baseline` rewrites the file)",
                location=Location(path=entry.path),
                fingerprint=entry.fingerprint,
            )
        )
    report.findings = kept
    report.rules["baseline-stale"] = "A baseline entry that matches no secret"
    report.metrics.update(
        {
            "suppressed_baseline": counts["baseline"],
            "suppressed_detect_secrets": counts["detect_secrets"],
            "baseline_stale": len(stale),
        }
    )


def run(
    started: Started, settings: SecretsSettings, cwd: Path, progress: Callable[[int], None] | None = None
) -> Report:
    scanner, report, root = collect(started, settings, cwd, progress)
    deleted = started.patches.stats.deleted if started.patches is not None else {}
    found = findings(scanner.occurrences(deleted), root)
    # Past the run's cap some secrets were never compared with the baseline: no entry is known stale.
    complete = started.request.complete and not scanner.beyond
    suppress(report, found, settings, root, complete, deleted)
    partial_scan(report, scanner, settings.skipped_policy)
    cap(report)
    return report


def update_baseline(started: Started, settings: SecretsSettings, cwd: Path) -> Report:
    """``lr-ci secrets baseline``: accept every current finding, keeping the reasons already written."""
    from lr_ci.checks.secrets.scan import SECRETS_PER_RUN

    scanner, report, root = collect(started, settings, cwd)
    if scanner.beyond:
        raise LrCiError(
            f"more than {SECRETS_PER_RUN:,} different secrets: too many to accept into a baseline; "
            "exclude the data files that hold them ([secrets] exclude)"
        )
    deleted = started.patches.stats.deleted if started.patches is not None else {}
    found = findings(scanner.occurrences(deleted), root)
    path = root / settings.baseline
    previous = read_baseline(path)
    entries = [
        Entry(
            f.fingerprint,
            f.rule,
            f.location.path or "",
            previous.get(f.fingerprint, Entry("", "", "")).reason,
        )
        for f in found
    ]
    write_baseline(path, entries)
    report.fail_at = None
    report.metrics.update(
        {
            "baseline_entries": len(entries),
            "baseline_added": len({e.fingerprint for e in entries} - set(previous)),
            "baseline_removed": len(set(previous) - {e.fingerprint for e in entries}),
            "baseline_path": settings.baseline,
        }
    )
    return report
