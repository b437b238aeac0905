"""Every rule's own true and false examples, one test case each."""

from __future__ import annotations

import re

import pytest

from lr_ci.secret_rules.engine import Rule, default_rules, scan

RULES = default_rules().rules
BY_ID = {rule.id: rule for rule in RULES}


def example_path(rule: Rule) -> str:
    """Where a rule's examples are scanned: a path-scoped rule's first file name (a glob's ``*`` filled
    in), in a folder that is no test or docs path; any other rule's, a neutral configuration file."""
    return "ops/" + rule.paths[0].replace("*", "a") if rule.paths else "settings.cfg"


TRUE = [(rule.id, example) for rule in RULES for example in rule.true_examples]
FALSE = [(rule.id, example) for rule in RULES for example in rule.false_examples]


def test_every_rule_has_true_and_false_examples() -> None:
    for rule in RULES:
        assert rule.true_examples, f"{rule.id} has no true example"
        assert rule.false_examples, f"{rule.id} has no false example"
        for example in rule.true_examples:
            # (a rule scoped to file names may have no keywords: its files' names are its keywords)
            assert not rule.keywords or any(k in example.lower() for k in rule.keywords), (
                f"{rule.id}: no keyword in {example!r}"
            )


def test_rule_ids_are_unique() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))


def test_the_generated_rules_module_is_what_the_rules_files_generate() -> None:
    """A scan imports ``_rules_data.py``; an edit of ``rules/*.toml`` without regenerating fails here."""
    from lr_ci.secret_rules import generate

    expected = generate.render(generate.sources())
    assert generate.TARGET.read_text(encoding="utf-8") == expected, "run `python3 dev.py generate`"
    assert generate.main(["--check"]) == 0


def test_the_generator_refuses_a_duplicated_id_and_a_regex_that_does_not_compile() -> None:
    from lr_ci.secret_rules.generate import render

    table = 'id = "x"\ndescription = "x"\nseverity = "high"\nkeywords = ["tok_"]\n'
    twice = f'[placeholders]\nregexes = []\n[[rules]]\n{table}regex = "tok_a"\n[[rules]]\n{table}regex = "tok_b"\n'
    with pytest.raises(ValueError, match="used twice: x"):
        render([("a.toml", twice)])
    with pytest.raises(ValueError, match="used twice: x"):  # across files too
        once = f'[[rules]]\n{table}regex = "tok_a"\n'
        render([("a.toml", "[placeholders]\nregexes = []\n" + once), ("b.toml", once)])
    with pytest.raises(Exception, match=r"unterminated|missing"):
        render([("a.toml", f'[placeholders]\nregexes = []\n[[rules]]\n{table}regex = "tok_(a"\n')])
    with pytest.raises(ValueError, match=r"rules/b.toml: .*line 1"):
        render([("a.toml", "[placeholders]\nregexes = []\n"), ("b.toml", "[[rules]\n")])
    with pytest.raises(ValueError, match=r"exactly one file"):
        render([("a.toml", f'[[rules]]\n{table}regex = "tok_a"\n')])


def test_a_commit_without_keywords_compiles_no_rule() -> None:
    """The staged hook's start-up: regexes compile when a keyword first needs them, not at load."""
    import subprocess
    import sys

    code = (
        "from lr_ci.secret_rules.engine import default_rules, scan\n"
        "rules = default_rules()\n"
        "scan(b'x = 1\\n', 'a.py', rules)\n"
        "print(sum('regex' in vars(rule) for rule in rules.rules))\n"
        "scan(b'token = ghp_' + b'a' * 36, 'a.py', rules)\n"
        "print(sum('regex' in vars(rule) for rule in rules.rules) > 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "True"]


@pytest.mark.parametrize(("rule_id", "example"), TRUE, ids=[f"{r}-{i}" for i, (r, _) in enumerate(TRUE)])
def test_true_example_is_found_by_its_rule(rule_id: str, example: str) -> None:
    hits = scan(example.encode(), example_path(BY_ID[rule_id]))
    assert [h.rule.id for h in hits if h.rule.id == rule_id], [(h.rule.id, h.secret) for h in hits]


@pytest.mark.parametrize(("rule_id", "example"), FALSE, ids=[f"{r}-{i}" for i, (r, _) in enumerate(FALSE)])
def test_false_example_is_not_reported(rule_id: str, example: str) -> None:
    hits = scan(example.encode(), example_path(BY_ID[rule_id]))
    assert hits == [], [(h.rule.id, h.secret) for h in hits]


@pytest.mark.parametrize(
    "words", ["lorem ipsum ", "lorém ïpsum 日本 \udcff "], ids=["ascii", "utf8-and-invalid"]
)
@pytest.mark.parametrize(("rule_id", "example"), TRUE, ids=[f"{r}-{i}" for i, (r, _) in enumerate(TRUE)])
def test_true_example_is_found_in_the_middle_of_a_long_line(rule_id: str, example: str, words: str) -> None:
    """A line over 4,096 bytes is searched in windows around keywords: the examples hold there too."""
    filler = words * 500
    first, _, rest = example.partition("\n")
    text = f"{filler}{first}\n{rest} {filler}" if rest else f"{filler}{example} {filler}"
    data = (text + "\n" * 100).encode("utf-8", "surrogateescape")  # not minified: generic rules run
    path = example_path(BY_ID[rule_id])
    hits = [h for h in scan(data, path) if h.rule.id == rule_id]
    short = [h for h in scan(example.encode(), path) if h.rule.id == rule_id]
    assert [(h.secret, h.line) for h in hits] == [(h.secret, h.line) for h in short]
    assert [h.column for h in hits] == [h.column + (len(filler) if h.line == 1 else 0) for h in short]


PLACEHOLDER_MARK = re.compile(
    r"(?i)x{4,}|\*{4,}|\.\.\.|…|<[^<>]+>|\$\{|\{\{|\$\(|(.)\1{5,}|your|example|change_?me|placeholder|dummy|fake"
    r"|a1b2c3|abc123|123456|0123|abcdef|here\b"
)


def test_every_rule_has_a_placeholder_of_its_own_shape_among_its_false_examples() -> None:
    """A rule that would report ``ghp_xxxx…`` or ``<your-token>`` cries wolf on every README: each rule
    proves it does not, with a false example that holds one of its keywords and a placeholder's mark."""
    missing = [
        rule.id
        for rule in RULES
        if not any(
            PLACEHOLDER_MARK.search(example)
            and (not rule.keywords or any(k in example.lower() for k in rule.keywords))
            for example in rule.false_examples
        )
    ]
    assert missing == []


# Keywords shorter than four characters, each because the format has no longer fixed text before its random
# body or the provider's name is that short. A keyword runs its rules' regexes on every line that holds it, so
# a short common word costs every scan: a new one is a decision, made here.
SHORT_KEYWORDS = frozenset(
    {
        "-us",
        "00d",
        "://",
        ":aa",
        "a3-",
        "a3t",
        "aqe",
        "aws",
        "dd-",
        "dd_",
        "eaa",
        "eyj",
        "fb.",
        "fb_",
        "hf_",
        "ir@",
        "key",
        "mg-",
        "mg_",
        "oy2",
        "pat",
        "pwd",
        "q~",
        "r8_",
        "re_",
        "sg.",
        "sl.",
    }
)


def test_keywords_are_lower_case_and_specific() -> None:
    """The prefilter matches lower-cased text, and a keyword shorter than four characters is on the list."""
    loose = [
        (rule.id, keyword)
        for rule in RULES
        for keyword in rule.keywords
        if keyword != keyword.lower() or (len(keyword) < 4 and keyword not in SHORT_KEYWORDS)
    ]
    assert loose == []


def test_no_rule_starts_with_an_unanchored_scan() -> None:
    """A leading ``.{0,n}``-style scan makes a regex read every position again (the speed budget)."""
    scanning = [
        rule.id
        for rule in RULES
        if rule.pattern.removeprefix("(?P<secret>").startswith((".{", "[^\\n]{", "[\\s\\S]{", "[\\w.\\-]{"))
    ]
    assert scanning == []


def test_a_path_scoped_rule_runs_only_on_its_files() -> None:
    """A rule with ``paths`` reads the files so named (its examples, above, are scanned there) and no other:
    the same line elsewhere is not its to read."""
    scoped = [rule for rule in RULES if rule.paths]
    assert {rule.id for rule in scoped} >= {"pgpass-password", "pgbouncer-userlist-password"}
    for rule in scoped:
        for example in rule.true_examples:
            assert [h for h in scan(example.encode(), "ops/notes.cfg") if h.rule.id == rule.id] == []
            upper = "ops/" + rule.paths[0].replace("*", "a").upper()
            assert [h.rule.id for h in scan(example.encode(), upper) if h.rule.id == rule.id]


def test_the_generator_refuses_a_rule_that_could_never_run_and_paths_that_are_not_names() -> None:
    """A rule without keywords runs only through its ``paths``; with neither it would never run."""
    from lr_ci.secret_rules.engine import rule_data

    base = {"id": "x", "description": "x", "severity": "medium", "regex": r"tok_[a-z]{4}"}
    with pytest.raises(ValueError, match="never run"):
        rule_data(base)
    with pytest.raises(ValueError, match="paths"):
        rule_data({**base, "paths": "userlist.txt"})
    with pytest.raises(ValueError, match="paths"):
        rule_data({**base, "paths": ["UserList.txt"]})
    assert rule_data({**base, "paths": ["userlist.txt"]})["paths"] == ["userlist.txt"]


def test_a_putty_key_is_its_private_lines_and_nothing_after() -> None:
    """The Private-Lines block ends at its last line: the ``Private`` of ``Private-MAC:`` is not in it."""
    rule = BY_ID["putty-private-key"]
    for example in rule.true_examples:
        hits = [h for h in scan(example.encode(), example_path(rule)) if h.rule.id == rule.id]
        assert len(hits) == 1
        lines = example.split("Private-Lines: ")[1].split("\nPrivate-MAC:")[0].split("\n")[1:]
        assert hits[0].secret == "\n".join(lines)
