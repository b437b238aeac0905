"""``lr-ci bundle``: budgets, growth against a baseline, secrets shipped to browsers, public source maps."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typing_extensions import NotRequired, TypedDict

from lr_ci._globs import excluder
from lr_ci._json_files import read_bounded, read_shaped
from lr_ci.checks.bundle.measure import BuiltFile, find_dirs, measure, read_chunks
from lr_ci.checks.bundle.settings import Budget, BundleSettings
from lr_ci.checks.bundle.sizes import (
    BROTLI_BEST_MAX_BYTES,
    BROTLI_LARGE_QUALITY,
    HashPatternTooSlow,
    format_size,
    parse_size,
)
from lr_ci.errors import LrCiError, SettingError
from lr_ci.report import Finding, Location, Report, Severity, Table

if TYPE_CHECKING:
    from lr_ci.secret_rules.engine import Hit, RuleSet
    from lr_ci.secret_rules.windows import Window

BASELINE_SCHEMA = "lr-ci.bundle-sizes/1"
DEFAULT_BUDGETS = [Budget(name="js", files="**/*.js"), Budget(name="css", files="**/*.css")]
RULES = {
    "bundle-budget": "A bundle is over its size budget",
    "bundle-growth": "A bundle grew too much against the base branch",
    "bundle-source-map": "Source maps in the build would be deployed publicly",
    "bundle-brotli-estimate": "Large files measured at a faster brotli quality (an upper bound)",
    "bundle-secrets-unexamined": "A built file with more possible secrets than the scanner examines",
    "bundle-secrets-more": "Secrets shipped in the build past the number a report lists, counted per rule",
    "bundle-unlisted": "More findings than a report lists",
}
SCAN_WINDOW_BYTES = 8 << 20
"""A built file is scanned for secrets this many bytes at a time (whole, when smaller; the windows overlap
as the secret scanner's do). A source map larger than one window is scanned as text only, without parsing
the sources inside it."""


LISTED_SECRETS = 1_000
"""Secret findings a bundle report lists; the others are counted per rule in one finding each (60,000
tokens in a source map and a minified file took 947 MiB as findings in six formats)."""
MAX_LISTED_FINDINGS = 1000
"""Findings a bundle report lists in all (see :func:`_listed`)."""

MAX_BASELINE_BYTES = 4 << 20
"""A size baseline is about 60 bytes per built file (a build of 10,000 files: 600 kB). A larger one is
refused before it is parsed: parsed and validated, JSON takes about 20 times its size in memory."""


class _FileSizes(TypedDict):
    raw: int
    gzip: NotRequired[int]
    brotli: NotRequired[int]


class _Baseline(TypedDict):
    schema: str
    files: dict[str, _FileSizes]


@dataclass(frozen=True, kw_only=True)
class Request:
    """What the command line asks beyond ``[bundle]`` (``DIRS`` replace ``dirs`` in the settings)."""

    baseline: Path | None = None
    """Sizes of the base branch's build to compare with."""
    save_baseline: Path | None = None
    """Where to write this build's sizes."""


def read_baseline(path: Path) -> dict[str, dict[str, int]]:
    """The saved sizes; a field of the wrong type (``true``, ``"12"``, ``1.5``) or a negative size is
    exit 2 naming the file and the field, not an internal error later (or a wrong comparison). Only a
    regular file of at most :data:`MAX_BASELINE_BYTES` is read: a FIFO would block, a device such as
    ``/dev/zero`` never ends."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise LrCiError(f"{path}: cannot read the size baseline: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise LrCiError(f"{path}: the size baseline is not a regular file")
    read_bounded(path, "size baseline", MAX_BASELINE_BYTES)  # the size, before anything is parsed
    document = read_shaped(path, "size baseline", _Baseline, BASELINE_SCHEMA)
    files: dict[str, dict[str, int]] = {
        name: {kind: size for kind, size in sizes.items() if isinstance(size, int)}
        for name, sizes in document["files"].items()
    }
    for name, sizes in files.items():
        for kind, size in sizes.items():
            if size < 0:
                raise LrCiError(f"{path}: the size baseline is not valid: files.{name}.{kind}: negative size")
    return files


def write_baseline(path: Path, files: list[BuiltFile]) -> None:
    sizes = {
        f.stable: {k: v for k, v in (("raw", f.raw), ("gzip", f.gzip), ("brotli", f.brotli)) if v is not None}
        for f in files
    }
    from lr_ci.output import write_file

    document = {"schema": BASELINE_SCHEMA, "files": sizes}
    # As write_json writes it (sorted, one space), through the writer that neither blocks on a FIFO
    # nor follows a link a checked-out repository could have put at the path.
    write_file(
        path, json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n", "--save-baseline"
    )


def _listed(found: list[Finding]) -> list[Finding]:
    """At most :data:`MAX_LISTED_FINDINGS` findings, the most severe first, and one more that counts the
    rest at their highest severity: each is rendered in every format, and 100,000 of them (a 6 MB source
    map of tokens, or a per-file budget over 49,000 files) took up to 1.2 GB to write out. The exit code
    is the same as with all of them."""
    if len(found) <= MAX_LISTED_FINDINGS:
        return found
    ordered = sorted(found, key=lambda f: -f.severity.rank)
    kept, rest = ordered[:MAX_LISTED_FINDINGS], ordered[MAX_LISTED_FINDINGS:]
    more = Finding(
        "bundle-unlisted",
        rest[0].severity,
        f"{len(rest)} more findings are not listed (the first {MAX_LISTED_FINDINGS}, most severe first, are)",
    )
    return [*kept, more]


def _group_name(budget: Budget) -> str:
    return budget.name or (budget.files if isinstance(budget.files, str) else ", ".join(budget.files))


def run(
    request: Request, settings: BundleSettings, cwd: Path, progress: Callable[[int], None] | None = None
) -> Report:
    dirs = find_dirs(list(settings.dirs), cwd)
    budgets = settings.budgets or DEFAULT_BUDGETS
    compressions: set[str] = {settings.compression, *(b.compression for b in budgets if b.compression)}
    baseline = read_baseline(request.baseline) if request.baseline else None  # a bad one fails fast
    try:
        files = _distinct_names(measure(dirs, compressions, settings.hash_pattern, progress))
    except HashPatternTooSlow as exc:  # the user's pattern: exit 2 at its line in lr-ci.toml
        raise SettingError(("bundle", "hash_pattern"), str(exc)) from None
    if request.save_baseline:
        write_baseline(request.save_baseline, files)
    report = Report(check="bundle", fail_at=Severity.HIGH, rules=dict(RULES))
    groups = _check_groups(report, files, baseline, settings, budgets)
    if baseline is not None:
        report.tables.append(_file_table(files, baseline, settings.compression))
    maps = [f for f in files if f.path.endswith(".map")]
    if maps and settings.source_maps == "warn":
        report.findings.append(
            Finding(
                rule="bundle-source-map",
                severity=Severity.MEDIUM,
                message=f"{len(maps)} source map(s) in the build would be served publicly with your original "
                f"source (e.g. {maps[0].path}): upload them to your error tracker and leave them out",
                location=Location(path=maps[0].path),
            )
        )
    estimated = [f for f in files if f.brotli is not None and f.raw > BROTLI_BEST_MAX_BYTES]
    if estimated:
        report.findings.append(
            Finding(
                rule="bundle-brotli-estimate",
                severity=Severity.INFO,
                message=f"{len(estimated)} file(s) over {BROTLI_BEST_MAX_BYTES >> 20} MiB "
                f"(e.g. {estimated[0].path}) were measured at brotli quality {BROTLI_LARGE_QUALITY}, "
                "not 11 (which would take minutes): "
                "their brotli sizes are upper bounds",
                location=Location(path=estimated[0].path),
            )
        )
    if settings.scan_secrets:
        report.findings += _secrets(dirs, files, report)
    report.findings = _listed(report.findings)
    report.metrics = {
        "files": len(files),
        "total": {c: sum(f.size(c) for f in files) for c in sorted({"none", *compressions})},
        "groups": groups,
        "new_files": sorted({f.stable for f in files} - set(baseline)) if baseline is not None else [],
        "removed_files": sorted(set(baseline) - {f.stable for f in files}) if baseline is not None else [],
        "file_sizes": _file_sizes(files, baseline),
    }
    return report


def _distinct_names(files: list[BuiltFile]) -> list[BuiltFile]:
    """Files whose stable names would be the same keep their own paths: one name, one file's size
    (:func:`~lr_ci.checks.bundle.names.distinct_stable_names`)."""
    from dataclasses import replace

    from lr_ci.checks.bundle.names import distinct_stable_names

    names = distinct_stable_names([(f.path, f.stable) for f in files])
    return [f if f.stable == name else replace(f, stable=name) for f, name in zip(files, names, strict=True)]


def _file_sizes(
    files: list[BuiltFile], baseline: dict[str, dict[str, int]] | None
) -> dict[str, dict[str, Any]]:
    """This build's files' sizes by stable name, for dashboards and PR comments (the tables hold the same
    as text): ``path`` as built, ``raw``/``gzip``/``brotli`` in bytes (null: not measured), and ``base``,
    the baseline's sizes of the same stable name (null: no baseline, or a new file). Removed files are in
    ``removed_files`` only: a baseline can name far more files than a build has."""
    return {
        f.stable: {
            "path": f.path,
            "raw": f.raw,
            "gzip": f.gzip,
            "brotli": f.brotli,
            "base": baseline.get(f.stable) if baseline is not None else None,
        }
        for f in sorted(files, key=lambda f: f.stable)
    }


def _check_groups(
    report: Report,
    files: list[BuiltFile],
    baseline: dict[str, dict[str, int]] | None,
    settings: BundleSettings,
    budgets: list[Budget],
) -> dict[str, Any]:
    groups: dict[str, Any] = {}
    rows = []
    min_change = parse_size(settings.min_change)
    for budget in budgets:
        name = _group_name(budget)
        compression = budget.compression or settings.compression
        matches = excluder([budget.files] if isinstance(budget.files, str) else budget.files)
        members = [f for f in files if matches(f.stable)]
        size = sum(f.size(compression) for f in members)
        limit = parse_size(budget.limit) if budget.limit else None
        entry: dict[str, Any] = {
            "size": size,
            "limit": limit,
            "compression": compression,
            "files": len(members),
        }
        if limit is not None:
            over = (
                [f for f in members if f.size(compression) > limit]
                if budget.per_file
                else (members if size > limit else [])
            )
            for file in over if budget.per_file else over[:1]:
                shown = file.size(compression) if budget.per_file else size
                what = file.stable if budget.per_file else f"group {name} ({len(members)} files)"
                report.findings.append(
                    Finding(
                        rule="bundle-budget",
                        severity=Severity.HIGH,
                        message=f"{what}: {format_size(shown)} {compression}, over the {budget.limit} limit",
                        location=Location(path=file.path if budget.per_file else None),
                    )
                )
        base_size = None
        if baseline is not None:
            base_size = sum(
                sizes.get(compression, sizes["raw"]) for stable, sizes in baseline.items() if matches(stable)
            )
            change = size - base_size
            growth_limit = budget.max_growth if budget.max_growth is not None else settings.max_growth
            entry.update(
                base=base_size, change=change, pct=round(change / base_size, 4) if base_size else None
            )
            if base_size and change / base_size > growth_limit and change > min_change:
                report.findings.append(
                    Finding(
                        rule="bundle-growth",
                        severity=Severity.HIGH,
                        message=f"group {name} grew {format_size(change)} ({change / base_size:+.1%}) to "
                        f"{format_size(size)} {compression}: over the {growth_limit:.0%} growth allowed",
                    )
                )
        rows.append(
            [
                name,
                compression,
                format_size(base_size) if base_size is not None else "–",
                format_size(size),
                _change(size, base_size),
                format_size(limit) if limit else "–",
            ]
        )
        groups[name] = entry
    report.tables.append(
        Table("Bundle groups", ["group", "compression", "base", "now", "change", "limit"], rows)
    )
    return groups


def _baseline_size(sizes: dict[str, int], compression: str) -> int:
    key = "raw" if compression == "none" else compression
    if key not in sizes:
        raise LrCiError(
            f"the size baseline has no {compression} sizes: save it again with this [bundle] config"
        )
    return sizes[key]


def _change(now: int, base: int | None) -> str:
    if base is None:
        return "–"
    pct = f" ({(now - base) / base:+.1%})" if base else ""
    return f"{'+' if now >= base else '-'}{format_size(abs(now - base))}{pct}"


def _file_table(files: list[BuiltFile], baseline: dict[str, dict[str, int]], compression: str) -> Table:
    now = {f.stable: f.size(compression) for f in files}
    base = {stable: _baseline_size(sizes, compression) for stable, sizes in baseline.items()}
    rows = []
    for stable in sorted(set(now) | set(base), key=lambda s: -max(now.get(s, 0), base.get(s, 0))):
        before, after = base.get(stable), now.get(stable)
        status = "new" if before is None else "removed" if after is None else ""
        pct = f"{(after - before) / before:+.1%}" if before and after is not None else status
        rows.append(
            [
                stable,
                format_size(before) if before is not None else "–",
                format_size(after) if after is not None else "–",
                _change(after or 0, before) if before is not None and after is not None else status,
                pct,
            ]
        )
    return Table(f"Files ({compression})", ["file", "base", "now", "change", "%"], rows)


def _secrets(dirs: list[Path], files: list[BuiltFile], report: Report) -> list[Finding]:
    """Secrets in what every browser downloads, including the original sources inside source maps.

    Read in the secret scanner's windows (:mod:`~lr_ci.secret_rules.windows`): a built file of any size
    in bounded memory, each secret once at its line and column in the file (minified lines included).
    """
    from lr_ci.secret_rules.decoding import decoded
    from lr_ci.secret_rules.engine import default_rules, path_policy
    from lr_ci.secret_rules.windows import windows

    rules = default_rules()
    found: list[Finding] = []
    not_listed: dict[str, tuple[int, Severity]] = {}  # per rule: how many, and the worst severity

    def keep(findings: list[Finding]) -> None:
        """List the first :data:`LISTED_SECRETS` secrets (and every unexamined part); count the rest."""
        for finding in findings:
            if len(found) < LISTED_SECRETS or finding.rule == "bundle-secrets-unexamined":
                found.append(finding)
                continue
            count, worst = not_listed.get(finding.rule, (0, finding.severity))
            worse = finding.severity if finding.severity.rank > worst.rank else worst
            not_listed[finding.rule] = (count + 1, worse)

    roots = {d.name: d for d in dirs}
    for file in files:
        if path_policy(file.path).scan == "skip":
            continue  # images, fonts, archives, wasm: skipped by type, as the secret scanner does
        # Read as the secret scanner reads: UTF-16/32 decoded, the printable runs of content with NUL
        # bytes (a config.json saved as UTF-16, a script that starts with NULs) rather than skipped.
        content = decoded(read_chunks(_full_path(dirs, roots, file.path)))
        for window in windows(content, SCAN_WINDOW_BYTES):

            def in_file(hit: Hit, window: Window = window, path: str = file.path) -> Placed | None:
                placed = window.place(hit)
                return (path, placed.line, placed.column) if placed is not None else None

            keep(_text_secrets(file.path, window.data, in_file, rules, report))
            if file.path.endswith(".map") and window.start == (1, 1) and window.last:
                for batch in _source_batches(file.path, window.data):
                    keep(_text_secrets(batch.names[0], batch.text(), batch.place, rules, report))
    for rule_id, (count, worst) in sorted(not_listed.items()):
        found.append(
            Finding(
                "bundle-secrets-more",
                worst,
                f"{count} more {rule_id} secrets shipped in the build are not listed "
                f"(a report lists the first {LISTED_SECRETS:,})",
            )
        )
    return found


Placed = tuple[str, int, int]
"""Where a hit is reported: (path, line, column)."""


def _text_secrets(
    path: str, text: bytes, place: Callable[[Hit], Placed | None], rules: RuleSet, report: Report
) -> list[Finding]:
    """The findings of one text, each hit ``place``d: in its built file (None: another window reports
    it), or in the source of a map it came from."""
    from lr_ci.secret_rules.engine import DEFAULT_MAX_HITS, scan

    hits = scan(text, path, rules)
    found: list[Finding] = []
    if hits.dropped:
        message = (
            f"more than {DEFAULT_MAX_HITS} possible secrets in one part: the rest of it was not examined"
        )
        found.append(Finding("bundle-secrets-unexamined", Severity.HIGH, message, Location(path=path)))
    for hit in hits:
        placed = place(hit)
        if placed is None or hit.allowed:
            continue
        report.rules.setdefault(hit.rule.id, hit.rule.description)
        found.append(
            Finding(
                rule=hit.rule.id,
                severity=hit.severity,
                message=f"{hit.rule.description} shipped in the build (every visitor can read it)"
                + (f": {hit.note}" if hit.note else ""),
                location=Location(path=placed[0], line=placed[1], column=placed[2]),
                secret=hit.secret,
            )
        )
    return found


def _full_path(dirs: list[Path], roots: dict[str, Path], relative: str) -> Path:
    if len(dirs) == 1:
        return dirs[0] / relative
    head, _, rest = relative.partition("/")
    return roots[head] / rest


SOURCES_BATCH_BYTES = 1 << 20
"""The sources of a map are scanned together up to this many bytes: a map of a million tiny sources took
a million scans (15 s) and 319 MiB of separate texts."""
SOURCES_PER_BATCH = 500
"""And at most this many sources: each keeps its name and first line until the batch is scanned, and a
batch is one scan, whose hits the engine caps (DEFAULT_MAX_HITS): two secrets per source still fit."""


@dataclass
class _SourceBatch:
    """Sources of one map that the rules treat alike (one path policy), as one text with a blank line
    between each (so an allow comment never reaches into the next source); hits are placed back in the
    source they started in."""

    names: list[str]
    parts: list[bytes]
    starts: list[int]
    """The line of the text each source starts at."""
    lines: int = 1
    size: int = 0

    def add(self, name: str, content: bytes) -> None:
        self.names.append(name)
        self.parts.append(content)
        self.starts.append(self.lines)
        self.lines += content.count(b"\n") + 2
        self.size += len(content) + 2

    def text(self) -> bytes:
        return b"\n\n".join(self.parts)

    def place(self, hit: Hit) -> Placed:
        import bisect

        index = bisect.bisect_right(self.starts, hit.line) - 1
        return self.names[index], hit.line - self.starts[index] + 1, hit.column


def _source_batches(path: str, data: bytes) -> Iterator[_SourceBatch]:
    """The original sources a source map carries (``sourcesContent``), as ``path!source`` names, in
    batches of up to :data:`SOURCES_BATCH_BYTES` and :data:`SOURCES_PER_BATCH` per path policy (a source
    under ``node_modules/`` gets the provider rules only, as in the secret scanner).

    A map is a built file like any other, maybe broken or hostile: anything but a JSON object with lists
    (invalid JSON, nesting too deep to parse, another shape) has no sources (its text is scanned).
    """
    from lr_ci.secret_rules.engine import PathPolicy, path_policy

    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return
    if not isinstance(document, dict):
        return
    sources = document.get("sources")
    contents = document.get("sourcesContent")
    sources = sources if isinstance(sources, list) else []
    contents = contents if isinstance(contents, list) else []
    batches: dict[PathPolicy, _SourceBatch] = {}
    for index, content in enumerate(contents):
        if not isinstance(content, str):
            continue
        name = sources[index] if index < len(sources) and isinstance(sources[index], str) else str(index)
        full_name = f"{path}!{name}"
        policy = path_policy(full_name)
        batch = batches.setdefault(policy, _SourceBatch([], [], []))
        batch.add(full_name, content.encode("utf-8", "surrogateescape"))
        if batch.size >= SOURCES_BATCH_BYTES or len(batch.parts) >= SOURCES_PER_BATCH:
            yield batches.pop(policy)
    yield from batches.values()
