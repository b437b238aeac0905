"""Issue 11, smoke slice: lr-ci smoke on hostile servers and broken input.

Each test is one hostile input, run in a subprocess bounded in time (tests/helpers/hostile.py), asserting the exit
code, one clear line for bad input, no credential in any of the six formats, and the peak memory of the
process tree for the inputs that had no bound.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from helpers.asgi_server import request_body, serve, unused_port_url
from helpers.hostile import PEAK_RSS_LIMIT, Measured, assert_one_clear_line, run_measured
from helpers.hostile_servers import (
    BIG_TOKEN,
    HOSTILE_PAGES,
    brotli_body,
    echo_app,
    endless_body,
    gzip_bomb,
    heavy_app,
    password_forms,
    raw_server,
    recording_app,
    trickled_body,
    trickled_headers,
)
from helpers.load_sensitive import LOAD_SENSITIVE

PASSWORD = "it's a Secr3t pass!"
"""Read from the environment (``${SMOKE_PASSWORD}``): a quote repr() escapes, spaces URLs encode."""
URL_PASSWORD = "url pa$$w'rd/Ünï"
"""Only in ``--base-url``'s userinfo: never in the environment, still a credential."""
API_KEY = "k3y-0f-the-api-1234"


def outputs(tmp_path: Path) -> dict[str, Path]:
    """Every format but github (printed on stdout) as a file: six formats in one run."""
    return {fmt: tmp_path / f"report.{fmt}" for fmt in ("text", "json", "sarif", "junit", "markdown")}


def smoke(tmp_path: Path, config: str, *args: str, timeout_s: float = 30.0, **env: str) -> Measured:
    (tmp_path / "lr-ci.toml").write_text(config)
    return run_measured(
        ["smoke", "--format", "github", *args],
        cwd=tmp_path,
        env={"SMOKE_PASSWORD": PASSWORD, "API_KEY": API_KEY, **env},
        timeout_s=timeout_s,
        outputs=outputs(tmp_path),
    )


def printed(result: Measured) -> str:
    """Everything lr-ci wrote, but the ``::add-mask::`` lines, which hand the values to the runner to mask."""
    return "\n".join(line for line in result.everything.splitlines() if not line.startswith("::add-mask::"))


def assert_no_credential(result: Measured, *values: str) -> None:
    shown = printed(result)
    for value in values:
        for name, form in password_forms(value).items():
            assert form not in shown, (name, form)
    for distinctive in ("Secr3t", "pa$$w", "pa%24%24w", API_KEY):
        assert distinctive not in shown, distinctive


def flows(**steps: str) -> str:
    """``[smoke.flows.NAME]`` with one step each: NAME -> the step's inline table."""
    return "".join(f"[smoke.flows.{name}]\nsteps = [{step}]\n" for name, step in steps.items())


# 1. A credential echoed back is masked in every spelling, before the excerpt is collapsed, quoted or cut.


def test_an_echoed_password_is_masked_in_every_spelling_and_format(tmp_path: Path) -> None:
    config = "[smoke]\n" + flows(
        echo='{ path = "/echo", headers = { X-Password = "${SMOKE_PASSWORD}" } }',
        header='{ path = "/header", headers = { X-Password = "${SMOKE_PASSWORD}" }, '
        'expect = { headers = { X-Echo = "^nothing like it$" } } }',
        json='{ path = "/json", headers = { X-Password = "${SMOKE_PASSWORD}" }, '
        'expect = { json = { "$.user.password" = "else" } } }',
        redirect='{ path = "/redirect", headers = { X-Password = "${SMOKE_PASSWORD}" }, '
        'expect = { redirect = "/elsewhere" } }',
    )
    with serve(echo_app(PASSWORD)) as url:
        with_userinfo = url.replace("http://", f"http://ops:{quote(URL_PASSWORD, safe='')}@")
        result = smoke(tmp_path, config, "--base-url", with_userinfo)
    assert result.code == 1, result.err
    assert "body:" in result.files["json"] and "X-Echo" in result.files["json"]
    assert "***" in result.files["json"]
    assert "x" * 290 + " ***" in result.files["json"]  # masked whole, though the excerpt is cut inside it
    basic = base64.b64encode(f"ops:{URL_PASSWORD}".encode()).decode()
    assert basic not in printed(result) and basic.rstrip("=") not in printed(result)
    assert_no_credential(result, PASSWORD, URL_PASSWORD)


# 2. Credentials stay with the origin they were meant for.


def test_credential_headers_do_not_follow_a_redirect_to_another_host(tmp_path: Path) -> None:
    seen_there: list[dict[str, Any]] = []
    seen_here: list[dict[str, Any]] = []
    headers = 'headers = { X-Api-Key = "${API_KEY}", Authorization = "Bearer ${API_KEY}", X-Trace = "t-1" }'
    config = "[smoke]\n" + flows(
        away=f'{{ path = "/go", follow_redirects = true, {headers} }}',
        home=f'{{ path = "/same", follow_redirects = true, {headers} }}',
    )
    with serve(recording_app(seen_there)) as other, serve(recording_app(seen_here, other)) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 0, result.everything
    (landed,) = [r for r in seen_there if r["path"] == "/landing"]
    assert "x-api-key" not in landed["headers"] and "authorization" not in landed["headers"]
    assert API_KEY not in str(landed)
    assert landed["headers"]["x-trace"] == "t-1"  # a header without a credential goes on
    (same,) = [r for r in seen_here if r["path"] == "/landing"]
    assert same["headers"]["x-api-key"] == API_KEY  # the same origin keeps them
    assert_no_credential(result)


def test_a_followed_redirect_keeps_the_session_on_the_same_host(tmp_path: Path) -> None:
    """The redirects lr-ci now follows itself still carry the cookies set on the way, and POST -> GET."""
    seen: list[dict[str, Any]] = []
    config = "[smoke]\n" + flows(
        login='{ method = "POST", path = "/login", form = { user = "ops" }, follow_redirects = true, '
        'expect = { status = 200, redirect = "/landing", body_contains = ["landed"] } }'
    )
    with serve(recording_app(seen)) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 0, result.everything
    landing = seen[-1]
    assert landing["path"] == "/landing" and "sid=s3ss10n-value" in landing["headers"]["cookie"]
    assert landing["body"] == "" and "content-type" not in landing["headers"]  # 303: a GET without body


def test_a_307_does_not_resend_a_credential_body_to_another_host(tmp_path: Path) -> None:
    seen_there: list[dict[str, Any]] = []
    config = "[smoke]\n" + flows(
        keep='{ method = "POST", path = "/keep", follow_redirects = true, form = { password = "${SMOKE_PASSWORD}" } }'
    )
    with serve(recording_app(seen_there)) as other, serve(recording_app([], other)) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 1
    assert "allow_other_host" in result.files["json"]
    assert seen_there == []
    assert_no_credential(result, PASSWORD)


@pytest.mark.parametrize("allowed", [False, True])
def test_submit_form_to_another_host_needs_allow_other_host(tmp_path: Path, allowed: bool) -> None:
    seen_there: list[dict[str, Any]] = []
    allow = ", allow_other_host = true" if allowed else ""
    config = (
        "[smoke.flows.login]\nsteps = [\n"
        '  { name = "page", path = "/form" },\n'
        '  { name = "submit", submit_form = { fields = { username = "ops", password = "${SMOKE_PASSWORD}" } }'
        f"{allow} }},\n]\n"
    )
    with serve(recording_app(seen_there)) as other, serve(recording_app([], other)) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    if allowed:
        assert result.code == 0, result.everything
        assert [r["path"] for r in seen_there] == ["/steal"]
    else:
        assert result.code == 1
        assert seen_there == []
        assert "another host" in result.files["json"] and "allow_other_host = true" in result.files["json"]
    assert_no_credential(result, PASSWORD)


# 3. Every response is bounded in bytes and in time.


def test_an_endless_body_is_cut_at_max_body_bytes(tmp_path: Path) -> None:
    config = "[smoke]\nmax_body_bytes = 1048576\n" + flows(
        endless='{ path = "/", expect = { body_not_contains = ["error"] } }'
    )
    with raw_server(endless_body) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 1, result.everything
    assert "max_body_bytes (1048576 bytes)" in result.files["json"]
    assert "body_not_contains" in result.files["json"]
    assert result.peak_rss <= PEAK_RSS_LIMIT, result.peak_rss


def test_endless_bodies_on_four_flows_at_once_stay_within_the_memory_bound(tmp_path: Path) -> None:
    config = "[smoke]\n" + flows(
        **{f"f{i}": '{ path = "/", expect = { body_contains = ["endless"] } }' for i in range(4)}
    )
    with raw_server(endless_body) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 0, result.everything  # what was read holds the text: the rest is not needed
    assert result.peak_rss <= PEAK_RSS_LIMIT, result.peak_rss


def test_a_gzip_bomb_is_cut_after_decoding_not_after_inflating_it_all(tmp_path: Path) -> None:
    config = "[smoke]\n" + flows(bomb='{ path = "/", expect = { body_not_contains = ["error"] } }')
    with raw_server(gzip_bomb) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 1, result.everything
    assert "max_body_bytes (4194304 bytes)" in result.files["json"]
    assert result.peak_rss <= PEAK_RSS_LIMIT, result.peak_rss


def test_an_unasked_brotli_body_fails_the_step_clearly(tmp_path: Path) -> None:
    with raw_server(brotli_body) as url:
        result = smoke(tmp_path, "", "--base-url", url)
    assert result.code == 1, result.everything
    assert "encoded as 'br'" in result.files["json"]


@pytest.mark.parametrize("server", [trickled_body, trickled_headers], ids=["body", "headers"])
def test_a_trickled_answer_ends_at_the_per_request_timeout(tmp_path: Path, server: Any) -> None:
    with raw_server(server) as url:
        result = smoke(tmp_path, "", "--base-url", url, "--timeout", "1.5", timeout_s=20)
    assert result.code == 1, result.everything
    assert "timed out after 1.5 s" in result.files["json"]
    assert result.seconds < 8, result.seconds


def test_the_run_timeout_stops_a_running_request(tmp_path: Path) -> None:
    with raw_server(trickled_body) as url:
        result = smoke(
            tmp_path, "", "--base-url", url, "--timeout", "60", "--run-timeout", "1.5", timeout_s=20
        )
    assert result.code == 1, result.everything
    assert "run_timeout_s" in result.files["json"]
    assert result.seconds < 8, result.seconds


def test_wait_for_version_does_not_hang_on_a_trickle(tmp_path: Path) -> None:
    with raw_server(trickled_body) as url:
        result = smoke(
            tmp_path, "", "--base-url", url, "--wait-for-version", "1.2.3", "--wait-timeout", "2",
            "--timeout", "60", timeout_s=20,
        )  # fmt: skip
    assert result.code == 1, result.everything
    assert "did not answer" in result.files["json"]
    assert result.seconds < 8, result.seconds


# 4. `use` is followed in linear time, to a bounded depth.


def test_a_use_diamond_30_levels_deep_is_linear(tmp_path: Path) -> None:
    levels = 30
    config = "[smoke]\n"
    for level in range(levels):
        below = [f"a{level + 1}", f"b{level + 1}"] if level + 1 < levels else []
        for side in "ab":
            config += f"[smoke.flows.{side}{level}]\nuse = {below!r}\n".replace("'", '"')
            config += f'steps = [{{ name = "{side}{level}", path = "/" }}]\n'
    result = smoke(tmp_path, config, "--base-url", unused_port_url(), "--flow", "a0", timeout_s=20)
    assert result.code == 1, result.everything  # nothing answers at the unused port
    assert "connection refused" in result.files["json"]
    assert result.seconds < 10
    assert result.peak_rss <= PEAK_RSS_LIMIT


@pytest.mark.parametrize("leaf_first", [False, True], ids=["root-first", "leaf-first"])
def test_a_2000_deep_use_chain_is_one_line_at_file_line(tmp_path: Path, leaf_first: bool) -> None:
    """Also when the file lists the deepest flow first, so that memoised flows are met on the way down."""
    tables = [f'[smoke.flows.f{i}]\nuse = ["f{i + 1}"]\n' for i in range(1999)] + ["[smoke.flows.f1999]\n"]
    config = "[smoke]\n" + "".join(reversed(tables) if leaf_first else tables)
    result = smoke(tmp_path, config, "--base-url", unused_port_url(), timeout_s=20)
    assert result.code == 2
    line = assert_one_clear_line(result, mentions=["lr-ci.toml:", ".use:", "more than 32 deep", " -> … -> "])
    assert "RecursionError" not in line


def test_a_use_cycle_is_one_line_at_file_line(tmp_path: Path) -> None:
    config = '[smoke.flows.a]\nuse = ["b"]\n[smoke.flows.b]\nuse = ["a"]\n'
    result = smoke(tmp_path, config, "--base-url", unused_port_url())
    assert result.code == 2
    assert_one_clear_line(result, mentions=["lr-ci.toml:4", "smoke.flows.b.use", "cycle", "a -> b -> a"])


# 5. Bad input is exit 2 and one line naming where; a failing step still runs `finally`.

BAD_CONFIGS = {
    "capture-regex": (
        '[smoke.flows.f]\nsteps = [{ path = "/", capture = { v = { regex = "(" } } }]\n',
        "regex",
    ),
    "header-regex": (
        '[smoke.flows.f]\nsteps = [{ path = "/", expect = { headers = { X = "[a-" } } }]\n',
        "headers",
    ),
    "json-matches-regex": (
        '[smoke.flows.f]\nsteps = [{ path = "/", expect = { json_matches = { "$.a" = "*" } } }]\n',
        "json_matches",
    ),
    "json-path": ('[smoke.flows.f]\nsteps = [{ path = "/", expect = { json = { "$..[" = 1 } } }]\n', "json"),
    "css": ('[smoke.flows.f]\nsteps = [{ path = "/", capture = { v = { css = "a > >" } } }]\n', "css"),
    "when": ('[smoke.flows.f]\nsteps = [{ path = "/", when = "maybe" }]\n', "when"),
    "method": ('[smoke.flows.f]\nsteps = [{ path = "/", method = "GET /x" }]\n', "method"),
    "header-name": ('[smoke.flows.f]\nsteps = [{ path = "/", headers = { "X Y" = "1" } }]\n', "headers"),
    "header-value": (
        '[smoke.flows.f]\nsteps = [{ path = "/", headers = { X = "a\\r\\nEvil: 1" } }]\n',
        "headers",
    ),
    "status": ('[smoke.flows.f]\nsteps = [{ path = "/", expect = { status = 2000 } }]\n', "status"),
    "retry-attempts": ('[smoke.flows.f]\nsteps = [{ path = "/", retry = { attempts = 0 } }]\n', "attempts"),
    "negative-timeout": ("[smoke]\ntimeout_s = -1\n", "timeout_s"),
    "nan-timeout": ("[smoke]\ntimeout_s = nan\n", "timeout_s"),
    "inf-run-timeout": ("[smoke]\nrun_timeout_s = inf\n", "run_timeout_s"),
    "bool-max-body": ("[smoke]\nmax_body_bytes = true\n", "max_body_bytes"),
    "float-max-body": ("[smoke]\nmax_body_bytes = 1.5\n", "max_body_bytes"),
    "zero-concurrency": ("[smoke]\nconcurrency = 0\n", "concurrency"),
    "bodies-over-memory": ("[smoke]\nconcurrency = 64\nmax_body_bytes = 4194304\n", "max_body_bytes"),
    "ipv6-base-url": ('[smoke]\nbase_url = "http://[::1"\n', "base_url"),
    "step-url": ('[smoke.flows.f]\nsteps = [{ url = "http://[zz]:80/" }]\n', "url"),
    "version-field": ('[smoke]\nversion_field = "$.["\n', "version_field"),
    # It would pass having sent no request at all.
    "flow-without-steps": ('[smoke.flows.f]\nsteps = []\n[smoke.flows.g]\nuse = ["f"]\n', "smoke.flows.f"),
}


@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_bad_config_is_one_line_at_file_line(tmp_path: Path, name: str) -> None:
    text, key = BAD_CONFIGS[name]
    result = smoke(tmp_path, "\n" + text, "--base-url", unused_port_url(), timeout_s=20)
    assert result.code == 2, result.everything
    line = assert_one_clear_line(result, mentions=["lr-ci.toml:", key])
    assert "lr-ci.toml:1:" not in line  # the line of the key, not the top of the file


BAD_OPTIONS = {
    "negative-timeout": (["--timeout", "-3"], "--timeout"),
    "nan-timeout": (["--timeout", "nan"], "--timeout"),
    "inf-run-timeout": (["--run-timeout", "inf"], "--run-timeout"),
    "zero-wait-timeout": (["--wait-timeout", "0"], "--wait-timeout"),
    "open-ipv6": (["--base-url", "http://[::1"], "--base-url"),
    "bad-ipv6": (["--base-url", "http://[zz]:80/"], "--base-url"),
    "port-out-of-range": (["--base-url", "http://127.0.0.1:99999/"], "--base-url"),
    "space-in-host": (["--base-url", "http://exa mple.com/"], "--base-url"),
    "no-host": (["--base-url", "http://"], "--base-url"),
    "resolve-not-an-ip": (["--resolve", "example.com:443:[zz"], "--resolve"),
    "password-in-bad-url": (["--base-url", f"http://ops:{quote(PASSWORD)}@[zz]/"], "--base-url"),
}


@pytest.mark.parametrize("name", list(BAD_OPTIONS))
def test_bad_option_is_one_line_naming_it(tmp_path: Path, name: str) -> None:
    args, option = BAD_OPTIONS[name]
    if "--base-url" not in args:
        args = ["--base-url", unused_port_url(), *args]
    result = smoke(tmp_path, "", *args, timeout_s=20)
    assert result.code == 2, result.everything
    assert_one_clear_line(result, mentions=[option])
    assert_no_credential(result, PASSWORD)


BROKEN_AT_RUN_TIME = {
    # "{word}" is a valid regex; filled with the captured "(" it is not.
    "filled-regex": (
        '{ name = "broken", path = "/b", expect = { headers = { date = "{word}" } } }',
        "not valid",
    ),
    # A captured "€" filled into a header: httpx cannot encode it, an exception outside httpx's own errors.
    "filled-header-not-ascii": (
        '{ name = "broken", path = "/b", headers = { X-Name = "{euro}" } }',
        "encode",
    ),
}


@pytest.mark.parametrize("name", list(BROKEN_AT_RUN_TIME))
def test_a_step_that_breaks_at_run_time_still_runs_finally(tmp_path: Path, name: str) -> None:
    seen: list[dict[str, Any]] = []
    step, message = BROKEN_AT_RUN_TIME[name]
    config = (
        "[smoke.flows.f]\nsteps = [\n"
        '  { name = "capture", path = "/paren", capture = { word = { regex = ".+" } } },\n'
        '  { name = "capture euro", path = "/euro", capture = { euro = { regex = ".+" } } },\n'
        f"  {step},\n"
        '  { name = "after", path = "/after" },\n'
        "]\n"
        'finally = [{ name = "cleanup", path = "/cleanup" }]\n'
    )
    with serve(recording_app(seen)) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 1, result.everything
    assert message in result.files["json"]
    assert "/cleanup" in [r["path"] for r in seen] and "/after" not in [r["path"] for r in seen]
    assert "Traceback" not in result.everything and "internal error" not in result.everything


# 6. Round 2: what a hostile server hands the checks after the body is read is bounded too.


def test_a_4_mib_captured_token_is_masked_in_bounded_time(tmp_path: Path) -> None:
    """Masking a credential compiled a regex per character (minutes for 4 MiB), then built a DFA (20 s)."""
    config = (
        '[smoke.flows.f]\nsteps = [{ path = "/bigtoken", capture = { token = { json = "$.token" } } },'
        ' { path = "/echo", expect = { status = 500 } }]\n'
    )
    with serve(heavy_app()) as url:
        result = smoke(tmp_path, config, "--base-url", url, timeout_s=30)
    assert result.code == 1, result.everything
    assert BIG_TOKEN[:64] not in printed(result)
    assert result.seconds < 15 and result.peak_rss <= PEAK_RSS_LIMIT, (result.seconds, result.peak_rss)


def test_redirect_hops_do_not_keep_their_bodies(tmp_path: Path) -> None:
    """Four flows each followed 20 redirects with 4 MiB bodies, all held: 376 MiB."""
    step = '{ path = "/hop0", follow_redirects = true, expect = { status = 200 } }'
    config = "[smoke]\n" + flows(**{f"f{i}": step for i in range(4)})
    with serve(heavy_app()) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 1, result.everything
    assert "more than 20 redirects" in result.files["json"]
    assert result.peak_rss <= PEAK_RSS_LIMIT, result.peak_rss


@pytest.mark.parametrize("path", list(HOSTILE_PAGES))
def test_a_page_many_times_its_size_once_parsed_stays_within_bounds(tmp_path: Path, path: str) -> None:
    """Flows parse a 4 MiB page at once: four took 2.3 GB and 40 s for '<b>' x 1.4M before the bounds."""
    check = (
        'expect = { json = { "$.a" = 1 } }'
        if path == "/dicts"
        else 'submit_form = {}, method = "POST"'
        if path == "/forms"
        else 'capture = { v = { css = "x i" } }'
    )
    step = f'{{ path = "{path}", {check} }}'
    if path == "/forms":  # the form is taken from the page the step before fetched
        step = f'{{ path = "{path}" }}, {step}'
    config = "[smoke]\n" + flows(**{f"f{i}": step for i in range(2 if path in ("/dicts", "/tags") else 1)})
    with serve(heavy_app()) as url:
        result = smoke(tmp_path, config, "--base-url", url, timeout_s=40)
    assert result.code in (0, 1), result.everything
    assert "Traceback" not in result.everything and "internal error" not in result.everything
    assert result.seconds < 25 and result.peak_rss <= PEAK_RSS_LIMIT, (result.seconds, result.peak_rss)


def test_a_regex_that_backtracks_without_end_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    """``(a|aa)+$`` on 30,000 'a' held the interpreter lock past --run-timeout; finally steps still run."""
    config = (
        '[smoke.flows.f]\nsteps = [{ path = "/aaa", capture = { v = { regex = "(a|aa)+$" } } }]\n'
        'finally = [{ name = "cleanup", path = "/cleanup" }]\n'
    )
    with serve(heavy_app()) as url:
        result = smoke(tmp_path, config, "--base-url", url, "--timeout", "1.5", timeout_s=20)
    assert result.code == 1, result.everything
    assert "did not finish within 1.5 s" in result.files["json"]
    assert '"finally: cleanup"' in result.files["json"] or "cleanup" in result.files["json"]
    assert result.seconds < 10, result.seconds


def test_uploading_a_fifo_fails_the_step_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "upload.fifo"
    os.mkfifo(fifo)
    config = f'[smoke.flows.f]\nsteps = [{{ method = "POST", path = "/up", files = {{ f = "{fifo}" }} }}]\n'
    with serve(heavy_app()) as url:
        result = smoke(tmp_path, config, "--base-url", url, timeout_s=20)
    assert result.code == 1, result.everything
    assert "not a regular file" in result.files["json"]


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
def test_a_ca_bundle_that_is_not_a_pem_file_is_one_line(tmp_path: Path, kind: str) -> None:
    """OpenSSL waited on a FIFO for ever and would read /dev/zero until memory ran out."""
    path = {"fifo": tmp_path / "ca.fifo", "dev-zero": Path("/dev/zero"), "folder": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    result = smoke(tmp_path, f'[smoke]\nca_bundle = "{path}"\n', "--base-url", "https://127.0.0.1:9/")
    assert result.code == 2, result.everything
    assert_one_clear_line(result, mentions=["ca_bundle", str(path)])
    assert result.seconds < 10 and result.peak_rss <= PEAK_RSS_LIMIT


@pytest.mark.parametrize(
    "page",
    [
        HOSTILE_PAGES["/forms"].decode(),
        "<form>" + "<div><input name=a>" * 25_000,  # controls 25,000 deep: asking each for its ancestors
        "<form id=f></form>" * 5_000 + "<input form=f name=b>" * 20_000,
        "<form><fieldset disabled><legend>" * 12_000 + "<input name=c>",
    ],
    ids=["nested-forms", "deep-controls", "many-forms", "deep-fieldsets"],
)
def test_forms_are_searched_in_bounded_time(page: str) -> None:
    """The form, owners, fieldsets and entries in one walk: asking every nested form for its fields was 56 s."""
    from lr_ci.flows import _forms

    started = time.monotonic()
    try:
        found = _forms.find_submission(page, "http://example.test/", None, None, {})
        assert found.entries
    except _forms.FormError as exc:  # several forms: ambiguous, said in one line
        assert "set submit_form.selector" in str(exc)
    assert time.monotonic() - started < 10


def test_a_session_cookie_never_captured_is_still_masked(tmp_path: Path) -> None:
    """A failed expectation on Set-Cookie printed the whole session id: every cookie set is a credential."""
    from helpers.hostile_servers import _answer

    cookie = "S3ss10nCookieValue42"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = [(b"set-cookie", f"session={cookie}; Path=/; HttpOnly".encode())]
            await _answer(send, 200, f"your session is {cookie}".encode(), headers)

    config = "[smoke]\n" + flows(
        f='{ path = "/", expect = { headers = { set-cookie = "Secure" }, status = 201 } }'
    )
    with serve(app) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 1, result.everything
    assert "session=***" in result.files["json"]
    assert cookie not in printed(result)


def test_a_token_given_as_the_url_user_is_masked(tmp_path: Path) -> None:
    """``https://TOKEN@host``: only a password was masked, so a server echoing the user printed the token."""
    import base64 as b64

    from helpers.hostile_servers import _answer, _header

    token = "tok3nAsUserName0987654321"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            basic = _header(scope, b"authorization").removeprefix("Basic ")
            await _answer(send, 401, f"unknown user {b64.b64decode(basic).decode()}".encode())

    with serve(app) as url:
        result = smoke(tmp_path, "", "--base-url", url.replace("http://", f"http://{token}@"))
    assert result.code == 1, result.everything
    assert "unknown user ***" in result.files["json"]
    assert token not in printed(result)


def test_a_rotating_session_cookie_polled_by_retry_stays_fast(tmp_path: Path) -> None:
    """Every cookie is masked; a new one per attempt made each excerpt mask 1 MiB against more of them."""
    import itertools

    from helpers.hostile_servers import _answer

    counter = itertools.count()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            cookie = f"sid=rotating-{next(counter):012d}".encode()
            await _answer(send, 200, b"x " * (512 * 1024), [(b"set-cookie", cookie)])

    config = "[smoke]\n" + flows(
        f='{ path = "/", retry = { attempts = 100, interval_s = 0 }, expect = { status = 201 } }'
    )
    with serve(app) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 1, result.everything
    assert "after 100 attempts" in result.files["json"]
    assert result.seconds < 15, result.seconds


@pytest.mark.parametrize("charset", ["rot13", "zlib", "hex", "no-such-charset"])
def test_a_charset_that_is_not_a_text_encoding_reads_as_utf8(tmp_path: Path, charset: str) -> None:
    """``charset=rot13`` made reading a healthy page a TypeError about ``str.translate``."""
    from helpers.hostile_servers import _answer

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            content_type = f"text/html; charset={charset}".encode()
            await _answer(send, 200, "all is wéll".encode(), [(b"content-type", content_type)])

    config = "[smoke]\n" + flows(f='{ path = "/", expect = { body_contains = ["all is wéll"] } }')
    with serve(app) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 0, result.everything


# Its peak varies from run to run (143-354 MiB seen alone on a quiet machine; 177-294 MiB before issue 13),
# with 64 threads each holding a 200 KB body (glibc's per-thread malloc arenas are the suspect): an open
# bug, rerun so the suite stays usable until it is fixed at the root.
@LOAD_SENSITIVE
def test_regex_helpers_are_shared_by_many_flows_within_the_memory_bound(tmp_path: Path) -> None:
    """64 flows at once, each searching: one helper process per flow was 924 MiB; the pool holds four."""
    from helpers.hostile_servers import _answer

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await _answer(send, 200, b"tok-123 " + b"a" * 200_000)

    step = '{ path = "/", capture = { v = { regex = "tok-([0-9]+)" } } }'
    config = "[smoke]\nconcurrency = 64\nmax_body_bytes = 1048576\n" + flows(
        **{f"f{i}": step for i in range(64)}
    )
    with serve(app) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 0, result.everything
    assert result.peak_rss <= PEAK_RSS_LIMIT, result.peak_rss


def test_a_server_cannot_choose_which_local_file_is_uploaded(tmp_path: Path) -> None:
    """``files = { f = "{path}" }`` with ``path`` captured from the server sent it any local file."""
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("local-secret-content-42")
    seen: list[dict[str, Any]] = []
    from helpers.hostile_servers import _answer

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await request_body(receive)
        seen.append({"path": scope["path"], "body": body})
        await _answer(send, 200, str(secret_file).encode())

    config = (
        '[smoke.flows.f]\nsteps = [{ path = "/where", capture = { p = { regex = ".+" } } },\n'
        '  { method = "POST", path = "/up", files = { f = "{p}" } }]\n'
    )
    with serve(app) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    assert result.code == 1, result.everything
    assert "cannot read the file to upload {p}" in result.files["json"]
    assert all(b"local-secret-content-42" not in r["body"] for r in seen)


@pytest.mark.parametrize("allowed", [False, True])
def test_a_url_a_server_completes_gets_credentials_only_at_home(tmp_path: Path, allowed: bool) -> None:
    """``url = "{next}"`` with ``next`` captured: the server chose where X-Api-Key went."""
    seen_there: list[dict[str, Any]] = []
    from helpers.hostile_servers import _answer

    def home(other: str) -> Any:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                await _answer(send, 200, f"{other}/landing".encode())

        return app

    allow = ", allow_other_host = true" if allowed else ""
    config = (
        '[smoke.flows.f]\nsteps = [{ path = "/next", capture = { next = { regex = ".+" } } },\n'
        f'  {{ url = "{{next}}", headers = {{ X-Api-Key = "${{API_KEY}}" }}{allow} }}]\n'
    )
    with serve(recording_app(seen_there)) as other, serve(home(other)) as url:
        result = smoke(tmp_path, config, "--base-url", url)
    if allowed:
        assert result.code == 0, result.everything
        assert [r["headers"]["x-api-key"] for r in seen_there] == [API_KEY]
    else:
        assert result.code == 1, result.everything
        assert "another host" in result.files["json"] and "(x-api-key)" in result.files["json"]
        assert seen_there == []
    assert_no_credential(result)


def _page_app(page: bytes) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await request_body(receive)
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]}
        )
        await send({"type": "http.response.body", "body": page})

    return app


def test_thousands_of_ambiguous_forms_are_one_bounded_line(tmp_path: Path) -> None:
    """Issue 13: the ambiguous-default message names at most 8 forms, each action cut (the server chose them)."""
    page = b"".join(b'<form action="/' + b"a" * 60_000 + b'"><input name=q></form>' for _ in range(60))
    config = '[smoke.flows.f]\nsteps = [{ path = "/" }, { submit_form = {} }]\n'
    with serve(_page_app(page)) as url:
        result = smoke(tmp_path, config, "--base-url", url, timeout_s=30)
    assert result.code == 2, result.everything
    line = assert_one_clear_line(result, mentions=["set submit_form.selector", "and 52 more"])
    assert len(line) < 2_000
    assert result.seconds < 10 and result.peak_rss <= PEAK_RSS_LIMIT


@pytest.mark.parametrize(
    "page",
    [
        b"<div class=error>x" * 800_000,
        b"<ul class=errorlist><li>" + b"e " * 2_000_000,
        b"<p>" + b"t " * 2_000_000,
    ],
    ids=["nested-errors", "huge-error", "huge-text"],
)
def test_the_text_of_a_failing_page_is_bounded(tmp_path: Path, page: bytes) -> None:
    """Issue 13: a failing HTML step shows form errors and visible text, cut at 300 characters each."""
    config = '[smoke.flows.f]\nsteps = [{ path = "/", expect = { status = 302 } }]\n'
    with serve(_page_app(page)) as url:
        result = smoke(tmp_path, config, "--base-url", url, timeout_s=30)
    assert result.code == 1, result.everything
    message = result.files["json"]
    assert "page text: " in message and len(message) < 20_000
    assert result.seconds < 10 and result.peak_rss <= PEAK_RSS_LIMIT, (result.seconds, result.peak_rss)
