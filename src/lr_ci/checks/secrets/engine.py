"""The detection engine: bytes and a path in, hits out. No I/O, no git, no config.

Speed comes from the prefilter: one Aho-Corasick pass over the lower-cased bytes finds every rule keyword;
a rule's regex then runs only on the lines around its keywords (multi-line rules on the whole text). Most
text never meets a regex, and a file without any keyword costs one pass of a Rust automaton.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from lr_ci.report import Severity

BINARY_SNIFF_BYTES = 8000
# A line this long is minified or generated: generic rules would only find noise in it.
MINIFIED_LINE_BYTES = 1000

_CODE_SUFFIXES = frozenset(
    ".py .pyi .js .mjs .cjs .jsx .ts .tsx .go .java .kt .kts .scala .rb .php .cs .rs .c .h .cc .cpp .hpp "
    ".swift .m .dart .lua .ex .exs .erl .clj .groovy .vue .svelte".split()
)
_SKIPPED_SUFFIXES = frozenset(
    ".png .jpg .jpeg .gif .bmp .ico .webp .avif .tif .tiff .psd .heic .woff .woff2 .ttf .otf .eot "
    ".mp3 .mp4 .m4a .mov .avi .wav .ogg .webm .flac .zip .gz .tgz .bz2 .xz .7z .rar .jar .war .ear "
    ".pdf .exe .dll .so .dylib .class .pyc .pyo .o .a .lib .wasm .bin .dat .db .sqlite .sqlite3".split()
)
_LOCK_FILES = frozenset(
    "package-lock.json npm-shrinkwrap.json yarn.lock pnpm-lock.yaml bun.lock bun.lockb poetry.lock uv.lock "
    "pipfile.lock pdm.lock cargo.lock gemfile.lock composer.lock go.sum mix.lock pubspec.lock "
    "packages.lock.json flake.lock podfile.lock gradle.lockfile".split()
)
_VENDORED_DIRS = frozenset("vendor node_modules third_party third-party bower_components .yarn".split())
_MINIFIED = re.compile(r"\.min\.(?:js|css|mjs)$|[.-](?:bundle|chunk)\.min\.|\.svg$", re.IGNORECASE)
_IDENTIFIER_WORDS = re.compile(r"^[/@]?[A-Za-z]+(?:[_\-./:][A-Za-z]+)*$")
_EXPRESSION = re.compile(r"^[A-Za-z_$][\w$.]*[(\[]")
# Values that name where a secret lives rather than holding one: URLs (credentials in URLs have their
# own rule), file paths, cloud resource names.
_REFERENCE = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://[^:@\s]+$|/[\w.\-]+(?:/[\w.\-]+)+$|arn:|projects/)")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ALLOW_SAME_LINE = (b"lr-ci: allow-secret", b"pragma: allowlist secret")
_ALLOW_NEXT_LINE = (b"lr-ci: allow-secret-next-line", b"pragma: allowlist nextline secret")
_ALLOW_MARKERS = (b"lr-ci: allow-secret", b"pragma: allowlist")


@dataclass(frozen=True)
class Rule:
    """One detection rule, loaded from ``rules.toml`` (see the comment at its top)."""

    id: str
    description: str
    severity: Severity
    regex: re.Pattern[str]
    keywords: tuple[str, ...]
    entropy: float | None = None
    generic: bool = False
    multiline: bool = False
    key_words: re.Pattern[str] | None = None
    context: re.Pattern[str] | None = None
    allowlist: tuple[re.Pattern[str], ...] = ()
    true_examples: tuple[str, ...] = ()
    false_examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """A secret one rule found. ``line`` and ``column`` are 1-based; ``allowed`` marks an inline allow."""

    rule: Rule
    secret: str
    line: int
    column: int
    key: str | None = None
    allowed: bool = False


@dataclass(frozen=True)
class PathPolicy:
    """What a path gets: ``skip`` (images, fonts, archives...), ``specific`` (no generic rules), ``all``."""

    scan: str
    code: bool = False


@lru_cache(maxsize=4096)
def path_policy(path: str) -> PathPolicy:
    name = path.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    suffix = name[dot:] if dot > 0 else ""
    if suffix in _SKIPPED_SUFFIXES:
        return PathPolicy("skip")
    parts = path.lower().split("/")[:-1]
    if name in _LOCK_FILES or _MINIFIED.search(name) or any(p in _VENDORED_DIRS for p in parts):
        return PathPolicy("specific")
    return PathPolicy("all", code=suffix in _CODE_SUFFIXES)


def is_binary(data: bytes) -> bool:
    return b"\0" in data[:BINARY_SNIFF_BYTES]


def shannon_entropy(text: str) -> float:
    if not text:
        return 0.0
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _compile_all(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def _rule(data: dict[str, Any]) -> Rule:
    examples = data.get("examples", {})
    key_words = data.get("key_words")
    context = data.get("context")
    regex = re.compile(data["regex"])
    return Rule(
        id=data["id"],
        description=data["description"],
        severity=Severity(data["severity"]),
        regex=regex,
        keywords=tuple(k.lower() for k in data["keywords"]),
        entropy=data.get("entropy"),
        generic=data.get("generic", False),
        multiline=data.get("multiline", "\\s\\S" in data["regex"] or "[\\s\\S]" in data["regex"]),
        key_words=re.compile(key_words) if key_words else None,
        context=re.compile(context) if context else None,
        allowlist=_compile_all(data.get("allowlist", [])),
        true_examples=tuple(examples.get("true", [])),
        false_examples=tuple(examples.get("false", [])),
    )


@dataclass
class RuleSet:
    rules: tuple[Rule, ...]
    placeholders: tuple[re.Pattern[str], ...]
    _by_keyword: list[list[int]] = field(default_factory=list)
    _automaton: Any = None

    def __post_init__(self) -> None:
        import ahocorasick_rs

        keywords: dict[str, list[int]] = {}
        for index, rule in enumerate(self.rules):
            for keyword in rule.keywords:
                keywords.setdefault(keyword, []).append(index)
        self._keywords = list(keywords)
        self._by_keyword = [keywords[k] for k in self._keywords]
        self._automaton = ahocorasick_rs.BytesAhoCorasick([k.encode() for k in self._keywords])

    def without(self, rule_ids: Iterable[str]) -> RuleSet:
        dropped = set(rule_ids)
        return RuleSet(tuple(r for r in self.rules if r.id not in dropped), self.placeholders)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)

    def keyword_hits(self, lowered: bytes) -> list[tuple[int, int]]:
        """(rule index, byte offset) for every keyword occurrence, in order of offset."""
        hits = [
            (rule_index, start)
            for keyword_index, start, _end in self._automaton.find_matches_as_indexes(
                lowered, overlapping=True
            )
            for rule_index in self._by_keyword[keyword_index]
        ]
        hits.sort(key=lambda hit: hit[1])
        return hits

    def is_placeholder(self, value: str) -> bool:
        return any(p.search(value) for p in self.placeholders)


@cache
def default_rules() -> RuleSet:
    """The rules shipped in ``rules.toml`` (parsed and compiled once per process)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    text = Path(__file__).with_name("rules.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    rules = tuple(_rule(r) for r in data["rules"])
    return RuleSet(rules, _compile_all(data["placeholders"]["regexes"]))


def _normalized_key(key: str) -> str:
    """``dbPassword`` / ``DB-PASSWORD`` / ``db.password`` -> ``db_password``."""
    return re.sub(r"[^a-z0-9]+", "_", _CAMEL.sub("_", key).lower())


def _accept(rules: RuleSet, rule: Rule, match: re.Match[str], secret: str, policy: PathPolicy) -> bool:
    """The filters a regex match must pass to be reported (placeholders, entropy, context...)."""
    if rules.is_placeholder(secret) or any(a.search(match.group(0)) for a in rule.allowlist):
        return False
    if rule.entropy is not None and shannon_entropy(secret) < rule.entropy:
        return False
    groups = match.groupdict()
    if groups.get("user") is not None and groups["user"] == secret:
        return False  # postgres://postgres:postgres@... is a local default, not a leak
    if rule.context is not None and not rule.context.search(match.string):
        return False
    if rule.generic:
        key = groups.get("key")
        if key is not None and rule.key_words is not None and not rule.key_words.search(_normalized_key(key)):
            return False
        unquoted = "q" in groups and groups["q"] is None
        if _IDENTIFIER_WORDS.match(secret) or _REFERENCE.match(secret) or secret.isdigit():
            return False
        if unquoted and (policy.code or _EXPRESSION.match(secret)):
            return False  # an unquoted value in code is an expression, not a literal
    return True


def _secret_of(match: re.Match[str]) -> tuple[str, int]:
    """The secret a match found and its offset in the searched text."""
    for name in ("secret", "secret2"):
        if name in match.re.groupindex and match.group(name) is not None:
            return match.group(name), match.start(name)
    return match.group(0), match.start()


def _mark_allowed(data: bytes, hits: list[Hit]) -> list[Hit]:
    """Set ``allowed`` on hits whose line (or the line before) carries an inline allow comment."""
    if not hits or not any(marker in data for marker in _ALLOW_MARKERS):
        return hits
    lines = data.split(b"\n")

    def allowed(line: int) -> bool:
        same = lines[line - 1] if line - 1 < len(lines) else b""
        previous = lines[line - 2] if line >= 2 else b""
        return any(m in same for m in _ALLOW_SAME_LINE) or any(m in previous for m in _ALLOW_NEXT_LINE)

    return [dataclasses.replace(hit, allowed=True) if allowed(hit.line) else hit for hit in hits]


class _Lines:
    """Byte offset -> 1-based line number, counting newlines incrementally for offsets in order."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0
        self.line = 1

    def line_of(self, offset: int) -> int:
        if offset < self.offset:
            self.offset, self.line = 0, 1
        self.line += self.data.count(b"\n", self.offset, offset)
        self.offset = offset
        return self.line


def scan(data: bytes, path: str, rules: RuleSet | None = None) -> list[Hit]:
    """Every secret in ``data`` (the content of ``path``), provider rules before generic ones.

    Binary content is the caller's to skip (:func:`is_binary`); this function assumes text and decodes it
    as UTF-8 with undecodable bytes kept as surrogates.
    """
    rules = rules or default_rules()
    policy = path_policy(path)
    if policy.scan == "skip":
        return []
    lowered = data.lower()
    keyword_hits = rules.keyword_hits(lowered)
    if not keyword_hits:
        return []
    if policy.scan == "all" and len(data) > (data.count(b"\n") + 1) * MINIFIED_LINE_BYTES:
        policy = PathPolicy("specific", policy.code)
    text: str | None = None
    lines = _Lines(data)
    seen_windows: set[tuple[int, int]] = set()
    hits: list[Hit] = []
    for rule_index, offset in keyword_hits:
        rule = rules.rules[rule_index]
        if rule.generic and policy.scan != "all":
            continue
        if rule.multiline:
            if (rule_index, -1) not in seen_windows:
                seen_windows.add((rule_index, -1))
                if text is None:
                    text = data.decode("utf-8", "surrogateescape")
                hits += _search(rules, rule, text, 1, policy)
            continue
        start = data.rfind(b"\n", 0, offset) + 1
        if (rule_index, start) in seen_windows:
            continue
        seen_windows.add((rule_index, start))
        end = data.find(b"\n", offset)
        line_text = data[start : end if end >= 0 else len(data)].decode("utf-8", "surrogateescape")
        hits += _search(rules, rule, line_text, lines.line_of(start), policy)
    return _mark_allowed(data, _resolve_overlaps(rules.rules, hits))


def _search(rules: RuleSet, rule: Rule, text: str, first_line: int, policy: PathPolicy) -> list[Hit]:
    """Matches of ``rule`` in ``text`` (a line, or a whole file for multi-line rules) passing the filters."""
    found = []
    for match in rule.regex.finditer(text):
        secret, at = _secret_of(match)
        if not secret or not _accept(rules, rule, match, secret, policy):
            continue
        line = first_line + text.count("\n", 0, at)
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        found.append(Hit(rule, secret, line, column, match.groupdict().get("key")))
    return found


def _resolve_overlaps(order: Sequence[Rule], hits: list[Hit]) -> list[Hit]:
    """One hit per secret occurrence: the earliest rule in ``rules.toml`` wins (providers before generic)."""
    rank = {rule.id: i for i, rule in enumerate(order)}
    kept: list[Hit] = []
    taken: dict[int, list[tuple[int, int]]] = {}  # line -> (first column, last column): linear in hits
    for hit in sorted(hits, key=lambda h: (rank[h.rule.id], h.line, h.column)):
        first, last = hit.column, hit.column + len(hit.secret) - 1
        on_line = taken.setdefault(hit.line, [])
        if any(not (end < first or start > last) for start, end in on_line):
            continue
        on_line.append((first, last))
        kept.append(hit)
    return sorted(kept, key=lambda h: (h.line, h.column, rank[h.rule.id]))
