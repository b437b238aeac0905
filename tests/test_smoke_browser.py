"""Issue 13: smoke's ``submit_form`` sends what a real browser sends, checked against Debian's Chromium.

Every case of the corpus (tests/form_corpus/cases.py: real Django admin pages, Flask-WTF forms, and
hand-written pages for each rule of the HTML standard's form submission) is submitted twice to the same
recording server on loopback (tests/helpers/recording_server.py): by Chromium, filled and clicked as a person
would (tests/helpers/browser.py), and by ``lr-ci smoke`` with a flow that fetches the page and then
``submit_form = { selector, submitter, fields }``. The two recorded requests — method, path, content type,
the entries in order, and the action's query when there is a body — must be equal.

One Chromium and one recording server serve the whole module; the Django pages are rendered once, in
their own process, and run the admin's own JavaScript in Chromium (its static files come from the
installed Django). Without Chromium the module skips, unless ``LR_CI_REQUIRE_REFERENCE_TOOLS`` is set
(``.ci/run``): then it fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from form_corpus.cases import CASES, Case, load
from helpers import browser
from helpers.browser import chromium, fill_and_submit, require_chromium, wait_for_title
from helpers.recording_server import ANSWER_TITLE, Recorded, RecordingServer

pytestmark = pytest.mark.slow

SUBMIT_TIMEOUT_S = 10
"""How long a click may take to reach the recording server (it takes well under a second)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingServer]:
    corpus = load(tmp_path_factory.mktemp("django"))
    with RecordingServer.running(corpus.pages, corpus.scripts, corpus.static) as running:
        yield running


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    require_chromium()
    with chromium() as browser:
        yield browser


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def smoke_config(directory: Path, base_url: str, case: Case) -> Path:
    submit = []
    if case.lr_ci_selector:
        submit.append(f"selector = {toml_string(case.form)}")
    if case.submitter is not None:
        submit.append(f"submitter = {toml_string(case.submitter)}")
    fields = ", ".join(f"{toml_string(name)} = {toml_string(value)}" for name, value in case.fields.items())
    submit.append(f"fields = {{ {fields} }}")
    path = directory / "lr-ci.toml"
    path.write_text(
        f"""[smoke]
base_url = {toml_string(base_url)}

[[smoke.flows.form.steps]]
name = "page"
path = {toml_string(case.page)}

[[smoke.flows.form.steps]]
name = "submit"
submit_form = {{ {", ".join(submit)} }}
""",
        encoding="utf-8",
    )
    return path


def browser_submits(driver: Any, server: RecordingServer, case: Case) -> Recorded:
    server.clear()
    fill_and_submit(driver, server.url + case.page, case.form, case.submitter, case.fields)
    records = server.wait_for(1, SUBMIT_TIMEOUT_S)
    assert len(records) == 1, f"Chromium's submission of {case.id} was not recorded (records: {records})"
    wait_for_title(driver, ANSWER_TITLE, SUBMIT_TIMEOUT_S)
    return records[0]


def lr_ci_submits(
    cli: Any, server: RecordingServer, case: Case, directory: Path
) -> tuple[list[Recorded], Any]:
    server.clear()
    config = smoke_config(directory, server.url, case)
    result = cli("--config", str(config), "smoke", "--format", "json")
    return server.wait_for(1, 1), result


def lines_of(record: Recorded) -> list[str]:
    """A record as lines, one per entry, for a readable diff."""
    shown = record.comparable()
    head = [f"{key}: {shown[key]!r}" for key in ("method", "path", "content_type", "query")]
    return head + [f"  {name!r} = {value!r}" for name, value in shown["entries"]]


def difference(browser: Recorded, lr_ci: Recorded, result: Any) -> str:
    import difflib

    diff = difflib.unified_diff(lines_of(browser), lines_of(lr_ci), "chromium", "lr-ci", lineterm="", n=2)
    return "\n".join([*diff, describe(result)])


def describe(result: Any) -> str:
    """lr-ci's verdict for an assertion message: the exit code, stderr and each step's message."""
    lines = [f"lr-ci exit {result.code}: {result.err.strip()}"]
    try:
        lines += [
            f"  {c['name']}: {c['status']} {c.get('message') or ''}" for c in result.json().get("cases", [])
        ]
    except (ValueError, AttributeError):
        lines.append(result.out[-2000:])
    return "\n".join(lines)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case, marks=[pytest.mark.xfail(strict=True, reason=case.known_gap)] if case.known_gap else []
        )
        for case in CASES
    ],
    ids=[case.id for case in CASES],
)
def test_lr_ci_submits_what_chromium_submits(
    case: Case, driver: Any, server: RecordingServer, cli: Any, tmp_path: Path
) -> None:
    expected = browser_submits(driver, server, case)
    records, result = lr_ci_submits(cli, server, case, tmp_path)
    assert len(records) == 1, f"lr-ci sent {len(records)} requests for the form, not 1\n{describe(result)}"
    assert records[0].comparable() == expected.comparable(), difference(expected, records[0], result)
    assert result.code == 0, describe(result)


def test_corpus_ids_are_unique_and_every_page_exists(server: RecordingServer) -> None:
    assert len({case.id for case in CASES}) == len(CASES)
    assert {case.page for case in CASES} <= set(server.pages)
    assert set(server.pages) - {case.page for case in CASES} == set(), "a corpus page no case submits"


def entries_of(driver: Any, server: RecordingServer, case_id: str) -> list[Any]:
    (case,) = [case for case in CASES if case.id == case_id]
    return browser_submits(driver, server, case).entries


def test_the_reference_is_the_standard(driver: Any, server: RecordingServer) -> None:
    """The browser side itself, on the issue's own rules: a wrong reference would make every equality
    meaningless. An unselected multi-select sends nothing (Django's permissions), a selected one each
    selected option, the default button is the first submit button, and a form without one sends no
    submitter."""
    group_add = entries_of(driver, server, "django-group-add")
    assert [name for name, _ in group_add] == ["csrfmiddlewaretoken", "name", "_save"]
    group_change = [
        value for name, value in entries_of(driver, server, "django-group-change") if name == "permissions"
    ]
    assert len(group_change) == 2
    selects = dict(entries_of(driver, server, "selects"))
    assert (
        "multi_none" not in selects
        and selects["single_none"] == "first"
        and selects["first_disabled"] == "real"
    )
    assert entries_of(driver, server, "no-submit-button") == [("q", "enter submits")]
    assert ("map.x", "0") in entries_of(driver, server, "image-named")


def test_django_admin_pages_run_their_own_javascript(driver: Any, server: RecordingServer) -> None:
    """The Django pages are the real thing in the browser too: the admin's SelectFilter2 has built its
    two-box widget (the chosen box carries the field's name), so the browser's request is what a person
    using the admin sends."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(server.url + "/admin/auth/group/1/change/")
    WebDriverWait(driver, SUBMIT_TIMEOUT_S).until(
        lambda shown: shown.find_elements(By.ID, "id_permissions_to")
    )
    names = driver.execute_script("return Array.from(document.querySelectorAll('select'), (s) => s.name)")
    assert names == ["permissions_old", "permissions"]


def test_the_recorder_reads_bodies_as_sent(server: RecordingServer) -> None:
    """The recording server on its own, with requests httpx builds: urlencoded and multipart entries in
    order (file parts with filename, part type and content), a GET's query as its entries, and pages
    loaded (not recorded) at their path whether or not the query is percent-encoded."""
    import httpx

    server.clear()
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get("/admin/login/?next=%2Fadmin%2F").status_code == 200
        client.post("/a?x=1", data={"b": "1 2", "a": ["3", "&="]})
        client.post(
            "/m",
            data={"t": "é"},
            files=[("f", ("a.bin", b"", "application/octet-stream")), ("g", ("n.txt", b"hi", "text/plain"))],
        )
        client.get("/g", params=[("q", "a b"), ("q", "")])
        client.get("/static/admin/css/base.css")
    urlencoded, multipart, get = server.wait_for(3, 5)
    assert urlencoded.comparable() == {
        "method": "POST",
        "path": "/a",
        "content_type": "application/x-www-form-urlencoded",
        "entries": [("b", "1 2"), ("a", "3"), ("a", "&=")],
        "query": [("x", "1")],
    }
    assert multipart.content_type == "multipart/form-data"
    assert multipart.entries == [
        ("t", "é"),
        ("f", ("a.bin", "application/octet-stream", b"")),
        ("g", ("n.txt", "text/plain", b"hi")),
    ]
    assert (get.method, get.content_type, get.entries) == ("GET", None, [("q", "a b"), ("q", "")])
    assert len(server.records) == 3


def test_missing_chromium_skips_here_and_fails_in_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without Chromium skips the comparison; CI (``LR_CI_REQUIRE_REFERENCE_TOOLS``) fails it."""
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.delenv("LR_CI_REQUIRE_REFERENCE_TOOLS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium"):
        require_chromium()
    monkeypatch.setenv("LR_CI_REQUIRE_REFERENCE_TOOLS", "1")
    with pytest.raises(pytest.fail.Exception, match="missing the reference browser"):
        require_chromium()


def test_the_comparison_catches_the_old_multi_select_rule(
    driver: Any, server: RecordingServer, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mutation test of the comparison itself: with the rule lr-ci had before (a ``<select multiple>``
    with nothing selected sent its first option, which granted a Django group a permission nobody chose),
    the corpus's multi-select cases no longer match Chromium."""
    from lr_ci.flows import _forms

    original = _forms.select_values

    def old_rule(select: Any) -> list[str]:
        values = original(select)
        if values or "multiple" not in select.attributes:
            return values
        first = select.css_first("option")
        return [] if first is None else [first.attributes.get("value") or first.text()]

    monkeypatch.setattr(_forms, "select_values", old_rule)
    caught = []
    for case in [case for case in CASES if case.id in ("django-group-add", "selects")]:
        expected = browser_submits(driver, server, case)
        records, _ = lr_ci_submits(cli, server, case, tmp_path)
        caught.append(len(records) == 1 and records[0].comparable() != expected.comparable())
    assert caught == [True, True]
