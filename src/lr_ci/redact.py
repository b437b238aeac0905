"""Redaction: the one mechanism that keeps secrets and credentials out of every output.

Checks never format secrets themselves. They attach a found secret to its finding (``Finding.secret``), and
the config loader registers every value it reads from the environment. The output layer and the error
handler pass everything they write through :meth:`Redactor.scrub`, so a check cannot forget to redact.
"""

from __future__ import annotations

import html
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


def _encoded_forms(value: str) -> set[str]:
    """The spellings a value takes inside JSON, XML/HTML and URLs, so each one is caught."""
    forms = {value, json.dumps(value)[1:-1], html.escape(value), html.escape(value, quote=False)}
    forms |= {quote(value, safe=""), quote_plus(value), json.dumps(value, ensure_ascii=True)[1:-1]}
    forms |= {line for line in value.splitlines() if len(line) >= MIN_MASKED_LENGTH}
    return {form for form in forms if len(form) >= MIN_MASKED_LENGTH}


def _alternative(value: str) -> str:
    escaped = re.escape(value)
    if len(value) < WHOLE_WORD_BELOW:
        return rf"(?<![A-Za-z0-9_]){escaped}(?![A-Za-z0-9_])"
    return escaped


class Redactor:
    """Knows every sensitive value of one run and replaces it wherever it would be written."""

    def __init__(self) -> None:
        self._replacements: dict[str, str] = {}
        self._credentials: list[str] = []
        self._pattern: re.Pattern[str] | None = None
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
        self._add(value, CREDENTIAL_MASK)
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
        self._pattern = None

    def _compiled(self) -> re.Pattern[str] | None:
        if self._pattern is None and self._replacements:
            # Longest first, so a value that contains another is replaced whole.
            alternatives = sorted(self._replacements, key=len, reverse=True)
            self._pattern = re.compile("|".join(_alternative(a) for a in alternatives))
        return self._pattern

    def scrub_text(self, text: str) -> str:
        """``text`` safe to write: every known value masked, undecodable bytes made :func:`printable`."""
        pattern = self._compiled()
        if pattern is not None:
            text = pattern.sub(lambda match: self._replacements[match.group(0)], text)
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
