"""How sure a hit is, as its severity: the policy of docs/secrets.md, "Severity", as one pure function.

The default gate (``fail_on = "medium"``) fails on medium and above, so the severity of a hit is what
decides whether a build fails. It says how sure lr-ci is that the value is a live secret:

1. A verified checksum (:mod:`.verify`) is **critical**, wherever it is: a token that the provider's
   algorithm made is a leak in a test file too. A verified structure (a JWT or a macaroon that decodes) is
   critical outside test, docs and example paths; in them it is low like any unchecked hit (test suites
   mint their own JWTs).
2. A checksum or structure that does not verify is **low**: hand-typed examples and other projects'
   random test values fail it. Still reported, so that nothing is silently dropped.
3. A provider rule's hit in a Python docstring or documentation string (``EXAMPLES = r'''...'''``,
   ``DOCUMENTATION``, ``RETURN``: an Ansible module's usage examples) is **low**, unless its checksum or
   structure verifies: a usage example written for a reader (``>>> Client(token="ghp_...")``), not a
   leak. The same value assigned in code keeps its severity. (Generic hits there are dropped.)
4. Any other hit in a test, documentation or example path (:func:`is_example_path`) is **low**: that is
   where the false alarms of real repositories were (placeholders in prose, tokens in test data).
5. A generic rule (a keyword near a value) is **medium** at most: it has no format to be sure of.
6. Otherwise the rule's own severity (test-mode keys are low in the rules already).

A documented example value (:attr:`.Verdict.EXAMPLE`) is dropped by the engine before this is asked.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lr_ci.report import Severity
from lr_ci.secret_rules.verify import CHECKSUMS, Verdict

# Folders whose files are tests, test data, documentation or examples (any depth, compared lower-case).
EXAMPLE_DIRS = frozenset(
    "test tests __tests__ __test__ testing testdata test_data test-data test-fixtures spec specs "
    "fixtures __fixtures__ __mocks__ mocks e2e docs doc documentation examples example samples sample "
    "demo demos molecule".split()
)
# Suffixes of documentation files.
DOC_SUFFIXES = (".md", ".markdown", ".mdx", ".rst", ".adoc", ".asciidoc")
# A ``.txt`` counts as documentation only under these names (``notes.txt`` or ``keys.txt`` holding a
# token is a leak, not a page; ``requirements.txt`` is configuration).
DOC_TXT_NAMES = frozenset(
    "readme changelog changes history news license authors contributing install usage".split()
)
# Test files by name, in the conventions of each language's test runner.
TEST_NAME_SUFFIXES = (
    "_test.go",
    "_test.py",
    "_tests.py",
    "_spec.rb",
    "_test.rb",
    "test.java",
    "tests.java",
    "test.kt",
    "tests.kt",
    "tests.cs",
    "test.cs",
    "test.php",
    "test.swift",
    "tests.swift",
    "_test.dart",
    "_test.exs",
)
TEST_NAME_PREFIXES = ("test_", "conftest.")
# ``app.test.ts``, ``app.spec.js``, ``config.example.yml``, ``.env.sample``: a dotted part says what it is.
EXAMPLE_NAME_PARTS = frozenset("test tests spec example examples sample template tmpl".split())

# Whole file names that are tests or a package's documentation: ``test.py``/``tests.py`` (a module's own
# tests beside it), and PKG-INFO (a Python package's README, copied into its metadata; a wheel's
# ``*.dist-info/METADATA`` likewise).
EXAMPLE_FILE_NAMES = frozenset("test.py tests.py test.js tests.js test.rs tests.rs pkg-info".split())
# Folder names made of words (``docs_src``, ``unit_tests``, ``test-utils``, ``examples-python``): one word
# of EXAMPLE_DIRS among them marks the folder as tests, docs or examples.
_FOLDER_WORDS = re.compile(r"[_\-.]")


def _has_example_word(folder: str) -> bool:
    """Whether a folder's name, split at ``_``, ``-`` and ``.``, holds a word of :data:`EXAMPLE_DIRS`, or
    starts with a word that says it is a stand-in (``dummyserver``, ``fakeapi``, ``mockserver``)."""
    if folder.startswith(_STAND_IN_PREFIXES):
        return True
    return bool(_FOLDER_WORDS.search(folder)) and any(
        word in EXAMPLE_DIRS for word in _FOLDER_WORDS.split(folder) if word
    )


# Folder names that start with these are a test's stand-ins (dummyserver, fake_backend, mockapi).
_STAND_IN_PREFIXES = ("dummy", "fake", "mock")
# Words of a file's stem that say it is an example (``examples-1.json``, ``sample_config.yml``).
_EXAMPLE_STEM_WORDS = frozenset("example examples sample samples".split())


CHECKSUM_VERIFIED = "checksum verified"
STRUCTURE_VERIFIED = "structure verified"
CHECKSUM_FAILED = "checksum does not verify: likely an example or test value"
STRUCTURE_FAILED = "structure does not verify: likely an example or test value"
EXAMPLE_PATH = "in a test, docs or example path: likely an example"
EXAMPLE_VALUE = "a documented example value"
DOC_STRING = "in a Python docstring or documentation string: a documentation example"


@lru_cache(maxsize=4096)
def is_example_path(path: str) -> bool:
    """Whether ``path`` (``/``-separated, relative or not) is a test, documentation or example file.

    Folders: :data:`EXAMPLE_DIRS` at any depth. Files: :data:`DOC_SUFFIXES`, a ``.txt`` of a
    documentation name (:data:`DOC_TXT_NAMES`), test files by each language's convention
    (:data:`TEST_NAME_PREFIXES`, :data:`TEST_NAME_SUFFIXES`), and names with a dotted part of
    :data:`EXAMPLE_NAME_PARTS` (``app.test.ts``, ``app.spec.js``, ``.env.example``, ``config.sample.yml``).
    """
    parts = path.replace("\\", "/").lower().split("/")
    name = parts[-1]
    # A path outside the folder lr-ci runs in is absolute: the words of the folders above a repository
    # (a CI runner's or a test's temporary folder, ``test_login_0``) say nothing about the file, so there
    # only a folder named exactly as a test, docs or example folder counts.
    relative = not (path.startswith(("/", "\\")) or path[1:3] in (":/", ":\\"))
    if any(part in EXAMPLE_DIRS or (relative and _has_example_word(part)) for part in parts[:-1]):
        return True
    if name in EXAMPLE_FILE_NAMES or (
        name == "metadata" and parts[-2:-1] and parts[-2].endswith(".dist-info")
    ):
        return True
    if (
        name.endswith(DOC_SUFFIXES)
        or name.startswith(TEST_NAME_PREFIXES)
        or name.endswith(TEST_NAME_SUFFIXES)
    ):
        return True
    stem, dot, suffix = name.rpartition(".")
    if dot and suffix == "txt" and stem in DOC_TXT_NAMES:
        return True
    if any(part in EXAMPLE_NAME_PARTS for part in name.split(".")[1:]):
        return True
    return any(word in _EXAMPLE_STEM_WORDS for word in _FOLDER_WORDS.split(name.split(".", 1)[0]))


def decide(
    rule_severity: Severity,
    *,
    generic: bool,
    verdict: Verdict | None,
    path: str,
    verifier: str | None = None,
    documentation: bool = False,
) -> tuple[Severity, str | None]:
    """A hit's severity and a short note saying why it differs from the rule's (None when it does not).

    ``verdict`` is None for a rule without a ``verify`` key; ``verifier`` names the check, so the note
    says checksum or structure. ``documentation``: the hit is inside a Python docstring or documentation
    string (the engine asks only for provider rules' unverified hits).
    """
    checksum = verifier in CHECKSUMS
    if verdict is Verdict.VERIFIED and checksum:
        return Severity.CRITICAL, CHECKSUM_VERIFIED
    if verdict is Verdict.FAILED:
        return Severity.LOW, CHECKSUM_FAILED if checksum else STRUCTURE_FAILED
    if verdict is Verdict.EXAMPLE:
        return Severity.INFO, EXAMPLE_VALUE
    if documentation and verdict is not Verdict.VERIFIED and not generic:
        if rule_severity.rank <= Severity.LOW.rank:
            return rule_severity, None
        return Severity.LOW, DOC_STRING
    if is_example_path(path):
        # A structure (a JWT that decodes) says what a value is, not that a provider issued it: test suites
        # mint their own JWTs, so in test paths it is as unsure as any unchecked hit.
        if rule_severity.rank <= Severity.LOW.rank:
            return rule_severity, None
        return Severity.LOW, EXAMPLE_PATH
    if verdict is Verdict.VERIFIED:
        return Severity.CRITICAL, STRUCTURE_VERIFIED
    if generic and rule_severity.rank > Severity.MEDIUM.rank:
        return Severity.MEDIUM, None
    return rule_severity, None
