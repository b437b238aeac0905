"""The uptime notifiers against real receivers on 127.0.0.1: lr-ci's signed webhook to a receiver that
verifies the HMAC and drops duplicates by idempotency key; apprise's ``mailto://`` to aiosmtpd; an
unreachable target and a malformed apprise URL as clear, masked failure reasons."""

from __future__ import annotations

import time
from email import message_from_bytes
from typing import Any

import pytest

from helpers.asgi_server import hanging_server
from helpers.uptime_servers import SECRET, free_port, mail_receiver, webhook_receiver
from lr_ci.checks.uptime.notify import (
    AppriseTarget,
    WebhookTarget,
    apprise_url_problem,
    deliver,
    masked_reason,
    summary,
    url_secrets,
)
from lr_ci.checks.uptime.state import Delivery


def delivery(kind: str = "opened", key: str = "inc-abc:opened:1", **body: Any) -> Delivery:
    return Delivery(
        key,
        "target",
        kind,
        "inc-abc",
        {
            "key": key,
            "kind": kind,
            "monitor": "api",
            "incident": "inc-abc",
            "since": 1_780_000_000.0,
            "at": 1_780_000_130.0,
            "duration": None,
            "owner": "team-payments",
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


# -- the signed webhook -----------------------------------------------------------------------------------


def test_webhook_is_signed_and_carries_the_alert() -> None:
    with webhook_receiver() as (url, receiver):
        sent = deliver(delivery(), WebhookTarget(url, SECRET, timeout_s=3))
    assert sent.delivered and sent.reason is None
    assert receiver.bad_signatures == 0
    body = receiver.accepted["inc-abc:opened:1"]
    assert (body["monitor"], body["owner"], body["since"]) == ("api", "team-payments", 1_780_000_000.0)
    assert body["failure"]["status"] == 500
    assert body["text"].startswith("api is down since 2026-05-28 20:26:40Z: status 500, HTTP 500")


def test_webhook_receiver_drops_a_redelivery_by_its_key() -> None:
    """At least once: a crash between sending and marking sends again; the key makes it harmless."""
    with webhook_receiver() as (url, receiver):
        target = WebhookTarget(url, SECRET, timeout_s=3)
        first, again = deliver(delivery(), target), deliver(delivery(), target)
        recovered = deliver(delivery("recovered", "inc-abc:recovered:1", duration=420.0), target)
    assert first.delivered and again.delivered and recovered.delivered
    assert list(receiver.accepted) == ["inc-abc:opened:1", "inc-abc:recovered:1"]
    assert receiver.duplicates == ["inc-abc:opened:1"]
    assert receiver.accepted["inc-abc:recovered:1"]["text"].startswith("api is back up after 7 min")


def test_webhook_with_the_wrong_secret_is_rejected_and_reported() -> None:
    with webhook_receiver() as (url, receiver):
        sent = deliver(delivery(), WebhookTarget(url, "another-secret-9876", timeout_s=3))
    assert (sent.delivered, sent.reason) == (False, "webhook http://***: HTTP 401")
    assert receiver.bad_signatures == 1 and receiver.accepted == {}


def test_webhook_down_unreachable_and_5xx_are_failures_without_the_url_token() -> None:
    token = "tok-9f8e7d6c5b4a"
    unreachable = deliver(delivery(), WebhookTarget(f"http://127.0.0.1:{free_port()}/{token}", SECRET, 2))
    with webhook_receiver() as (url, receiver):
        receiver.status = 503
        failing = deliver(delivery(), WebhookTarget(f"{url}?token={token}", SECRET, 2))
    assert (unreachable.delivered, unreachable.reason) == (False, "webhook http://***: connection refused")
    assert (failing.delivered, failing.reason) == (False, "webhook http://***: HTTP 503")
    assert SECRET not in repr((unreachable, failing))


# -- apprise -----------------------------------------------------------------------------------------------


def test_apprise_mailto_reaches_a_real_smtp_server() -> None:
    with mail_receiver() as (port, inbox):
        url = f"mailto://127.0.0.1:{port}?to=oncall@example.com&from=alerts@example.com"
        sent = deliver(delivery(), AppriseTarget(url, timeout_s=10))
    assert sent.delivered, sent.reason
    assert apprise_url_problem(url) is None
    assert [envelope.rcpt_tos for envelope in inbox.messages] == [["oncall@example.com"]]
    message = message_from_bytes(inbox.messages[0].original_content or b"")
    assert message["Subject"] == "[lr-ci uptime] DOWN: api"
    text = message.get_payload(decode=True) if not message.is_multipart() else b""
    payload = text if isinstance(text, bytes) else b""
    assert b"inc-abc:opened:1" in (payload or inbox.messages[0].original_content or b"")


def test_apprise_unreachable_mail_server_fails_without_the_password() -> None:
    password = "mail-pa55-word-77"
    url = f"mailto://alerts:{password}@127.0.0.1:{free_port()}?to=oncall@example.com&from=alerts@example.com"
    sent = deliver(delivery(), AppriseTarget(url, timeout_s=10))
    assert not sent.delivered
    assert (sent.reason or "").startswith("mailto://***: not delivered: Connection error")
    assert password not in (sent.reason or "")


@pytest.mark.parametrize(
    "url",
    ["slack://", "nosuchscheme://token-abcdef/channel", "mailto://", "json://"],
)
def test_malformed_apprise_url_is_a_clear_failure(url: str) -> None:
    sent = deliver(delivery(), AppriseTarget(url, timeout_s=3))
    assert not sent.delivered
    assert "not a valid apprise URL" in (sent.reason or "")
    assert apprise_url_problem(url) == sent.reason
    assert "token-abcdef" not in (sent.reason or "")


def test_reasons_mask_every_part_of_the_url_and_the_run_credentials() -> None:
    url = "tgram://123456789:AAbot-token-secret/987654321/?format=markdown"
    assert "AAbot-token-secret" in url_secrets(url)
    reason = masked_reason(
        "failed to post to https://api.telegram.org/bot123456789:AAbot-token-secret/sendMessage for 987654321 "
        "with cred-from-env-42",
        url,
        lambda text: text.replace("cred-from-env-42", "***"),
    )
    assert "AAbot-token-secret" not in reason and "987654321" not in reason and "cred-from-env" not in reason


def test_summary_says_what_failed_since_when_and_who_owns_it() -> None:
    title, text = summary(delivery("reminder", "inc-abc:reminder:2"))
    assert title == "[lr-ci uptime] STILL DOWN: api"
    assert text == (
        "api is still down since 2026-05-28 20:26:40Z: status 500, HTTP 500, expected 200, 12 ms. "
        "Owner: team-payments. (key inc-abc:reminder:2)"
    )


def test_a_hanging_receiver_is_a_bounded_failure_for_both_senders() -> None:
    """A receiver that accepts and never answers must not hold the monitor's round."""
    with hanging_server() as url:
        webhook = deliver(delivery(), WebhookTarget(f"{url}/hook", SECRET, timeout_s=0.4))
        started = time.monotonic()
        via_apprise = deliver(delivery(), AppriseTarget(url.replace("http://", "json://"), timeout_s=0.5))
        took = time.monotonic() - started
    assert (webhook.delivered, webhook.reason) == (False, "webhook http://***: timed out after 0.4 s")
    assert (via_apprise.delivered, via_apprise.reason) == (False, "json://***: timed out after 0.5 s")
    assert took < 5  # bounded (not a timing test: only "it did not wait for apprise's own timeouts")
