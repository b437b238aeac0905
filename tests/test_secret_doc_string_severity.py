"""A provider rule's hit in a Python docstring or documentation string is a documentation example: low,
unless its checksum or structure verifies (severity.decide, engine._Scan._documentation; docs/secrets.md,
"Severity")."""

from __future__ import annotations

import zlib

from lr_ci.report import Severity
from lr_ci.secret_rules.engine import Hit, default_rules, scan
from lr_ci.secret_rules.severity import CHECKSUM_FAILED, CHECKSUM_VERIFIED, DOC_STRING, decide
from lr_ci.secret_rules.verify import Verdict, base62

RULES = {rule.id: rule for rule in default_rules().rules}
# Synthetic values, made for this test: a PEM block of the private-key rule's own example, an AWS key id
# (no checksum), and GitHub tokens whose CRC32 holds and does not.
PEM = RULES["private-key"].true_examples[0]
AWS = "AKIAZ7Q3WX5KD2LMNB4R"
_BODY = "Tq7Lm2Rx9Vb4Kp8Wz3Nc6Hd1Jf5Gs0"
GH_VERIFIED = f"ghp_{_BODY}{base62(zlib.crc32(_BODY.encode()))}"
GH_FAILED = f"ghp_{_BODY}AAAAAA"


def _only(hits: list[Hit], rule_id: str) -> Hit:
    found = [hit for hit in hits if hit.rule.id == rule_id]
    assert len(found) == 1, [(h.rule.id, h.severity) for h in hits]
    return found[0]


def test_the_tokens_are_what_the_test_says() -> None:
    from lr_ci.secret_rules.verify import verify

    assert verify("github-crc32", GH_VERIFIED) is Verdict.VERIFIED
    assert verify("github-crc32", GH_FAILED) is Verdict.FAILED


def test_a_private_key_in_an_ansible_modules_examples_is_low() -> None:
    """The Ansible-module shape: ``EXAMPLES = r'''`` holds a task with a PEM key, written for a reader."""
    indented = PEM.replace("\n", "\n    ")
    source = (
        "#!/usr/bin/python\n"
        "DOCUMENTATION = r'''\nmodule: ops_cert\n'''\n\n"
        "EXAMPLES = r'''\n- name: Install a certificate\n  ops_cert:\n    private_key: |\n"
        f"    {indented}\n'''\n\n"
        "def main():\n    pass\n"
    )
    hit = _only(scan(source.encode(), "plugins/modules/ops_cert.py"), "private-key")
    assert (hit.severity, hit.note) == (Severity.LOW, DOC_STRING)


def test_a_private_key_assigned_in_code_keeps_its_severity() -> None:
    source = f'KEY = """{PEM}"""\n\ndef main():\n    pass\n'
    hit = _only(scan(source.encode(), "app/keys.py"), "private-key")
    assert (hit.severity, hit.note) == (Severity.CRITICAL, None)


def _docstring(token: str) -> bytes:
    return (
        f'def client():\n    """Make a client.\n\n    >>> Client(token="{token}")\n    """\n    return 1\n'
    ).encode()


def test_a_token_whose_checksum_holds_stays_critical_in_a_docstring() -> None:
    hit = _only(scan(_docstring(GH_VERIFIED), "ops/client.py"), "github-token")
    assert (hit.severity, hit.note) == (Severity.CRITICAL, CHECKSUM_VERIFIED)


def test_a_token_whose_checksum_fails_is_low_in_a_docstring() -> None:
    hit = _only(scan(_docstring(GH_FAILED), "ops/client.py"), "github-token")
    assert hit.severity is Severity.LOW and hit.note == CHECKSUM_FAILED


def test_a_token_without_a_checksum_is_low_in_a_docstring_and_unchanged_in_code() -> None:
    hit = _only(scan(_docstring(AWS), "ops/client.py"), "aws-access-key-id")
    assert (hit.severity, hit.note) == (Severity.LOW, DOC_STRING)
    in_code = _only(scan(f'client = Client(token="{AWS}")\n'.encode(), "ops/client.py"), "aws-access-key-id")
    assert (in_code.severity, in_code.note) == (RULES["aws-access-key-id"].severity, None)
    # a docstring's shape in a file that is not Python is no docstring
    other = _only(scan(_docstring(AWS), "ops/client.rb"), "aws-access-key-id")
    assert other.severity is RULES["aws-access-key-id"].severity


def test_decide_documentation() -> None:
    """The policy itself: documentation lowers an unverified provider hit, never a verified one, and a
    rule already low stays as it is."""
    path = "ops/client.py"
    assert decide(Severity.HIGH, generic=False, verdict=None, path=path, documentation=True) == (
        Severity.LOW,
        DOC_STRING,
    )
    assert decide(Severity.LOW, generic=False, verdict=None, path=path, documentation=True) == (
        Severity.LOW,
        None,
    )
    verified = decide(
        Severity.CRITICAL,
        generic=False,
        verdict=Verdict.VERIFIED,
        path=path,
        verifier="jwt",
        documentation=True,
    )
    assert verified == (Severity.CRITICAL, "structure verified")
    assert decide(Severity.HIGH, generic=False, verdict=None, path="ops/client.py") == (Severity.HIGH, None)


def _in_docstring(data: bytes, offset: int) -> bool:
    """Whether ``offset`` of Python source ``data`` is inside a docstring: after an odd number of one
    kind of triple quote, the last of which opens its line (only spaces and a string prefix before it),
    right after a ``def``/``class`` header or at the top of the module, and closes after ``offset``."""
    start = 0
    for quote in (b'"""', b"'''"):
        if data.count(quote, start, offset) % 2 == 0:
            continue
        opening = data.rfind(quote, start, offset)
        line_start = data.rfind(b"\n", 0, opening) + 1
        before = data[line_start:opening].strip().lower()
        if before not in (b"", b"r", b"u", b"b", b"rb", b"br"):
            continue
        # The docstring closes after the value, and opens a module (nothing before it) or follows a
        # ``def``/``class`` header: a history scan reads runs of added lines, where a lone closing quote
        # at the top of a run must not turn the code after it into a docstring.
        header = data[:line_start].rstrip()
        if data.find(quote, offset) >= 0 and (not header or header.endswith((b":", b"->"))):
            return True
    return False


def test_the_quote_index_answers_as_the_counting_checks_do() -> None:
    """The index (one pass per scan, then a binary search per hit) gives the same answer at every offset
    as :func:`_in_docstring` (below: the engine's check before the index) and
    :func:`.filters.in_named_doc_string`, which count from the start."""
    from lr_ci.secret_rules import filters
    from lr_ci.secret_rules.engine import _QuoteIndex

    sources = [
        _docstring(AWS).decode(),
        f'"""Module doc {AWS}."""\nX = 1\n',
        f"EXAMPLES = r'''\n- key: {AWS}\n'''\nRETURN = '''\nok: {AWS}\n'''\nKEY = '''{AWS}'''\n",
        f'QUERY = """select {AWS}"""\ndef f() -> str:\n    """Doc {AWS}."""\n    return """{AWS}"""\n',
        f"x = 1\n'''unclosed {AWS}\n",
        f"def f():\n    r\"\"\"Doc '''{AWS}''' end.\"\"\"\n",
    ]
    for source in sources:
        data = source.encode()
        index = _QuoteIndex(data)
        for offset in range(len(data)):
            expected = _in_docstring(data, offset) or filters.in_named_doc_string(data, offset)
            assert index.in_doc_string(offset) == expected, (source, offset)


def test_many_provider_hits_in_a_large_python_file_cost_one_pass() -> None:
    """1,000 hits in a 2 MB module asked whether they are in a docstring: not a count from the start each
    (that took seconds), so the module costs about what the same text costs under another name."""
    import time

    line = f'x = "{AWS}"  # ' + "a" * 2000 + "\n"
    data = (line * 1000).encode()
    started = time.process_time()
    scan(data, "ops/settings.cfg")
    other = time.process_time() - started
    started = time.process_time()
    scan(data, "ops/settings.py")
    python = time.process_time() - started
    assert python < 2 * other + 0.5, (python, other)
