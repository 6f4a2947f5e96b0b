"""The sender drains a backlog of applications in batches without changing what
a single send guarantees: order, exactly once, dead letters, retries."""
from __future__ import annotations

import os
import random
import time

import pytest

from central.testing import run_server
from kiosk.platform import FinalError, PlatformClient, RetryableError
from offline_queue.crypto import Sealer
from offline_queue.outbox import Outbox
from offline_queue.sender import BATCH_MAX_ITEMS, Sender
from tests.test_queue_sender import ScriptedClient

APPLICATION = {"service_id": "elderly-card", "applicant": {"name": "王秀英", "id_number": "440304194905120026"},
               "form": {"phone": "13812345678"}, "materials": [], "delivery": {"method": "pickup"},
               "submitted_at": None, "offline": True}


@pytest.fixture
def box(tmp_path):
    ob = Outbox(tmp_path / "q" / "outbox.sqlite3", Sealer(os.urandom(32)), min_free_mb=1)
    yield ob
    ob.close()


class BatchClient(ScriptedClient):
    """ScriptedClient that also takes batches: each scripted batch outcome is a list
    (per-item outcomes for a prefix) or an exception for the whole request."""

    def __init__(self, *batch_outcomes):
        super().__init__()
        self.batch_outcomes = list(batch_outcomes)
        self.batches: list[list[str]] = []

    def create_applications(self, items):
        self.batches.append([key for key, _ in items])
        outcome = self.batch_outcomes.pop(0) if self.batch_outcomes else None
        if isinstance(outcome, Exception):
            raise outcome
        if outcome is None:
            return [{"application_no": f"B-{key[:8]}"} for key, _ in items]
        return outcome


def drain(box, client, timeout=20.0, **kwargs):
    sender = Sender(box, client, backoff_base_s=0.01, backoff_cap_s=0.05, rng=random.Random(3), **kwargs)
    sender.start()
    deadline = time.monotonic() + timeout
    while box.stats()["depth"] and time.monotonic() < deadline:
        time.sleep(0.02)
    sender.stop()
    return sender


def test_a_backlog_reaches_the_platform_once_in_order_in_batches(box, tmp_path):
    ids = [box.enqueue("application", {**APPLICATION, "form": {"n": n}},
                       attachments=[("id-card", f"scan {n}".encode())] if n % 7 == 0 else ())
           for n in range(2 * BATCH_MAX_ITEMS + 20)]
    rating = box.enqueue("rating", {"level": 5, "comment": "", "application_key": ids[2]}, depends_on=ids[2])
    with run_server(tmp_path / "central.db") as platform:
        client = PlatformClient(platform.base_url, platform.token, timeout=10)
        batches = []
        real = client.create_applications
        client.create_applications = lambda items: batches.append(len(items)) or real(items)
        drain(box, client)
        assert box.stats(include_done=True) == {"depth": 0, "dead": 0, "done": len(ids) + 1}
        numbers = [box.get(i).application_no for i in ids]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(ids)  # the kiosk's order, once each
        assert platform.count("applications") == len(ids)
        assert platform.store.one("SELECT application_no FROM ratings")["application_no"] == numbers[2]
    assert sum(batches) >= len(ids) - 2 and max(batches) == BATCH_MAX_ITEMS  # the rating splits one run
    assert os.listdir(box.attachments_dir) == []  # scans purged once acknowledged


def test_a_resident_waiting_alone_is_sent_alone(box):
    client = BatchClient()
    item_id = box.enqueue("application", APPLICATION)
    drain(box, client)
    assert [call[2] for call in client.calls] == [item_id] and client.batches == []


def test_a_platform_without_batches_gets_one_at_a_time(box):
    client = BatchClient(FinalError("POST /v1/applications/batch -> 404: Not Found", 404))
    ids = [box.enqueue("application", APPLICATION) for _ in range(5)]
    sender = drain(box, client)
    assert len(client.batches) == 1  # tried once, then single sends for a while
    assert [call[2] for call in client.calls] == ids
    assert all(box.get(i).state == "done" for i in ids)
    assert sender._batching_off_until > time.time()


def test_answers_are_handled_item_by_item_and_order_is_kept(box):
    ids = [box.enqueue("application", APPLICATION) for _ in range(5)]
    conflict = RetryableError("item -> 409: still being processed", status=409)
    refused = FinalError("item -> 422: applicant: Field required", 422)
    client = BatchClient([{"application_no": "N-0"}, refused, conflict])  # items 3 and 4 not processed
    drain(box, client)
    assert client.batches[0] == ids
    assert client.batches[1] == ids[2:]  # the 409 item first again, then the ones behind it
    assert box.get(ids[0]).application_no == "N-0"
    assert box.get(ids[1]).state == "dead" and "Field required" in box.get(ids[1]).last_error
    assert [box.get(i).state for i in ids[2:]] == ["done"] * 3
    assert box.get(ids[2]).attempts == 2


def test_a_failed_batch_request_retries_every_item_together(box):
    ids = [box.enqueue("application", APPLICATION) for _ in range(3)]
    client = BatchClient(RetryableError("POST /v1/applications/batch: connection problem"))
    sender = Sender(box, client, backoff_base_s=30.0, backoff_cap_s=30.0, rng=random.Random(1))
    sender._step()
    waiting = [box.get(i) for i in ids]
    assert {i.state for i in waiting} == {"pending"} and len({i.next_attempt_at for i in waiting}) == 1
    assert sender.connectivity == "offline" and "connection problem" in waiting[0].last_error


def test_scans_stay_until_the_acknowledgement_is_committed(box):
    item_id = box.enqueue("application", APPLICATION, attachments=[("id-card", b"scan")])
    with pytest.raises(RuntimeError):
        with box.bookkeeping():
            box.mark_done(item_id, "N-1")
            raise RuntimeError("the batch's outcomes could not be recorded")
    assert box.get(item_id).state == "pending"
    assert box.request_payload(box.get(item_id))["materials"][0]["id"] == "id-card"
    with box.bookkeeping():
        with box.bookkeeping():  # an inner block joins the outer transaction
            box.mark_done(item_id, "N-1")
        assert (box.attachments_dir / item_id).exists()  # not yet committed
    assert not (box.attachments_dir / item_id).exists()
    assert box.get(item_id).state == "done"


def test_batches_stay_under_the_size_cap_and_a_big_item_goes_alone(box, monkeypatch):
    import orjson
    from offline_queue import sender as sender_module
    small = [box.enqueue("application", APPLICATION) for _ in range(6)]
    big = box.enqueue("application", APPLICATION, attachments=[("id-card", os.urandom(3000))])
    last = box.enqueue("application", APPLICATION)
    one = len(orjson.dumps(box.request_payload(box.get(small[0]))))
    monkeypatch.setattr(sender_module, "BATCH_MAX_BYTES", int(one * 2.5))
    client = BatchClient()
    drain(box, client)
    assert [len(batch) for batch in client.batches] == [2, 2, 2]
    assert [key for batch in client.batches for key in batch] == small
    assert [call[2] for call in client.calls] == [big, last]  # over the cap alone; then one left
