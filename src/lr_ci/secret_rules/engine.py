"""The detection engine: bytes and a path in, hits out. No I/O, no git, no config.

Speed comes from the prefilter: one Aho-Corasick pass over the lower-cased bytes finds every rule keyword;
a rule's regex then runs only on the lines around its keywords (multi-line rules on a window around each
keyword). Most text never meets a regex, and a file without any keyword costs one pass of a Rust automaton.

Bounds, so that hostile input costs time and memory linear in its size (docs/secrets.md, "Detection engine
limits"): every rule's match has a maximum length (checked when the rules load); a line longer than
:data:`LONG_LINE_BYTES` is searched only in windows around its keywords, each reaching that maximum on
both sides and merged per rule, so a regex sees each byte of a line once however many keywords it holds;
keywords are found and hits resolved in blocks of :data:`_BLOCK_BYTES`, so no list grows with the input;
and one call returns at most ``max_hits`` hits, counting the rest.

A rule may name an offline check of its matches (``verify``, :mod:`.verify`): a documented example value is
dropped (keeping its span from later rules), and the verdict and the path give each hit its severity
(:mod:`.severity`: how sure the hit is, docs/secrets.md "Severity").
"""

from __future__ import annotations

import bisect
import importlib
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache, cached_property, lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from lr_ci.report import Severity

if TYPE_CHECKING:
    from lr_ci.secret_rules.verify import Verdict

BINARY_SNIFF_BYTES = 8000
# A line this long is minified or generated: generic rules would only find noise in it.
MINIFIED_LINE_BYTES = 1000
# A line longer than this is searched in windows around its keywords instead of whole.
LONG_LINE_BYTES = 4096
# The longest match a rule may have, in characters (the loader refuses a regex with a longer or unbounded
# one): single-line rules, and multi-line ones (a PEM block of up to 16 KiB plus its markers).
MAX_MATCH_CHARS = 16_384
MAX_MULTILINE_MATCH_CHARS = 32_768
# Merged keyword windows of one rule are cut at this size, so no single regex call sees more.
MAX_WINDOW_BYTES = 65_536
# Hits one call returns; the rest are counted in ``Hits.dropped``. No normal file comes near it.
DEFAULT_MAX_HITS = 1_000
# Keywords are found, and hits resolved, a block at a time: memory follows the block, not the input.
_BLOCK_BYTES = 256 * 1024
_KEYWORD_SLICE_BYTES = 64 * 1024
# Bytes a rule set searches for keywords before it builds its faster automaton (RuleSet._faster_automaton).
_DFA_AFTER_BYTES = 256 * 1024
# Key names whose verdict a gated rule remembers (RuleSet.key_may_pass): a few hundred KB at most.
_KEY_VERDICTS = 20_000
# Keyword hits of a rule before the engine measures whether the rule is anchored on its keyword.
_ANCHOR_AFTER_HITS = 32
# A UTF-8 byte that continues a character: a window never starts or ends on one.
_CONTINUATION = range(0x80, 0xC0)

_CODE_SUFFIXES = frozenset(
    ".py .pyi .js .mjs .cjs .jsx .ts .tsx .go .java .kt .kts .scala .rb .php .cs .rs .c .h .cc .cpp .hpp "
    ".swift .m .dart .lua .ex .exs .erl .clj .groovy .vue .svelte "
    ".pl .pm .tcc .hh .hxx .cxx .ipp .inl".split()
)
# A shared library with its version after the suffix (libcurl.so.4.8.0): machine code, like a .so.
_VERSIONED_LIBRARY = re.compile(r"\.so(?:\.\d{1,6}){1,4}$")
_SKIPPED_SUFFIXES = frozenset(
    ".png .jpg .jpeg .gif .bmp .ico .webp .avif .tif .tiff .psd .heic .woff .woff2 .ttf .otf .eot "
    ".mp3 .mp4 .m4a .mov .avi .wav .ogg .webm .flac .zip .gz .tgz .bz2 .xz .7z .rar .jar .war .ear "
    ".whl .egg .nupkg .mo .pdf .exe .dll .so .dylib .class .pyc .pyo .o .a .lib .wasm .bin .dat .db "
    ".sqlite .sqlite3".split()
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
_LOWER_WORDS = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+){0,8}")


def _reads_as_command(value: str) -> bool:
    """Whether a one-word value between backticks reads as what a shell would run: a path or a variable
    (``/usr/bin/gen``, ``./get.sh``, ``$CMD``), or a command's name in lower case (``hostname``,
    ``sha256sum``: short, few digits; ``fetch-k8s-sa-token``, ``get_aws_secret_v1234``: words and short
    parts with digits joined by ``-`` or ``_``). A random token between backticks (Markdown code,
    ``KEY := `...` `` in a config or text file) is a value."""
    if value[:1] in "./~$":
        return True
    if not _LOWER_WORDS.fullmatch(value):
        return False
    parts = re.split(r"[-_]", value)
    if len(parts) == 1:
        return len(value) <= 16 and sum(c.isdigit() for c in value) <= 3
    # a word, or a short part with digits (k8s, v1234, ec2); l8hudgm or n1c8kcwt is a random token's
    return all(len(part) <= (12 if part.isalpha() else 5) for part in parts)


# Values that name where a secret lives rather than holding one: URLs (credentials in URLs have their
# own rule), file paths, cloud resource names.
_REFERENCE = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://[^:@\s]+$|/[\w.\-]+(?:/[\w.\-]+)+$|arn:|projects/)")
# ``Basic`` right before a value: the value is an HTTP Basic credential (checked by filters.is_example_basic).
_BASIC_BEFORE = re.compile(r"(?i)\bbasic\s{1,64}$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# The key group of the generic assignment rules: up to 40 key characters, a keyword, up to 20 more (no dot).
_KEY_RUN_GROUP = re.compile(
    re.escape(r"(?P<key>[A-Za-z0-9_.\-]{0,40}(?:") + r"[a-z|]+" + re.escape(r")[A-Za-z0-9_\-]{0,20})")
)
_KEY_HEAD = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
_KEY_TAIL = _KEY_HEAD.replace(b".", b"")
_ALLOW_SAME_LINE = (b"lr-ci: allow-secret", b"pragma: allowlist secret")
_ALLOW_NEXT_LINE = (b"lr-ci: allow-secret-next-line", b"pragma: allowlist nextline secret")
_ALLOW_MARKERS = (b"lr-ci: allow-secret", b"pragma: allowlist")


@dataclass(frozen=True)
class Rule:
    """One detection rule, loaded from ``rules/*.toml`` (see the comment atop ``00-placeholders.toml``).

    Its regular expressions are kept as text and compiled on first use: a rule runs only where one of its
    keywords is found, so a commit without any keyword compiles nothing (the staged hook's start-up).
    """

    id: str
    description: str
    severity: Severity
    pattern: str
    """The rule's regex, as written in its rules file: :attr:`regex` compiles it when first searched."""
    keywords: tuple[str, ...]
    max_width: int
    """The longest match the regex can make, in characters: how far a window reaches from a keyword."""
    required: bytes = b""
    """Punctuation every match holds (:func:`required_characters`): a window without one is not searched."""
    entropy: float | None = None
    generic: bool = False
    multiline: bool = False
    key_words_pattern: str | None = None
    context_pattern: str | None = None
    allowlist_patterns: tuple[str, ...] = ()
    true_examples: tuple[str, ...] = ()
    false_examples: tuple[str, ...] = ()
    verify: str | None = None
    """The offline check of a match's checksum or structure (:data:`.verify.VERIFIERS`), if any."""
    paths: tuple[str, ...] = ()
    """File names (or ``fnmatch`` globs of one: ``*.pgpass``) the rule is scoped to, lower-case: when
    given, the rule runs only on files whose name (the path's last part, lower-cased) matches one, and it
    may have no keywords, then it reads every line of such a file (:meth:`RuleSet.path_rules`)."""
    decode: str | None = None
    """``"base64"``: the captured value is base64 and what it decodes to is judged (a Kubernetes
    ``Secret``'s ``data:``); see :func:`_decoded`. The hit still names the encoded value, where it is."""

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    @cached_property
    def required_bytes(self) -> tuple[bytes, ...]:
        return tuple(bytes([c]) for c in self.required)

    @cached_property
    def key_is_run(self) -> bool:
        """Whether every match's ``key`` is the whole run of key characters around one of the rule's
        keywords: a generic rule whose key group is :data:`_KEY_RUN_GROUP` (a delimiter before it, an
        assignment after it). A keyword hit whose run fails ``key_words`` then cannot be reported, and
        the engine skips its window (:meth:`RuleSet.key_may_pass`)."""
        return (
            self.generic and self.key_words_pattern is not None and bool(_KEY_RUN_GROUP.search(self.pattern))
        )

    @cached_property
    def key_words(self) -> re.Pattern[str] | None:
        return re.compile(self.key_words_pattern) if self.key_words_pattern else None

    @cached_property
    def context(self) -> re.Pattern[str] | None:
        return re.compile(self.context_pattern) if self.context_pattern else None

    @cached_property
    def allowlist(self) -> tuple[re.Pattern[str], ...]:
        return _compile_all(self.allowlist_patterns)


@dataclass(frozen=True)
class Hit:
    """A secret one rule found. ``line`` and ``column`` are 1-based; ``allowed`` marks an inline allow.

    ``severity`` is how sure the engine is (:func:`.severity.decide`: the rule's severity, raised by a
    verified checksum, lowered by one that fails or by a test or docs path), and ``note`` says why it
    differs from the rule's, for the finding's message.
    """

    rule: Rule
    secret: str
    line: int
    column: int
    key: str | None = None
    allowed: bool = False
    severity: Severity = field(default=cast(Severity, None), kw_only=True)
    """Left out (a hit made by hand, in a test), it is the rule's."""
    note: str | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if self.severity is None:
            object.__setattr__(self, "severity", self.rule.severity)


class Hits(list[Hit]):
    """The hits of one :func:`scan`, in order of position; ``dropped`` counts those past its ``max_hits``
    in the block where the cap was reached (the rest of the content is then not searched: at least that
    many more exist).

    A caller that reports hits must say that ``dropped`` more exist (and must not pass a scan that dropped
    any unless it fails anyway), since the dropped ones were never compared with a baseline.
    """

    dropped: int = 0
    searched: int = 0
    """Characters the rules' regexes were run on, in total: the engine's work, linear in the input."""


class PathPolicy(NamedTuple):
    """What a path gets: ``skip`` (images, fonts, archives...), ``specific`` (no generic rules), ``all``."""

    scan: str
    code: bool = False


@lru_cache(maxsize=1 << 16)  # a history's paths: tens of thousands, each asked of again and again
def path_policy(path: str) -> PathPolicy:
    name = path.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    suffix = name[dot:] if dot > 0 else ""
    if suffix in _SKIPPED_SUFFIXES or _VERSIONED_LIBRARY.search(name):
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


def literal_start(pattern: str) -> str:
    """The lower-cased literal text every match of ``pattern`` starts with ('' when none).

    Zero-width items at the start (``\\b``, ``^``, look-arounds) are stepped over, groups are entered, a
    fixed repeat of one literal (``A{21}``) counts; the walk stops at the first item that is not literal.
    """
    new = sys.version_info >= (3, 11)
    parser: Any = importlib.import_module("re._parser" if new else "sre_parse")
    constants: Any = importlib.import_module("re._constants" if new else "sre_constants")
    prefix: list[str] = []

    def walk(items: Any) -> bool:
        """Append the literal start of ``items``; True when every item was walked (literal, zero-width)."""
        for op, arg in items:
            if op in (constants.AT, constants.ASSERT, constants.ASSERT_NOT):
                continue
            if op is constants.LITERAL:
                prefix.append(chr(arg))
            elif op is constants.SUBPATTERN:
                if not walk(arg[-1]):
                    return False
            elif op in (constants.MAX_REPEAT, constants.MIN_REPEAT) and len(arg[2]) == 1:
                low, high, (item,) = arg[0], arg[1], list(arg[2])
                if item[0] is not constants.LITERAL:
                    return False
                prefix.append(chr(item[1]) * low)
                if low != high:
                    return False
            else:
                return False
        return True

    try:
        walk(parser.parse(pattern).data)
    except re.error:
        return ""
    return "".join(prefix).lower()


def fixed_literal(pattern: str, after: int = 0) -> tuple[int, int] | None:
    """(offset, byte) of the first ASCII punctuation character every match of ``pattern`` has at the same
    offset from its start, at ``after`` or later (the ``.`` 17 characters into an Airtable token, after
    ``pat`` and 14 of ``[A-Za-z0-9]``); None when the items before it are not of a fixed width.

    On ASCII text a keyword hit of an anchored rule whose byte there differs is no match start: one
    comparison instead of a regex match (``_Scan._no_match_at``).
    """
    new = sys.version_info >= (3, 11)
    parser: Any = importlib.import_module("re._parser" if new else "sre_parse")
    constants: Any = importlib.import_module("re._constants" if new else "sre_constants")
    one_character = (constants.LITERAL, constants.NOT_LITERAL, constants.IN, constants.ANY)

    def walk(items: Any, offset: int) -> tuple[int, tuple[int, int] | None]:
        """(offset after ``items``, the literal found); an offset of -1: not of a fixed width."""
        for op, arg in items:
            if op in (constants.AT, constants.ASSERT, constants.ASSERT_NOT):
                continue
            if op is constants.LITERAL and arg < 128 and not chr(arg).isalnum() and offset >= after:
                return offset, (offset, arg)
            if op in one_character:
                offset += 1
            elif op is constants.SUBPATTERN:
                offset, found = walk(arg[-1], offset)
                if found is not None or offset < 0:
                    return offset, found
            elif (
                op in (constants.MAX_REPEAT, constants.MIN_REPEAT)
                and arg[0] == arg[1]
                and len(arg[2]) == 1
                and arg[2][0][0] in one_character
            ):
                offset += arg[0]
            else:
                return -1, None
        return offset, None

    try:
        return walk(parser.parse(pattern).data, 0)[1]
    except re.error:
        return None


def required_characters(pattern: str) -> str:
    """The ASCII punctuation every match of ``pattern`` holds, each once, in order of first need ('' when
    none): the ``://`` and ``@`` of a URL with credentials, the ``.`` inside a token.

    A window that lacks one of them cannot hold a match, and a ``bytes.find`` says so for a fraction of
    what a regex search costs (``_Scan._search``). Items of the pattern's sequence are walked into groups
    and repeats of at least one; alternatives give what all of them hold; look-arounds, optional parts
    and letters (which ``(?i)`` folds) give nothing.
    """
    new = sys.version_info >= (3, 11)
    parser: Any = importlib.import_module("re._parser" if new else "sre_parse")
    constants: Any = importlib.import_module("re._constants" if new else "sre_constants")

    def walk(items: Any) -> list[str]:
        found: list[str] = []
        for op, arg in items:
            if op is constants.LITERAL:
                found.append(chr(arg))
            elif op is constants.SUBPATTERN:
                found += walk(arg[-1])
            elif op in (constants.MAX_REPEAT, constants.MIN_REPEAT) and arg[0] >= 1:
                found += walk(arg[2])
            elif op is constants.BRANCH:
                each = [set(walk(branch)) for branch in arg[1]]
                common = set.intersection(*each) if each else set()
                found += sorted(common)
        return found

    try:
        characters = walk(parser.parse(pattern).data)
    except re.error:
        return ""
    wanted = (c for c in characters if c.isascii() and c.isprintable() and not c.isalnum())
    return "".join(dict.fromkeys(wanted))


def _compile_all(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def max_match_width(pattern: re.Pattern[str]) -> int:
    """The longest string ``pattern`` can match (a huge number when a repeat is unbounded)."""
    parser: Any = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")
    return int(parser.parse(pattern.pattern, pattern.flags).getwidth()[1])


def rule_data(table: dict[str, Any]) -> dict[str, Any]:
    """A rule's table from ``rules/*.toml``, checked and completed: ``multiline`` and ``max_width`` filled in.

    A regex that does not compile, or has no bounded match, is refused (ValueError naming the rule). The
    shipped rules go through this once, when ``python3 dev.py generate`` writes :mod:`._rules_data`.
    """
    regex = re.compile(table["regex"])
    multiline = table.get("multiline", "\\s\\S" in table["regex"] or "[\\s\\S]" in table["regex"])
    width = max_match_width(regex)
    limit = MAX_MULTILINE_MATCH_CHARS if multiline else MAX_MATCH_CHARS
    if width > limit:
        raise ValueError(
            f"{table['id']}: the regex has no bound on its match length, or one over {limit} characters "
            "(use {m,n} instead of *, + or {m,})"
        )
    paths = table.get("paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) and p and p == p.lower() for p in paths):
        raise ValueError(f"{table['id']}: paths must be a list of lower-case file names or globs of one")
    if not table.get("keywords") and not paths:
        raise ValueError(f"{table['id']}: a rule without keywords must have paths (it would never run)")
    for extra in (table.get("key_words"), table.get("context"), *table.get("allowlist", [])):
        if extra:
            re.compile(extra)
    if "verify" in table:
        from lr_ci.secret_rules.verify import VERIFIERS

        if table["verify"] not in VERIFIERS:
            raise ValueError(
                f"{table['id']}: unknown verify = {table['verify']!r} "
                f"(one of: {', '.join(sorted(VERIFIERS))})"
            )
    return {
        **table,
        "multiline": multiline,
        "max_width": width,
        "required": required_characters(table["regex"]),
    }


def _rule(data: dict[str, Any]) -> Rule:
    """A rule from :func:`rule_data`'s dict (nothing is compiled here)."""
    examples = data.get("examples", {})
    return Rule(
        id=data["id"],
        description=data["description"],
        severity=Severity(data["severity"]),
        pattern=data["regex"],
        keywords=tuple(k.lower() for k in data.get("keywords", ())),
        max_width=data["max_width"],
        required=data.get("required", "").encode(),
        entropy=data.get("entropy"),
        generic=data.get("generic", False),
        multiline=data["multiline"],
        key_words_pattern=data.get("key_words"),
        context_pattern=data.get("context"),
        allowlist_patterns=tuple(data.get("allowlist", [])),
        true_examples=tuple(examples.get("true", [])),
        false_examples=tuple(examples.get("false", [])),
        verify=data.get("verify"),
        paths=tuple(data.get("paths", ())),
        decode=_decoder_name(data),
    )


DECODERS = frozenset({"base64"})
"""The values a rule's ``decode`` key may take."""


def _decoder_name(data: dict[str, Any]) -> str | None:
    """A rule's ``decode``, refused (ValueError naming the rule) when it is not one of :data:`DECODERS`."""
    name = data.get("decode")
    if name is not None and name not in DECODERS:
        raise ValueError(f"{data['id']}: unknown decode {name!r} (one of: {', '.join(sorted(DECODERS))})")
    return name


@dataclass
class RuleSet:
    rules: tuple[Rule, ...]
    placeholders: tuple[re.Pattern[str] | str, ...]
    """The ``[placeholders]`` regexes, compiled or as text: only their union is compiled, when a match
    first needs it (the staged hook's commits mostly have none)."""
    _by_keyword: list[list[int]] = field(default_factory=list)
    _automaton: Any = None

    def __post_init__(self) -> None:
        import ahocorasick_rs

        keywords: dict[str, list[int]] = {}
        for index, rule in enumerate(self.rules):
            for keyword in rule.keywords:
                keywords.setdefault(keyword, []).append(index)
        runs = [
            k
            for k in keywords
            if k[1:2] == k[:1] and _run_keyword(k, [self.rules[index] for index in keywords[k]])
        ]
        self._keywords = [k for k in keywords if k not in runs] + runs
        self._by_keyword = [keywords[k] for k in self._keywords]
        self._keyword_lengths = [len(k.encode()) for k in self._keywords]
        self.longest_keyword = max(self._keyword_lengths, default=1)
        self.widest_match = max((rule.max_width for rule in self.rules), default=0)
        self._in_automaton = len(self._keywords) - len(runs)
        # (keyword index, the keyword, a regex for where a run of its character reaches its length)
        self._runs = [
            (
                index,
                keyword.encode(),
                re.compile(b"(?<!%s)%s" % (re.escape(keyword[:1].encode()), re.escape(keyword.encode()))),
            )
            for index, keyword in enumerate(self._keywords)
            if index >= self._in_automaton
        ]
        self._automaton = ahocorasick_rs.BytesAhoCorasick(
            [k.encode() for k in self._keywords[: self._in_automaton]]
        )
        self._dfa_after = _DFA_AFTER_BYTES
        # Per rule: keyword hits seen before its literal start was measured, then whether it is anchored.
        self._anchoring: list[int | bool] = [0] * len(self.rules)
        self.key_gated = [rule.key_is_run for rule in self.rules]
        self.fixed_literals: list[tuple[int, int] | None] = [None] * len(self.rules)
        """Per anchored rule, once measured: :func:`fixed_literal` (None: none, or not anchored)."""
        self._keyword_fixed: dict[int, tuple[int, int]] = {}
        """Per keyword of one rule only, once that rule is measured anchored with a fixed literal: the
        literal, tested where the keyword is found (:meth:`keywords_in`) before it becomes a hit."""
        self._key_verdicts: list[dict[bytes, bool]] = [{} for _ in self.rules]
        self._plans: dict[tuple[bool, int, tuple[int, ...]], list[tuple[bool, bool, int]]] = {}
        self._scoped = [(index, rule.paths) for index, rule in enumerate(self.rules) if rule.paths]
        globs = [glob for _, paths in self._scoped for glob in paths]
        # File names the scoped rules name literally (userlist.txt, .pgpass): a path whose last part is none
        # of them and matches no wildcard glob (*.log: see _wildcard_union) has no scoped rule.
        self._scoped_names = frozenset(glob for glob in globs if not any(c in glob for c in "*?["))
        self._scoped_wildcards = tuple(glob for glob in globs if glob not in self._scoped_names)
        self._scoped_by_path: dict[str, tuple[int, ...]] = {}

    def path_rules(self, path: str) -> tuple[int, ...]:
        """Indexes of the path-scoped rules (:attr:`Rule.paths`) that run on ``path``; () for most paths.

        Decided once per path (a history asks of the same paths thousands of times): a file no such rule
        names costs one dictionary look-up per scan, and nothing at all for a rule set without any.
        """
        if not self._scoped:
            return ()
        found = self._scoped_by_path.get(path)
        if found is None:
            name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
            found = (
                _scoped_rules(self._scoped, name)
                if name in self._scoped_names
                or (self._scoped_wildcards and self._wildcard_union.match(name) is not None)
                else ()
            )
            if len(self._scoped_by_path) < _PATHS_REMEMBERED:
                self._scoped_by_path[path] = found
        return found

    @cached_property
    def _by_keyword_unscoped(self) -> list[list[int]]:
        """``_by_keyword`` without the rules scoped to file names (log-line-secret's "token", "key"...): what
        a file no such rule runs on (nearly all) gets, so their keywords add no hit there to skip one by one.
        Made when a text first has a keyword (0.4 ms: not on the start-up of a hook whose commit has none)."""
        return [[i for i in rules if not self.rules[i].paths] for rules in self._by_keyword]

    @cached_property
    def _wildcard_union(self) -> re.Pattern[str]:
        """The scoped rules' wildcard globs (``*.log``) as one regex, made when a path first asks: a path
        none of them matches is then one match, not a glob match per glob (a history asks of tens of
        thousands of paths)."""
        from fnmatch import translate

        return re.compile("|".join(f"(?:{translate(glob)})" for glob in self._scoped_wildcards))

    def plan(
        self, generic_skipped: bool, bytes_per_char: int, scoped: tuple[int, ...] = ()
    ) -> list[tuple[bool, bool, int]]:
        """Per rule: (skipped, multi-line, reach in bytes), for one kind of path and of content; ``scoped``:
        the path-scoped rules that run on the path (:meth:`path_rules`), the others being skipped.

        Made once per rule set and kind, not per scanned text: a history scan calls :func:`scan` thousands
        of times, and with ~300 rules rebuilding it each time was a tenth of the engine's time.
        """
        key = (generic_skipped, bytes_per_char, scoped)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = [
                (
                    # A rule scoped to file names is never skipped as generic: the name is its evidence
                    # (a JSON log's long lines read as minified code).
                    (rule.generic and generic_skipped and not rule.paths)
                    or (bool(rule.paths) and index not in scoped),
                    rule.multiline,
                    rule.max_width * bytes_per_char,
                )
                for index, rule in enumerate(self.rules)
            ]
        return plan

    def without(self, rule_ids: Iterable[str]) -> RuleSet:
        dropped = set(rule_ids)
        return RuleSet(tuple(r for r in self.rules if r.id not in dropped), self.placeholders)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)

    def has_keyword(self, data: bytes) -> bool:
        """Whether ``data`` holds any rule's keyword: one automaton pass that stops at the first, for the
        many short texts of a history (one-line edits) that hold none and need no scan at all."""
        self._count_searched(len(data))
        lowered = data.lower()
        return bool(self._automaton.find_matches_as_indexes(lowered)) or any(
            keyword in lowered for _, keyword, _ in self._runs
        )

    def keyword_starts(self, data: bytes) -> list[int]:
        """Where in ``data`` keywords start, in order, not overlapping (at least one in any span that
        holds one): one automaton pass over many short texts joined (``ContentScanner.worth_scanning``)."""
        self._count_searched(len(data))
        lowered = data.lower()
        starts = [start for _keyword, start, _end in self._automaton.find_matches_as_indexes(lowered)]
        found_runs = [start for _index, start in self._run_starts(lowered, len(lowered))]
        return sorted(starts + found_runs) if found_runs else starts

    def _run_starts(self, lowered: bytes, inside: int) -> Iterator[tuple[int, int]]:
        """(keyword index, offset) where each run of a repeated-character keyword's character, as long as
        the keyword, starts before ``inside`` (see :func:`_run_keyword`): one hit per run, where the
        automaton would report every position of it (4 MB of ``A`` was 4 million hits). The run is
        first looked for as a fixed string (a ``find`` at memory speed): most text holds none."""
        for index, keyword, pattern in self._runs:
            if keyword in lowered:
                for match in pattern.finditer(lowered, 0, inside + len(keyword) - 1):
                    yield index, match.start()

    def _count_searched(self, size: int) -> None:
        if self._dfa_after > 0:
            self._dfa_after -= size
            if self._dfa_after <= 0:
                self._faster_automaton()

    def keywords_in(
        self, data: bytes, start: int, end: int, with_scoped: bool = True
    ) -> Iterator[tuple[int, int, int]]:
        """(byte offset, keyword length, rule index) of each keyword starting in ``data[start:end]``;
        ``with_scoped``: also for the rules scoped to file names (False: the file has none, see
        :meth:`path_rules`).

        In order of offset, found a slice at a time so that memory does not grow with the input (a line of
        a million keywords would otherwise be a list of a million tuples).
        """
        reach = self.longest_keyword - 1
        by_keyword = self._by_keyword if with_scoped else self._by_keyword_unscoped
        self._count_searched(end - start)
        for slice_start in range(start, end, _KEYWORD_SLICE_BYTES):
            slice_end = min(slice_start + _KEYWORD_SLICE_BYTES, end)
            lowered = data[slice_start : slice_end + reach].lower()
            inside = slice_end - slice_start
            fixed = self._keyword_fixed
            found = [
                (at, keyword)
                for keyword, at, _end in self._automaton.find_matches_as_indexes(lowered, overlapping=True)
                if at < inside
                and (keyword not in fixed or _may_start(data, slice_start + at, fixed[keyword]))
            ]
            if self._runs:
                found.extend((at, keyword) for keyword, at in self._run_starts(lowered, inside))
            found.sort()
            for at, keyword in found:
                for rule_index in by_keyword[keyword]:
                    yield slice_start + at, self._keyword_lengths[keyword], rule_index

    def key_may_pass(self, rule_index: int, data: bytes, offset: int) -> bool:
        """For a rule whose key is the run around its keyword (:attr:`Rule.key_is_run`): whether the run of
        key characters around the keyword at ``offset`` passes the rule's ``key_words``. When it does not,
        no match through this keyword is reported (``_accept`` would drop it): its window is not searched.
        A run longer than the key group allows is cut here, where no match is possible anyway.

        Decided once per run (``self._sort_key``, ``keys``, ``monkey``: a history repeats its names).
        """
        head = data[max(0, offset - 41) : offset]
        tail = data[offset : offset + 61]
        key = data[
            offset - (len(head) - len(head.rstrip(_KEY_HEAD))) : offset
            + len(tail)
            - len(tail.lstrip(_KEY_TAIL))
        ]
        verdicts = self._key_verdicts[rule_index]
        verdict = verdicts.get(key)
        if verdict is None:
            words = self.rules[rule_index].key_words
            normalized = _normalized_key(key.decode("ascii"))
            verdict = words is None or words.search(normalized) is not None
            if len(verdicts) < _KEY_VERDICTS:
                verdicts[key] = verdict
        return verdict

    def anchored(self, rule_index: int) -> bool:
        """Whether every match of the rule starts where one of its keywords is (:func:`literal_start`): a
        keyword of it is where the literal every match starts with begins. Such a rule's keyword hit can
        then be tested with one anchored ``match`` instead of a window search (see ``_Scan._block``).

        Measured once the rule had :data:`_ANCHOR_AFTER_HITS` keyword hits: parsing a regex costs more than
        a few searches, and most rules never get that many (Airtable's ``pat`` gets thousands, in ``path``).
        """
        state = self._anchoring[rule_index]
        if isinstance(state, bool):
            return state
        if state < _ANCHOR_AFTER_HITS:
            self._anchoring[rule_index] = state + 1
            return False
        rule = self.rules[rule_index]
        start = literal_start(rule.pattern)
        anchored = not rule.multiline and any(start.startswith(keyword) for keyword in rule.keywords)
        self._anchoring[rule_index] = anchored
        if anchored:
            fixed = self.fixed_literals[rule_index] = fixed_literal(rule.pattern, after=len(start))
            if fixed is not None:
                # Airtable's "pat" is found thousands of times in "path": each such keyword of this rule
                # alone is tested where it is found, without the hit's way through _Scan._block.
                for keyword in rule.keywords:
                    index = self._keywords.index(keyword)
                    if self._by_keyword[index] == [rule_index]:
                        self._keyword_fixed[index] = fixed
        return anchored

    def _faster_automaton(self) -> None:
        """Swap the automaton for a DFA: the same matches, found three times as fast (600 MB/s against 180
        on source code, with ~1,400 keywords), for three times the set-up (2 ms against 0.6).

        Made once the rule set has searched :data:`_DFA_AFTER_BYTES`: a history scan then pays the set-up
        once for a faster pass over megabytes, while the staged hook (a few lines) never pays it.
        """
        import ahocorasick_rs

        self._automaton = ahocorasick_rs.BytesAhoCorasick(
            [k.encode() for k in self._keywords[: self._in_automaton]],
            implementation=ahocorasick_rs.Implementation.DFA,
        )

    def prepare_to_fork(self) -> None:
        """Make now what every copy of a forked history scan needs (``scan.scan_patches``): the faster
        automaton, the placeholders' union, the modules the filters live in; made once, shared by every
        copy, instead of once in each.

        The rules' regexes are left to be compiled as each copy first needs them: a history needs about a
        third of the rules (113 of 309 on 8,758 commits of real code), and compiling all 309 here, 0.1 s,
        held back the start of every other copy (its git starts after the fork)."""
        from lr_ci.secret_rules import filters, severity, verify  # noqa: F401 (imported to be shared)

        _ = self._placeholder_union
        _ = self._by_keyword_unscoped
        if self._dfa_after > 0:
            self._dfa_after = 0
            self._faster_automaton()

    def is_placeholder(self, value: str) -> bool:
        """Whether a ``[placeholders]`` regex finds ``value`` (one search of their union, not one each)."""
        return self._placeholder_union.search(value) is not None

    @cached_property
    def _placeholder_union(self) -> re.Pattern[str]:
        """The ``[placeholders]`` regexes as one alternation: a leading ``(?i)`` becomes a scoped group."""
        parts = []
        for pattern in self.placeholders:
            text, flags = pattern if isinstance(pattern, str) else pattern.pattern, ""
            while text.startswith("(?") and text[2:3].isalpha() and ")" in text:
                flags, text = flags + text[2 : text.index(")")], text[text.index(")") + 1 :]
            parts.append(f"(?{flags}:{text})" if flags else f"(?:{text})")
        return re.compile("|".join(parts) or "(?!)")


def _may_start(data: bytes, offset: int, fixed: tuple[int, int]) -> bool:
    """Whether a match of an anchored rule may start at its keyword found at ``offset``: the byte its
    fixed literal (:func:`fixed_literal`) puts there is there, or the bytes before it are not all ASCII
    (then a byte offset is not a character's: the hit's window search decides). As
    ``_Scan._no_match_at``'s first test, without the line: a literal past the line's end is a newline
    or another line's byte, and a hit kept is never wrong (the regex decides)."""
    at = offset + fixed[0]
    return at < len(data) and (data[at] == fixed[1] or not data[offset:at].isascii())


# A pattern that starts with a look-behind refusing a class of characters: ``(?<![A-Za-z0-9%])``.
_LEADING_LOOK_BEHIND = re.compile(r"\(\?<!(\[(?:\\.|[^\]\\])+\])\)")


def _run_keyword(keyword: str, rules: list[Rule]) -> bool:
    """Whether ``keyword`` is one character repeated (Twitter's bearer tokens start with 21 ``A``) and
    no match of its rules can start right after that character: each rule's matches all start with the
    keyword (:func:`literal_start`) behind a look-behind that refuses the character in either case.

    Then, in a run of the character longer than the keyword, only the run's first position can start a
    match, and only it need be a keyword hit (its window owns that start): :meth:`RuleSet.keywords_in`
    reports one hit per run (:meth:`RuleSet._run_starts`) instead of one per position.
    """
    if len(keyword) < 2 or keyword.count(keyword[0]) != len(keyword):
        return False
    for rule in rules:
        behind = _LEADING_LOOK_BEHIND.match(rule.pattern)
        if (
            behind is None
            or not literal_start(rule.pattern).startswith(keyword)
            or not all(re.fullmatch(behind[1], c) for c in {keyword[0].lower(), keyword[0].upper()})
        ):
            return False
    return True


@cache
def default_rules() -> RuleSet:
    """The rules shipped in ``rules/*.toml``, read from the module generated from it (once per process).

    Importing a generated module (its bytecode cached) costs a fraction of parsing the TOML and measuring
    every regex's width at each start-up; ``tests/test_secret_rules.py`` regenerates it and fails on any
    difference, so the two never disagree.
    """
    from lr_ci.secret_rules import _rules_data

    rules = tuple(_rule(r) for r in _rules_data.RULES)
    return RuleSet(rules, tuple(_rules_data.PLACEHOLDERS))


# Paths whose scoped rules a rule set remembers (RuleSet.path_rules): a history's paths, a few MB at most.
_PATHS_REMEMBERED = 1 << 16


def _scoped_rules(scoped: list[tuple[int, tuple[str, ...]]], name: str) -> tuple[int, ...]:
    """Indexes of the rules in ``scoped`` (index, file-name globs) one of whose globs matches ``name``, the
    last part of a path (``/`` or ``\\`` separated), lower-cased."""
    from fnmatch import fnmatchcase

    return tuple(index for index, globs in scoped if any(fnmatchcase(name, glob) for glob in globs))


def _normalized_key(key: str) -> str:
    """``dbPassword`` / ``DB-PASSWORD`` / ``db.password`` -> ``db_password``."""
    return re.sub(r"[^a-z0-9]+", "_", _CAMEL.sub("_", key).lower())


def _accept(rules: RuleSet, rule: Rule, match: re.Match[str], secret: str, policy: PathPolicy) -> bool:
    """The filters a regex match must pass to be reported (placeholders, entropy, key words...).

    Shared by every rule: the ``[placeholders]`` regexes, the rule's allowlist and entropy floor, then
    :mod:`.filters` on the token's body (the value without the rule's fixed text: structured fillers,
    filler words), example hosts and pairs in URLs, ``Basic`` values that are no credential, jwt.io's
    sample. Generic rules add the key-name checks and the filters for references, names, hashes, words,
    prose and character-class entropy floors. The rule's ``context`` is checked by the caller, once per
    searched text rather than once per match.
    """
    from lr_ci.secret_rules import filters

    if rules.is_placeholder(secret) or any(a.search(match.group(0)) for a in rule.allowlist):
        return False
    entropy = shannon_entropy(secret) if rule.entropy is not None or rule.generic else 0.0
    if rule.entropy is not None and entropy < rule.entropy:
        return False
    groups = match.groupdict()
    head = match.group(0)[: max(0, match.group(0).find(secret))]
    basic = "asic" in head and _BASIC_BEFORE.search(head) is not None
    if filters.is_placeholder_or_example(secret, rule.pattern, groups.get("user"), groups.get("host"), basic):
        return False
    text, start, end = match.string, match.start(), match.end()
    if (
        not rule.multiline
        and filters.context_says_no_secret(  # key material is found wherever it is
            secret, text[max(0, start - 40) : start], text[end : end + 80]
        )
    ):
        return False  # "e.g.: <value>", AKIA.../20231001/us-east-1/s3/aws4_request: what the line says
    if rule.generic:
        key = groups.get("key")
        normalized = _normalized_key(key) if key is not None else None
        if normalized is not None and rule.key_words is not None and not rule.key_words.search(normalized):
            return False
        if filters.key_says_no_secret(secret, normalized):
            return (
                False  # a secret's name/URL, an id, a CSRF nonce, a page cursor, a public account, a key id
            )
        unquoted = "q" in groups and groups["q"] is None
        if groups.get("q") == "`" and not policy.code and _reads_as_command(secret):
            return False  # KEY=`command`: a shell command substitution, the secret is fetched at run time
        if _IDENTIFIER_WORDS.match(secret) and filters.reads_as_words(secret):
            return False  # letters in words (ops.database.password); HqZxWmKvRtLp... is random, kept
        if _REFERENCE.match(secret) or secret.isdigit():
            return False
        if unquoted and (policy.code or _EXPRESSION.match(secret)):
            return False  # an unquoted value in code is an expression, not a literal
        if filters.is_not_a_value(secret, entropy):
            return False
    return True


def _verdict(rule: Rule, secret: str) -> Verdict | None:
    """What the rule's offline check (``verify``) says of a value; None for a rule without one."""
    if rule.verify is None:
        return None
    from lr_ci.secret_rules.verify import verify

    return verify(rule.verify, secret)


def _secret_of(match: re.Match[str]) -> tuple[str, int]:
    """The secret a match found and its offset in the searched text."""
    for name in ("secret", "secret2"):
        if name in match.re.groupindex and match.group(name) is not None:
            return match.group(name), match.start(name)
    return match.group(0), match.start()


_BASE64_VALUE = re.compile(r"[A-Za-z0-9+/]{2,}={0,2}|[A-Za-z0-9_\-]{2,}={0,2}")


def _decoded(value: str) -> str | None:
    """What base64 ``value`` encodes, when it is printable UTF-8 text; else None (the match is dropped).

    A Kubernetes ``Secret`` holds its values in base64, so the filters (placeholders, entropy) must judge
    the text inside: ``cGFzc3dvcmQ=`` is ``password``, a placeholder. Anything that is not strict base64,
    or decodes to bytes that are not printable text (a word such as ``frontend`` read as base64 is noise),
    is not a secret this rule can judge, so it is not reported. Standard and URL-safe alphabets, with or
    without padding; whitespace (tabs, newlines) counts as printable, other control characters do not.
    """
    import base64
    import binascii

    if not _BASE64_VALUE.fullmatch(value):
        return None
    body = value.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        if "-" in body or "_" in body:
            raw = base64.urlsafe_b64decode(padded)
        else:
            raw = base64.b64decode(padded, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text or not all(c.isprintable() or c in "\t\r\n" for c in text):
        return None
    return text


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


class _LineBounds:
    """Byte offset -> (start, end) of its line, ``end`` at the newline; the last line is remembered.

    Offsets mostly come in order, so each line is measured once: on a 4 MB line with a million keywords,
    looking for the line's ends from every keyword would be quadratic.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.start = 0
        self.end = -1

    def of(self, offset: int) -> tuple[int, int]:
        if not self.start <= offset <= self.end:
            self.start = self.data.rfind(b"\n", 0, offset) + 1
            end = self.data.find(b"\n", offset)
            self.end = end if end >= 0 else len(self.data)
        return self.start, self.end


class _ByteOffsets:
    """Character index in a decoded window -> byte offset in the data, for indexes in order."""

    def __init__(self, text: str, base: int) -> None:
        self.text = text
        self.base = base
        self.char = 0
        self.byte = base

    def of(self, char: int) -> int:
        if char < self.char:
            self.char, self.byte = 0, self.base
        self.byte += len(self.text[self.char : char].encode("utf-8", "surrogateescape"))
        self.char = char
        return self.byte


# A hit before its line and column are known: (byte offset of the secret, rule index, secret, key, the
# verdict of the rule's check or None).
_RawHit = tuple[int, int, str, "str | None", "Verdict | None"]


_DOC_PAGE_SUFFIXES = (".md", ".markdown", ".mdx", ".rst", ".adoc", ".asciidoc")
_PAGE_BYTES = 4 << 20  # a page's repeats are counted in its first 4 MB


_TRIPLE_QUOTES = (b'"""', b"'''")
_DOCSTRING_PREFIXES = (b"", b"r", b"u", b"b", b"rb", b"br")


class _QuoteIndex:
    """Where the triple quotes of Python source are, found in one pass when a hit first asks: each hit's
    docstring question is then a binary search, not a count from the start of the content (1,000 hits in
    a 4 MB file counted 4 GB of bytes: seconds).

    Positions are those of a left-to-right, non-overlapping search (what ``bytes.count`` counts)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        from array import array

        # 8 bytes a position (a file of nothing but quotes: 11 MB for 4 MB, not the 50 of a list of ints)
        self.positions = {
            quote: array("q", (m.start() for m in re.finditer(re.escape(quote), data)))
            for quote in _TRIPLE_QUOTES
        }

    def strings_around(self, offset: int) -> Iterator[tuple[bytes, int, int]]:
        """(quote, opening, closing) of each kind of triple-quoted string ``offset`` is inside: an odd
        number of that quote ends before it (the last opens) and one starts at or after it (it closes)."""
        for quote in _TRIPLE_QUOTES:
            positions = self.positions[quote]
            before = bisect.bisect_right(positions, offset - len(quote))
            if before % 2 == 0 or before >= len(positions):
                continue
            after = bisect.bisect_left(positions, offset, before - 1)
            if after < len(positions):
                yield quote, positions[before - 1], positions[after]

    def in_doc_string(self, offset: int) -> bool:
        """Whether ``offset`` is in a docstring or :func:`.filters.in_named_doc_string`, by the index: a
        docstring (opening its line, after a ``def``/``class`` header or at the module's top), or a string
        assigned to a documentation name (``EXAMPLES = r'''``: that check reads the string's own lines)."""
        from lr_ci.secret_rules import filters

        data = self.data
        for quote, opening, closing in self.strings_around(offset):
            line_start = data.rfind(b"\n", 0, opening) + 1
            if data[line_start:opening].strip().lower() in _DOCSTRING_PREFIXES:
                header = data[max(0, line_start - 4096) : line_start].rstrip()
                if (line_start - 4096 < 0 and not header) or header.endswith((b":", b"->")):
                    return True
            named = data[line_start : closing + len(quote)]
            if filters.in_named_doc_string(named, offset - line_start):
                return True
        return False


class _Scan:
    """One :func:`scan` call: keyword windows per rule, their matches, then hits resolved per block."""

    def __init__(
        self, data: bytes, rules: RuleSet, policy: PathPolicy, max_hits: int | None, path: str = ""
    ) -> None:
        self.data = data
        self.rules = rules
        self.policy = policy
        self.path = path
        self.max_hits = max_hits
        # Windows are measured in bytes but a match's length in characters: a character is 1 to 4 bytes.
        self.ascii = data.isascii()
        self.bytes_per_char = 1 if self.ascii else 4
        self.result = Hits()
        self.raw: list[_RawHit] = []
        self.keyword_lines = _LineBounds(data)
        self.hit_lines = _LineBounds(data)
        self.lines = _Lines(data)
        self.taken: dict[int, list[tuple[int, int]]] = {}  # line -> disjoint (first, last column), sorted
        self.check_allows: bool | None = None  # whether the data holds any allow marker, once a hit needs it
        self.allowed_lines: tuple[int, bool] = (0, False)
        self.column_at: tuple[int, int, int] = (-1, 0, 0)  # (line start, byte offset, characters before it)
        self.line_text: tuple[int, str | None] = (-1, "")  # (line start, its text): see _line_text
        self.page_counts: dict[str, int] = {}  # a generic value -> its occurrences in a docs page
        self.scoped = rules.path_rules(path)  # the path-scoped rules that run here: () for most paths
        self.quotes: _QuoteIndex | None = None  # made when a hit in Python source first asks

    def run(self) -> Hits:
        size = len(self.data)
        start = 0
        while start < size:
            end = self._block_end(start)
            self._block(start, end)
            self._resolve()
            if self.result.dropped:
                break  # past the cap: the caller reports the content as not fully examined, at any count
            start = end
        return self.result

    def _block_end(self, start: int) -> int:
        """A block ends after a newline past :data:`_BLOCK_BYTES`, or inside a long line."""
        target = start + _BLOCK_BYTES
        if target >= len(self.data):
            return len(self.data)
        newline = self.data.find(b"\n", target, target + LONG_LINE_BYTES)
        return newline + 1 if newline >= 0 else target

    def _sync(self, offset: int, limit: int) -> int:
        """``offset``, moved forward off a UTF-8 continuation byte (at most 3), not past ``limit``."""
        if self.ascii:
            return offset
        for _ in range(3):
            if offset >= limit or self.data[offset] not in _CONTINUATION:
                break
            offset += 1
        return offset

    def _block(self, block_start: int, block_end: int) -> None:
        """Search every rule around the keywords whose windows own a match start in the block.

        A window *owns* the start positions of the matches it reports: the whole line for a short line,
        else the span reaching a rule's longest match before and after a keyword. Owned spans of
        one rule are merged (so a rule reads a line a bounded number of times, whatever its keywords) and cut
        at the block, so each match start belongs to exactly one window.
        """
        rules, data, size = self.rules, self.data, len(self.data)
        reach = rules.widest_match * self.bytes_per_char
        scan_from = max(0, block_start - rules.longest_keyword)
        scan_to = min(size, block_end + reach)
        pending: dict[int, list[int]] = {}  # rule index -> [owned start, owned end, line start, line end]
        # Per rule: skipped (generic rules in lock files, vendored and minified code), multi-line, reach.
        plan = rules.plan(self.policy.scan != "all", self.bytes_per_char, self.scoped)
        gated = rules.key_gated
        for offset, length, rule_index in rules.keywords_in(data, scan_from, scan_to, bool(self.scoped)):
            window = pending.get(rule_index)
            if window is not None and offset + length <= window[1]:
                continue  # the rule's window already owns this keyword: the common case, kept cheap
            skipped, multiline, width = plan[rule_index]
            if skipped or (gated[rule_index] and not rules.key_may_pass(rule_index, data, offset)):
                continue
            line_start, line_end = (0, size) if multiline else self.keyword_lines.of(offset)
            if (
                not multiline
                and line_end - line_start <= LONG_LINE_BYTES
                and rules.anchored(rule_index)
                and self._no_match_at(rule_index, offset, line_start, line_end)
            ):
                # Every match of this rule starts at one of its keywords, and none starts here: the
                # window search (the same regex on the same line) would find nothing this hit adds.
                continue
            owned_start, owned_end = line_start, line_end
            if multiline or line_end - line_start > LONG_LINE_BYTES:
                owned_start, owned_end = offset - width, offset + length + width
            owned_start = max(owned_start, line_start, block_start)
            owned_end = min(owned_end, line_end, block_end)
            if not self.ascii:
                owned_start, owned_end = self._sync(owned_start, line_end), self._sync(owned_end, line_end)
            if owned_start >= owned_end:
                continue
            if window is not None:
                if window[2] == line_start and owned_start <= window[1]:
                    if owned_end <= window[1]:
                        continue
                    if owned_end - window[0] <= MAX_WINDOW_BYTES:
                        window[1] = owned_end
                        continue
                    self._search(rule_index, *window)
                    pending[rule_index] = [window[1], owned_end, line_start, line_end]
                    continue
                self._search(rule_index, *window)
            pending[rule_index] = [owned_start, owned_end, line_start, line_end]
        for rule_index, window in pending.items():
            self._search(rule_index, *window)
        self._search_scoped(block_start, block_end, plan)  # (nothing to do for most files: self.scoped is ())

    def _search_scoped(self, block_start: int, block_end: int, plan: list[tuple[bool, bool, int]]) -> None:
        """Search the block with each rule scoped to this file's name that has no keywords: its file's name
        is its keyword, so it reads every line (its regex anchors itself to a line's start)."""
        for rule_index in self.scoped:
            if not self.rules.rules[rule_index].keywords and not plan[rule_index][0]:
                self._search(rule_index, block_start, block_end, 0, len(self.data))

    def _no_match_at(self, rule_index: int, offset: int, line_start: int, line_end: int) -> bool:
        """Whether the rule's regex has no match starting at ``offset`` of its (short) line; False when the
        line is not ASCII (a byte offset is then not a character index: the window search decides).

        Only the line need be ASCII, not the data: a whole file added in a history (most of its bytes)
        often holds one accented name, and its ``path``s were otherwise all searched."""
        fixed = self.rules.fixed_literals[rule_index]
        if fixed is not None and (offset + fixed[0] >= line_end or not _may_start(self.data, offset, fixed)):
            # The punctuation every match has there is not there, or not on this line (a character is at
            # least a byte: no match reaches past the line).
            return True
        text = self._line_text(line_start, line_end)
        return (
            text is not None and self.rules.rules[rule_index].regex.match(text, offset - line_start) is None
        )

    def _line_text(self, line_start: int, line_end: int) -> str | None:
        """The line ``[line_start, line_end)`` as text when it is ASCII, else None (the last one kept)."""
        if self.line_text[0] != line_start:
            line = self.data[line_start:line_end]
            self.line_text = (line_start, line.decode("ascii") if self.ascii or line.isascii() else None)
        return self.line_text[1]

    def _search(
        self, rule_index: int, owned_start: int, owned_end: int, line_start: int, line_end: int
    ) -> None:
        """Matches of a rule that start in ``[owned_start, owned_end)``, passing the filters, as raw hits.

        The searched text reaches the rule's longest match past the owned span, and one character before
        it, so ``\\b`` and look-behinds see their context; ``^`` and ``$`` hold only at the real ends of the
        line (or of the data, for multi-line rules): a match that touches a cut end is not reported.
        """
        rule = self.rules.rules[rule_index]
        reach = rule.max_width * self.bytes_per_char
        text_start, text_end = self._text_bounds(owned_start, owned_end + reach + 1, line_start, line_end)
        if rule.required and self._lacks(rule.required_bytes, owned_start, text_end):
            return  # a character every match holds is not where a match could be
        text = self.data[text_start:text_end].decode("utf-8", "surrogateescape")
        self.result.searched += len(text)
        ascii_text = text.isascii()
        if ascii_text:
            first, last = owned_start - text_start, owned_end - text_start
        else:
            first = len(self.data[text_start:owned_start].decode("utf-8", "surrogateescape"))
            last = first + len(self.data[owned_start:owned_end].decode("utf-8", "surrogateescape"))
        cut = text_end < line_end
        offsets = None if ascii_text else _ByteOffsets(text, text_start)
        in_context: bool | None = None
        for match in rule.regex.finditer(text, first):
            if match.start() >= last or (cut and match.end() >= len(text)):
                break  # past the owned span, or touching a cut end
            secret, at = _secret_of(match)
            if not secret:
                continue
            judged = secret if rule.decode is None else _decoded(secret)
            if judged is None:
                continue  # a value that should be base64 and does not decode to text
            if rule.context is not None:
                if in_context is None:
                    in_context = rule.context.search(text) is not None
                if not in_context:
                    continue
            if not _accept(self.rules, rule, match, judged, self.policy):
                continue
            offset = text_start + at if offsets is None else offsets.of(at)
            if rule.generic and self._page_example(secret, offset):
                continue
            # A documented example value is never reported, but it keeps its span (resolved below), so a
            # later rule (a bearer header, a generic keyword) does not report the same value.
            verdict = _verdict(rule, secret)
            self.raw.append((offset, rule_index, secret, match.groupdict().get("key"), verdict))

    def _lacks(self, characters: tuple[bytes, ...], start: int, end: int) -> bool:
        """Whether one of ``characters`` is nowhere in ``data[start:end]``."""
        return any(self.data.find(character, start, end) < 0 for character in characters)

    def _page_example(self, secret: str, offset: int) -> bool:
        """Whether a generic value is an example by where it sits in the page (state of the whole content).

        - In a documentation page (Markdown, reStructuredText, AsciiDoc), or any file in a test, docs or
          example path (an OpenAPI spec's examples, a test module's fixture), a value written 3 times or
          more is the page's example: a tutorial or a test suite repeats the value it shows or feeds, a
          leak is pasted once.
        - In Python, a value inside a docstring (a triple-quoted string that opens a line) is a usage
          example (``>>> OAuth1Session(...)``, the sample responses of an API's documentation). A
          triple-quoted string assigned to a name (a SQL query, a connection string) is not a docstring,
          unless the name says documentation (``EXAMPLES``, ``DOCUMENTATION``, ``RETURN``, ``USAGE``:
          :func:`.filters.in_named_doc_string`).

        - In a test file, a hex value is a published test vector when the file's head cites one (an RFC,
          NIST, "test vectors", Wycheproof: :func:`.filters.is_cited_test_vector`).

        Only generic rules' matches get here, after every filter, so the page is read only for a candidate.
        """
        from lr_ci.secret_rules import filters
        from lr_ci.secret_rules.severity import is_example_path

        example_path = is_example_path(self.path)
        if example_path and filters.is_cited_test_vector(secret, self.data):
            return True
        name = self.path.rsplit("/", 1)[-1].lower()
        if example_path or name.endswith(_DOC_PAGE_SUFFIXES):
            counts = self.page_counts
            if secret not in counts:
                counts[secret] = self.data.count(secret.encode("utf-8", "surrogateescape"), 0, _PAGE_BYTES)
            if counts[secret] >= 3:
                return True
        if name.endswith((".py", ".pyi")):
            return self._in_doc_string(offset)
        return False

    def _in_doc_string(self, offset: int) -> bool:
        """Whether ``offset`` of this Python source is in a docstring or a documentation string."""
        if self.quotes is None:
            self.quotes = _QuoteIndex(self.data)
        return self.quotes.in_doc_string(offset)

    def _text_bounds(self, start: int, end: int, line_start: int, line_end: int) -> tuple[int, int]:
        """The bytes to decode for a window: one character of context before ``start``, whole characters."""
        if start > line_start:
            start -= 1
            for _ in range(3):
                if self.ascii or start <= line_start or self.data[start] not in _CONTINUATION:
                    break
                start -= 1
        return start, self._sync(min(line_end, end), line_end)

    def _resolve(self) -> None:
        """The block's raw hits as hits: line and column, one per secret occurrence, inline allows."""
        if not self.raw:
            return
        from lr_ci.secret_rules.severity import decide
        from lr_ci.secret_rules.verify import Verdict

        raw, self.raw = sorted(self.raw, key=lambda item: (item[0], item[1])), []
        python = self.path.lower().endswith((".py", ".pyi"))
        located: list[tuple[int, int, int, int, Hit]] = []  # (rule index, line, column, line start, hit)
        examples: set[int] = set()  # ids of the hits that are documented examples: they only hold a span
        for offset, rule_index, secret, key, verdict in raw:
            line_start, _line_end = self.hit_lines.of(offset)
            line = self.lines.line_of(line_start)
            rule = self.rules.rules[rule_index]
            severity, note = decide(
                rule.severity,
                generic=rule.generic,
                verdict=verdict,
                path=self.path,
                verifier=rule.verify,
                documentation=python and self._documentation(rule, verdict, offset),
            )
            column = self._column(line_start, offset)
            hit = Hit(rule, secret, line, column, key, severity=severity, note=note)
            if verdict is Verdict.EXAMPLE:
                examples.add(id(hit))
            located.append((rule_index, line, hit.column, line_start, hit))
        kept = [item for item in sorted(located, key=lambda item: item[:3]) if self._take(item[4])]
        last_line = located[-1][1]
        self.taken = {line: spans for line, spans in self.taken.items() if line >= last_line}
        for _rank, _line, _column, line_start, hit in sorted(kept, key=lambda item: item[1:3] + item[:1]):
            if examples and id(hit) in examples:
                continue
            if self.max_hits is not None and len(self.result) >= self.max_hits:
                self.result.dropped += 1
                continue
            if self.check_allows is None:
                self.check_allows = any(marker in self.data for marker in _ALLOW_MARKERS)
            allowed = self.check_allows and self._allowed(hit.line, line_start)
            self.result.append(replace(hit, allowed=True) if allowed else hit)

    def _documentation(self, rule: Rule, verdict: Verdict | None, offset: int) -> bool:
        """Whether a provider rule's hit at ``offset`` of Python source is a documentation example: inside a
        docstring, or a string named as documentation (``EXAMPLES = r'''``:
        :func:`.filters.in_named_doc_string`).

        Asked per hit, and only where severity.decide would use the answer (an unverified hit of a provider
        rule above low): the content is read only for a candidate. Generic rules' hits there are dropped
        already (:meth:`_page_example`).
        """
        from lr_ci.secret_rules.verify import Verdict

        if rule.generic or verdict is Verdict.VERIFIED or rule.severity.rank <= Severity.LOW.rank:
            return False
        return self._in_doc_string(offset)

    def _column(self, line_start: int, offset: int) -> int:
        """The 1-based column, in characters, of byte ``offset`` on the line starting at ``line_start``."""
        if self.ascii:
            return offset - line_start + 1
        start, at, chars = self.column_at
        if start != line_start or offset < at:
            at, chars = line_start, 0
        chars += len(self.data[at:offset].decode("utf-8", "surrogateescape"))
        self.column_at = (line_start, offset, chars)
        return chars + 1

    def _take(self, hit: Hit) -> bool:
        """Whether ``hit``'s span on its line is still free (the earliest rule in rules/*.toml wins)."""
        first, last = hit.column, hit.column + len(hit.secret) - 1
        spans = self.taken.setdefault(hit.line, [])
        index = bisect.bisect_left(spans, (first, first))
        if index > 0 and spans[index - 1][1] >= first:
            return False
        if index < len(spans) and spans[index][0] <= last:
            return False
        spans.insert(index, (first, last))
        return True

    def _allowed(self, line: int, start: int) -> bool:
        """Whether ``line`` (starting at byte ``start``), or the line before, carries an inline allow."""
        known, allowed = self.allowed_lines
        if known == line:
            return allowed
        data = self.data
        end = data.find(b"\n", start)
        end = end if end >= 0 else len(data)
        allowed = any(data.find(marker, start, end) >= 0 for marker in _ALLOW_SAME_LINE)
        if not allowed and start > 0:
            previous = data.rfind(b"\n", 0, start - 1) + 1
            allowed = any(data.find(marker, previous, start - 1) >= 0 for marker in _ALLOW_NEXT_LINE)
        self.allowed_lines = (line, allowed)
        return allowed


def scan(
    data: bytes,
    path: str,
    rules: RuleSet | None = None,
    *,
    max_hits: int | None = DEFAULT_MAX_HITS,
    specific_only: bool = False,
) -> Hits:
    """Every secret in ``data`` (the content of ``path``), in order of position, at most ``max_hits``;
    ``specific_only``: provider rules only, as for a lock file (the caller knows the content is a
    compiled program's strings).

    Binary content is the caller's to skip (:func:`is_binary`); this function assumes text and decodes it
    as UTF-8 with undecodable bytes kept as surrogates. Time is linear in ``len(data)`` and memory a small
    multiple of it plus ``max_hits`` hits; hits past ``max_hits`` are counted in ``Hits.dropped``.
    """
    rules = rules or default_rules()
    policy = path_policy(path)
    if policy.scan == "skip":
        return Hits()
    if policy.scan == "all" and (
        specific_only
        # (no line of a text this short can be that long: the count is skipped, most texts are)
        or (len(data) > MINIFIED_LINE_BYTES and len(data) > (data.count(b"\n") + 1) * MINIFIED_LINE_BYTES)
    ):
        policy = PathPolicy("specific", policy.code)
    return _Scan(data, rules, policy, max_hits, path).run()
