"""The cases of the browser comparison: which form of which page is submitted, with which button, filled how.

Each case is submitted once by Chromium (tests/helpers/browser.py) and once by ``lr-ci smoke`` (a flow that fetches
the page, then ``submit_form = { selector, submitter, fields }``), to the recording server; the two requests
must be equal. ``form`` is the form a person would use (the browser fills and submits it); ``lr_ci_selector``
says whether lr-ci is given that selector or must choose the form itself (its default: the forms holding
every filled field, the one with a password field, else the only one with a user-visible control).
``submitter`` is the button clicked; ``None`` means the form's default button (what pressing Enter clicks),
and no button at all when the form has none. ``fields`` are typed into their controls in the browser and
given to lr-ci as ``submit_form.fields``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HAND_WRITTEN = HERE / "pages"
DJANGO_TIMEOUT_S = 60


@dataclass(frozen=True)
class Case:
    id: str
    page: str
    """The page's path on the recording server (query included for Django's login page)."""
    form: str
    """A CSS selector for the form a person submits."""
    submitter: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    lr_ci_selector: bool = True
    """Give lr-ci ``form`` as ``submit_form.selector``; ``False`` checks that lr-ci picks that form itself."""
    known_gap: str | None = None
    """Why lr-ci does not submit this one as Chromium does yet (a strict xfail: fixing it shows)."""


def corpus(page: str) -> str:
    return f"/corpus/{page}"


CASES: list[Case] = [
    # Real Django admin pages (Django from PyPI): lr-ci chooses the form itself on each, as a user who
    # writes only `fields` relies on; after login every page starts with the logout form.
    Case(
        "django-login",
        "/admin/login/?next=/admin/",
        "#login-form",
        fields={"username": "admin", "password": "corpus-password"},
        lr_ci_selector=False,
    ),
    Case(
        "django-group-add",
        "/admin/auth/group/add/",
        "#group_form",
        fields={"name": "auditors"},
        lr_ci_selector=False,
    ),
    Case(
        "django-group-add-and-continue",
        "/admin/auth/group/add/",
        "#group_form",
        submitter="input[name=_continue]",
        fields={"name": "auditors"},
        lr_ci_selector=False,
    ),
    Case(
        "django-group-change",
        "/admin/auth/group/1/change/",
        "#group_form",
        fields={"name": "editors 2"},
        lr_ci_selector=False,
    ),
    Case(
        "django-user-change",
        "/admin/auth/user/1/change/",
        "#user_form",
        fields={"first_name": "Ada"},
        lr_ci_selector=False,
    ),
    Case(
        "django-user-add",
        "/admin/auth/user/add/",
        "#user_form",
        fields={"username": "grace", "password1": "a-long-passphrase", "password2": "a-long-passphrase"},
        lr_ci_selector=False,
    ),
    Case("django-logout", "/admin/auth/group/add/", "#logout-form"),
    # The delete confirmation holds only hidden inputs and a button, like the logout form: chosen by a
    # selector with :not().
    Case("django-group-delete", "/admin/auth/group/1/delete/", "form:not(#logout-form)"),
    Case(
        "django-changelist-search",
        "/admin/auth/group/",
        "#changelist-search",
        fields={"q": "edit"},
        lr_ci_selector=False,
    ),
    Case(
        "django-changelist-action",
        "/admin/auth/group/",
        "#changelist-form",
        submitter="button[name=index]",
        fields={"action": "delete_selected"},
        lr_ci_selector=False,
    ),
    # Flask-WTF forms rendered by Flask.
    Case("flask-profile", "/flask/profile", "#profile-form", fields={"name": "Grace", "password": "pw"}),
    Case("flask-profile-delete", "/flask/profile", "#profile-form", submitter="#delete"),
    Case(
        "flask-profile-default-form",
        "/flask/profile",
        "#profile-form",
        fields={"name": "Grace"},
        lr_ci_selector=False,
    ),
    Case("flask-upload", "/flask/upload", "#upload-form", fields={"title": "Q3"}),
    # Hand-written pages, one rule each (see the pages in pages/).
    Case("checkboxes-radios", corpus("checkboxes"), "#f", fields={"title": "typed"}),
    Case("selects", corpus("selects"), "#f", fields={"chosen": "two"}),
    Case("disabled", corpus("disabled"), "#f", submitter="#save"),
    Case("buttons-default", corpus("buttons"), "#f"),
    Case("buttons-named-submitter", corpus("buttons"), "#f", submitter="button[name=save]"),
    Case("buttons-other-submitter", corpus("buttons"), "#f", submitter="button[name=delete]"),
    Case("buttons-input-submitter", corpus("buttons"), "#f", submitter="input[name=publish]"),
    Case("image-named", corpus("image"), "#f", submitter="input[name=map]"),
    Case("image-unnamed", corpus("image"), "#f", submitter="#unnamed"),
    Case("formaction-default", corpus("submitter_attributes"), "#f"),
    Case("formmethod-get", corpus("submitter_attributes"), "#f", submitter="#to-get"),
    Case("formenctype-multipart", corpus("submitter_attributes"), "#f", submitter="#to-multipart"),
    Case("formaction-relative", corpus("submitter_attributes"), "#f", submitter="#to-other"),
    Case("form-attribute-default", corpus("form_attribute"), "#f"),
    Case("form-attribute-submitter", corpus("form_attribute"), "#f", submitter="#outside-last"),
    Case(
        "form-attribute-fill-outside",
        corpus("form_attribute"),
        "#f",
        submitter="#inside-button",
        fields={"after": "filled"},
    ),
    Case("text-controls", corpus("text"), "#f", fields={"typed": "typed text", "untyped": "typed over"}),
    Case("dirname", corpus("dirname"), "#f", fields={"comment": "bonjour"}),
    Case("get-replaces-query", corpus("get_form"), "#f", fields={"q": "a b&c=d+e"}),
    Case("multipart-empty-file", corpus("multipart"), "#f", fields={"title": "année"}),
    Case("base-href-relative", corpus("base_href"), "#relative"),
    Case("base-href-empty-action", corpus("base_href"), "#empty-action"),
    Case("base-href-no-action", corpus("base_href"), "#no-action"),
    Case("logout-form-first", corpus("two_forms"), "#edit", lr_ci_selector=False),
    Case(
        "logout-form-first-filled",
        corpus("two_forms"),
        "#edit",
        fields={"title": "Final"},
        lr_ci_selector=False,
    ),
    Case("characters-post", corpus("characters"), "#post", fields={"typed": "café & crème = 1+1 ✓ 100%"}),
    Case("characters-get", corpus("characters"), "#get", fields={"typed": "café & crème = 1+1 ✓ 100%"}),
    Case("input-values", corpus("input_values"), "#f"),
    Case("button-without-value", corpus("input_values"), "#f", submitter="#empty-button"),
    Case("parser-nested-form-template", corpus("parser"), "#outer"),
    Case(
        "parser-form-in-table",
        corpus("form_in_table"),
        "#f",
        known_gap="controls after a <form> misnested in a <table> belong to it through the HTML parser's form"
        " pointer, which the parsed tree does not keep (docs/smoke.md, what is not covered)",
    ),
    Case("no-submit-button", corpus("no_button"), "#f"),
    Case("method-case-and-bad-enctype", corpus("attribute_values"), "#f"),
    Case("unknown-method-is-get", corpus("attribute_values"), "#g"),
]


def hand_written_pages() -> dict[str, str]:
    return {
        corpus(path.stem): path.read_text(encoding="utf-8") for path in sorted(HAND_WRITTEN.glob("*.html"))
    }


@dataclass(frozen=True)
class Corpus:
    pages: dict[str, str]
    """Path (query included) -> HTML."""
    scripts: dict[str, str]
    """Path -> JavaScript the pages load (Django's translation catalog)."""
    static: dict[str, Path]
    """URL prefix -> directory of files the pages load (Django admin's scripts and styles)."""


def django_pages(directory: Path) -> dict[str, Any]:
    """The real Django admin pages, rendered in their own process (tests/form_corpus/django_pages.py)."""
    done = subprocess.run(
        [sys.executable, str(HERE / "django_pages.py"), str(directory)],
        capture_output=True,
        text=True,
        timeout=DJANGO_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"rendering the Django pages failed:\n{done.stderr[-3000:]}"
    rendered: dict[str, Any] = json.loads(done.stdout)
    return rendered


def load(directory: Path) -> Corpus:
    """Every page of the corpus, and what the Django pages load."""
    from form_corpus.flask_pages import render

    django = django_pages(directory)
    return Corpus(
        pages={**hand_written_pages(), **django["pages"], **render()},
        scripts=django["scripts"],
        static={"/static/admin/": Path(django["static_dir"]) / "admin"},
    )
