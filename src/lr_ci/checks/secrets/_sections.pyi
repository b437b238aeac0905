"""The compiled reader of ``git log -p -U0`` output (``_sections.c``): see ``git.sections``."""

from lr_ci.checks.secrets.git import Section

def sections(text: bytes | bytearray, /) -> list[Section]: ...
