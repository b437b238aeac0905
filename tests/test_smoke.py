"""lr-ci smoke against the sample ops app, real framework login pages, TLS, hung and absent servers."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from starlette.applications import Starlette

from helpers import fake_frameworks
from helpers.asgi_server import hanging_server, request_body, serve, unused_port_url
from helpers.cli import ROOT, Cli, Result
from helpers.opsapp_server import RunningApp

CONFIG = ROOT / "examples" / "opsapp" / "lr-ci.toml"
CREDENTIALS = {"OPS_USER": "ops", "OPS_PASSWORD": "ops-demo-password"}
API = {"Authorization": "Bearer opsapp-demo-token"}


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def smoke(cli: Cli, url: str, *args: str, config: Path = CONFIG) -> Result:
    return cli("--config", str(config), "smoke", "--base-url", url, "--format", "json", *args)


def cases(result: Result) -> dict[str, tuple[str, str]]:
    return {c["name"]: (c["status"], c["message"]) for c in result.json()["cases"]}


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lr-ci.toml"
    path.write_text(text)
    return path


def test_the_three_flows_pass(opsapp_url: str, cli: Cli) -> None:
    result = smoke(cli, opsapp_url)
    assert result.code == 0, result.out
    report = result.json()
    assert report["status"] == "pass" and report["metrics"]["flows_passed"] == 3
    assert cases(result)["approve-invoice › report done"][0] == "pass"
    steps = report["metrics"]["flows"]["approve-invoice"]["steps"]
    assert steps["report done"]["attempts"] >= 2  # the job was polled until done
    assert all(isinstance(step["ms"], float) for step in steps.values())


def test_junit_has_one_case_per_step(opsapp_url: str, cli: Cli, tmp_path: Path) -> None:
    junit = tmp_path / "smoke.xml"
    result = cli("--config", str(CONFIG), "smoke", "--base-url", opsapp_url, "--output", f"junit:{junit}")
    assert result.code == 0
    names = [case.get("name") for case in ET.fromstring(junit.read_text()).iter("testcase")]
    assert "login › submit" in names and "approve-invoice › finally: delete invoice" in names
    assert len(names) == 12


def test_broken_login_says_which_flow_and_step(opsapp: Callable[..., RunningApp], cli: Cli) -> None:
    app = opsapp(broken_login=1)
    result = smoke(cli, app.url)
    assert result.code == 1
    messages = [f["message"] for f in result.json()["findings"]]
    assert any(m.startswith("flow login, step submit: expected status 303, got 500") for m in messages), (
        messages
    )
    assert cases(result)["login › dashboard"] == ("skip", "skipped: an earlier step failed")
    assert cases(result)["homepage › home"][0] == "pass"


def test_down_database_and_error_rate(opsapp: Callable[..., RunningApp], cli: Cli) -> None:
    down = smoke(cli, opsapp(db_down=1).url)
    assert down.code == 1
    assert "step create: expected status 201, got 503" in " ".join(
        f["message"] for f in down.json()["findings"]
    )
    failing = smoke(cli, opsapp(error_rate=1).url)
    assert failing.code == 1 and "got 500" in " ".join(f["message"] for f in failing.json()["findings"])


def test_response_time_budget(opsapp: Callable[..., RunningApp], cli: Cli, tmp_path: Path) -> None:
    config = write_config(
        tmp_path, '[smoke.flows.home]\nsteps = [{ path = "/healthz", expect = { max_ms = 50 } }]\n'
    )
    result = smoke(cli, opsapp(latency_ms=150).url, config=config)
    assert result.code == 1
    assert "over the 50 ms budget" in result.json()["findings"][0]["message"]


def test_csrf_rejection_when_the_token_is_not_sent(opsapp_url: str, cli: Cli, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
[[smoke.flows.login.steps]]
path = "/login"
[[smoke.flows.login.steps]]
name = "submit without token"
method = "POST"
path = "/login"
form = { username = "${OPS_USER}", password = "${OPS_PASSWORD}" }
expect = { status = 303 }
""",
    )
    result = smoke(cli, opsapp_url, config=config)
    assert result.code == 1
    message = result.json()["findings"][0]["message"]
    assert "step submit without token: expected status 303, got 403" in message and "CSRF" in message


def test_cookie_attributes(opsapp_url: str, cli: Cli, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
[[smoke.flows.login.steps]]
path = "/login"
capture = { csrf = { css = "input[name=csrf_token]", attr = "value" } }
[[smoke.flows.login.steps]]
name = "submit"
method = "POST"
path = "/login"
form = { csrf_token = "{csrf}", username = "${OPS_USER}", password = "${OPS_PASSWORD}" }
expect = { cookies = { opsapp_session = { secure = true, http_only = true, same_site = "strict" } } }
""",
    )
    result = smoke(cli, opsapp_url, config=config)
    assert result.code == 1
    message = result.json()["findings"][0]["message"]
    assert "cookie opsapp_session is not Secure" in message
    assert "cookie opsapp_session has SameSite=lax, expected strict" in message
    assert "HttpOnly" not in message


def test_cleanup_runs_after_a_mid_flow_failure(opsapp_url: str, cli: Cli, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
[[smoke.flows.workflow.steps]]
name = "create"
method = "POST"
path = "/api/invoices"
headers = { Authorization = "Bearer opsapp-demo-token" }
json = { customer = "Cleanup Check", amount_cents = 5 }
capture = { invoice = { json = "$.id" } }
[[smoke.flows.workflow.steps]]
name = "approve twice"
method = "POST"
path = "/api/invoices/{invoice}/approve"
headers = { Authorization = "Bearer opsapp-demo-token" }
expect = { json = { "$.status" = "paid" } }
[[smoke.flows.workflow.steps]]
name = "never reached"
path = "/"
[[smoke.flows.workflow.finally]]
name = "delete"
method = "DELETE"
path = "/api/invoices/{invoice}"
headers = { Authorization = "Bearer opsapp-demo-token" }
when = "{invoice}"
expect = { status = 204 }
""",
    )
    result = smoke(cli, opsapp_url, config=config)
    assert result.code == 1
    statuses = cases(result)
    assert statuses["workflow › approve twice"][0] == "fail"
    assert '$.status is "approved", expected "paid"' in statuses["workflow › approve twice"][1]
    assert statuses["workflow › never reached"][0] == "skip"
    assert statuses["workflow › finally: delete"][0] == "pass"
    remaining = httpx.get(f"{opsapp_url}/api/invoices", headers=API).json()["invoices"]
    assert "Cleanup Check" not in [i["customer"] for i in remaining]


def test_conditions_skip_steps(opsapp_url: str, cli: Cli, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
[[smoke.flows.health.steps]]
path = "/healthz"
capture = { db = { json = "$.checks.database" } }
[[smoke.flows.health.steps]]
name = "only when the database is down"
path = "/nope"
when = "{db} == down"
[[smoke.flows.health.steps]]
name = "only when it is up"
path = "/healthz"
when = "{db} != down"
""",
    )
    result = smoke(cli, opsapp_url, config=config)
    assert result.code == 0
    assert cases(result)["health › only when the database is down"][0] == "skip"
    assert cases(result)["health › only when it is up"][0] == "pass"


def test_secrets_are_masked_in_every_format(
    opsapp: Callable[..., RunningApp], cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    app = opsapp(broken_login=1)
    config = write_config(
        tmp_path,
        CONFIG.read_text().replace(
            'expect = { status = 303, redirect = "/dashboard"',
            'expect = { body_contains = ["${OPS_PASSWORD}"], status = 303, redirect = "/dashboard"',
        ),
    )
    token_flow = """
[[smoke.flows.token.steps]]
name = "get token"
method = "POST"
path = "/api/token"
json = { username = "${OPS_USER}", password = "${OPS_PASSWORD}" }
capture = { api_token = { json = "$.token" } }
[[smoke.flows.token.steps]]
name = "use it badly"
path = "/api/invoices"
headers = { Authorization = "Bearer {api_token}" }
expect = { body_contains = ["{api_token}"] }
"""
    config.write_text(config.read_text() + token_flow)
    for fmt in ("text", "json", "sarif", "junit", "markdown", "github"):
        result = cli("--config", str(config), "smoke", "--base-url", app.url, "--format", fmt, "--verbose")
        assert result.code == 1
        printed = "\n".join(line for line in result.out.splitlines() if not line.startswith("::add-mask::"))
        output = printed + result.err + ((tmp_path / "summary.md").read_text() if fmt == "github" else "")
        assert "ops-demo-password" not in output, fmt
        assert "opsapp_session=" not in output or "opsapp_session=***" in output
    tokens = httpx.post(f"{app.url}/api/token", json={"username": "ops", "password": "ops-demo-password"})
    assert tokens.status_code == 200  # a real token exists in that flow's responses; none was printed above


def test_hanging_server_times_out_within_the_bound(cli: Cli, tmp_path: Path) -> None:
    with hanging_server() as url:
        start = time.monotonic()
        result = cli("smoke", "--base-url", url, "--timeout", "0.5", "--format", "json")
        took = time.monotonic() - start
    assert result.code == 1
    assert "timed out after 0.5 s" in result.json()["findings"][0]["message"]
    assert took < 5


def test_run_timeout_bounds_the_whole_run(cli: Cli, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
[smoke.flows.slow]
steps = [{ path = "/a" }, { path = "/b" }, { path = "/c" }, { path = "/d" }]
""",
    )
    with hanging_server() as url:
        start = time.monotonic()
        result = cli(
            "--config",
            str(config),
            "smoke",
            "--base-url",
            url,
            "--timeout",
            "5",
            "--run-timeout",
            "0.6",
            "--format",
            "json",
        )
        took = time.monotonic() - start
    assert result.code == 1 and took < 5


def test_unreachable_host_is_a_failure(cli: Cli) -> None:
    result = cli("smoke", "--base-url", unused_port_url(), "--format", "json")
    assert result.code == 1
    assert "connection refused" in result.json()["findings"][0]["message"]


def test_tls(cli: Cli, tmp_path: Path) -> None:
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "ops.example.test")
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    flow = '[smoke.flows.login]\nsteps = [{ path = "/login", expect = { status = 200 } }]\n'
    untrusting = write_config(tmp_path, flow)
    trusting = tmp_path / "trusting.toml"
    trusting.write_text(f'[smoke]\nca_bundle = "{bundle}"\n' + flow)
    with serve(fake_frameworks.flask_app(), certificate=certificate) as url:
        untrusted = smoke(cli, url, config=untrusting)
        assert untrusted.code == 1 and "TLS failed" in untrusted.json()["findings"][0]["message"]
        assert smoke(cli, url, config=trusting).code == 0
        port = url.rsplit(":", 1)[1]
        by_name = smoke(
            cli,
            f"https://ops.example.test:{port}",
            "--resolve",
            "ops.example.test:127.0.0.1",
            config=trusting,
        )
        assert by_name.code == 0, by_name.out
        wrong_name = smoke(
            cli,
            f"https://other.example.test:{port}",
            "--resolve",
            "other.example.test:127.0.0.1",
            config=trusting,
        )
        assert wrong_name.code == 1 and "TLS failed" in wrong_name.json()["findings"][0]["message"]
        assert smoke(cli, url, "--insecure", config=untrusting).code == 0


def test_resolve_sends_the_real_host_name(cli: Cli, tmp_path: Path) -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(dict(scope["headers"])[b"host"].decode())
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    with serve(app) as url:
        port = url.rsplit(":", 1)[1]
        result = cli(
            "smoke",
            "--base-url",
            f"http://ops.new-deploy.test:{port}",
            "--resolve",
            "ops.new-deploy.test:127.0.0.1",
        )
    assert result.code == 0
    assert seen == [f"ops.new-deploy.test:{port}"]


def test_wait_for_version(opsapp: Callable[..., RunningApp], cli: Cli, tmp_path: Path) -> None:
    app = opsapp(slow_start_s=1.5, version="2.1.0", wait_ready=False)
    result = smoke(cli, app.url, "--wait-for-version", "2.1.0", "--flow", "homepage")
    assert result.code == 0
    assert result.json()["metrics"]["waited_for_version_s"] >= 1.0
    stale = smoke(cli, app.url, "--wait-for-version", "9.9.9", "--wait-timeout", "1.5")
    assert stale.code == 1
    assert "version 9.9.9 did not answer" in stale.json()["findings"][0]["message"]
    assert "version '2.1.0'" in stale.json()["findings"][0]["message"]


@pytest.mark.parametrize(
    ("app", "login_path", "fields", "after"),
    [
        (
            fake_frameworks.django_app,
            "/accounts/login/?next=/accounts/profile/",
            {"username": "${FW_USER}", "password": "${FW_PASSWORD}"},
            "/accounts/profile/",
        ),
        (
            fake_frameworks.rails_app,
            "/users/sign_in",
            {"user[email]": "${FW_USER}", "user[password]": "${FW_PASSWORD}"},
            "/",
        ),
        (
            fake_frameworks.flask_app,
            "/login?next=%2Findex",
            {"email": "${FW_USER}", "password": "${FW_PASSWORD}"},
            "/index",
        ),
    ],
    ids=["django", "rails", "flask-wtf"],
)
def test_login_against_real_framework_forms(
    app: Callable[[], Starlette],
    login_path: str,
    fields: dict[str, str],
    after: str,
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FW_USER", fake_frameworks.USER)
    monkeypatch.setenv("FW_PASSWORD", fake_frameworks.PASSWORD)
    field_table = ", ".join(f'"{k}" = "{v}"' for k, v in fields.items())
    config = write_config(
        tmp_path,
        f"""
[[smoke.flows.login.steps]]
name = "form"
path = "{login_path}"
[[smoke.flows.login.steps]]
name = "submit"
submit_form = {{ fields = {{ {field_table} }} }}
method = "POST"
expect = {{ status = 302, redirect = "{after}" }}
[[smoke.flows.login.steps]]
name = "signed in"
path = "{after}"
expect = {{ status = 200 }}
""",
    )
    with serve(app()) as url:
        result = smoke(cli, url, config=config)
        assert result.code == 0, result.out
        broken = write_config(tmp_path, config.read_text().replace("${FW_PASSWORD}", "wrong"))
        assert smoke(cli, url, config=broken).code == 1


def test_rails_meta_csrf_capture(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_PASSWORD", fake_frameworks.PASSWORD)
    config = write_config(
        tmp_path,
        f"""
[[smoke.flows.login.steps]]
path = "/users/sign_in"
capture = {{ token = {{ css = "meta[name=csrf-token]", attr = "content" }} }}
[[smoke.flows.login.steps]]
method = "POST"
path = "/users/sign_in"
form = {{ authenticity_token = "{{token}}", "user[email]" = "{fake_frameworks.USER}", "user[password]" = "${{FW_PASSWORD}}" }}
expect = {{ status = 302, redirect = "/" }}
""",
    )
    with serve(fake_frameworks.rails_app()) as url:
        assert smoke(cli, url, config=config).code == 0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('[smoke.flows.a]\nuse = ["b"]\n[smoke.flows.b]\nuse = ["a"]\n', "cycle"),
        ('[smoke.flows.a]\nuse = ["missing"]\n', "unknown flow 'missing'"),
        (
            '[smoke.flows.a]\nsteps = [{ pth = "/" }]\n',
            "lr-ci.toml:2: smoke.flows.a.steps.0.pth: unknown key (did you mean 'path'?)",
        ),
    ],
)
def test_bad_config_is_exit_2(cli: Cli, tmp_path: Path, config: str, message: str) -> None:
    path = write_config(tmp_path, config)
    result = cli("--config", str(path), "smoke", "--base-url", "http://127.0.0.1:9")
    assert result.code == 2 and message in result.err, result.err


def test_no_base_url_is_exit_2(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("smoke")
    assert result.code == 2 and "no base URL" in result.err


def test_captured_session_values_are_masked(opsapp_url: str, cli: Cli, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
[[smoke.flows.login.steps]]
path = "/login"
capture = { csrf = { css = "input[name=csrf_token]", attr = "value" } }
[[smoke.flows.login.steps]]
name = "submit"
method = "POST"
path = "/login"
form = { csrf_token = "{csrf}", username = "${OPS_USER}", password = "${OPS_PASSWORD}" }
capture = { sid = { cookie = "opsapp_session" } }
[[smoke.flows.login.steps]]
name = "leaky"
path = "/nope?sid={sid}&csrf={csrf}"
""",
    )
    result = smoke(cli, opsapp_url, config=config)
    assert result.code == 1
    finding = result.json()["findings"][0]
    assert finding["location"]["url"].endswith("/nope?sid=***&csrf=***")
    assert "sid=***" in json.dumps(result.json()["cases"])


def test_flows_run_from_python(opsapp_url: str) -> None:
    from lr_ci.checks.smoke.settings import SmokeSettings
    from lr_ci.flows.model import Expect, Flow, Step
    from lr_ci.flows.runner import RunOptions, run_flow, run_flows

    settings = SmokeSettings(
        flows={
            "health": Flow(
                steps=[Step(name="healthz", path="/healthz", expect=Expect(json={"$.status": "ok"}))]
            ),
            "broken": Flow(steps=[Step(name="missing", path="/missing")]),
        }
    )
    options = RunOptions(base_url=opsapp_url)
    health = run_flow(settings, "health", options)
    assert health.passed and health.steps[0].response_status == 200
    results = {r.name: r for r in run_flows(settings, options)}
    assert not results["broken"].passed
    assert results["broken"].steps[0].message.startswith("expected a 2xx or 3xx status, got 404")


def test_header_and_regex_captures_and_file_upload(cli: Cli, tmp_path: Path) -> None:
    upload = tmp_path / "invoice.csv"
    upload.write_text("customer,amount\nACME,125\n")
    received: dict[str, str] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await request_body(receive)
        received[scope["path"]] = body.decode(errors="replace")
        headers = [(b"x-request-id", b"req-4711"), (b"content-type", b"text/html")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<p>Order <b>ORD-2931</b> received</p>"})

    config = write_config(
        tmp_path,
        f"""
[[smoke.flows.upload.steps]]
path = "/start"
capture = {{ request = {{ header = "x-request-id" }}, order = {{ regex = "Order <b>(ORD-[0-9]+)</b>" }} }}
[[smoke.flows.upload.steps]]
method = "POST"
path = "/upload/{{order}}"
headers = {{ X-Parent-Request = "{{request}}" }}
files = {{ document = "{upload}" }}
[[smoke.flows.upload.steps]]
method = "POST"
path = "/missing-file"
files = {{ document = "{tmp_path / "nope.csv"}" }}
""",
    )
    with serve(app) as url:
        result = smoke(cli, url, config=config)
    assert result.code == 1
    assert "ACME,125" in received["/upload/ORD-2931"] and 'name="document"' in received["/upload/ORD-2931"]
    assert "cannot read the file to upload" in result.json()["findings"][0]["message"]
