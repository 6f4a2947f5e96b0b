"""The sender against a scripted client: outcome classification, backoff and
Retry-After, connectivity events, wake-on-enqueue and wait_for()."""
from __future__ import annotations

import os
import random
import statistics
import threading
import time

import pytest

from common.backoff import full_jitter
from common.events import EventBus
from kiosk.platform import AuthError, FinalError, RetryableError
from offline_queue.backoff import retry_delay
from offline_queue.crypto import Sealer
from offline_queue.outbox import Outbox
from offline_queue.sender import Sender


class ScriptedClient:
    """Answers each submit() with the next scripted outcome (an exception to
    raise or a response dict); records what was sent."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, dict, str]] = []
        self.called = threading.Event()

    def submit(self, kind, payload, idempotency_key):
        self.calls.append((kind, payload, idempotency_key))
        self.called.set()
        outcome = self.outcomes.pop(0) if self.outcomes else {"application_no": f"NO-{len(self.calls)}"}
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def box(tmp_path):
    ob = Outbox(tmp_path / "q" / "outbox.sqlite3", Sealer(os.urandom(32)), min_free_mb=1)
    yield ob
    ob.close()


def make_sender(box, client, base=0.01, cap=0.05):
    bus = EventBus()
    events = []
    bus.subscribe("queue.", lambda e: events.append((e.topic, dict(e.data))))
    return Sender(box, client, bus, backoff_base_s=base, backoff_cap_s=cap, rng=random.Random(7)), events


def test_success_marks_done_and_wait_for_returns_the_response(box):
    client = ScriptedClient({"application_no": "FT-1", "status": "approved"})
    sender, events = make_sender(box, client)
    sender.start()
    try:
        item_id = sender.enqueue("application", {"service_id": "s"})
        outcome = sender.wait_for(item_id, 3.0)
    finally:
        sender.stop()
    assert outcome == {"state": "done", "response": {"application_no": "FT-1", "status": "approved"}}
    assert client.calls == [("application", {"service_id": "s"}, item_id)]
    assert box.get(item_id).state == "done" and box.get(item_id).application_no == "FT-1"
    assert ("queue.stats", {"depth": 0, "dead": 0, "connectivity": "online"}) in events


def test_validation_refusal_becomes_a_dead_letter_with_its_reason(box):
    client = ScriptedClient(FinalError("POST /v1/applications -> 422: form.phone 13812345678 invalid", 422))
    sender, events = make_sender(box, client)
    sender.start()
    try:
        item_id = sender.enqueue("application", {"n": 1})
        outcome = sender.wait_for(item_id, 3.0)
    finally:
        sender.stop()
    assert outcome["state"] == "dead" and "422" in outcome["reason"]
    assert "13812345678" not in outcome["reason"]  # the redactor ran
    assert box.get(item_id).state == "dead" and "422" in box.get(item_id).last_error
    assert events[-1][0] == "queue.stats" and events[-1][1]["dead"] == 1


def test_retryable_errors_are_retried_with_the_same_key_until_delivered(box):
    client = ScriptedClient(RetryableError("connection problem"),
                            RetryableError("-> 503", retry_after=None, status=503),
                            RetryableError("-> 409 processing", status=409),
                            {"application_no": "FT-9"})
    sender, events = make_sender(box, client)
    sender.start()
    try:
        item_id = sender.enqueue("application", {"n": 1})
        outcome = sender.wait_for(item_id, 5.0)
    finally:
        sender.stop()
    assert outcome["state"] == "done"
    assert [key for _, _, key in client.calls] == [item_id] * 4
    states = [data["state"] for topic, data in events if topic == "queue.connectivity"]
    assert states == ["offline", "degraded", "online"]
    assert box.get(item_id).attempts == 4


def test_retry_after_is_a_floor_and_a_new_item_does_not_cut_it_short(box):
    client = ScriptedClient(RetryableError("-> 429", retry_after=30.0, status=429))
    sender, _ = make_sender(box, client)
    sender.start()
    try:
        first = sender.enqueue("appeal", {"text": "a"})
        assert client.called.wait(3.0)
        time.sleep(0.2)
        sender.enqueue("appeal", {"text": "b"})
        time.sleep(0.3)
        assert len(client.calls) == 1
        item = box.get(first)
        assert item.state == "pending" and item.next_attempt_at - item.updated_at >= 30.0
    finally:
        sender.stop()


def test_our_own_backoff_yields_to_a_residents_new_item(box):
    """During a long backoff the sender sleeps; a new item wakes it for one
    probe (the FIFO head goes first) instead of waiting out the pause."""
    client = ScriptedClient(RetryableError("connection problem"))
    sender, _ = make_sender(box, client, base=100.0, cap=100.0)
    sender.start()
    try:
        first = sender.enqueue("application", {"n": 1})
        assert client.called.wait(3.0)
        time.sleep(0.1)
        second = sender.enqueue("application", {"n": 2})
        assert sender.wait_for(second, 3.0)["state"] == "done"
    finally:
        sender.stop()
    assert [key for _, _, key in client.calls] == [first, first, second]


def test_auth_error_keeps_items_waiting(box):
    client = ScriptedClient(AuthError("-> 401", 401))
    sender, events = make_sender(box, client, base=50.0, cap=50.0)
    sender.start()
    try:
        item_id = sender.enqueue("application", {"n": 1})
        assert client.called.wait(3.0)
        time.sleep(0.1)
    finally:
        sender.stop()
    assert box.get(item_id).state == "pending" and "401" in box.get(item_id).last_error
    assert ("queue.connectivity", {"state": "degraded"}) in events


def test_full_jitter_stays_under_the_exponential_ceiling_and_spreads():
    rng = random.Random(1)
    for failures, ceiling in [(1, 1.0), (2, 2.0), (5, 16.0), (9, 256.0), (10, 300.0), (500, 300.0)]:
        draws = [full_jitter(failures, 1.0, 300.0, rng) for _ in range(2000)]
        assert 0.0 <= min(draws) and max(draws) <= ceiling
        assert statistics.mean(draws) == pytest.approx(ceiling / 2, rel=0.1)


def test_retry_after_is_never_shortened():
    rng = random.Random(2)
    draws = [retry_delay(1, 60.0, 1.0, 300.0, rng) for _ in range(1000)]
    assert min(draws) >= 60.0 and max(draws) <= 90.0 and statistics.pstdev(draws) > 5
    assert retry_delay(3, None, 1.0, 300.0, rng) <= 4.0


def test_a_short_conflict_is_retried_not_dead_lettered(box):
    conflict = RetryableError("-> 409: still processing", status=409)
    from offline_queue.sender import CONFLICT_LIMIT
    client = ScriptedClient(*[conflict] * (CONFLICT_LIMIT + 2), {"application_no": "FT-7"})
    sender, _ = make_sender(box, client, base=0.001, cap=0.005)
    sender.start()
    try:
        item_id = sender.enqueue("application", {"n": 1})
        assert sender.wait_for(item_id, 5.0)["state"] == "done"
    finally:
        sender.stop()


def test_a_conflict_that_never_clears_becomes_a_dead_letter(box):
    """409 is "still processing" but also a print report's wrong token; the
    latter must not block the print_report FIFO for ever."""
    from offline_queue.sender import CONFLICT_LIMIT
    conflict = RetryableError("POST /v1/documents/D1/printed -> 409: wrong print token", status=409)
    client = ScriptedClient(*[conflict] * CONFLICT_LIMIT)
    sender, _ = make_sender(box, client, base=0.001, cap=0.005)
    sender.conflict_window_s = 0.0  # the real window (10 min) is far past the platform's 60 s lease
    sender.start()
    try:
        stuck = sender.enqueue("print_report", {"document_id": "D1", "print_token": "bad"})
        outcome = sender.wait_for(stuck, 5.0)
        nxt = sender.enqueue("print_report", {"document_id": "D2", "print_token": "good"})
        assert sender.wait_for(nxt, 5.0)["state"] == "done"
    finally:
        sender.stop()
    assert outcome["state"] == "dead" and "409" in outcome["reason"]
    assert len(client.calls) == CONFLICT_LIMIT + 1
