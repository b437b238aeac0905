"""Redaction: the one mechanism that keeps secrets and credentials out of every output.

Checks never format secrets themselves. They attach a found secret to its finding (``Finding.secret``), and
the config loader registers every value it reads from the environment. The output layer and the error
handler pass everything they write through :meth:`Redactor.scrub`, so a check cannot forget to redact.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

CREDENTIAL_MASK = "***"
# A value this short (a user name like "ops") is masked only as a whole word, not inside other words.
WHOLE_WORD_BELOW = 8
_SURROGATE = re.compile("[\ud800-\udfff]")
# Shorter values would mask ordinary words; no real credential or secret is this short.
MIN_MASKED_LENGTH = 3
MAX_SPELLED_LENGTH = 4096
"""Credentials up to this long are matched in every spelling (:func:`credential_pattern`); longer ones (a
value a hostile server hands a capture: 4 MiB of token) only in their exact encoded forms. The any-spelling
regex grows with the value: compiling it for 4 MiB would take minutes and gigabytes."""


def preview(secret: str) -> str:
    """Show a secret as the contract allows: at most its first 4 characters, then ``…`` and its length.

    Short secrets show fewer characters (a quarter of their length) so that the preview never gives most
    of a short password away.
    """
    shown = secret[: min(4, len(secret) // 4)]
    return f"{shown}…({len(secret)} chars)"


def printable(text: str) -> str:
    """``text`` with undecodable bytes (file names, file content read with ``surrogateescape``) as ``\\xNN``.

    Lone surrogates cannot be written as UTF-8: left in, they crash the writer of a JSON or SARIF file.
    """
    if not _SURROGATE.search(text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def _escapable(value: str) -> bool:
    try:
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def _encoded_forms(value: str) -> set[str]:
    """The spellings a value takes inside JSON, XML/HTML and URLs, so each one is caught."""
    import html  # here, not at the top: the staged hook's start-up

    forms = {value, json.dumps(value)[1:-1], html.escape(value), html.escape(value, quote=False)}
    # Bytes, so a value holding undecodable bytes (surrogates) is percent-encoded as a URL would carry it.
    raw = (
        value.encode("utf-8", "surrogateescape") if not _SURROGATE.search(value) or _escapable(value) else b""
    )
    forms |= {quote(raw, safe=""), quote_plus(raw), json.dumps(value, ensure_ascii=True)[1:-1]}
    # Each line of a multi-line secret (a PEM block) is masked on its own, its indentation left out: a
    # blank line of a PGP block under a YAML `key: |` is four spaces, and masking every run of four spaces
    # would mask the report's own indentation (a JSON report that no longer parses).
    forms |= {line.strip() for line in value.splitlines() if len(line.strip()) >= MIN_MASKED_LENGTH}
    return {form for form in forms if len(form) >= MIN_MASKED_LENGTH}


def _alternative(value: str, escaped: str | None = None) -> str:
    escaped = re.escape(value) if escaped is None else escaped
    if len(value) < WHOLE_WORD_BELOW:
        return rf"(?<![A-Za-z0-9_]){escaped}(?![A-Za-z0-9_])"
    return escaped


MAX_SPELLED_CHAR = 32
"""The longest spelling of one character :func:`_char_pattern` is taken to have (7 backslashes and
``\\ud83d\\ude00`` are 19; HTML references may pad zeros without end, counted up to this)."""
_NAMED_ESCAPES = {"\n": "n", "\r": "r", "\t": "t", "\b": "b", "\f": "f", "\v": "v", "\0": "0"}
_HTML_NAMES = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}
# Repeated escaping (a repr() inside JSON inside a log line) puts up to this many backslashes before a char.
_MAX_BACKSLASHES = 7


def _hex(number: int, width: int) -> str:
    """``number`` as ``width`` hex digits, matching either case (``%2f`` and ``%2F``)."""
    digits = f"{number:0{width}x}"
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in digits)


def _char_pattern(char: str) -> str:
    """A regex for one character in any spelling the outputs and transports give it.

    Raw; percent-encoded (each UTF-8 byte, either hex case; ``+`` for a space); JSON/JavaScript/Python
    escapes (``\\u0027``, ``\\x27``, ``\\n``, a backslash before a quote); HTML/XML character references
    (``&#39;``, ``&#x27;``, ``&apos;``). A mix of spellings in one value is matched too, as a URL encoder
    that keeps some characters and encodes others produces.
    """
    code = ord(char)
    spellings = [re.escape(char)]
    encoded = char.encode("utf-8", "surrogatepass")
    spellings.append("".join("%" + _hex(byte, 2) for byte in encoded))
    if char == " ":
        spellings.append(r"\+")
    if code < 0x10000:
        spellings.append(r"\\u" + _hex(code, 4))
    else:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        spellings.append(r"\\u" + _hex(high, 4) + r"\\u" + _hex(low, 4))
        spellings.append(r"\\U" + _hex(code, 8))
    if code < 0x100:
        spellings.append(r"\\x" + _hex(code, 2))
    if char in _NAMED_ESCAPES:
        spellings.append(r"\\" + _NAMED_ESCAPES[char])
    spellings.append(f"&#0*{code};")
    spellings.append("&#[xX]0*" + _hex(code, 1 if code < 16 else len(f"{code:x}")) + ";")
    if char in _HTML_NAMES:
        spellings.append(f"&{_HTML_NAMES[char]};")
    # Quotes, backslashes and escapes get escaped again by repr(), JSON and shells, sometimes more than once.
    return rf"\\{{0,{_MAX_BACKSLASHES}}}(?:" + "|".join(spellings) + ")"


def credential_pattern(value: str) -> str:
    """A regex matching ``value`` in every encoding it may take on its way to an output.

    Each character may be spelt as :func:`_char_pattern` allows, so that a credential is masked however
    a server echoed it or a report quoted it.
    """
    return "".join(_char_pattern(char) for char in value)


def basic_auth_token(user: str, password: str) -> str:
    """What HTTP Basic authentication sends for ``user:password``: a credential of its own."""
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _matchable(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes) as U+FFFD: the automaton reads UTF-8 only, and the
    one-for-one swap keeps every index. Values that differ only there are masked alike (never less)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


class _ExactForms:
    """Every known value's exact spellings, found in one pass (Aho-Corasick, leftmost-longest).

    A report can hold thousands of found secrets; one regex alternation of them all costs the number of
    values times the length of every string written. The automaton costs the length of the text, so a
    value that contains another is still replaced whole, whatever the count. A form shorter than
    :data:`WHOLE_WORD_BELOW` counts only as a whole word (a user name like "ops" inside "devops" is not
    masked).

    The automaton is a contiguous NFA, built in time linear in the forms: the library's default for few
    patterns is a DFA, whose construction took 20 s for one 64 KiB form of a repeated character. Forms
    longer than :data:`MAX_SPELLED_LENGTH` (a 4 MiB token a server handed a capture) are not in it at
    all: each is replaced with ``str.replace`` first, longest first, which costs one linear search each.
    """

    def __init__(self, forms: list[str]) -> None:
        import ahocorasick_rs

        self.long_forms = sorted((f for f in forms if len(f) > MAX_SPELLED_LENGTH), key=len, reverse=True)
        self.forms = [form for form in forms if len(form) <= MAX_SPELLED_LENGTH]
        self.automaton = (
            ahocorasick_rs.AhoCorasick(
                [_matchable(form) for form in self.forms],
                matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
                implementation=ahocorasick_rs.Implementation.ContiguousNFA,
            )
            if self.forms
            else None
        )

    def replace(self, text: str, replacements: dict[str, str]) -> str:
        for form in self.long_forms:
            if form in text:
                text = text.replace(form, replacements[form])
        if self.automaton is None:
            return text
        pieces: list[str] = []
        done = 0
        for index, start, end in self.automaton.find_matches_as_indexes(_matchable(text)):
            form = self.forms[index]
            if len(form) < WHOLE_WORD_BELOW and (_word_at(text, start - 1) or _word_at(text, end)):
                continue
            pieces += [text[done:start], replacements[form]]
            done = end
        return "".join(pieces) + text[done:] if pieces else text


def _word_at(text: str, index: int) -> bool:
    return 0 <= index < len(text) and (
        text[index].isascii() and (text[index].isalnum() or text[index] == "_")
    )


class Redactor:
    """Knows every sensitive value of one run and replaces it wherever it would be written."""

    def __init__(self) -> None:
        self._replacements: dict[str, str] = {}
        self._credentials: list[str] = []
        self._pattern: _ExactForms | None = None
        self._credential_pattern: re.Pattern[str] | None = None
        self._reach = 0
        self.on_credential: Callable[[str], None] | None = None
        """Called once per new credential (GitHub mode prints ``::add-mask::`` with it)."""

    @property
    def credentials(self) -> tuple[str, ...]:
        """The credentials read during this run, in the order they were read (for ``::add-mask::``)."""
        return tuple(self._credentials)

    def add_credential(self, value: str) -> None:
        """Register a credential (a value read from the environment); it is shown as ``***``."""
        if len(value) < MIN_MASKED_LENGTH or value in self._credentials:
            return
        self._credentials.append(value)
        if len(value) <= MAX_SPELLED_LENGTH:
            self._reach = max(self._reach, len(value) * MAX_SPELLED_CHAR)
        self._add(value, CREDENTIAL_MASK)
        self._credential_pattern = None
        if self.on_credential is not None:
            self.on_credential(value)

    def add_secret(self, value: str) -> None:
        """Register a found secret; it is shown as its :func:`preview`."""
        if len(value) >= MIN_MASKED_LENGTH and value not in self._replacements:
            self._add(value, preview(value))

    def add_secrets(self, values: Iterable[str]) -> None:
        for value in values:
            self.add_secret(value)

    def _add(self, value: str, mask: str) -> None:
        for form in _encoded_forms(value):
            # A credential mask wins over a secret preview for the same text.
            if self._replacements.get(form) != CREDENTIAL_MASK:
                self._replacements[form] = mask
            self._reach = max(self._reach, len(form))
        self._pattern = None

    @property
    def reach(self) -> int:
        """The longest text one known value may be spelt as: mask a text that much past where it will be
        cut, and a value that starts before the cut is masked whole."""
        return self._reach

    def _compiled(self) -> _ExactForms | None:
        if self._pattern is None and self._replacements:
            self._pattern = _ExactForms(list(self._replacements))
        return self._pattern

    def _compiled_credentials(self) -> re.Pattern[str] | None:
        if self._credential_pattern is None and self._credentials:
            spelled = [value for value in self._credentials if len(value) <= MAX_SPELLED_LENGTH]
            if not spelled:
                return None
            alternatives = sorted(spelled, key=len, reverse=True)
            self._credential_pattern = re.compile(
                "|".join(_alternative(value, credential_pattern(value)) for value in alternatives)
            )
        return self._credential_pattern

    def scrub_text(self, text: str) -> str:
        """``text`` safe to write: every known value masked, undecodable bytes made :func:`printable`.

        Credentials are matched in any spelling first (:func:`credential_pattern`), then every known value
        in its exact encoded forms (found secrets, and the lines of a multi-line credential).
        """
        credentials = self._compiled_credentials()
        if credentials is not None:
            text = credentials.sub(CREDENTIAL_MASK, text)
        exact = self._compiled()
        if exact is not None:
            text = exact.replace(text, self._replacements)
        return printable(text)

    def scrub(self, value: object) -> object:
        """Scrub every string inside ``value`` (dicts, lists and tuples are walked; keys too)."""
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub(item) for item in value]
        return value
