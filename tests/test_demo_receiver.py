"""The demo's webhook receiver (also the uptime benchmark's): signature, deduplication, arrival instants."""

from __future__ import annotations

import json
import time

from lr_ci.checks.uptime.notify import sign
from lr_ci.commands.demo.receiver import Inbox

SECRET = "receiver-test-signing-secret"


def _body(key: str, kind: str = "opened") -> bytes:
    return json.dumps({"key": key, "kind": kind, "monitor": "app", "since": 12.5}).encode()


def test_a_bad_signature_is_refused_and_nothing_is_recorded() -> None:
    inbox = Inbox(SECRET)
    assert inbox.accept(_body("k1"), sign("another-secret", _body("k1")), "k1") == 401
    assert inbox.bad_signatures == 1 and inbox.snapshot() == []


def test_a_body_that_is_not_a_keyed_notification_is_a_bad_request() -> None:
    inbox = Inbox(SECRET)
    for raw, key in ((b"not json", "k1"), (b"[1]", "k1"), (_body("k1"), "k2"), (_body(""), "")):
        assert inbox.accept(raw, sign(SECRET, raw), key) == 400
    assert inbox.snapshot() == []


def test_a_repeated_key_is_acknowledged_once_and_recorded_once() -> None:
    inbox = Inbox(SECRET)
    raw = _body("k1")
    assert inbox.accept(raw, sign(SECRET, raw), "k1") == 200
    assert inbox.accept(raw, sign(SECRET, raw), "k1") == 200
    assert [n.key for n in inbox.snapshot()] == ["k1"] and inbox.duplicates == ["k1"]


def test_a_notice_keeps_the_arrival_instant_it_was_given_and_the_monotonic_one() -> None:
    inbox = Inbox(SECRET)
    before = time.monotonic()
    raw = _body("k1")
    assert inbox.accept(raw, sign(SECRET, raw), "k1", received_at=1234.5) == 200
    [notice] = inbox.snapshot()
    assert notice.received_at == 1234.5 and notice.at >= before
    assert (notice.kind, notice.monitor, notice.body["since"]) == ("opened", "app", 12.5)
    raw = _body("k2")
    now = time.time()
    inbox.accept(raw, sign(SECRET, raw), "k2")
    assert inbox.snapshot()[1].received_at >= now
