"""Purged is gone (issue 12.5): an acknowledged item cannot be recovered from the
database or its WAL even with the queue key; the key must be private; dead
letters do not keep residents' data forever."""
from __future__ import annotations

import os
import time

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk import config as cfg
from common.sealing import NONCE_BYTES
from offline_queue.crypto import QueueKeyError, Sealer
from offline_queue.outbox import Outbox, QueueItemError

RESIDENT = {"service_id": "s1", "applicant": {"name": "王秀英", "id_number": "440304199001010026"}}


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def key():
    return os.urandom(32)


def _raw_files(queue_dir) -> bytes:
    return b"".join(p.read_bytes() for p in queue_dir.rglob("*") if p.is_file())


def _recoverable(raw: bytes, blob: bytes, key: bytes, context: str) -> bool:
    """Try to decrypt ``blob``'s length of bytes at every place its nonce occurs."""
    aead, nonce, start = AESGCM(key), blob[:NONCE_BYTES], 0
    while (at := raw.find(nonce, start)) >= 0:
        candidate = raw[at:at + len(blob)]
        try:
            aead.decrypt(candidate[:NONCE_BYTES], candidate[NONCE_BYTES:], context.encode())
            return True
        except Exception:
            start = at + 1
    return False


@pytest.mark.parametrize("batched", [False, True], ids=["alone", "in-a-batch"])
def test_acknowledged_payload_is_not_in_the_database_or_wal(tmp_path, key, batched):
    box = Outbox(tmp_path / "queue" / "outbox.sqlite3", Sealer(key), min_free_mb=1)
    try:
        item_id = box.enqueue("application", RESIDENT, attachments=[("id_card", b"\xff\xd8scan" * 500)])
        blob = box._db.execute("SELECT payload FROM items WHERE id = ?", (item_id,)).fetchone()[0]
        scan_blob = (tmp_path / "queue" / "attachments" / item_id / "0.bin").read_bytes()
        assert _recoverable(_raw_files(tmp_path / "queue"), blob, key, item_id)  # the probe works
        box.mark_sending(item_id)
        if batched:
            with box.bookkeeping():
                box.mark_done(item_id, "A-1")
        else:
            box.mark_done(item_id, "A-1")
        raw = _raw_files(tmp_path / "queue")
        assert blob[:NONCE_BYTES] not in raw and blob[-32:] not in raw
        assert not _recoverable(raw, blob, key, item_id)
        assert scan_blob[-32:] not in raw
        assert box.get(item_id).state == "done" and box.get(item_id).application_no == "A-1"
    finally:
        box.close()


def test_a_key_readable_by_others_is_refused(tmp_path):
    config = cfg.parse(f'[kiosk]\ndata_dir = "{tmp_path}"\n')
    path = tmp_path / "secrets" / "queue.key"
    path.parent.mkdir()
    path.write_bytes(os.urandom(32))
    os.chmod(path, 0o644)
    with pytest.raises(QueueKeyError, match=r"readable by other users \(mode 0644\).*chmod 600"):
        Outbox.from_config(config)
    os.chmod(path, 0o600)
    Outbox.from_config(config).close()


def test_dead_letters_lose_their_personal_data_after_the_retention(tmp_path, key):
    clock = Clock()
    path = tmp_path / "queue" / "outbox.sqlite3"
    box = Outbox(path, Sealer(key), min_free_mb=1, clock=clock, dead_letter_days=30)
    item_id = box.enqueue("application", RESIDENT, attachments=[("id_card", b"scan")])
    blob = box._db.execute("SELECT payload FROM items WHERE id = ?", (item_id,)).fetchone()[0]
    box.mark_dead(item_id, "422: form field missing")
    clock.now += 29 * 86400
    assert box.expire_dead_letters() == 0 and box.get(item_id).state == "dead"
    clock.now += 2 * 86400
    assert box.expire_dead_letters() == 1
    tombstone = box.get(item_id)
    assert tombstone.state == "expired" and "422" in tombstone.last_error
    assert not (tmp_path / "queue" / "attachments" / item_id).exists()
    assert not _recoverable(_raw_files(tmp_path / "queue"), blob, key, item_id)
    with pytest.raises(QueueItemError, match="personal data was purged"):
        box.retry(item_id)
    assert box.stats()["dead"] == 0
    box.close()
    # A kiosk that was off for the whole retention purges them when it starts.
    box = Outbox(path, Sealer(key), min_free_mb=1, clock=clock, dead_letter_days=30)
    second = box.enqueue("appeal", {"text": "电话 13812345678"})
    box.mark_dead(second, "refused")
    box.close()
    clock.now += 31 * 86400
    box = Outbox(path, Sealer(key), min_free_mb=1, clock=clock, dead_letter_days=30)
    assert box.get(second).state == "expired"
    box.close()


def test_dead_letter_retention_comes_from_the_config(tmp_path):
    config = cfg.parse(f'[kiosk]\ndata_dir = "{tmp_path}"\n[queue]\ndead_letter_days = 7\n')
    box = Outbox.from_config(config)
    assert box.dead_letter_days == 7
    box.close()


def test_a_drain_checkpoints_once_a_second_and_leaves_nothing_when_it_runs_dry(tmp_path, key):
    """Many acknowledgements in a row (a backlog after an outage) pay one checkpoint a
    second, not one each; when the sender runs out of work the last ones go too."""
    import threading

    from offline_queue.sender import Sender

    class Platform:
        token = "t"
        done = threading.Event()

        def submit(self, kind, payload, idempotency_key):
            return {"application_no": f"A-{idempotency_key[:4]}"}

    box = Outbox(tmp_path / "queue" / "outbox.sqlite3", Sealer(key), min_free_mb=1)
    ids = [box.enqueue("appeal", {"text": f"电话 1381234{n:04d}"}) for n in range(30)]
    blobs = {i: box._db.execute("SELECT payload FROM items WHERE id = ?", (i,)).fetchone()[0] for i in ids}
    sender = Sender(box, Platform(), batch_items=1)
    sender.start()
    try:
        assert sender.wait_for(ids[-1], timeout=30)["state"] == "done"
        deadline = time.monotonic() + 10
        while any(_recoverable(_raw_files(tmp_path / "queue"), b, key, i) for i, b in blobs.items()):
            assert time.monotonic() < deadline, "acknowledged payloads still in the files after the drain"
            time.sleep(0.1)
    finally:
        sender.stop()
        box.close()
