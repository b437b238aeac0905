"""The honest evaluation corpus (benchmarks/secret_eval_corpus.py) and lr-ci's score on its test half.

The corpus tests prove what the score rests on: the split is fixed before tuning and keeps (provider,
syntax) groups apart, every label points at the line that holds its value, checksummed formats carry
valid checksums, and each half is big enough to measure 1% of false alarms.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import ROOT, Cli

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_secret_eval
import secret_eval_corpus as corpus


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[corpus.Case]]]:
    out = {}
    for half in corpus.HALVES:
        root = tmp_path_factory.mktemp(half)
        out[half] = (root, corpus.build(root, half))
    return out


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_the_build_is_deterministic(
    tmp_path: Path, halves: dict[str, tuple[Path, list[corpus.Case]]]
) -> None:
    root, cases = halves["dev"]
    again = corpus.build(tmp_path, "dev")
    assert again == cases
    assert _digest(tmp_path) == _digest(root)


def test_the_split_is_by_a_stable_hash_of_the_group() -> None:
    assert corpus.half_of("secret|github:classic pat|dotenv") == corpus.half_of(
        "secret|github:classic pat|dotenv"
    )
    groups = {g: corpus.half_of(g) for g, _s, _f in corpus.all_groups()}
    assert set(groups.values()) == set(corpus.HALVES)
    assert 0.4 < sum(h == "dev" for h in groups.values()) / len(groups) < 0.6


def test_no_group_and_no_provider_syntax_pair_is_in_both_halves(
    halves: dict[str, tuple[Path, list[corpus.Case]]],
) -> None:
    dev, test = halves["dev"][1], halves["test"][1]
    assert not {c.group for c in dev} & {c.group for c in test}
    pairs = [{(c.family, c.syntax) for c in h} for h in (dev, test)]
    assert not pairs[0] & pairs[1]
    # ... while most providers and look-alike families are met in both halves (in other syntaxes)
    families = [{c.family for c in h} for h in (dev, test)]
    assert len(families[0] & families[1]) >= 0.8 * len(families[0] | families[1])
    assert not {c.path for c in dev} & {c.path for c in test}


def test_every_label_points_at_a_line_that_holds_its_value(
    halves: dict[str, tuple[Path, list[corpus.Case]]],
) -> None:
    for root, cases in halves.values():
        assert len({(c.path, c.line) for c in cases}) == len(cases)
        files: dict[str, list[str]] = {}
        for case in cases:
            lines = files.setdefault(case.path, (root / case.path).read_text(encoding="utf-8").split("\n"))
            assert case.text in lines[case.line - 1], (case.path, case.line, case.label)
            assert case.kind in ("secret", "benign", "any")


def test_each_half_is_big_enough_and_covers_many_providers(
    halves: dict[str, tuple[Path, list[corpus.Case]]],
) -> None:
    every = set()
    for _root, cases in halves.values():
        assert sum(c.kind == "secret" for c in cases) >= 600
        assert sum(c.kind == "benign" for c in cases) >= 600
        assert len(corpus.providers(cases)) >= 100
        every |= corpus.providers(cases)
        assert any("(test mode)" in c.label and c.kind == "secret" for c in cases)
    assert len(every) >= 120


def test_the_corpus_holds_every_syntax_and_look_alike_the_issue_names() -> None:
    syntaxes = {syntax for _g, syntax, _f in corpus.all_groups()}
    named = {
        "dotenv",
        "yaml",
        "json",
        "toml",
        "ini",
        "xml-element",
        "xml-attr",
        "xml-add",
        "NuGet ClearTextPassword",
        "hcl",
        "properties",
        "npmrc",
        "npmrc _authToken",
        "pypirc",
        "pypirc password",
        "k8s-secret",
        "k8s secret base64 password",
        "python",
        "js",
        "ts",
        "go",
        "java",
        "csharp",
        "shell-export",
        "python-environ",
        "os.environ.get default",
        "curl -u",
        "mysql -p",
        "log",
        "markdown",
        "camelCase accessToken field",
        "maven settings.xml password",
    }
    assert named <= syntaxes, named - syntaxes
    families = {g.split("|")[1] for g, _s, _f in corpus.all_groups() if g.startswith("benign|")}
    for family in (
        "uuid",
        "hash",
        "commit-sha",
        "password-hash",
        "data-uri",
        "integrity",
        "minified",
        "placeholder",
        "secret-name",
        "reference",
        "documented-example",
        "basic-header",
        "example-url",
        "xml-schema",
        "prose",
    ):
        assert family in families, family
    assert any(f.startswith("placeholder/") for f in families)


TEST_HALF_BEFORE_ROUND3 = "b4a7f621a34856d91ff3f85e09e9af2b6fb0b9dd3ca621137c4788ea0324c19f"
"""sha256 of the test half's file tree (path, NUL, bytes, NUL per file) as scored before round three's
look-alikes: computed once from the base commit (95dba65) without reading any file's contents."""
TEST_CASES_BEFORE_ROUND3 = "750d566a299c291eb68b7a5c27466a9062268ce7c61296486d69f59c63d4fb74"
"""sha256 of the repr of that half's sorted cases (every field) at the same commit."""


_LATER_ROUNDS = (corpus.ROUND3_PREFIX, corpus.ROUND4_PREFIX, corpus.ROUND5_PREFIX, corpus.ROUND6_PREFIX)
"""Directory prefixes of the groups added after the test half was first scored (round three's look-alikes,
round four's, five's and six's generic syntaxes): every other test-half file is held byte for byte."""


def test_the_test_half_scored_before_stays_byte_for_byte_as_it_was(
    halves: dict[str, tuple[Path, list[corpus.Case]]],
) -> None:
    """New look-alike groups may fall into the test half (that is the point), but none of the groups
    measured before may change: the files outside ``_LATER_ROUNDS`` and their cases hash as at the base."""
    root, cases = halves["test"]
    h = hashlib.sha256()
    old = (
        p for p in root.rglob("*") if p.is_file() and not str(p.relative_to(root)).startswith(_LATER_ROUNDS)
    )
    for path in sorted(old):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    assert h.hexdigest() == TEST_HALF_BEFORE_ROUND3
    kept = sorted(
        (c.path, c.line, c.kind, c.family, c.label, c.text, c.group, c.syntax)
        for c in cases
        if not c.path.startswith(_LATER_ROUNDS)
    )
    assert hashlib.sha256(repr(kept).encode()).hexdigest() == TEST_CASES_BEFORE_ROUND3


def test_round_three_adds_new_look_alike_groups_to_both_halves() -> None:
    """Round three's families are new groups (no id shared with an older group), each labelled, in
    both halves by the same hash."""
    new = [(g, f) for g, _s, f in corpus.all_groups() if f.path.startswith(corpus.ROUND3_PREFIX)]
    older = {g for g, _s, f in corpus.all_groups() if not f.path.startswith(corpus.ROUND3_PREFIX)}
    assert len({g for g, _f in new}) >= 20
    assert not {g for g, _f in new} & older
    assert {corpus.half_of(g) for g, _f in new} == set(corpus.HALVES)
    assert all(f.labels and all(kind == "benign" for _t, kind, *_ in f.labels) for _g, f in new)
    families = {g.split("|")[1] for g, _f in new}
    for family in (
        "object-id",
        "resource-id",
        "digest",
        "crypto-vector",
        "schema",
        "declaration",
        "mock-token",
    ):
        assert family in families, family


def _new_round(
    prefix: str, secret_tag: str, benign_tag: str, at_least: int, per_half: int
) -> tuple[list[tuple[str, Any]], set[str], set[str]]:
    """A corpus round's groups (those under ``prefix``), checked as every round is: none shares an id with
    an older group, each is a secret group or a look-alike group, at least ``at_least`` of each and
    ``per_half`` of each in both halves by the same hash, and a group holds only its own kind of label.
    Only counts are asserted: the test half's groups are never listed."""
    new = [(g, f) for g, _s, f in corpus.all_groups() if f.path.startswith(prefix)]
    older = {g for g, _s, f in corpus.all_groups() if not f.path.startswith(prefix)}
    ids = {g for g, _f in new}
    assert not ids & older
    secret = {g for g in ids if g.startswith(f"secret|{secret_tag}|")}
    benign = {g for g in ids if g.startswith(f"benign|{benign_tag}|")}
    assert secret | benign == ids
    assert len(secret) >= at_least and len(benign) >= at_least
    for groups in (secret, benign):
        halves = [corpus.half_of(g) for g in groups]
        assert min(halves.count(h) for h in corpus.HALVES) >= per_half
    for g, f in new:
        kinds = {kind for _t, kind, *_ in f.labels}
        assert kinds == ({"secret"} if g.startswith("secret|") else {"benign"})
    return new, secret, benign


def test_round_four_adds_generic_syntax_groups_with_look_alikes_to_both_halves() -> None:
    """Round four's syntaxes: per syntax a generic secret group and a look-alike group under the same keys."""
    new, _secret, _benign = _new_round(corpus.ROUND4_PREFIX, "generic4", "syntax-lookalike4", 40, 15)
    for g, f in new:
        if g.startswith("benign|") and len(f.labels) > 2:
            # the look-alikes stand under the secret's key spelled as people spell an id, a name, a hash...
            assert {fam for _t, _k, fam, *_ in f.labels} >= {"placeholder4", "identifier4", "password-hash4"}


def test_round_five_adds_the_unread_shapes_and_more_syntaxes_to_both_halves() -> None:
    """Round five's syntaxes, as round four's; the look-alike groups hold the syntax's own look-alikes (two
    names in a pair, a hash in the password column, ``!secret``/``!vault``) beside the shared kinds."""
    new, secret, benign = _new_round(corpus.ROUND5_PREFIX, "generic5", "syntax-lookalike5", 30, 10)
    assert {g.split("|")[2] for g in secret} == {g.split("|")[2] for g in benign}
    own = {g.split("|")[2] for g, f in new for _t, _k, fam, *_ in f.labels if fam == "syntax5"}
    assert len(own) >= 8  # pairs, SQL rows and YAML tags carry look-alikes of their own


def test_round_six_adds_the_last_unread_shapes_and_two_false_alarm_kinds_to_both_halves() -> None:
    """Round six's syntaxes, as round five's: the shapes last read by nothing (``cmp.Or``, ``.pgpass``,
    pgbouncer's userlist, ``npm``/``yarn config set``, ``std::string`` constructors, triple-quoted keyword
    arguments, ``!!binary``), more command lines, and two false-alarm kinds as the syntax's own look-alikes
    (products' sample passwords in compose files and playbooks, a value in a module's ``EXAMPLES``)."""
    new, secret, benign = _new_round(corpus.ROUND6_PREFIX, "generic6", "syntax-lookalike6", 20, 8)
    assert {g.split("|")[2] for g in secret} == {g.split("|")[2] for g in benign}
    own = {g.split("|")[2] for g, f in new for _t, _k, fam, *_ in f.labels if fam == "syntax6"}
    assert {
        "compose-environment",
        "ansible-playbook-vars",
        "ansible-module-code",
        "pgbouncer-userlist",
    } <= own
    for g, f in new:
        if "yaml-binary-tag" in g:  # the value is written in base64, and labelled as written
            assert all(" !!binary " + text in "\n".join(f.lines) for text, *_ in f.labels)


def test_github_and_npm_tokens_carry_a_valid_base62_crc32(
    halves: dict[str, tuple[Path, list[corpus.Case]]],
) -> None:
    tokens = [
        c.text
        for _r, cases in halves.values()
        for c in cases
        if c.kind == "secret" and c.text[:4] in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_")
    ]
    assert len(tokens) > 20
    for token in tokens:
        assert len(token) == 40
        assert corpus.b62_encode(zlib.crc32(token[4:34].encode()), 6) == token[34:]
    assert corpus.b62_encode(61, 3) == "00z"


def test_atlassian_and_grafana_checksums_verify() -> None:
    rng = random.Random(1)
    for spec in ("ATATT3xFfGF0{b64url:171}=", "ATBB{b62:24}"):
        token = corpus.atlassian_crc(corpus.fill(spec, rng))
        assert f"{zlib.crc32(token[:-8].encode()):08X}" == token[-8:]
    assert len(corpus.atlassian_crc(corpus.fill("ATATT3xFfGF0{b64url:171}=", rng))) == 192
    glsa = corpus.grafana_crc(corpus.fill("glsa_{b62:32}", rng))
    assert len(glsa) == 46
    assert struct.unpack("<I", bytes.fromhex(glsa[-8:]))[0] == zlib.crc32(glsa[:37].encode())


@pytest.mark.parametrize("location", ["pypi.org", "test.pypi.org"])
def test_pypi_tokens_are_macaroons_that_name_their_location(location: str) -> None:
    token = corpus.pypi_token(random.Random(2), location)
    raw = base64.urlsafe_b64decode(token[len("pypi-") :] + "==")
    assert raw[:3] == bytes([2, 1, len(location)])
    assert raw[3 : 3 + len(location)] == location.encode()
    ident = raw[3 + len(location) :]
    assert ident[:2] == b"\x02\x24" and len(ident[2:38].decode()) == 36
    assert raw[-34:-32] == b"\x06\x20"
    prefix = {"pypi.org": "pypi-AgEIcHlwaS5vcmc", "test.pypi.org": "pypi-AgENdGVzdC5weXBpLm9yZw"}[location]
    assert token.startswith(prefix)


def test_discord_age_and_jwt_values_have_their_structure() -> None:
    rng = random.Random(3)
    part1 = corpus.discord_bot(rng).split(".")[0]
    assert 17 <= len(base64.b64decode(part1 + "==").decode()) <= 19
    key = corpus.age_key(rng)
    assert key.startswith("AGE-SECRET-KEY-1") and len(key) == 74
    data = [corpus.BECH32.index(c) for c in key.lower()[len("age-secret-key-1") :]]
    hrp = "age-secret-key-"
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    assert corpus._bech32_polymod(expanded + data) == 1
    header, payload, _sig = corpus.jwt(rng).split(".")
    assert "alg" in json.loads(base64.urlsafe_b64decode(header + "=="))
    assert isinstance(json.loads(base64.urlsafe_b64decode(payload + "==")), dict)


def test_placeholders_keep_the_shape_and_are_never_random() -> None:
    assert corpus.placeholder("ghp_{b62:30}", "x") == "ghp_" + "x" * 30
    assert corpus.placeholder("shpat_{hex:32}", "pair") == "shpat_" + ("a1b2c3d4e5f6" * 3)[:32]
    assert corpus.placeholder("dop_v1_{hex:64}", "zero") == "dop_v1_" + "0" * 64
    assert corpus.placeholder("AKIA{b32:16}", "seq") == "AKIA" + "234567ABCDEFGHIJ"


def test_batches_split_until_every_report_fits_and_name_unreadable_folders(tmp_path: Path) -> None:
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).mkdir()
    calls: list[list[str]] = []

    def scan(folders: list[str]) -> list[dict[str, object]]:
        calls.append(folders)
        if "c" in folders:
            raise ValueError("not JSON")
        if len(folders) > 1:
            return [{"rule": "findings-not-listed", "location": {"path": None, "line": None}}]
        return [{"rule": "x", "location": {"path": f"{folders[0]}/f.txt", "line": 3}}]

    unreadable: list[str] = []
    assert corpus.scan_in_batches(tmp_path, scan, unreadable) == {
        ("a/f.txt", 3),
        ("b/f.txt", 3),
        ("d/f.txt", 3),
    }
    assert unreadable == ["c"]
    assert calls[0] == ["a", "b", "c", "d"]


def test_scores_count_any_severity_on_the_line_and_unlabelled_lines_as_false_alarms() -> None:
    def case(kind: str, line: int, family: str) -> corpus.Case:
        return corpus.Case("a/f.env", line, kind, family, "x", "v", "g", "dotenv")

    cases = [
        case("secret", 1, "cloud/aws"),
        case("secret", 2, "cloud/aws"),
        case("benign", 3, "uuid"),
        case("benign", 4, "placeholder/aws"),
        case("any", 5, "cloud/aws"),
    ]
    score = corpus.score(cases, {("a/f.env", 1), ("a/f.env", 4), ("a/f.env", 5), ("a/f.env", 9)})
    assert (score.positives, score.negatives, score.found) == (2, 2, 1)
    assert score.recall == 0.5
    assert score.unlabelled == [("a/f.env", 9)]
    assert score.false_alarms == 2 and score.false_positive_rate == 1.0
    assert score.family_recall() == {"cloud": (1, 2)}
    assert score.family_false_alarms() == {"placeholder": (1, 1), "uuid": (0, 1)}


def test_show_and_keep_are_refused_for_the_test_half(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert bench_secret_eval.main(["--half", "test", "--show"]) == 2
    assert bench_secret_eval.main(["--half", "test", "--keep", str(tmp_path / "t")]) == 2
    assert bench_secret_eval.main(["--show"]) == 2  # the default half is the test half
    assert "dev" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_recall_and_false_positives_on_the_test_half(
    halves: dict[str, tuple[Path, list[corpus.Case]]], cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, cases = halves["test"]
    monkeypatch.chdir(root)

    def scan(folders: list[str]) -> list[dict[str, object]]:
        findings: list[dict[str, object]] = cli("secrets", *folders, "--format", "json").json()["findings"]
        return findings

    unreadable: list[str] = []
    score = corpus.score(cases, corpus.scan_in_batches(root, scan, unreadable))
    assert not unreadable, f"{len(unreadable)} folders whose JSON report does not parse"
    assert score.positives >= 600 and score.negatives >= 600
    # Only numbers in the message: the test half's cases are never listed.
    assert score.recall >= 0.95, f"recall {score.recall:.3f}"
    assert score.false_positive_rate <= 0.01, f"false positives {score.false_positive_rate:.2%}"
