"""One GitHub issue per incident, against the fake GitHub API (a real HTTP server on 127.0.0.1): opened once
whatever is retried, a comment per reminder, a comment and closed on recovery, every failure a masked
reason the outbox retries. The deliveries go through ``notify.deliver`` and, where the outbox matters, a
real state file."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from helpers.asgi_server import hanging_server, serve
from helpers.fake_github import TOKEN, FakeGitHub
from helpers.uptime_servers import free_port
from lr_ci.checks.uptime.github_issues import incident_marker, key_marker
from lr_ci.checks.uptime.monitor import send_deliveries
from lr_ci.checks.uptime.notify import GithubIssuesTarget, Sent, deliver
from lr_ci.checks.uptime.rule import Event, incident_id
from lr_ci.checks.uptime.state import Delivery, Store, retry_delay
from lr_ci.redact import Redactor

REPOSITORY = "acme/ops"
INCIDENT = incident_id("api", 1_780_000_000.0)
SINCE = time.time() - 600  # the outage started ten minutes ago (the lookup asks for recent issues)


def event(kind: str = "opened", sequence: int = 1, **body: Any) -> Delivery:
    key = f"{INCIDENT}:{kind}:{sequence}"
    return Delivery(
        key,
        f"github:{REPOSITORY}",
        kind,
        INCIDENT,
        {
            "key": key,
            "kind": kind,
            "monitor": "api",
            "incident": INCIDENT,
            "sequence": sequence,
            "since": SINCE,
            "at": SINCE + 130,
            "duration": 420.0 if kind == "recovered" else None,
            "owner": "payments team <pay@example.com>",
            "failure": {
                "status": 500,
                "error_class": "status",
                "error": "HTTP 500, expected 200",
                "latency_ms": 12.0,
            },
            **body,
        },
        0,
    )


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, GithubIssuesTarget]]:
    fake = FakeGitHub()
    with serve(fake.app()) as api:
        yield fake, GithubIssuesTarget(REPOSITORY, TOKEN, ("uptime",), api_url=api, timeout_s=5)


def test_an_incident_opens_one_issue_gets_a_comment_per_reminder_and_closes_on_recovery(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    fake, target = github
    sequence = [event("opened"), event("reminder", 1), event("reminder", 2), event("recovered")]
    for delivery in sequence:
        assert deliver(delivery, target) == Sent(True)
    [issue] = fake.issues
    assert (issue.title, issue.labels, issue.state, issue.state_reason) == (
        "api is down",
        ["uptime"],
        "closed",
        "completed",
    )
    assert incident_marker(INCIDENT) in issue.body and key_marker(f"{INCIDENT}:opened:1") in issue.body
    assert (
        "api is down since" in issue.body
        and "status 500, status, HTTP 500, expected 200, 12 ms" in issue.body
    )
    assert "**Owner:** payments team &lt;pay@\u200bexample.com&gt;" in issue.body  # no mention, no tag
    assert f"`{INCIDENT}:opened:1`" in issue.body  # the idempotency key, readable
    bodies = [str(c["body"]) for c in issue.comments]
    assert [b.split(":**")[0] for b in bodies] == ["**Still down", "**Still down", "**Recovered"]
    assert "api is back up after 7 min" in bodies[2]
    for delivery in sequence:  # every event delivered again (a crash before marking each): nothing changes
        assert deliver(delivery, target) == Sent(True)
    assert len(fake.issues) == 1 and len(fake.issues[0].comments) == 3


def test_opened_whose_answer_was_lost_after_the_write_is_retried_into_the_same_issue(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    fake, target = github
    fake.fail_after_create = 502
    first = deliver(event(), target)
    assert first.delivered is False and first.reason == "github:acme/ops: GitHub answered 502; retried"
    assert deliver(event(), target) == Sent(True)
    assert len(fake.issues) == 1


def test_a_crash_between_create_and_mark_sends_again_and_finds_the_issue(
    tmp_path: Path, github: tuple[FakeGitHub, GithubIssuesTarget]
) -> None:
    """The outbox row is sent, the issue created, and the monitor dies before marking it delivered: the
    restarted monitor sends the same row again, and it lands on the same issue."""
    fake, target = github
    path = tmp_path / "uptime.db"
    opened = Event("opened", "api", INCIDENT, 1, SINCE + 130, SINCE, None, SINCE + 60)
    with Store.open(path, lambda text: text) as store:
        store.record(now=SINCE + 130, events=[opened], targets=[target.name], details={})
        [row] = store.due(SINCE + 130)
        assert deliver(row, target).delivered  # ... and SIGKILL here, before store.delivered()
    with Store.open(path, lambda text: text) as store:
        [again] = store.due(SINCE + 131)
        assert again.key == row.key
        report = send_deliveries(store, lambda d: deliver(d, target), clock=lambda: SINCE + 131)
        assert report.delivered == [(row.key, target.name)] and store.undelivered() == 0
    assert len(fake.issues) == 1


def test_a_500_from_the_api_fails_the_delivery_the_outbox_retries_it_and_there_is_still_one_issue(
    tmp_path: Path, github: tuple[FakeGitHub, GithubIssuesTarget]
) -> None:
    fake, target = github
    redactor = Redactor()
    redactor.add_credential(TOKEN)
    path = tmp_path / "uptime.db"
    opened = Event("opened", "api", INCIDENT, 1, SINCE + 130, SINCE, None, SINCE + 60)
    recovered = Event("recovered", "api", INCIDENT, 1, SINCE + 600, SINCE, 420.0, SINCE + 540)

    def notify(delivery: Delivery) -> Sent:
        return deliver(delivery, target, redactor.scrub_text)

    with Store.open(path, redactor.scrub_text) as store:
        store.record(now=SINCE + 130, events=[opened], targets=[target.name], details={})
        fake.fail_next = [500]
        down = send_deliveries(store, notify, clock=lambda: SINCE + 130)
        assert [(key, reason) for key, _, reason in down.failed] == [
            (opened.key, "github:acme/ops: GitHub answered 500; retried")
        ]
        assert fake.issues == []
        early = send_deliveries(store, notify, clock=lambda: SINCE + 131)
        assert (early.delivered, early.failed) == ([], [])  # not due before its backoff
        later = SINCE + 130 + retry_delay(1)
        assert send_deliveries(store, notify, clock=lambda: later).delivered == [(opened.key, target.name)]
        store.record(now=SINCE + 600, events=[recovered], targets=[target.name], details={})
        fake.fail_next = [503, 503]
        assert send_deliveries(store, notify, clock=lambda: SINCE + 600).failed
        after = SINCE + 600 + retry_delay(2)
        assert send_deliveries(store, notify, clock=lambda: after).failed  # the second 503
        final = SINCE + 600 + 2 * retry_delay(3)
        assert send_deliveries(store, notify, clock=lambda: final).delivered == [(recovered.key, target.name)]
        assert store.undelivered() == 0
    [issue] = fake.issues
    assert issue.state == "closed" and len(issue.comments) == 1
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("uptime.db"))
    assert TOKEN.encode() not in raw


def test_every_failure_is_a_reason_in_words_without_the_token(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    fake, target = github
    wrong = GithubIssuesTarget(REPOSITORY, "ghs_wrong-token-0123456789", api_url=target.api_url, timeout_s=5)
    reasons = {"401": deliver(event(), wrong).reason}
    fake.read_only = True
    reasons["403"] = deliver(event(), target).reason
    fake.read_only = False
    fake.fail_next = [404]
    reasons["404"] = deliver(event(), target).reason
    fake.has_issues = False
    reasons["410"] = deliver(event(), target).reason
    unreachable = GithubIssuesTarget(
        REPOSITORY, TOKEN, api_url=f"http://127.0.0.1:{free_port()}", timeout_s=2
    )
    reasons["refused"] = deliver(event(), unreachable).reason
    with hanging_server() as url:
        hung = GithubIssuesTarget(REPOSITORY, TOKEN, api_url=url, timeout_s=0.5)
        started = time.monotonic()
        reasons["hang"] = deliver(event(), hung).reason
        assert time.monotonic() - started < 3
    assert reasons == {
        "401": "github:acme/ops: GitHub refused the token (401 Bad credentials)",
        "403": "github:acme/ops: the token may not do this (403: give the workflow `permissions: issues: write`;"
        " or a rate limit, retried)",
        "404": "github:acme/ops: acme/ops not found, or the token cannot see it (404)",
        "410": "github:acme/ops: issues are disabled in acme/ops (410)",
        "refused": "github:acme/ops: GitHub API: connection refused",
        "hang": "github:acme/ops: GitHub API: timed out",
    }
    assert fake.issues == []
    for reason in reasons.values():
        assert TOKEN not in str(reason) and "ghs_wrong" not in str(reason)
    assert TOKEN not in repr(target)


def test_whichever_event_comes_first_creates_the_issue_and_the_opened_one_never_adds_a_second(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    """The outbox retries each row on its own backoff: a recovery can get through before the opened
    event that kept failing. It creates the issue, closed; the late opened event finds it."""
    fake, target = github
    assert deliver(event("recovered"), target) == Sent(True)
    assert deliver(event("opened"), target) == Sent(True)
    [issue] = fake.issues
    assert issue.state == "closed" and issue.comments == [] and "api is back up" in issue.body


def test_a_reminder_before_the_opened_event_creates_the_issue_once(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    fake, target = github
    assert deliver(event("reminder", 1), target) == Sent(True)
    assert deliver(event("opened"), target) == Sent(True)
    assert deliver(event("reminder", 1), target) == Sent(True)
    assert deliver(event("reminder", 2), target) == Sent(True)
    [issue] = fake.issues
    assert issue.state == "open" and "api is still down" in issue.body
    assert [key_marker(f"{INCIDENT}:reminder:2") in str(c["body"]) for c in issue.comments] == [True]


def test_the_issue_is_found_again_when_github_dropped_its_labels_and_past_two_pages(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    """A token without push access gets its labels dropped silently: the lookup does not filter by label.
    250 newer issues and a pull request carrying the same marker later, it is on the third page."""
    fake, target = github
    fake.drop_labels = True
    assert deliver(event("opened"), target) == Sent(True)
    assert fake.issues[0].labels == []
    for number in range(250):
        fake.add_issue(f"another issue {number}", "unrelated")
    fake.add_issue("a pull request quoting the marker", incident_marker(INCIDENT), pull_request=True)
    fake.calls.clear()
    assert deliver(event("recovered"), target) == Sent(True)
    assert fake.issues[0].state == "closed" and len(fake.open_issues()) == 250
    assert not any(issue.comments for issue in fake.issues[1:])
    assert fake.calls.count("GET /repos/acme/ops/issues") == 3


def test_an_old_closed_issue_of_another_incident_is_not_reused(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    fake, target = github
    fake.add_issue("api is down", incident_marker(incident_id("api", 1.0)), age_days=400)
    fake.issues[0].state = "closed"
    assert deliver(event("opened"), target) == Sent(True)
    assert len(fake.issues) == 2 and fake.issues[1].state == "open"


def test_a_removed_monitor_s_recovery_comments_that_and_closes_the_issue(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    fake, target = github
    assert deliver(event("opened"), target) == Sent(True)
    assert deliver(event("recovered", removed=True), target) == Sent(True)
    [issue] = fake.issues
    assert issue.state == "closed"
    assert "api was removed from the configuration: incident closed" in str(issue.comments[0]["body"])


def test_a_test_alert_opens_no_issue_and_checks_the_token_can_read_the_repository(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    fake, target = github
    test = Delivery("test-1:test:1", target.name, "test", "test-1", {"monitor": "lr-ci uptime"}, 0)
    assert deliver(test, target) == Sent(True)
    assert fake.issues == [] and fake.calls == ["GET /repos/acme/ops"]
    wrong = GithubIssuesTarget(REPOSITORY, "ghs_not-the-token", api_url=target.api_url, timeout_s=5)
    assert deliver(test, wrong).reason == "github:acme/ops: GitHub refused the token (401 Bad credentials)"
    fake.has_issues = False
    disabled = deliver(test, target)
    assert disabled.delivered is False and "issues are disabled" in str(disabled.reason)


def test_text_from_a_probed_server_cannot_ping_people_or_close_the_marker(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    fake, target = github
    failure = {"status": 500, "error": "boom @everyone --> `x`", "error_class": "status", "latency_ms": 3.0}
    assert deliver(event(failure=failure, owner="@acme/oncall"), target) == Sent(True)
    body = fake.issues[0].body
    assert "@everyone" not in body and "@acme/oncall" not in body and "-->" not in body.split("<!--")[0]
    assert body.count("<!--") == 2


def test_the_issue_logic_is_not_imported_until_a_github_target_is_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import lr_ci.checks.uptime.notify; "
        "print(any(m in sys.modules for m in ('httpx', 'lr_ci.github.api', 'lr_ci.checks.uptime.github_issues')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_concurrent_events_of_one_incident_open_one_issue(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    """The outbox sends due rows on 8 threads: an opened event retried with its first reminder and the
    recovery, all at once, still make one issue with one comment each."""
    from concurrent.futures import ThreadPoolExecutor

    fake, target = github
    events = [event("opened"), event("reminder", 1), event("recovered"), event("opened")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        sent = list(pool.map(lambda d: deliver(d, target), events))
    assert sent == [Sent(True)] * 4
    [issue] = fake.issues
    assert issue.state == "closed"
    markers = [key_marker(f"{INCIDENT}:{kind}") for kind in ("reminder:1", "recovered:1")]
    texts = [issue.body, *(str(c["body"]) for c in issue.comments)]
    reminders, recoveries = (sum(marker in text for text in texts) for marker in markers)
    assert (recoveries, reminders <= 1) == (1, True)  # a reminder after the recovery is skipped


def test_a_reminder_on_an_issue_a_person_closed_adds_nothing(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    fake, target = github
    assert deliver(event("opened"), target) == Sent(True)
    fake.issues[0].state = "closed"
    assert deliver(event("reminder", 1), target) == Sent(True)
    assert fake.issues[0].comments == [] and len(fake.issues) == 1
    assert deliver(event("recovered"), target) == Sent(True)  # the recovery is still said, once
    assert len(fake.issues[0].comments) == 1


def test_a_registered_credential_in_an_alert_is_masked_in_the_issue_and_its_comments(
    github: tuple[FakeGitHub, GithubIssuesTarget],
) -> None:
    """The outbox body was masked when it was stored; what a probe said after that (or a body built by
    hand) is masked again on the way to GitHub, and the token is in nothing GitHub keeps."""
    fake, target = github
    password = "flow-pa55word-registered"
    redactor = Redactor()
    redactor.add_credential(password)
    failure = {"status": 401, "error": f"login refused for password {password}", "error_class": "status"}
    for delivery in (event(failure=failure), event("reminder", 1, message=password), event("recovered")):
        assert deliver(delivery, target, redactor.scrub_text) == Sent(True)
    [issue] = fake.issues
    everything = " ".join([issue.title, issue.body, *(str(c["body"]) for c in issue.comments)])
    assert password not in everything and "login refused for password" in everything
    assert TOKEN not in everything


def test_through_the_rounds_an_outage_is_one_issue_closed_on_recovery_and_a_removed_monitor_s_too(
    tmp_path: Path, github: tuple[FakeGitHub, GithubIssuesTarget]
) -> None:
    """``run_round`` with the real store: two monitors go down (one issue each, opened in the round that
    decided it), one recovers (its issue closed), the other is removed from the configuration while down:
    at the next start ``Store.close_removed`` closes its incident and its issue says why."""
    from lr_ci.checks.uptime.monitor import Monitor, run_round
    from lr_ci.checks.uptime.probes import ProbeResult
    from lr_ci.checks.uptime.rule import Evaluator, Rule

    fake, target = github
    rule = Rule(interval=60, timeout=10, failures=2, window=300, recover_after=2)
    up = {"api": False, "web": False}

    def monitor(name: str) -> Monitor:
        def probe() -> ProbeResult:
            if up[name]:
                return ProbeResult(True, 0.01, 200)
            return ProbeResult(False, 0.01, 503, "status", "HTTP 503, expected 200")

        return Monitor(name, probe, owner="team-core")

    def notify(delivery: Delivery) -> Sent:
        return deliver(delivery, target)

    path = tmp_path / "uptime.db"
    with Store.open(path, lambda text: text) as store:
        evaluator = Evaluator({"api": rule, "web": rule})
        monitors = [monitor("api"), monitor("web")]
        for index in range(4):
            now = SINCE + 60 * index
            if index == 2:
                up["api"] = True
            report = run_round(
                monitors,
                store,
                evaluator,
                now,
                notify=notify,
                targets=[target.name],
                clock=functools.partial(float, now + 1),  # after the probes
            )
            assert report.failed == [], report.failed
        issues = {issue.title: issue for issue in fake.issues}  # sent concurrently: either may be first
        assert sorted(issues) == ["api is down", "web is down"]
        assert (issues["api is down"].state, issues["web is down"].state) == ("closed", "open")
        web = issues["web is down"]
        assert "HTTP 503, expected 200" in web.body and "team-core" in web.body
    with Store.open(path, lambda text: text) as store:  # restarted with "web" removed from lr-ci.toml
        assert [e.monitor for e in store.close_removed(["api"], SINCE + 600, [target.name])] == ["web"]
        assert send_deliveries(store, notify, clock=lambda: SINCE + 600).failed == []
        assert store.open_incidents() == [] and store.undelivered() == 0
    assert [issue.state for issue in fake.issues] == ["closed", "closed"] and len(fake.issues) == 2
    assert "web was removed from the configuration" in str(web.comments[-1]["body"])


def test_labels_github_refuses_do_not_stop_the_alert(github: tuple[FakeGitHub, GithubIssuesTarget]) -> None:
    """A label that does not exist and a token that may not create it: the issue opens without it."""
    fake, target = github
    fake.refuse_new_labels = True
    assert deliver(event("opened"), target) == Sent(True)
    assert [(issue.title, issue.labels) for issue in fake.issues] == [("api is down", [])]
    fake.read_only = True  # a token that may not write issues at all is still a failure, said so
    other = replace(event("opened"), incident="inc-other")
    refused = deliver(other, target)
    assert refused.delivered is False and "403" in str(refused.reason) and len(fake.issues) == 1


def test_without_an_api_url_the_target_uses_github_api_url_as_actions_sets_it(
    monkeypatch: pytest.MonkeyPatch, github: tuple[FakeGitHub, GithubIssuesTarget]
) -> None:
    fake, target = github
    monkeypatch.setenv("GITHUB_API_URL", f"{target.api_url}/")
    assert deliver(event(), GithubIssuesTarget(REPOSITORY, TOKEN)) == Sent(True)
    assert len(fake.issues) == 1


def test_check_once_with_github_issues_opens_one_issue_and_closes_it_across_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, github: tuple[FakeGitHub, GithubIssuesTarget]
) -> None:
    """``lr-ci uptime check --once --github-issues`` as the example workflow runs it, with the environment
    Actions gives it: the outage is one issue across runs, closed when the service is back; the token is
    in no output and not in the state file."""
    from http.server import BaseHTTPRequestHandler

    from helpers.cli import lr_ci_executable

    fake, target = github
    assert target.api_url is not None
    port = free_port()
    config = tmp_path / "lr-ci.toml"
    config.write_text(
        f'[uptime]\nstate = "state/uptime.sqlite"\nfailures = 1\ntimeout = "2s"\n\n'
        f'[[uptime.monitors]]\nname = "api"\nurl = "http://127.0.0.1:{port}/health"\n'
    )
    env = {
        **os.environ,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": target.api_url,
        "NO_COLOR": "1",
    }
    outputs: list[str] = []

    def once() -> int:
        done = subprocess.run(
            [lr_ci_executable(), "--config", str(config), "uptime", "check", "--once", "--github-issues"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        outputs.append(done.stdout + done.stderr)
        return done.returncode

    codes = [once(), once()]  # down twice: one incident, one issue
    assert [(issue.title, issue.state, issue.labels) for issue in fake.issues] == [
        ("api is down", "open", ["uptime"])
    ]

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with _on_port(port, Health):
        codes += [once(), once()]  # recover_after = 2
    assert codes == [1, 1, 1, 0], outputs
    [issue] = fake.issues
    assert issue.state == "closed" and "api is back up" in str(issue.comments[-1]["body"])
    assert all(TOKEN not in text for text in outputs)
    raw = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir())
    assert TOKEN.encode() not in raw


@contextlib.contextmanager
def _on_port(port: int, handler: type[Any]) -> Iterator[None]:
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
