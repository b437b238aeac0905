"""Content as the rules read it, whatever its encoding: UTF-16/UTF-32 (with a BOM, or by the pattern of its
zero bytes) decoded, anything else with NUL bytes reduced to its printable runs, piece by piece.

The secret scan reads files, blobs and patches through it, and ``lr-ci bundle`` its built files: a secret
in a config saved as UTF-16 is found by both, at the same line and column.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator

from lr_ci.secret_rules.engine import BINARY_SNIFF_BYTES

# Control bytes (all but tab, newline, carriage return) -> space: the printable runs of binary content.
_BLANK_CONTROLS = bytes(
    32 if (byte < 32 and byte not in (9, 10, 13)) or byte == 127 else byte for byte in range(256)
)


def sniff(data: bytes) -> str:
    """How to read content, from its first bytes: ``text``, a codec name, or ``printable`` (runs only)."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = data[:BINARY_SNIFF_BYTES]
    if b"\0" not in sample:
        return "text"
    even, odd = sample[0::2], sample[1::2]
    if len(sample) >= 8:
        if odd.count(0) > 0.7 * len(odd) and even.count(0) < 0.1 * len(even):
            return "utf-16-le"
        if even.count(0) > 0.7 * len(even) and odd.count(0) < 0.1 * len(odd):
            return "utf-16-be"
    return "printable"


# A run of at least 4 UTF-16 code units of ASCII (``t\0o\0k\0``): how Windows tools store strings.
_UTF16_RUN = re.compile(rb"(?:[\t\n\r\x20-\x7e]\x00){4,}")
_HELD_BACK_BYTES = 64 << 10
"""At most this much of a UTF-16 run at the end of one piece waits for the next (to stay aligned)."""


def _collapse_utf16_runs(data: bytes) -> bytes:
    return _UTF16_RUN.sub(lambda run: run[0][0::2], data)


# The first bytes of compiled programs: ELF, Mach-O (both byte orders, 32/64-bit, universal), WebAssembly.
_PROGRAM_MAGIC = (
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"\0asm",
)


def is_compiled_program(first: bytes) -> bool:
    """Whether content that starts with ``first`` is a compiled program (ELF, Mach-O, PE, WebAssembly).

    Its printable runs are still read for provider tokens (a key compiled into a binary is a leak), but a
    keyword near a value there is a string table's neighbours (``password`` beside a format string), not an
    assignment: the generic rules are for text someone wrote.
    """
    if first.startswith(_PROGRAM_MAGIC):
        return True
    return first.startswith(b"MZ") and b"PE\0\0" in first[:1024]


class Decoder:
    """Turns content into bytes the rules read, piece by piece (a multi-byte character may be split).

    The first piece decides (:func:`sniff`), but text can change under way: a log that turns to UTF-16
    after its first 8 KB, UTF-16 strings in a file that looks binary. So in any piece with NUL bytes
    that is not decoded as a whole, runs of UTF-16 ASCII are collapsed to their characters (as
    ``strings -el`` finds them); a run that reaches the end of a piece waits for the next one, so a
    secret across the boundary stays whole (columns after a collapsed run count its characters).
    """

    def __init__(self, first: bytes) -> None:
        self.kind = sniff(first)
        self._codec = (
            codecs.getincrementaldecoder(self.kind)(errors="replace")
            if self.kind not in ("text", "printable")
            else None
        )
        self._held = b""

    @property
    def binary(self) -> bool:
        return self.kind != "text"

    def __call__(self, data: bytes, final: bool = False) -> bytes:
        if self._codec is not None:
            return self._codec.decode(data, final).encode("utf-8", "surrogateescape")
        data, self._held = self._held + data, b""
        if b"\0" in data:
            if not final:
                data, self._held = self._split_trailing_run(data)
            data = _collapse_utf16_runs(data)
        if self.kind == "printable":
            return data.translate(_BLANK_CONTROLS)
        return data

    @staticmethod
    def _split_trailing_run(data: bytes) -> tuple[bytes, bytes]:
        """``data`` cut before a UTF-16 run that reaches its end (if at most :data:`_HELD_BACK_BYTES`)."""
        tail_from = max(0, len(data) - _HELD_BACK_BYTES)
        last = None
        for last in _UTF16_RUN.finditer(data, tail_from):  # noqa: B007 - the last one is wanted
            pass
        if last is not None and last.end() >= len(data) - 1 and last.start() > tail_from:
            return data[: last.start()], data[last.start() :]
        return data, b""


def decoded(chunks: Iterable[bytes], sniffed: Callable[[Decoder], None] | None = None) -> Iterator[bytes]:
    """``chunks`` as the bytes the rules read (:class:`Decoder`, chosen by the first chunk); ``sniffed``
    is told which decoder that is. The secret scanner and ``lr-ci bundle`` read content this one way."""
    decoder: Decoder | None = None
    for chunk in chunks:
        if decoder is None:
            decoder = Decoder(chunk)
            if sniffed is not None:
                sniffed(decoder)
        yield decoder(chunk)
    if decoder is not None:
        yield decoder(b"", final=True)
