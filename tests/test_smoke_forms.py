"""Issue 13, FORMS: ``submit_form`` sends what a browser sends, and reports say what happened.

Unit tests parse an HTML string and check the entry list (one test per rule of the HTML standard's
"constructing the entry list" and form submission); end-to-end tests run ``lr-ci smoke`` against a real
server on loopback that records what arrived.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from helpers.asgi_server import request_body, serve
from helpers.cli import ROOT, Cli, Result
from lr_ci.flows import _forms

PAGE = "http://app.test/accounts/edit/?next=/home"


def submit(
    body: str,
    selector: str | None = None,
    submitter: str | None = None,
    filled: dict[str, str] | None = None,
    page: str = PAGE,
) -> _forms.Submission:
    return _forms.find_submission(body, page, selector, submitter, filled or {})


def pairs(body: str, **kwargs: Any) -> list[tuple[str, str]]:
    return [(e.name, e.value) for e in submit(body, **kwargs).entries]


# The entry list: which controls send what.


def test_a_multiple_select_with_nothing_selected_sends_nothing() -> None:
    """The issue's bug: Django's group form got the first permission nobody chose."""
    html = (
        "<form><input name=name value=g><select name=permissions multiple>"
        "<option value=1>Can add log entry</option><option value=2>Can change</option></select></form>"
    )
    assert pairs(html) == [("name", "g")]


def test_a_multiple_select_sends_each_selected_option_in_order() -> None:
    html = (
        "<form><select name=p multiple><option value=1 selected>a<option value=2>b"
        "<option value=3 selected>c</select></form>"
    )
    assert pairs(html) == [("p", "1"), ("p", "3")]


def test_a_single_select_with_nothing_selected_sends_its_first_enabled_option() -> None:
    html = "<form><select name=s><option disabled value=x>x<option value=y>y<option value=z>z</select></form>"
    assert pairs(html) == [("s", "y")]


def test_a_single_select_with_several_selected_sends_the_last() -> None:
    html = "<form><select name=s><option selected value=a>a<option selected value=b>b</select></form>"
    assert pairs(html) == [("s", "b")]


def test_a_list_box_select_with_nothing_selected_sends_nothing() -> None:
    """``size`` above 1 is not a drop-down: nothing is selected for it."""
    assert pairs("<form><select name=s size=3><option>a<option>b</select></form>") == []


def test_a_selected_option_that_is_disabled_or_in_a_disabled_optgroup_sends_nothing() -> None:
    html = (
        "<form><select name=m multiple><option selected disabled value=a>a"
        "<optgroup disabled><option selected value=b>b</optgroup>"
        "<optgroup><option selected value=c>c</optgroup></select></form>"
    )
    assert pairs(html) == [("m", "c")]


def test_an_option_without_value_sends_its_text_with_whitespace_collapsed() -> None:
    assert pairs("<form><select name=s><option>\n  Two   words\t</option></select></form>") == [
        ("s", "Two words")
    ]


def test_select_values_is_the_one_place_of_the_select_rule() -> None:
    from lr_ci.flows import _html

    page = _html.parse("<select multiple><option>a</select><select><option>b<option>c</select>")
    multiple, single = _html.select(page, "select")
    assert _forms.select_values(multiple) == []
    assert _forms.select_values(single) == ["b"]


def test_unchecked_checkboxes_and_radios_are_left_out_and_checked_ones_send_value_or_on() -> None:
    html = (
        "<form><input type=checkbox name=a value=1><input type=checkbox name=b checked>"
        "<input type=radio name=r value=x><input type=radio name=r value=y checked>"
        "<input type=CHECKBOX name=c value=3 checked></form>"
    )
    assert pairs(html) == [("b", "on"), ("r", "y"), ("c", "3")]


def test_disabled_controls_and_those_in_a_disabled_fieldset_are_left_out() -> None:
    html = (
        "<form><input name=a value=1 disabled><fieldset disabled>"
        "<legend><input name=in_legend value=2></legend><legend><input name=second_legend value=3></legend>"
        "<input name=inside value=4></fieldset><fieldset><input name=ok value=5></fieldset></form>"
    )
    assert pairs(html) == [("in_legend", "2"), ("ok", "5")]


def test_a_legend_inside_a_disabled_fieldset_inside_another_stays_disabled() -> None:
    html = (
        "<form><fieldset disabled><fieldset disabled><legend><input name=a value=1></legend>"
        "</fieldset></fieldset></form>"
    )
    assert pairs(html) == []


def test_buttons_other_than_the_submitter_and_reset_and_button_types_are_left_out() -> None:
    html = (
        "<form><input name=q value=1><input type=reset name=r value=r><input type=button name=b value=b>"
        "<button type=button name=bb value=bb>x</button><button type=reset name=br value=br>x</button>"
        "<button name=save value=save>Save</button><button name=another value=another>Save and add</button>"
        "</form>"
    )
    assert pairs(html) == [("q", "1"), ("save", "save")]
    assert pairs(html, submitter="button[name=another]") == [("q", "1"), ("another", "another")]


def test_the_default_submitter_may_be_outside_the_form_by_its_form_attribute() -> None:
    html = (
        "<button form=f name=outside value=o>first in tree order</button>"
        "<form id=f><input name=q value=1><input type=submit name=inside value=i></form>"
    )
    assert pairs(html) == [("outside", "o"), ("q", "1")]


def test_a_form_without_a_submit_button_has_no_submitter_entry() -> None:
    assert pairs("<form><input name=q value=1><button type=button name=b>x</button></form>") == [("q", "1")]


def test_a_submitter_without_a_name_sends_nothing_of_its_own() -> None:
    assert pairs("<form><input name=q value=1><button value=x>Go</button></form>") == [("q", "1")]


def test_an_image_submitter_sends_its_coordinates() -> None:
    html = "<form><input name=q value=1><input type=image name=map src=x.png></form>"
    assert pairs(html) == [("q", "1"), ("map.x", "0"), ("map.y", "0")]
    assert pairs("<form><input type=image src=x.png></form>") == [("x", "0"), ("y", "0")]


def test_a_submitter_selector_that_is_no_button_of_the_form_is_an_error() -> None:
    html = "<form><input name=q><button name=go>Go</button></form><button name=other>x</button>"
    with pytest.raises(_forms.FormError, match="matches no submit button of the form"):
        submit(html, submitter="button[name=other]")
    with pytest.raises(_forms.FormError, match="disabled"):
        submit("<form><button name=go disabled>Go</button></form>", submitter="button")


def test_textarea_content_without_the_leading_newline_and_crlf_on_submission() -> None:
    found = submit("<form><textarea name=t>\nline one\nline two</textarea></form>")
    assert found.entries == [_forms.Entry("t", "line one\nline two")]
    assert _forms.urlencoded(found.entries) == "t=line+one%0D%0Aline+two"


def test_an_input_without_a_type_or_with_an_unknown_one_is_text() -> None:
    html = "<form><input name=a value=1><input type=fancy name=b value=2><input type=text name=c></form>"
    assert pairs(html) == [("a", "1"), ("b", "2"), ("c", "")]


def test_values_are_sanitized_by_input_type() -> None:
    html = (
        "<form><input name=t value='a&#10;b'><input type=email name=e value='  x@y.z '>"
        "<input type=number name=n value=abc><input type=range name=r min=0 max=10>"
        "<input type=color name=c value=#ABCDEF><input type=hidden name=h value='a&#10;b'></form>"
    )
    assert pairs(html) == [
        ("t", "ab"),
        ("e", "x@y.z"),
        ("n", ""),
        ("r", "5"),
        ("c", "#abcdef"),
        ("h", "a\nb"),
    ]


def test_dirname_sends_the_direction() -> None:
    html = (
        "<form dir=rtl><input name=q value=x dirname=q.dir><textarea name=t dirname=t.dir dir=ltr></textarea>"
        "<input type=search name=s dir=auto value=abc dirname=s.dir><input name=h dir=auto value=שלום dirname=h.dir>"
        "</form>"
    )
    assert pairs(html) == [
        ("q", "x"),
        ("q.dir", "rtl"),
        ("t", ""),
        ("t.dir", "ltr"),
        ("s", "abc"),
        ("s.dir", "ltr"),
        ("h", "שלום"),
        ("h.dir", "rtl"),
    ]


def test_charset_hidden_field_and_datalist_and_nameless_controls() -> None:
    """Controls inside a <datalist> are sent: Chromium sends them (the standard leaves them out)."""
    html = (
        "<form><input type=hidden name=_charset_ value=x><datalist><input name=in_datalist value=1></datalist>"
        "<input value=nameless><input name='' value=empty><output name=o>out</output></form>"
    )
    assert pairs(html) == [("_charset_", "UTF-8"), ("in_datalist", "1")]


def test_an_input_submit_without_value_sends_its_label_as_chromium_does() -> None:
    assert pairs("<form><input type=submit name=go></form>") == [("go", "Submit")]
    assert pairs("<form><input type=submit name=go value=''></form>") == [("go", "")]
    assert pairs("<form><button name=b>Label</button></form>") == [("b", "")]


def test_dates_and_colors_are_sanitized_as_chromium_does() -> None:
    html = (
        "<form><input type=date name=d value=2020-13-45><input type=date name=d2 value=2020-01-05>"
        "<input type=month name=m value=2020-00><input type=week name=w value=2020-W53>"
        "<input type=time name=t value=23:59:59.5><input type=datetime-local name=l value=2020-02-30T10:00>"
        "<input type=color name=c value=#ABC></form>"
    )
    assert pairs(html) == [
        ("d", ""),
        ("d2", "2020-01-05"),
        ("m", ""),
        ("w", "2020-W53"),
        ("t", "23:59:59.5"),
        ("l", ""),
        ("c", "#aabbcc"),
    ]


def test_a_file_input_with_no_file_is_an_empty_file_entry() -> None:
    html = '<form method=post enctype="multipart/form-data"><input name=a value=1><input type=file name=f></form>'
    found = submit(html)
    assert found.enctype == _forms.MULTIPART
    assert found.entries == [_forms.Entry("a", "1"), _forms.Entry("f", "", filename="")]
    body, content_type = _forms.multipart(found.entries)
    boundary = content_type.split("boundary=")[1]
    assert (
        body
        == (
            f'--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename=""\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n\r\n--{boundary}--\r\n"
        ).encode()
    )
    assert _forms.urlencoded(found.entries) == "a=1&f="


def test_form_attribute_attaches_controls_outside_and_detaches_those_inside() -> None:
    html = (
        "<input form=f name=before value=0><form id=f><input name=a value=1>"
        "<input form=other name=elsewhere value=x></form><form id=other></form>"
        "<input form=f name=after value=2><input form=nosuch name=lost value=3>"
    )
    assert pairs(html, selector="#f") == [("before", "0"), ("a", "1"), ("after", "2")]
    assert pairs(html, selector="#other") == [("elsewhere", "x")]


def test_fields_set_the_first_entry_of_a_name_or_are_appended() -> None:
    html = "<form><input name=a value=1><input name=a value=2><input type=password name=p></form>"
    assert pairs(html, filled={"a": "x", "p": "pw", "extra": "e"}) == [
        ("a", "x"),
        ("a", "2"),
        ("p", "pw"),
        ("extra", "e"),
    ]


# Where and how the form is sent.


def test_an_empty_action_is_the_page_url_and_get_replaces_its_query() -> None:
    found = submit("<form><input name=q value='a b~*'></form>")
    assert (found.method, found.action, found.enctype) == ("GET", PAGE, _forms.URLENCODED)
    assert _forms.get_url(found.action, found.entries) == "http://app.test/accounts/edit/?q=a+b%7E*"


def test_action_resolves_against_the_base_element_and_the_submitter_overrides() -> None:
    html = (
        "<head><base href=/admin/></head><form action=save method=post enctype=multipart/form-data>"
        "<button name=a>a</button><button name=b formaction=/other/ formmethod=get formenctype=text/plain>"
        "b</button></form>"
    )
    first = submit(html)
    assert (first.action, first.method, first.enctype) == (
        "http://app.test/admin/save",
        "POST",
        _forms.MULTIPART,
    )
    second = submit(html, submitter="[name=b]")
    assert (second.action, second.method, second.enctype) == (
        "http://app.test/other/",
        "GET",
        _forms.TEXT_PLAIN,
    )


def test_unknown_method_and_enctype_fall_back_and_dialog_is_an_error() -> None:
    found = submit("<form method=PUT enctype=application/json><input name=a></form>")
    assert (found.method, found.enctype) == ("GET", _forms.URLENCODED)
    with pytest.raises(_forms.FormError, match="dialog"):
        submit("<form method=dialog><input name=a></form>")


def test_text_plain_serializes_lines() -> None:
    entries = [_forms.Entry("a", "1 2"), _forms.Entry("b", "x\ny")]
    assert _forms.text_plain(entries) == b"a=1 2\r\nb=x\r\ny\r\n"


def test_urlencoded_is_the_url_standards_serializer() -> None:
    entries = [_forms.Entry("n a", "é&=+~*-._!"), _forms.Entry("x", "")]
    assert _forms.urlencoded(entries) == "n+a=%C3%A9%26%3D%2B%7E*-._%21&x="


def test_multipart_escapes_names_as_chromium_does() -> None:
    body, _type = _forms.multipart([_forms.Entry('a"b\nc', "v\nw")])
    assert b'name="a%22b%0D%0Ac"' in body and b"v\r\nw" in body


# Which form.

DJANGO_ADMIN_CHANGE = """
<div id="header"><form id="logout-form" method="post" action="/admin/logout/">
<input type="hidden" name="csrfmiddlewaretoken" value="tok"><button type="submit">Log out</button></form></div>
<form method="post" id="group_form" action=""><input type="hidden" name="csrfmiddlewaretoken" value="tok">
<input type="text" name="name" maxlength="150" required id="id_name">
<select name="permissions" id="id_permissions" multiple class="selectfilter">
<option value="1">admin | log entry | Can add log entry</option><option value="2">Can change log entry</option>
</select><input type="submit" value="Save" name="_save"></form>
"""


def test_the_logout_form_of_django_admin_is_never_the_default() -> None:
    found = submit(DJANGO_ADMIN_CHANGE, filled={"name": "smoke"})
    assert found.form_label.startswith("form 2") and found.method == "POST"
    assert [(e.name, e.value) for e in found.entries] == [
        ("csrfmiddlewaretoken", "tok"),
        ("name", "smoke"),
        ("_save", "Save"),
    ]
    assert submit(DJANGO_ADMIN_CHANGE).form_label.startswith("form 2")  # no fields: still the visible one


def test_the_default_is_the_form_holding_the_fields_then_the_one_with_a_password() -> None:
    html = (
        "<form id=search><input name=q></form><form id=login><input name=username>"
        "<input type=password name=password></form><form id=signup><input name=email></form>"
    )
    assert "id='login'" in submit(html).form_label
    assert "id='signup'" in submit(html, filled={"email": "x"}).form_label


def test_an_ambiguous_default_names_the_forms_and_asks_for_a_selector() -> None:
    html = "<form id=a action=/a><input name=q></form><form action=/b><input name=q></form>"
    with pytest.raises(_forms.FormError) as error:
        submit(html)
    message = str(error.value)
    assert "id='a'" in message and "action='/b'" in message and "submit_form.selector" in message
    assert "\n" not in message


def test_a_selector_matching_no_form_is_an_error() -> None:
    with pytest.raises(_forms.FormError, match=r"selector '#nope' matches no form"):
        submit("<form><input name=a></form>", selector="#nope")
    with pytest.raises(_forms.FormError, match="no form on the page"):
        submit("<p>no form</p>")


def test_selectors_are_real_css() -> None:
    html = "<form class=x><input name=a></form><form><input name=b></form><form><input name=c></form>"
    assert pairs(html, selector="form:not(.x):nth-of-type(3)") == [("c", "")]
    assert pairs(html, selector="body > form.x") == [("a", "")]


# End to end: what arrived at a real server.


def recording_app(pages: dict[str, str], seen: list[dict[str, Any]]) -> Any:
    """Serves ``pages`` (path -> HTML) and records every request: method, path, query, type, body."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await request_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        seen.append(
            {
                "method": scope["method"],
                "path": scope["path"],
                "query": scope["query_string"].decode(),
                "content_type": headers.get("content-type", ""),
                "body": body,
            }
        )
        page = pages.get(scope["path"])
        status = 200 if page is not None else 404
        out = (page if page is not None else "not found").encode()
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/html")]}
        )
        await send({"type": "http.response.body", "body": out})

    return app


def run_smoke(cli: Cli, tmp_path: Path, url: str, config: str, *args: str) -> Result:
    path = tmp_path / "lr-ci.toml"
    path.write_text(config)
    return cli("--config", str(path), "smoke", "--base-url", url, "--format", "json", *args)


FORM_PAGE = """<!doctype html><html><head><title>Edit group</title></head><body>
<form method="post" action="/save/?from=form" id="f">
<input type="hidden" name="csrf" value="t0k">
<input name="name" value="old">
<select name="permissions" multiple><option value="1">one</option><option value="2">two</option></select>
<select name="kind"><option value="a">A</option><option value="b">B</option></select>
<input type="checkbox" name="active" checked><input type="checkbox" name="staff">
<textarea name="notes">
hello
world</textarea>
<button name="_save" value="1">Save</button><button name="_continue" value="1">Save and continue</button>
</form></body></html>"""


def test_a_post_form_is_sent_as_a_browser_sends_it_and_reported_as_such(cli: Cli, tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    config = """
[[smoke.flows.edit.steps]]
path = "/form/"
[[smoke.flows.edit.steps]]
submit_form = { submitter = "button[name=_continue]", fields = { name = "smoke" } }
"""
    with serve(recording_app({"/form/": FORM_PAGE, "/save/": "saved"}, seen)) as url:
        result = run_smoke(cli, tmp_path, url, config)
    assert result.code == 0, result.out + result.err
    sent = seen[-1]
    assert (sent["method"], sent["path"], sent["query"]) == ("POST", "/save/", "from=form")
    assert sent["content_type"] == "application/x-www-form-urlencoded"
    assert sent["body"] == (
        b"csrf=t0k&name=smoke&kind=a&active=on&notes=hello%0D%0Aworld&_continue=1"
    )  # no permissions: nothing was selected
    case = result.json()["cases"][1]
    assert case["name"] == "edit › POST /save/"
    assert result.json()["metrics"]["flows"]["edit"]["steps"]["POST /save/"]["status"] == "pass"


def test_a_multipart_form_keeps_the_entry_order_and_uploads(cli: Cli, tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    page = (
        '<form method=post enctype="multipart/form-data" action=/up>'
        "<input name=a value=1><input type=file name=doc><input type=file name=empty><input name=z value=2>"
        "<input type=submit></form>"
    )
    upload = tmp_path / "report.txt"
    upload.write_bytes(b"file content")
    config = f"""
[[smoke.flows.up.steps]]
path = "/form"
[[smoke.flows.up.steps]]
name = "send"
submit_form = {{}}
files = {{ doc = "{upload}" }}
"""
    with serve(recording_app({"/form": page, "/up": "ok"}, seen)) as url:
        result = run_smoke(cli, tmp_path, url, config)
    assert result.code == 0, result.out + result.err
    sent = seen[-1]
    assert sent["content_type"].startswith("multipart/form-data; boundary=")
    boundary = sent["content_type"].split("boundary=")[1].encode()
    parts = sent["body"].split(b"--" + boundary)
    assert [p.split(b"\r\n")[1] for p in parts[1:-1]] == [
        b'Content-Disposition: form-data; name="a"',
        b'Content-Disposition: form-data; name="doc"; filename="report.txt"',
        b'Content-Disposition: form-data; name="empty"; filename=""',
        b'Content-Disposition: form-data; name="z"',
    ]
    assert b"file content" in parts[2] and parts[3].endswith(b"application/octet-stream\r\n\r\n\r\n")


def test_a_get_form_puts_the_entries_in_the_query(cli: Cli, tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    page = "<form action='/search?old=1'><input name=q value='a b'><select name=s multiple></select></form>"
    config = '[[smoke.flows.s.steps]]\npath = "/"\n[[smoke.flows.s.steps]]\nsubmit_form = {}\n'
    with serve(recording_app({"/": page, "/search": "found"}, seen)) as url:
        result = run_smoke(cli, tmp_path, url, config)
    assert result.code == 0, result.out
    assert (seen[-1]["method"], seen[-1]["path"], seen[-1]["query"], seen[-1]["body"]) == (
        "GET",
        "/search",
        "q=a+b",
        b"",
    )
    assert result.json()["cases"][1]["name"] == "s › GET /search"


def test_an_explicit_step_method_still_overrides_the_forms(cli: Cli, tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    config = (
        '[[smoke.flows.s.steps]]\npath = "/"\n[[smoke.flows.s.steps]]\nmethod = "PUT"\nsubmit_form = {}\n'
    )
    with serve(
        recording_app({"/": "<form action=/x><input name=q value=1></form>", "/x": "ok"}, seen)
    ) as url:
        result = run_smoke(cli, tmp_path, url, config)
    assert result.code == 0, result.out
    assert (seen[-1]["method"], seen[-1]["body"]) == ("PUT", b"q=1")


def test_a_failed_submit_reports_the_method_and_url_used(cli: Cli, tmp_path: Path) -> None:
    page = "<form method=post action=/login/><input name=u><input type=password name=p></form>"
    config = (
        '[[smoke.flows.login.steps]]\npath = "/login/"\n[[smoke.flows.login.steps]]\nname = "submit"\n'
        "submit_form = {}\nexpect = { status = 302 }\n"
    )
    with serve(recording_app({"/login/": page}, [])) as url:
        result = run_smoke(cli, tmp_path, url, config)
    assert result.code == 1
    case = result.json()["cases"][1]
    assert case["details"].startswith(f"POST {url}/login/ -> 200")
    assert result.json()["findings"][0]["location"]["url"] == f"{url}/login/"


@pytest.mark.parametrize(
    ("submit_form", "mentions"),
    [
        ('{ selector = "#nope" }', "matches no form"),
        ('{ selector = "#a", submitter = "#nope" }', "matches no submit button"),
        ("{}", "set submit_form.selector"),
    ],
)
def test_a_form_choice_that_cannot_be_made_is_exit_2_after_finally(
    cli: Cli, tmp_path: Path, submit_form: str, mentions: str
) -> None:
    seen: list[dict[str, Any]] = []
    page = "<form id=a><input name=q><button>go</button></form><form id=b><input name=q></form>"
    config = (
        '[[smoke.flows.f.steps]]\npath = "/"\n[[smoke.flows.f.steps]]\n'
        f"submit_form = {submit_form}\n"
        '[[smoke.flows.f.finally]]\npath = "/cleanup"\n'
    )
    with serve(recording_app({"/": page, "/cleanup": "ok"}, seen)) as url:
        result = run_smoke(cli, tmp_path, url, config)
    assert result.code == 2, result.out + result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and mentions in lines[0] and "lr-ci.toml:4" in lines[0], lines
    assert seen[-1]["path"] == "/cleanup"


def test_a_failing_html_step_shows_form_errors_and_visible_text(cli: Cli, tmp_path: Path) -> None:
    page = (
        "<html><head><title>Log in</title><style>body{color:red}</style><script>var x = 1;</script>"
        "<meta name=description content='" + "x" * 400 + "'></head><body><h1>Log in</h1>"
        '<ul class="errorlist nonfield"><li>Please enter a correct username and password.</li></ul>'
        "<form><input name=u></form><template>hidden</template></body></html>"
    )
    config = '[[smoke.flows.f.steps]]\npath = "/"\nexpect = { status = 302 }\n'
    with serve(recording_app({"/": page}, [])) as url:
        result = run_smoke(cli, tmp_path, url, config)
    message = result.json()["cases"][0]["message"]
    assert "form errors: 'Please enter a correct username and password.'" in message
    assert "page text: 'Log in Please enter" in message
    assert "var x" not in message and "color:red" not in message and "hidden" not in message


USER, PASSWORD = "admin", "pa55-w0rd-secret"


def test_public_env_shows_user_names_and_never_the_password(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_USER", USER)
    monkeypatch.setenv("OPS_PASSWORD", PASSWORD)
    page = "<form action=/login/><input name=u><input type=password name=p></form>"  # GET: both in the URL
    config = """
[smoke]
public_env = ["OPS_USER"]
[[smoke.flows.login.steps]]
path = "/login/"
[[smoke.flows.login.steps]]
name = "as ${OPS_USER}"
submit_form = { fields = { u = "${OPS_USER}", p = "${OPS_PASSWORD}" } }
expect = { body_contains = ["welcome ${OPS_USER}", "${OPS_PASSWORD}"] }
[[smoke.flows.profile.steps]]
path = "/users/${OPS_USER}/"
"""
    outputs = {
        fmt: tmp_path / f"out.{fmt}" for fmt in ("text", "json", "sarif", "junit", "markdown", "github")
    }
    extra = [arg for fmt, path in outputs.items() for arg in ("--output", f"{fmt}:{path}")]
    with serve(recording_app({"/login/": page}, [])) as url:
        result = run_smoke(cli, tmp_path, url, config, *extra)
    assert result.code == 1, result.out + result.err
    for fmt, path in outputs.items():
        text = path.read_text()
        assert "as admin" in text and "welcome admin" in text and "/users/admin/" in text, fmt
        assert "?u=admin&" in text.replace("&amp;", "&") and "p=***" in text, fmt
        assert PASSWORD not in text and "pa55" not in text, fmt
    assert PASSWORD not in result.out + result.err


def test_without_public_env_a_user_name_is_masked(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_USER", USER)
    config = '[[smoke.flows.f.steps]]\nname = "as ${OPS_USER}"\npath = "/"\nexpect = { status = 302 }\n'
    with serve(recording_app({"/": "x"}, [])) as url:
        result = run_smoke(cli, tmp_path, url, config)
    assert "admin" not in result.out and "as ***" in result.out


@pytest.mark.parametrize("name", ["OPS_PASSWORD", "API_TOKEN", "DJANGO_SECRET_KEY", "session_cookie"])
def test_public_env_refuses_a_name_that_says_it_is_a_credential(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, PASSWORD)
    config = f'[smoke]\npublic_env = ["{name}"]\n[[smoke.flows.f.steps]]\npath = "/${{{name}}}"\n'
    result = run_smoke(cli, tmp_path, "http://127.0.0.1:9", config)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "public_env" in lines[0] and "lr-ci.toml:2" in lines[0], lines
    assert PASSWORD not in result.out + result.err


def test_a_selector_the_engine_cannot_read_is_a_config_error(cli: Cli, tmp_path: Path) -> None:
    config = '[[smoke.flows.f.steps]]\npath = "/"\nsubmit_form = { submitter = "button::after" }\n'
    result = run_smoke(cli, tmp_path, "http://127.0.0.1:9", config)
    assert result.code == 2 and "lr-ci.toml:3" in result.err and "submitter" in result.err


def test_the_staged_secrets_hook_does_not_import_the_html_parser(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "lr-ci.toml").write_text(
        '[smoke.flows.f]\nsteps = [{ path = "/", capture = { v = { css = "a:not(.b)" } } }]\n'
    )
    code = (
        "import sys\nfrom lr_ci.cli import main\n"
        "try:\n    main(['secrets', '--staged'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith(('selectolax', 'lr_ci.checks.smoke', 'lr_ci.flows'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path, timeout=60
    )
    assert result.stdout.strip().endswith("LOADED []"), result.stdout + result.stderr


def test_json_of_a_submission_is_plain_data() -> None:
    """BROWSER's comparison harness records both sides as JSON: a Submission turns into it as is."""
    from dataclasses import asdict

    found = submit("<form method=post><input name=a value=1><input type=file name=f></form>")
    assert json.loads(json.dumps(asdict(found)))["entries"][1] == {"name": "f", "value": "", "filename": ""}
    assert parse_qsl(_forms.urlencoded(found.entries), keep_blank_values=True) == [("a", "1"), ("f", "")]
    assert ROOT.exists()


def test_a_range_value_goes_to_the_nearest_step_as_chromium_does() -> None:
    html = (
        "<form><input type=range name=a min=0 max=10 step=3 value=5><input type=range name=b min=0 max=10"
        " step=3 value=10><input type=range name=c value=4.5><input type=range name=d step=any value=4.5>"
        "<input type=range name=e min=1 max=2 step=0.1 value=1.25></form>"
    )
    # c: no min, so the grid starts at the value attribute (Chromium sends 4.5 too)
    assert pairs(html) == [("a", "6"), ("b", "9"), ("c", "4.5"), ("d", "4.5"), ("e", "1.3")]


def test_a_local_date_time_is_sent_normalized() -> None:
    html = (
        "<form><input type=datetime-local name=a value='2026-12-01 09:30'>"
        "<input type=datetime-local name=b value=2026-12-01T09:30:00>"
        "<input type=datetime-local name=c value=2026-12-01T09:30:05.120>"
        "<input type=datetime-local name=d value=2026-12-01T09:30:00.000></form>"
    )
    assert pairs(html) == [
        ("a", "2026-12-01T09:30"),
        ("b", "2026-12-01T09:30"),
        ("c", "2026-12-01T09:30:05.12"),
        ("d", "2026-12-01T09:30"),
    ]
